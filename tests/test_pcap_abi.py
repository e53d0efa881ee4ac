"""WireCAP's libpcap (engine/csrc/pcapabi): unmodified programs capture
through it (issue 13).

Without root: the library exports exactly libpcap's ABI, hands offline work
to the system's libpcap unchanged, names WireCAP in its version, and refuses
bad settings and devices with a message naming the variable or the device.

As root on a veth testbed (skipped with the reason where AF_XDP or root is
missing): Debian's tcpdump on wirecap:IF captures exactly the frames sent,
byte for byte and in order within each flow; a filter keeps exactly the
matching frames; under an overload tcpdump's "dropped by kernel" is what the
XDP hook saw arrive minus what the engine received, and sent = received +
dropped; ndpiReader with one thread per queue (wirecap:IF@0,wirecap:IF@1)
sees the flows it sees reading the same frames from a file.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from driver.xdp import packets
from engine.pcapabi import LIBRARY, device, pcap_env
from xdp_fixtures import XDP_MARKS, make_testbed  # noqa: F401 (fixtures)

TCPDUMP = shutil.which("tcpdump")
NDPI = shutil.which("ndpiReader")
SYSTEM_PCAP = Path("/usr/lib/x86_64-linux-gnu/libpcap.so.0.8")

needs_lib = pytest.mark.skipif(not LIBRARY.exists(), reason=f"{LIBRARY} not built (make build)")
needs_tcpdump = pytest.mark.skipif(TCPDUMP is None, reason="tcpdump is not installed (make sysdeps)")


def run(cmd, env=None, timeout=30, ns=None):
    if ns:
        cmd = ["ip", "netns", "exec", ns, *cmd]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def exported(lib: Path) -> set[str]:
    out = run(["nm", "-D", "--defined-only", str(lib)]).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def read_pcap(path: Path) -> list[bytes]:
    """The frames of a classic pcap file (either byte order, µs or ns)."""
    data = path.read_bytes()
    magic = struct.unpack_from("<I", data)[0]
    order = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off, frames = 24, []
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack_from(order + "IIII", data, off)
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    assert off == len(data), f"{path}: truncated record at {off}"
    return frames


def write_pcap(path: Path, frames: list[bytes]) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1_700_000_000 + i // 1000, (i % 1000) * 1000, len(fr), len(fr)))
            f.write(fr)


TCPDUMP_STATS = {k: re.compile(rf"(\d+) packets? {k}") for k in ("captured", "received by filter",
                                                                   "dropped by kernel")}


def tcpdump_stats(stderr: str) -> dict[str, int]:
    out = {}
    for key, rx in TCPDUMP_STATS.items():
        m = rx.search(stderr)
        out[key] = int(m.group(1)) if m else None
    return out


# ---- without root ---------------------------------------------------------------------

@needs_lib
@pytest.mark.skipif(shutil.which("nm") is None or not SYSTEM_PCAP.exists(), reason="nm or the system libpcap missing")
def test_exports_are_libpcaps_abi():
    """Every symbol of the system's libpcap.so.0.8, and of ours only the
    marker that stops the library from loading itself as the system's."""
    assert exported(LIBRARY) == exported(SYSTEM_PCAP) | {"wcp_is_wirecap"}
    soname = run(["objdump", "-p", str(LIBRARY)]).stdout
    assert re.search(r"SONAME\s+libpcap\.so\.0\.8", soname)


@needs_lib
def test_symbol_lists_cover_the_system_library():
    """wcp_symbols.h's two lists are exactly the system's functions: a new
    libpcap function would otherwise be missing from every program."""
    text = (LIBRARY.parents[2] / "engine/csrc/pcapabi/wcp_symbols.h").read_text()
    listed = set(re.findall(r"X\((\w+)\)", text))
    funcs = {s for s in exported(SYSTEM_PCAP) if s not in ("pcap_version", "eproto_db")}
    assert listed == funcs


@needs_lib
@needs_tcpdump
def test_version_names_wirecap_and_the_system_library():
    out = run([TCPDUMP, "--version"], env=pcap_env())
    assert out.returncode == 0, out.stderr
    assert re.search(r"WireCAP libpcap-ABI library \S+ .* over libpcap version 1\.\d+", out.stdout)
    assert "WireCAP" not in run([TCPDUMP, "--version"]).stdout   # the system's, without the library


