"""Shell access to a testbed (issue 13): invoke pcap-env, testbed-up --json
(--rss), send. The root tests make their own testbeds with random tags and
remove them, also on failure (tests/xdp_fixtures.py); tcpdump on the system
libpcap is the reference capture."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from driver.xdp import shell
from xdp_fixtures import make_testbed, requires_xdp  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parent.parent
INVOKE = [sys.executable, "-m", "invoke"]


def inv(*args, timeout=120):
    return subprocess.run(INVOKE + list(args), cwd=ROOT, capture_output=True, text=True, timeout=timeout)


# ---- pcap-env (no root) ---------------------------------------------------------

def test_pcap_env_is_evalable_and_names_the_library(tmp_path):
    lib = tmp_path / "build" / "pcap" / shell.LIB_SONAME
    lib.parent.mkdir(parents=True)
    lib.write_bytes(b"")
    settings = shell.check_settings(M=64, R=100, T=60, offload="chunk", ring=1024, cpus="0,-1", xdp_mode="copy",
                                    timeout_us=500, period_ms=20)
    text = shell.pcap_env(settings, None, root=tmp_path)
    # an earlier eval's setting does not linger
    out = subprocess.run(["sh", "-c", 'export LD_LIBRARY_PATH=/x WIRECAP_PCAP_BUCKETS=64; eval "$1"; env', "-", text],
                         capture_output=True, text=True, check=True).stdout
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert env["LD_LIBRARY_PATH"] == f"{lib.parent}:/x"
    assert {k: v for k, v in env.items() if k.startswith("WIRECAP_PCAP_")} == {
        "WIRECAP_PCAP_M": "64", "WIRECAP_PCAP_R": "100", "WIRECAP_PCAP_T": "60", "WIRECAP_PCAP_OFFLOAD": "chunk",
        "WIRECAP_PCAP_RING": "1024", "WIRECAP_PCAP_CPUS": "0,-1", "WIRECAP_PCAP_XDP_MODE": "copy",
        "WIRECAP_PCAP_TIMEOUT_US": "500", "WIRECAP_PCAP_PERIOD_MS": "20"}
    # without a previous LD_LIBRARY_PATH no empty entry is left (it would mean ".")
    out = subprocess.run(["env", "-u", "LD_LIBRARY_PATH", "bash", "-c", 'eval "$1"; echo "$LD_LIBRARY_PATH"', "-",
                          text], capture_output=True, text=True, check=True).stdout.strip()
    assert out == str(lib.parent)


def test_pcap_env_task():
    r = inv("pcap-env", "--offload", "bucket", "--tag", "abcdef")
    if not shell.lib_path().is_file():
        assert r.returncode == 1 and "make build" in r.stderr and str(shell.lib_path()) in r.stderr
        return
    assert r.returncode == 0, r.stderr
    out = subprocess.run(["bash", "-c", 'eval "$1"; echo "$LD_LIBRARY_PATH|$WIRECAP_PCAP_OFFLOAD"', "-", r.stdout],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out.split("|")[0].split(":")[0] == str(shell.lib_dir()) and out.endswith("|bucket")


@pytest.mark.parametrize("args,message", [
    (["-T", "0"], "-T 0: expected an integer in 1..100"),
    (["-T", "x"], "-T 'x': expected an integer in 1..100"),
    (["-M", "3"], "-M 3: a descriptor segment divides the ring (1024 descriptors)"),
    (["-M", "64", "-R", "16"], "-R 16: the pool must hold more than the ring: R > N/M = 16 (M=64, N=1024)"),
    (["--ring", "1000"], "--ring 1000: AF_XDP rings are a power of two in 64..8192"),
    (["--ring", "16384"], "--ring 16384: expected an integer in 64..8192"),
    (["--period-ms", "0"], "--period-ms 0: expected an integer in 1..10000"),
    (["--offload", "rollover"], "--offload 'rollover': one of none, chunk, bucket, hybrid"),
    (["--xdp-mode", "skb"], "--xdp-mode 'skb': one of auto, copy, zerocopy"),
    (["--cpus", "0,a"], "--cpus '0,a': a comma-separated list of CPU numbers"),
    (["--cpus", "4096"], "--cpus 4096: CPU numbers are 0.."),
])
def test_pcap_env_refuses(args, message):
    r = inv("pcap-env", *args)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.startswith(message), r.stderr


def test_flow_key_and_weighted_table():
    from driver.xdp import packets, pinned_rss

    f = packets.udp_frame("02:00:00:00:00:01", "02:00:00:00:00:02", "198.18.1.1", "198.18.2.9", 1234, 53)
    assert shell.flow_key(f) == "udp 198.18.1.1:1234 > 198.18.2.9:53"
    t = pinned_rss.weighted_table([1, 1])
    assert list(t) == [j % 2 for j in range(128)]
    t = pinned_rss.weighted_table([90, 2, 2, 2, 2, 2])
    assert Counter(t.tolist()) == {0: 115, 1: 3, 2: 3, 3: 3, 4: 2, 5: 2}
    with pytest.raises(ValueError, match="non-negative"):
        pinned_rss.weighted_table([0, 0])


def test_send_refuses_outside_the_benchmark_range():
    with pytest.raises(shell.ShellError, match=r"--src 10.0.0.0/8: outside 198.18.0.0/15"):
        shell._bench_net("src", "10.0.0.0/8")
    with pytest.raises(shell.ShellError, match=r"--dst 198.20.0.0/24: outside"):
        shell._bench_net("dst", "198.20.0.0/24")
    assert str(shell._bench_net("dst", "198.19.7.0/24")) == "198.19.7.0/24"


# ---- root: testbeds, tcpdump ----------------------------------------------------

def _tag() -> str:
    from driver.xdp.testbed import new_tag

    return new_tag()


@pytest.mark.xdp
@requires_xdp
@pytest.mark.parametrize("rss", [False, True])
def test_testbed_up_json(rss):
    from driver.xdp import netns
    from driver.xdp.testbed import Testbed, sweep

    tag = _tag()
    try:
        r = inv("testbed-up", "--queues", "3", "--tag", tag, "--json", *(["--rss"] if rss else []))
        assert r.returncode == 0, r.stderr
        info = json.loads(r.stdout)          # exactly one JSON object, nothing else
        assert f"testbed {tag}" in r.stderr
        tb = Testbed.load(tag)
        assert info["queues"] == 3 and info["tag"] == tag
        assert info["capture"]["interface"] == tb.cap_if and info["capture"]["namespace"] == tb.cap_ns
        assert info["generator"]["interface"] == tb.gen_if and info["generator"]["namespace"] == tb.gen_ns
        assert netns.exists(info["capture"]["namespace"]) and netns.exists(info["generator"]["namespace"])
        assert info["bpffs"] == str(tb.bpffs)
        if rss:
            assert Path(info["steer_map"]).exists() and Path(info["counts_map"]).exists()
            assert info["rss"]["buckets"] == 128
            # pcap-env names the pins for the library
            assert shell._testbed_settings(tb) == {"BPFFS": info["bpffs"], "STEER_MAP": info["steer_map"],
                                                   "COUNTS_MAP": info["counts_map"], "BUCKETS": 128}
        else:
            assert info["steer_map"] is None and info["rss"] is None
        # idempotent, same answer
        r2 = inv("testbed-up", "--queues", "3", "--tag", tag, "--json", *(["--rss"] if rss else []))
        assert json.loads(r2.stdout) == info
    finally:
        r = inv("testbed-down", "--tag", tag)
        left = Testbed(tag=tag, forward=True).leftovers()
        if left:
            Testbed(tag=tag, forward=True).down()
            sweep()
    assert r.returncode == 0 and left == [], (r.stderr, left)


def _tcpdump(tb, n: int, path: Path, device: str | None = None, env: dict | None = None):
    """tcpdump on tb's capture veth (default: the system libpcap on the plain
    interface), listening when this returns."""
    if shutil.which("tcpdump") is None:
        pytest.skip("tcpdump is not installed (make sysdeps)")
    p = subprocess.Popen(["ip", "netns", "exec", tb.cap_ns, "tcpdump", "-i", device or tb.cap_if, "-c", str(n),
                          "-n", "-w", str(path), "-B", "65536"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=env)
    os.set_blocking(p.stderr.fileno(), False)
    deadline, err = time.monotonic() + 10, ""
    while time.monotonic() < deadline and "listening on" not in err and p.poll() is None:
        try:
            err += os.read(p.stderr.fileno(), 4096).decode(errors="replace")
        except BlockingIOError:
            time.sleep(0.05)
    if "listening on" not in err:
        p.kill()
        p.wait()
        pytest.fail(f"tcpdump did not start: {err}")
    # seen here: frames sent right after "listening on" can be missed (tens
    # of 3,000); a moment later none are
    time.sleep(1.0)
    return p


def _read_flows(path: Path) -> Counter:
    from traces import pcapio

    tr = pcapio.read_capture(path, raw=True)
    flows = Counter()
    for i in range(len(tr)):
        off, cap = int(tr.raw.offsets[i]), int(tr.cap_len[i])
        flows[shell.flow_key(bytes(tr.raw.data[off:off + cap]))] += 1
    return flows


@pytest.mark.xdp
@requires_xdp
@pytest.mark.parametrize("how", ["flows", "trace", "wirecap"])
def test_send_delivers_exactly(make_testbed, tmp_path, how):  # noqa: F811 - fixture
    """... to tcpdump on the system libpcap, and (wirecap) to tcpdump on
    WireCAP's library holding every queue of the capture interface: send
    opens nothing on the capture side."""
    tb = make_testbed(2)
    n = 2011 if how == "trace" else 3000       # synscan: 2,011 IPv4 frames
    if how == "wirecap":
        if not shell.lib_path().is_file():
            pytest.skip(f"WireCAP's libpcap library is not built ({shell.lib_path()}): make build")
        cap = _tcpdump(tb, n, tmp_path / "got.pcap", f"wirecap:{tb.cap_if}", shell.env_dict({}, tb))
    else:
        cap = _tcpdump(tb, n, tmp_path / "got.pcap")
    try:
        args = ["--trace", "synscan"] if how == "trace" else ["--count", str(n), "--flows", "7", "--size", "100"]
        r = inv("send", "--interface", tb.cap_if, "--rate", "20000", *args)
        assert r.returncode == 0, r.stderr
        sent = json.loads(r.stdout)
        try:
            cap.wait(timeout=20)
        except subprocess.TimeoutExpired:
            cap.send_signal(signal.SIGINT)     # tcpdump writes what it has and says what it saw
            cap.wait(timeout=10)
    finally:
        if cap.poll() is None:
            cap.kill()
            cap.wait()
    os.set_blocking(cap.stderr.fileno(), True)
    err = cap.stderr.read().decode(errors="replace")
    cap.stderr.close()
    assert cap.returncode == 0, err
    assert re.search(r"^0 packets dropped by kernel", err, re.M), f"tcpdump itself dropped frames (a busy host?): {err}"
    assert sent["packets"] == n and sent["requested"] == n and sent["stopped_by"] == "count"
    assert sum(sent["flows"].values()) == n
    assert _read_flows(tmp_path / "got.pcap") == Counter(sent["flows"])
    if how != "trace":
        assert len(sent["flows"]) == 7 and sent["bytes"] == 100 * n
        assert sorted(set(sent["flows"].values())) == [428, 429]
    else:
        assert len(sent["flows"]) == 2002


@pytest.mark.xdp
@requires_xdp
def test_send_steers_through_the_pinned_rss(make_testbed, tmp_path):  # noqa: F811 - fixture
    from driver.xdp import pinned_rss
    tb = make_testbed(4)
    pinned_rss.pin(tb)
    plan = shell.flows_plan(tb, 800, 32, 60)
    with pinned_rss.PinnedRss(tb) as r:
        r.set_table([2] * 128)
    out = shell.send(tb, plan, 20000)
    assert out["packets"] == 800 and out["steered_per_queue"] == [0, 0, 800, 0]
    r = inv("send", "--interface", tb.cap_if, "--count", "400", "--rate", "20000", "--queue-weights", "0,0,0,1")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["steered_per_queue"] == [0, 0, 0, 400]
    r = inv("send", "--interface", tb.cap_if, "--count", "4", "--rate", "100", "--queue-weights", "1,1")
    assert r.returncode == 2 and "4 weights, one per queue" in r.stderr
    pinned_rss.unpin(tb)
    assert not pinned_rss.is_pinned(tb)


@pytest.mark.xdp
@requires_xdp
def test_send_refusals(make_testbed):  # noqa: F811 - fixture
    tb = make_testbed(1)
    cases = [
        (["--interface", tb.gen_if, "--count", "5"], f"--interface '{tb.gen_if}': not a testbed's capture interface"),
        (["--interface", "eth0", "--count", "5"], "--interface 'eth0': not a testbed's capture interface wc<tag>c, "
                                                  "made by `invoke testbed-up`"),
        (["--interface", tb.cap_if, "--count", "5", "--src", "10.1.0.0/16"],
         "--src 10.1.0.0/16: outside 198.18.0.0/15"),
        (["--interface", tb.cap_if, "--count", "0"], "--count: how many frames to send"),
        (["--interface", tb.cap_if, "--count", "5", "--rate", "0"], "--rate 0.0: frames per second"),
        (["--interface", tb.cap_if, "--count", "10000000", "--rate", "100"], "--count 10000000 at --rate 100"),
        (["--interface", tb.cap_if, "--count", "5", "--queue-weights", "1"], "--queue-weights: testbed"),
    ]
    for args, message in cases:
        r = inv("send", *args)
        assert r.returncode == 2 and r.stdout == "" and r.stderr.startswith(message), (args, r.stderr)


@pytest.mark.xdp
@requires_xdp
def test_symmetric_key_keeps_both_directions_on_one_queue(make_testbed):  # noqa: F811 - fixture
    from driver.xdp import packets, pinned_rss

    tb = make_testbed(4)
    pinned_rss.pin(tb, key="symmetric")
    with pinned_rss.PinnedRss(tb) as r:
        r.set_table(pinned_rss.weighted_table([1, 1, 1, 1]))
    dmac, smac = tb.mac(tb.cap_if), tb.mac(tb.gen_if)
    for i in range(8):
        a, b = f"198.18.3.{i + 1}", f"198.19.4.{2 * i + 7}"
        pair = [packets.tcp_frame(dmac, smac, a, b, 40000 + i, 443),
                packets.tcp_frame(dmac, smac, b, a, 443, 40000 + i)]
        out = shell.send(tb, shell.Plan(pair, None, 2, "a flow and its reply"), 1000)
        assert sorted(out["steered_per_queue"]) == [0, 0, 0, 2], (i, out["steered_per_queue"])
    with pytest.raises(ValueError, match="RSS key 'toeplitz': one of default, symmetric"):
        pinned_rss.pin(tb, key="toeplitz")


@pytest.mark.xdp
@requires_xdp
def test_tshark_through_pcap_env_and_send(make_testbed, tmp_path):  # noqa: F811 - fixture
    """The README's recipe with tshark: eval "$(invoke pcap-env ...)", then
    tshark -i wirecap:IF while invoke send sends; tshark writes exactly the
    frames sent. dumpcap run as root drops every capability but CAP_NET_RAW
    and CAP_NET_ADMIN: it cannot load BPF (so the program is pinned, below,
    as `invoke testbed-up` pins it), and the UMEM is then charged to
    RLIMIT_MEMLOCK (8 MB here: the library's default pool fails with
    ENOBUFS), so small pools. (tests/test_pcap_abi.py runs tshark the other
    way: as a plain user with the capabilities it needs.)"""
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed (make sysdeps)")
    if not shell.lib_path().is_file():
        pytest.skip(f"WireCAP's libpcap library is not built ({shell.lib_path()}): make build")
    from driver.xdp.xdp_prog import RedirectProgram

    tb = make_testbed(2)
    # dumpcap drops its capabilities: it cannot load an XDP program, so the
    # library takes the one pinned as `invoke testbed-up` pins it (WIRECAP_PCAP_BPFFS)
    prog = RedirectProgram(tb.cap_ns, tb.cap_if, max_queues=64)
    try:
        prog.pin(tb.bpffs)
    finally:
        prog.close()
    n, out = 600, tmp_path / "t.pcapng"
    env_text = inv("pcap-env", "--interface", tb.cap_if, "--ring", "64", "-M", "32", "-R", "32").stdout
    script = (f'eval "$1"; exec ip netns exec {tb.cap_ns} tshark -i wirecap:{tb.cap_if} -c {n} -w {out}')
    ts = subprocess.Popen(["bash", "-c", script, "-", env_text], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        os.set_blocking(ts.stderr.fileno(), False)
        err, deadline = "", time.monotonic() + 20
        while "Capture started" not in err and time.monotonic() < deadline and ts.poll() is None:
            try:
                err += os.read(ts.stderr.fileno(), 4096).decode(errors="replace")
            except BlockingIOError:
                time.sleep(0.05)
        time.sleep(1.0)          # "Capture started" is tshark's; its dumpcap child may still be activating
        r = inv("send", "--interface", tb.cap_if, "--count", str(n), "--rate", "10000", "--flows", "5")
        assert r.returncode == 0, r.stderr
        try:
            ts.wait(timeout=30)
        except subprocess.TimeoutExpired:
            ts.send_signal(signal.SIGINT)       # tshark writes what it has and says how many
            ts.wait(timeout=10)
    finally:
        if ts.poll() is None:
            ts.kill()
            ts.wait()
    os.set_blocking(ts.stderr.fileno(), True)
    err += ts.stderr.read().decode(errors="replace")
    ts.stderr.close()
    assert ts.returncode == 0, err
    got, sent = _read_flows(out), Counter(json.loads(r.stdout)["flows"])
    assert got == sent, (got, sent, err)
