"""queue_profiler: packets per queue per 10 ms, every packet counted, clear errors."""
import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from experiments.tools import queue_profiler as qp
from traces import load_trace


def run(argv):
    out = io.StringIO()
    assert qp.main(argv, out=out) == 0
    return out.getvalue()


def test_json_covers_every_packet():
    rows = json.loads(run(["--backend", "sim", "--trace", "fermilab-like", "--queues", "6", "--bin-ms", "10",
                           "--json"]))
    tr = load_trace("fermilab-like")
    assert set(rows[0]) == {"queue", "bin_start_s", "packets", "bytes"}
    per_queue = np.zeros(6, np.int64)
    for r in rows:
        per_queue[r["queue"]] += r["packets"]
    assert per_queue.sum() == len(tr) == 5_000_000
    assert per_queue.tolist() == np.bincount(tr.rss_queues(6), minlength=6).tolist()
    assert sum(r["bytes"] for r in rows) == int(tr.wire_len.sum(dtype=np.int64))
    # dense: every queue has every 10 ms bin from 0 to the last
    nbins = int(tr.ts_ns[-1] // 10_000_000) + 1
    assert len(rows) == 6 * nbins
    q3 = [r["bin_start_s"] for r in rows if r["queue"] == 3]
    assert q3[:3] == [0.0, 0.01, 0.02] and len(q3) == nbins


def test_sparse_single_queue_and_bin_width():
    tr = load_trace("synscan")
    dense = json.loads(run(["--trace", "synscan", "--queues", "4", "--bin-ms", "100", "--json"]))
    sparse = json.loads(run(["--trace", "synscan", "--queues", "4", "--bin-ms", "100", "--json", "--sparse"]))
    assert all(r["packets"] > 0 for r in sparse) and len(sparse) < len(dense)
    assert sum(r["packets"] for r in sparse) == sum(r["packets"] for r in dense) == len(tr)
    only = json.loads(run(["--trace", "synscan", "--queues", "4", "--queue", "2", "--json", "--sparse"]))
    assert {r["queue"] for r in only} == {2}
    assert sum(r["packets"] for r in only) == int(np.count_nonzero(tr.rss_queues(4) == 2))


def test_rss_options_change_the_spread():
    # gnutella's UDP is hashed on addresses only unless --udp-ports
    base = json.loads(run(["--trace", "gnutella", "--json", "--sparse"]))
    ports = json.loads(run(["--trace", "gnutella", "--json", "--sparse", "--udp-ports"]))
    count = lambda rows: [sum(r["packets"] for r in rows if r["queue"] == q) for q in range(6)]  # noqa: E731
    assert count(base) != count(ports) and sum(count(base)) == sum(count(ports))


def test_summary_text():
    text = run(["--trace", "fermilab-like"])
    lines = text.splitlines()
    assert lines[0].startswith("fermilab-like: 5000000 packets")
    assert len(lines) == 2 + 6 and lines[2].split()[0] == "0"


def test_long_sparse_capture_needs_sparse(capsys):
    with pytest.raises(SystemExit) as e:
        qp.main(["--trace", "1kxun", "--json"], out=io.StringIO())
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--bin-ms 10" in err and "--sparse" in err
    rows = json.loads(run(["--trace", "1kxun", "--json", "--sparse"]))
    assert sum(r["packets"] for r in rows) == 1723


@pytest.mark.parametrize("argv,param", [
    (["--queues", "0"], "--queues"),
    (["--queues", "17"], "--queues"),
    (["--queues", "six"], "--queues"),
    (["--bin-ms", "0"], "--bin-ms"),
    (["--bin-ms", "abc"], "--bin-ms"),
    (["--backend", "dpdk"], "--backend"),
    (["--backend", "xdp", "--window-s", "5,2"], "--window-s"),
    (["--trace", "no-such.pcap"], "--trace no-such.pcap"),
    (["--trace", "fermilab-like:x"], "--trace fermilab-like:x"),
    (["--queue", "6", "--queues", "6"], "--queue 6"),
    (["--rss-key", "abcd"], "--rss-key"),
    (["--speed", "-1"], "--speed"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, param):
    with pytest.raises(SystemExit) as e:
        qp.main(argv, out=io.StringIO())
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("queue_profiler: error: ") and param in err


def test_backend_dispatch_is_a_table():
    assert set(qp.BACKENDS) == {"sim", "xdp"}
    assert qp.BACKENDS["xdp"] is qp.profile_xdp  # run for real in tests/test_xdp_tools.py


def test_console_script():
    exe = shutil.which("queue_profiler") or str(__import__("pathlib").Path(sys.executable).parent / "queue_profiler")
    ok = subprocess.run([exe, "--trace", "synscan", "--queues", "2", "--json", "--sparse"], capture_output=True,
                        text=True, timeout=120)
    assert ok.returncode == 0 and sum(r["packets"] for r in json.loads(ok.stdout)) == 2011
    bad = subprocess.run([exe, "--queues", "99"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--queues" in bad.stderr