@needs_lib
@needs_tcpdump
def test_offline_reading_is_the_system_librarys(tmp_path):
    """tcpdump -r and -w through the library: the same text and bytes as
    without it (every offline call is forwarded unchanged)."""
    frames = [packets.udp_frame("02:00:00:00:00:02", "02:00:00:00:00:01", packets.host(packets.SRC_NET, i),
                                packets.host(packets.DST_NET, i), 10000 + i, 9 + i % 2, 60 + i)
              for i in range(50)]
    src = tmp_path / "in.pcap"
    write_pcap(src, frames)
    outs = []
    for env in (None, pcap_env()):
        text = run([TCPDUMP, "-r", str(src), "-nn", "-tt", "udp and dst port 9"], env=env)
        assert text.returncode == 0, text.stderr
        copy = tmp_path / f"copy{len(outs)}.pcap"
        assert run([TCPDUMP, "-r", str(src), "-w", str(copy)], env=env).returncode == 0
        outs.append((text.stdout, copy.read_bytes()))
    assert outs[0] == outs[1]
    assert outs[0][0].count("\n") == 25


@needs_lib
@needs_tcpdump
@pytest.mark.parametrize("var,value,expect", [
    ("T", "150", r"WIRECAP_PCAP_T=150: .*1\.\.100"),
    ("M", "300", r"WIRECAP_PCAP_M=300: M must divide the ring size"),
    ("R", "2", r"WIRECAP_PCAP_R=2: R must"),
    ("RING", "1000", r"WIRECAP_PCAP_RING=1000: .*power of two"),
    ("OFFLOAD", "flows", r"WIRECAP_PCAP_OFFLOAD=flows: one of none .*chunk.*bucket.*hybrid"),
    ("OFFLOAD", "bucket", r"WIRECAP_PCAP_OFFLOAD=bucket .*STEER_MAP"),
    ("CPUS", "0,x", r"WIRECAP_PCAP_CPUS=0,x: "),
    ("XDP_MODE", "fast", r"WIRECAP_PCAP_XDP_MODE=fast: one of auto"),
    ("THRESHOLD", "30", r"WIRECAP_PCAP_THRESHOLD: not a WireCAP setting"),
])
def test_bad_setting_fails_activate_naming_the_variable(var, value, expect):
    """A bad value fails pcap_activate with a pcap error naming the variable
    and what it accepts, before anything is opened (no root needed)."""
    env = pcap_env()
    env["WIRECAP_PCAP_" + var] = value
    out = run([TCPDUMP, "-i", "wirecap:lo", "-c", "1"], env=env, timeout=10)
    assert out.returncode != 0
    assert re.search(expect, out.stderr), out.stderr


@needs_lib
@needs_tcpdump
@pytest.mark.parametrize("dev,expect", [
    ("wirecap:", r"a WireCAP device is wirecap:IFACE"),
    ("wirecap:eth0@x", r"a WireCAP device is wirecap:IFACE"),
    ("wirecap:nosuchif0", r"no interface nosuchif0 in this network namespace"),
])
def test_bad_device_is_named(dev, expect):
    out = run([TCPDUMP, "-i", dev, "-c", "1"], env=pcap_env(), timeout=10)
    assert out.returncode != 0
    assert re.search(expect, out.stderr), out.stderr


# ---- as root, on veth ---------------------------------------------------------------------

def on_veth(test):
    """Root, AF_XDP, the library and tcpdump (each skips with its reason)."""
    for mark in reversed([*XDP_MARKS, needs_lib, needs_tcpdump]):
        test = mark(test)
    return test


