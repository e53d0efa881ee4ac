"""invoke make-trace / rewrite-trace / trace-info, through invoke itself."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from invoke import Context, Exit

from traces import in_benchmark_range, load_trace, read_capture, tasks

REPO = Path(__file__).resolve().parent.parent
INVOKE = [str(Path(sys.executable).parent / "invoke"), "-r", str(REPO)]


def invoke(*args, ok=True):
    r = subprocess.run(INVOKE + list(args), capture_output=True, text=True, timeout=300, cwd=REPO)
    assert (r.returncode == 0) == ok, r.stderr
    return r


def test_make_trace_burst(tmp_path):
    out = tmp_path / "b.pcap"
    r = invoke("make-trace", "--kind", "burst", "--packets", "5000", "--size", "100", "--queues", "6",
               "--flows", "12", "--pin-queue", "-1", "--out", str(out))
    assert "5000 packets" in r.stdout
    tr, cols = read_capture(out), load_trace(str(tmp_path / "b.npz"))
    assert len(tr) == len(cols) == 5000 and (tr.wire_len == 96).all()
    assert (tr.ts_ns == cols.ts_ns).all() and (tr.rss_queues(6) == cols.rss_queues(6)).all()
    assert np.bincount(tr.rss_queues(6)).tolist() == [834, 834, 833, 833, 833, 833]


@pytest.mark.slow
def test_make_trace_fermilab_like(tmp_path):
    out = tmp_path / "f.pcapng"
    invoke("make-trace", "--kind", "fermilab-like", "--out", str(out), "--snaplen", "64")
    tr = read_capture(out)
    ref = load_trace("fermilab-like")
    assert len(tr) == 5_000_000 and (tr.ts_ns == ref.ts_ns).all() and (tr.wire_len == ref.wire_len).all()
    assert (tr.cap_len <= 64).all() and in_benchmark_range(tr)
    assert (tr.rss_queues(6) == ref.rss_queues(6)).all()


def test_rewrite_trace(tmp_path):
    out = tmp_path / "g.pcap"
    r = invoke("rewrite-trace", "--trace", "gnutella", "--out", str(out), "--speed", "4")
    assert "512 IPv4 and 10 IPv6 addresses rewritten" in r.stdout
    tr, orig = read_capture(out), load_trace("gnutella")
    assert in_benchmark_range(tr) and len(tr) == len(orig)
    assert tr.duration_s == pytest.approx(orig.duration_s / 4, rel=1e-6)


def test_trace_info(capsys):
    tasks.trace_info(Context(), trace="synscan", queues=2)
    out = capsys.readouterr().out
    assert out.startswith("synscan.pcap: 2011 packets") and "queue 1:" in out


@pytest.mark.parametrize("task,kwargs,problem", [
    ("make_trace", {"kind": "nope"}, "--kind 'nope'"),
    ("make_trace", {"kind": "burst", "out": "x.txt"}, "--out 'x.txt': must end in .pcap or .pcapng"),
    ("make_trace", {"kind": "burst", "size": 10, "out": "never.pcap"}, "size must be 64..9018"),
    ("rewrite_trace", {"trace": "no-such.pcap", "out": "never.pcap"}, "--trace no-such.pcap"),
    ("trace_info", {"trace": "fermilab-like:zz"}, "--trace fermilab-like:zz: bad seed"),
])
def test_task_errors(tmp_path, monkeypatch, task, kwargs, problem):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Exit, match=problem):
        getattr(tasks, task)(Context(), **kwargs)
    assert not list(tmp_path.iterdir())