class Capture:
    """A program started in the capture namespace, its stderr collected."""

    def __init__(self, tb, argv: list[str], env: dict, stdout=subprocess.DEVNULL, ready: str = "listening on"):
        """stdout=subprocess.STDOUT: stdout joins stderr (and err)."""
        self.proc = subprocess.Popen(["ip", "netns", "exec", tb.cap_ns, *argv], env=env,
                                     stdout=subprocess.PIPE if stdout == subprocess.STDOUT else stdout,
                                     stderr=subprocess.STDOUT if stdout == subprocess.STDOUT else subprocess.PIPE,
                                     text=stdout == subprocess.STDOUT or None)
        if stdout == subprocess.STDOUT:
            self.proc.stderr = self.proc.stdout
        self.err = []
        self._ready = threading.Event()
        self._t = threading.Thread(target=self._read, args=(ready,), daemon=True)
        self._t.start()
        if not self._ready.wait(15):
            self.stop()
            raise AssertionError(f"{argv[0]} did not start: {''.join(self.err)}")

    def _read(self, ready: str) -> None:
        for line in self.proc.stderr:
            line = line if isinstance(line, str) else line.decode(errors="replace")
            self.err.append(line)
            if ready in line:
                self._ready.set()
        self._ready.set()

    def wait(self, timeout: float = 30) -> str:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        self._t.join(5)
        return "".join(self.err)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._t.join(5)
        return "".join(self.err)


def sent_frames(gen, templates: list[bytes], count: int) -> list[bytes]:
    """The frames Generator.send(templates, count, seq=True) puts on the wire."""
    out = []
    for k in range(count):
        t = bytearray(templates[k % len(templates)])
        struct.pack_into("!I", t, packets.SEQ_OFFSET, k)
        out.append(bytes(t))
    return out


def assert_in_flow_order(frames: list[bytes]) -> None:
    last = defaultdict(lambda: -1)
    for f in frames:
        flow, seq = packets.flow_of(f), packets.seq_of(f)
        assert seq > last[flow], f"flow {flow}: packet {seq} after {last[flow]}"
        last[flow] = seq


@on_veth
@pytest.mark.parametrize("queues", [1, 2])
def test_tcpdump_captures_exactly_what_was_sent(make_testbed, tmp_path, queues):
    tb = make_testbed(queues)
    n = 3000
    out = tmp_path / "f.pcap"
    td = Capture(tb, [TCPDUMP, "-i", device(tb.cap_if), "-c", str(n), "-w", str(out), "-U"],
                 pcap_env(R=32, offload="none"))
    from driver.xdp.generator import Generator

    with Generator(tb) as gen:
        tpl = gen.flows(64)
        res = gen.send(tpl, count=n, rate=50_000, seq=True)
    assert res.sent == n
    err = td.wait()
    assert td.proc.returncode == 0, err
    got = read_pcap(out)
    want = sent_frames(gen, tpl, n)
    assert len(got) == n
    # byte for byte (veth pads nothing: 60-byte frames stay 60 bytes)
    assert sorted(got) == sorted(want)
    assert_in_flow_order(got)
    assert tcpdump_stats(err) == {"captured": n, "received by filter": n, "dropped by kernel": 0}
    # and tcpdump reads the file back
    back = run([TCPDUMP, "-r", str(out), "-nn"])
    assert back.stdout.count("\n") == n


@on_veth
def test_filter_keeps_exactly_the_matching_frames(make_testbed, tmp_path):
    tb = make_testbed(2)
    from driver.xdp.generator import Generator

    with Generator(tb) as gen:
        tpl = [gen.udp(i, dport=9 if i % 2 == 0 else 10) for i in range(16)]
        n = 4000
        want = [f for f in sent_frames(gen, tpl, n) if struct.unpack_from("!H", f, 36)[0] == 9]
        out = tmp_path / "f.pcap"
        td = Capture(tb, [TCPDUMP, "-i", device(tb.cap_if), "-c", str(len(want)), "-w", str(out), "-U",
                          "udp and dst port 9"], pcap_env(R=32))
        gen.send(tpl, count=n, rate=50_000, seq=True)
    err = td.wait()
    assert td.proc.returncode == 0, err
    got = read_pcap(out)
    assert sorted(got) == sorted(want)
    assert_in_flow_order(got)
    st = tcpdump_stats(err)
    assert st["captured"] == len(want)
    assert st["received by filter"] >= len(want) and st["dropped by kernel"] == 0


@on_veth
def test_overload_drops_are_the_engines_and_add_up(make_testbed, tmp_path):
    """tcpdump stalls (its output pipe is not read for a while), the pool of
    RING=64, M=32, R=4 fills and the kernel drops frames it has no free cell
    for. tcpdump's counters: received + dropped = the frames that reached
    the XDP hook (the redirect program's arrival counts) = sent."""
    from driver.xdp.generator import Generator
    from driver.xdp.xdp_prog import RedirectProgram

    tb = make_testbed(2)
    prog = RedirectProgram(tb.cap_ns, tb.cap_if, max_queues=tb.queues)
    try:
        prog.pin(tb.bpffs)   # the library uses this program (WIRECAP_PCAP_BPFFS), we read its arrivals
        env = pcap_env(ring=64, M=32, R=4, offload="none", bpffs=str(tb.bpffs))
        td = Capture(tb, [TCPDUMP, "-i", device(tb.cap_if), "-w", "-", "-U"], env, stdout=subprocess.PIPE)
        n = 20_000
        with Generator(tb) as gen:
            res = gen.send(gen.flows(64), count=n, rate=40_000)
        time.sleep(0.5)
        arrived = 0
        import ctypes  # noqa: F401 - arrivals via the program's map
        from driver.xdp._native import native

        ffi, lib = native()
        for q in range(tb.queues):
            a = ffi.new("struct wc_xdp_arrival *")
            assert lib.wc_bpf__arrival_get(prog.arrival_fd, q, a) == 0
            arrived += int(a.frames)
        # let tcpdump write again, then stop it
        drained = threading.Thread(target=td.proc.stdout.read, daemon=True)
        drained.start()
        err = td.stop()
        st = tcpdump_stats(err)
    finally:
        prog.close()
    assert res.sent == n
    assert arrived == n, f"veth lost {n - arrived} frames before the XDP hook"
    assert st["dropped by kernel"] > 0, err
    assert st["received by filter"] + st["dropped by kernel"] == arrived
    assert st["captured"] <= st["received by filter"]


def _ndpi_flows(text: str) -> dict[str, int]:
    """ndpiReader's 'Detected protocols' section: protocol -> flows."""
    out = {}
    sec = text.split("Detected protocols:", 1)[1].split("\n\n", 1)[0]
    for m in re.finditer(r"^\s+(\S+)\s+packets: (\d+)\s+bytes: (\d+)\s+flows: (\d+)", sec, re.M):
        out[m.group(1)] = (int(m.group(2)), int(m.group(4)))
    return out


@on_veth
@pytest.mark.skipif(NDPI is None, reason="ndpiReader is not installed (make sysdeps: libndpi-bin)")
def test_ndpi_one_thread_per_queue_sees_what_it_sees_offline(make_testbed, tmp_path):
    """ndpiReader -i wirecap:IF@0,wirecap:IF@1: two threads, one handle
    each, one engine (a buddy group). With no overload every flow stays on
    its queue, and ndpiReader reports the packets, flows and protocols it
    reports reading the same frames from a file."""
    from driver.xdp.generator import Generator

    tb = make_testbed(2)
    n = 4000
    devs = f"{device(tb.cap_if, 0)},{device(tb.cap_if, 1)}"
    # stdbuf: ndpiReader's stdout is a pipe here, and "Running thread 1"
    # must arrive when it is printed, not at exit
    nd = Capture(tb, ["stdbuf", "-oL", NDPI, "-i", devs, "-s", "4"], pcap_env(R=32), stdout=subprocess.STDOUT,
                 ready="Running thread 1")
    with Generator(tb) as gen:
        tpl = [gen.udp(i, dport=53 if i % 3 == 0 else 9) for i in range(48)]
        gen.send(tpl, count=n, rate=20_000, seq=True)
        frames = sent_frames(gen, tpl, n)
    out_live = nd.wait(30)
    assert nd.proc.returncode == 0, out_live
    src = tmp_path / "sent.pcap"
    write_pcap(src, frames)
    off = run([NDPI, "-i", str(src)], timeout=60)
    assert off.returncode == 0, off.stderr
    live, offline = _ndpi_flows(out_live), _ndpi_flows(off.stdout)
    assert live == offline, (live, offline)
    assert sum(f for _, f in live.values()) == 48


def run_child(tb, tmp_path, source: str, args: list[str], env: dict, templates: list[bytes], n: int,
              rate: float, timeout: float = 60) -> str:
    """A libpcap program of its own (source: Python with ctypes) in tb's
    capture namespace: once it prints READY, n frames of templates are sent
    (numbered, Generator.send(seq=True)); its stdout once it exits, with 0."""
    from driver.xdp.generator import Generator

    child = tmp_path / "child.py"
    child.write_text(source)
    prog = subprocess.Popen(["ip", "netns", "exec", tb.cap_ns, "python3", str(child), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert prog.stdout.readline().strip() == "READY", prog.stderr.read()
        with Generator(tb) as gen:
            gen.send(templates, count=n, rate=rate, seq=True)
        out, errs = prog.communicate(timeout=timeout)
    finally:
        if prog.poll() is None:
            prog.kill()
            prog.wait()
    assert prog.returncode == 0, errs
    return out


# A libpcap program of its own (ctypes in a child process, so that it loads
# the library as tcpdump does: by soname, through LD_LIBRARY_PATH): the
# selectable fd, non-blocking next_ex, stats, and inject of every captured
# frame back out of the capture interface, zero copy.
API_CHILD = r'''
import ctypes as C, json, select, sys, time
pc = C.CDLL("libpcap.so.0.8")
class Hdr(C.Structure):
    _fields_ = [("sec", C.c_long), ("usec", C.c_long), ("caplen", C.c_uint32), ("len", C.c_uint32)]
class Stat(C.Structure):
    _fields_ = [("recv", C.c_uint), ("drop", C.c_uint), ("ifdrop", C.c_uint)]
pc.pcap_create.restype = C.c_void_p
pc.pcap_create.argtypes = [C.c_char_p, C.c_char_p]
for f in ("pcap_activate", "pcap_get_selectable_fd", "pcap_close", "pcap_datalink", "pcap_snapshot"):
    getattr(pc, f).argtypes = [C.c_void_p]
pc.pcap_geterr.restype = C.c_char_p
pc.pcap_geterr.argtypes = [C.c_void_p]
pc.pcap_lib_version.restype = C.c_char_p
pc.pcap_set_snaplen.argtypes = [C.c_void_p, C.c_int]
pc.pcap_setnonblock.argtypes = [C.c_void_p, C.c_int, C.c_char_p]
pc.pcap_getnonblock.argtypes = [C.c_void_p, C.c_char_p]
pc.pcap_next_ex.argtypes = [C.c_void_p, C.POINTER(C.POINTER(Hdr)), C.POINTER(C.c_void_p)]
pc.pcap_inject.argtypes = [C.c_void_p, C.c_void_p, C.c_size_t]
pc.pcap_sendpacket.argtypes = [C.c_void_p, C.c_char_p, C.c_int]
pc.pcap_stats.argtypes = [C.c_void_p, C.POINTER(Stat)]
dev, n = sys.argv[1].encode(), int(sys.argv[2])
err = C.create_string_buffer(256)
p = pc.pcap_create(dev, err)
assert p, err.value
assert pc.pcap_set_snaplen(p, 54) == 0
rc = pc.pcap_activate(p)
assert rc == 0, pc.pcap_geterr(p)
assert pc.pcap_datalink(p) == 1 and pc.pcap_snapshot(p) == 54
fd = pc.pcap_get_selectable_fd(p)
assert fd >= 0 and pc.pcap_setnonblock(p, 1, err) == 0 and pc.pcap_getnonblock(p, err) == 1
hp, dp = C.POINTER(Hdr)(), C.c_void_p()
assert pc.pcap_next_ex(p, C.byref(hp), C.byref(dp)) == 0    # non-blocking, nothing there
print("READY", flush=True)
got, lens, wakeups, deadline = [], set(), 0, time.monotonic() + 20
while len(got) < n and time.monotonic() < deadline:
    if select.select([fd], [], [], 1.0)[0]:
        wakeups += 1
    while pc.pcap_next_ex(p, C.byref(hp), C.byref(dp)) == 1:
        h = hp.contents
        got.append(C.string_at(dp, h.caplen))
        lens.add((h.caplen, h.len))
        assert pc.pcap_inject(p, dp, h.len) == h.len, pc.pcap_geterr(p)   # the whole frame, from the UMEM
extra = b"\xff" * 6 + got[0][6:] if got else b""
copied = pc.pcap_sendpacket(p, extra, len(extra)) if got else -1      # bytes outside the UMEM: a copy
st = Stat()
assert pc.pcap_stats(p, C.byref(st)) == 0
print(json.dumps({"got": len(got), "lens": sorted(lens), "wakeups": wakeups, "copied": copied,
                  "recv": st.recv, "drop": st.drop, "version": pc.pcap_lib_version().decode(),
                  "seqs": [int.from_bytes(g[42:46], "big") for g in got]}), flush=True)
time.sleep(0.5)
pc.pcap_close(p)
'''


@on_veth
def test_selectable_fd_nonblock_stats_and_zero_copy_inject(make_testbed, tmp_path):
    """A program waits with select() on pcap_get_selectable_fd, reads with
    non-blocking pcap_next_ex (snaplen 54: caplen cut, len whole), sends
    every frame back with pcap_inject from where it was captured, and one
    more with pcap_sendpacket; the generator's side receives all of them."""
    import json

    from driver.xdp.generator import Generator

    tb = make_testbed(2)
    n = 500
    back = tmp_path / "back.pcap"
    # what comes back to the generator's interface (inbound only)
    sink = subprocess.Popen(["ip", "netns", "exec", tb.gen_ns, TCPDUMP, "-i", tb.gen_if, "-Q", "in", "-c",
                             str(n + 1), "-w", str(back), "-U"], stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.monotonic()
        while "listening" not in (line := sink.stderr.readline()) and time.monotonic() - t0 < 10:
            pass
        with Generator(tb) as gen:
            tpl = gen.flows(16)
        out = run_child(tb, tmp_path, API_CHILD, [device(tb.cap_if), str(n)], pcap_env(R=32), tpl, n, 20_000)
        res = json.loads(out.splitlines()[-1])
        sink.wait(20)
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()
    assert res["got"] == n and sorted(res["seqs"]) == list(range(n))
    assert res["lens"] == [[54, 60]]
    assert res["wakeups"] >= 1
    assert res["recv"] == n and res["drop"] == 0
    assert res["copied"] == 0
    assert "WireCAP" in res["version"]
    returned = read_pcap(back)
    assert len(returned) == n + 1
    # the copied frame (broadcast destination) may pass the last injected
    # ones: each queue's frames leave from that queue's own socket
    copied = [f for f in returned if f[:6] == b"\xff" * 6]
    injected = [f for f in returned if f[:6] != b"\xff" * 6]
    assert len(copied) == 1 and packets.seq_of(copied[0]) == 0
    assert sorted(injected) == sorted(sent_frames(None, tpl, n))


TSHARK = shutil.which("tshark")
# dumpcap (tshark's capture child) run as root keeps only CAP_NET_RAW and
# CAP_NET_ADMIN before it opens a device; as a plain user with these as
# ambient capabilities it keeps them all (README.md, tshark)
TSHARK_CAPS = "+net_raw,+net_admin,+bpf,+ipc_lock,+sys_nice"


def as_capture_user(argv: list[str]) -> list[str]:
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", f"--inh-caps={TSHARK_CAPS}",
            f"--ambient-caps={TSHARK_CAPS}", *argv]


@pytest.fixture
def user_dir():
    """A fresh private folder (mkdtemp, 0700) handed to the capture user
    (nobody): tshark's home and output. pytest's own tmp_path sits under
    root's 0700 folders, which that user cannot enter."""
    d = Path(tempfile.mkdtemp(prefix="wcp-tshark-"))
    shutil.chown(d, "nobody", "nogroup")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@on_veth
@pytest.mark.skipif(TSHARK is None or shutil.which("setpriv") is None,
                    reason="tshark (or setpriv) is not installed (make sysdeps)")
@pytest.mark.parametrize("capture_filter", [None, "udp and dst port 9"])
def test_tshark_captures_exactly_what_was_sent(make_testbed, tmp_path, user_dir, capture_filter):
    """tshark -i wirecap:IF -c N -w f.pcapng: the N frames sent (or the
    matching ones, with a capture filter), byte for byte, in order within
    each flow; read back through libpcap (tcpdump -r converts the pcapng)."""
    from driver.xdp.generator import Generator

    tb = make_testbed(2)
    out = user_dir
    with Generator(tb) as gen:
        tpl = [gen.udp(i, dport=9 if i % 4 else 10) for i in range(32)]
        n = 2000
        sent = sent_frames(gen, tpl, n)
        want = [f for f in sent if capture_filter is None or struct.unpack_from("!H", f, 36)[0] == 9]
        env = pcap_env(R=32)
        env["HOME"] = str(out)
        argv = [TSHARK, "-i", device(tb.cap_if), "-c", str(len(want)), "-w", str(out / "f.pcapng")]
        ts = Capture(tb, as_capture_user(argv + (["-f", capture_filter] if capture_filter else [])), env,
                     ready="Capturing on")
        time.sleep(0.3)   # "Capturing on" comes from tshark; its dumpcap child may still be activating
        gen.send(tpl, count=n, rate=20_000, seq=True)
    err = ts.wait()
    assert ts.proc.returncode == 0, err
    assert re.search(rf"\b{len(want)} packets captured", err), err
    conv = run([TCPDUMP, "-r", str(out / "f.pcapng"), "-w", str(tmp_path / "f.pcap")])
    assert conv.returncode == 0, conv.stderr
    got = read_pcap(tmp_path / "f.pcap")
    assert sorted(got) == sorted(want)
    assert_in_flow_order(got)


DISPATCH_ONE_CHILD = r'''
import ctypes as C, select, sys, time
pc = C.CDLL("libpcap.so.0.8")
CB = C.CFUNCTYPE(None, C.c_void_p, C.c_void_p, C.c_void_p)
pc.pcap_create.restype = C.c_void_p
pc.pcap_create.argtypes = [C.c_char_p, C.c_char_p]
for f in ("pcap_activate", "pcap_get_selectable_fd"):
    getattr(pc, f).argtypes = [C.c_void_p]
pc.pcap_set_timeout.argtypes = [C.c_void_p, C.c_int]
pc.pcap_dispatch.argtypes = [C.c_void_p, C.c_int, CB, C.c_void_p]
err = C.create_string_buffer(256)
p = pc.pcap_create(sys.argv[1].encode(), err)
pc.pcap_set_timeout(p, 250)
assert pc.pcap_activate(p) == 0
fd = pc.pcap_get_selectable_fd(p)
seqs = []
cb = CB(lambda u, h, d: seqs.append(int.from_bytes(C.string_at(d + 42, 4), "big")))
print("READY", flush=True)
n, deadline = int(sys.argv[2]), time.monotonic() + 10
while len(seqs) < n and time.monotonic() < deadline:
    if select.select([fd], [], [], 0.25)[0]:
        pc.pcap_dispatch(p, 1, cb, None)
print(" ".join(map(str, sorted(seqs))), flush=True)
'''


@on_veth
def test_select_then_dispatch_one_packet_at_a_time_gets_every_packet(make_testbed, tmp_path):
    """dumpcap's loop: select() on the selectable fd, then pcap_dispatch(p,
    1, ...). The fd stays readable while packets are left, as libpcap's
    does, so the last packets of a burst are not left behind."""
    from driver.xdp.generator import Generator

    tb = make_testbed(2)
    n = 1000
    with Generator(tb) as gen:
        tpl = gen.flows(64)
    out = run_child(tb, tmp_path, DISPATCH_ONE_CHILD, [device(tb.cap_if), str(n)], pcap_env(R=32), tpl, n,
                    50_000, timeout=30)
    assert [int(x) for x in out.split()] == list(range(n))


TWO_THREADS_CHILD = r'''
import ctypes as C, sys, threading, time
pc = C.CDLL("libpcap.so.0.8")
CB = C.CFUNCTYPE(None, C.c_void_p, C.c_void_p, C.c_void_p)
pc.pcap_create.restype = C.c_void_p
pc.pcap_create.argtypes = [C.c_char_p, C.c_char_p]
for f in ("pcap_activate", "pcap_breakloop", "pcap_close"):
    getattr(pc, f).argtypes = [C.c_void_p]
pc.pcap_geterr.restype = C.c_char_p
pc.pcap_geterr.argtypes = [C.c_void_p]
pc.pcap_loop.argtypes = [C.c_void_p, C.c_int, CB, C.c_void_p]
err = C.create_string_buffer(256)
handles = []
for dev in sys.argv[1].split(","):       # opened one by one, as ndpiReader does
    p = pc.pcap_create(dev.encode(), err)
    rc = pc.pcap_activate(p)
    assert rc == 0, pc.pcap_geterr(p)
    handles.append(p)
seen = [[] for _ in handles]
cbs = [CB(lambda u, h, d, i=i: seen[i].append(int.from_bytes(C.string_at(d + 42, 4), "big")))
       for i in range(len(handles))]
threads = [threading.Thread(target=pc.pcap_loop, args=(p, -1, cbs[i], None)) for i, p in enumerate(handles)]
for t in threads:
    t.start()
time.sleep(0.3)
print("READY", flush=True)
n, deadline = int(sys.argv[2]), time.monotonic() + 20
while sum(map(len, seen)) < n and time.monotonic() < deadline:
    time.sleep(0.05)
time.sleep(0.3)
for p in handles:
    pc.pcap_breakloop(p)
for t in threads:
    t.join()
print(";".join(" ".join(map(str, s)) for s in seen), flush=True)
for p in handles:
    pc.pcap_close(p)
'''


@on_veth
@pytest.mark.parametrize("offload", ["bucket", "hybrid"])
def test_bucket_offloading_through_per_queue_handles(make_testbed, tmp_path, offload):
    """A program opens wirecap:IF@0 then wirecap:IF@1 (a thread each) with
    bucket offloading while the RSS table sends every bucket to queue 1:
    opening @0 alone cannot build an engine the steer map agrees with, so
    the engine waits for the first read, over both queues. The balancer
    then moves buckets off the loaded queue (the pinned steer map shows
    them on queue 0 afterwards), and every frame is handed to exactly one
    thread, each flow in order within each thread."""
    from driver.xdp import pinned_rss
    from driver.xdp.generator import Generator

    tb = make_testbed(2)
    pinned_rss.pin(tb)
    with pinned_rss.PinnedRss(tb) as r:
        r.set_table(np.ones(r.n_buckets, dtype=np.uint32))        # every bucket on queue 1
    p = pinned_rss.paths(tb)
    env = pcap_env(R=32, offload=offload, steer_map=str(p["steer"]), counts_map=str(p["counts"]),
                   period_ms=50)
    # 40,000 frames/s: 2,000 a period, well above the backlog of one
    # 256-cell chunk filling (a giver must have at most half a period's
    # arrivals waiting, engine/csrc/wc_balance.h)
    n = 20_000
    with Generator(tb) as gen:
        tpl = gen.flows(64)
    out = run_child(tb, tmp_path, TWO_THREADS_CHILD, [f"{device(tb.cap_if, 0)},{device(tb.cap_if, 1)}", str(n)],
                    env, tpl, n, 40_000)
    per_thread = [[int(x) for x in part.split()] for part in out.strip().split(";")]
    with pinned_rss.PinnedRss(tb) as r:
        moved_to_0 = int((r.steer == 0).sum())
    assert sorted(s for t in per_thread for s in t) == list(range(n))
    frames = sent_frames(None, tpl, n)
    for t in per_thread:
        assert_in_flow_order([frames[s] for s in t])
    assert moved_to_0 > 0 and per_thread[0], ("the balancer moved no bucket to the idle queue",
                                               [len(t) for t in per_thread])


@on_veth
@pytest.mark.skipif(NDPI is None, reason="ndpiReader is not installed (make sysdeps: libndpi-bin)")
@pytest.mark.parametrize("device", ["wirecap-all", "wirecap"])
def test_ndpi_on_the_real_captures_live_as_offline(make_testbed, device):
    """ndpiReader on a replay of the three real captures (gnutella, 1kxun,
    synscan; every address rewritten into 198.18.0.0/15), live through
    wirecap:IF (one thread) and through wirecap:IF@0,wirecap:IF@1 (a thread
    per queue, RSS with the symmetric key so that both directions of a flow
    share a queue, no overload), against ndpiReader reading the same frames
    from a file: every frame delivered, every flow seen once, none missed,
    every detected protocol the same."""
    from experiments.live import ndpi_affinity as na

    tb = make_testbed(2)
    rows = na.run({"policies": ["none"], "rss_keys": ["symmetric"], "queues": 2, "weights": [1, 1],
                   "repeat": 1, "rate_pps": 20_000.0, "M": 256, "R": 32, "ring": 1024, "device": device}, tb=tb)
    assert len(rows) == 1 and not rows[0]["error"], rows
    r = rows[0]
    assert r["sent"] > 7000 and r["delivered"] == r["sent"], r
    assert r["truth_flows"] > 2000
    assert (r["flows_once"], r["flows_split"], r["flows_missed"], r["flows_extra"]) == (r["truth_flows"], 0, 0, 0), r
    assert (r["class_same"], r["class_other"], r["class_unknown"]) == (r["truth_flows"], 0, 0), r
