"""The real backend's baselines: honest analogs on the same packet path as
WireCAP, named for what they are (DESIGN.md §4). PF_RING, DNA and NETMAP
need kernel modules and Intel NICs; these run on any Linux interface.

``afxdp-ring`` (AfxdpRing)
    AF_XDP with a UMEM exactly as large as its ring of N frames (default
    1,024, the paper's ring): the application reads frames in place and
    returns them after processing. The ring is the only buffer, the
    buffering semantics of NETMAP and DNA (paper §2.2: "they use ring buffers
    as data capture buffers"). Drops: capture drops (fill ring empty).
``afpacket-copy`` (AfpacketCopy)
    AF_PACKET with a TPACKET_V3 ring sized to hold 10,240 frames of the
    experiment's size: the kernel copies every frame into the ring, a Type-I
    engine like PF_RING in mode 2 with its 10,240-slot pf_ring (paper §2.2).
    Drops when the ring is full: delivery drops. One ring per receive queue
    through PACKET_FANOUT_QM when several queues are captured.
``tcpdump`` (Libpcap, run_tcpdump)
    libpcap's own capture (TPACKET_V3 underneath, libpcap's default 2 MB
    buffer): the reference every user knows. pkt_handler's ``tcpdump`` engine
    is libpcap with pkt_handler's per-packet work; the benchmark also runs
    the tcpdump binary itself when it is installed.

On veth the kernel-stack engines get the XDP_PASS program (xdp_prog.py), so
every engine sees frames through the same NAPI receive path.
"""
from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import signal
import subprocess
import time

from driver.xdp import counters, netns
from driver.xdp._native import native
from driver.xdp.errors import PrerequisiteError, XdpError, check, retry_busy
from driver.xdp.xdp_prog import PassProgram, RedirectProgram

RING_DEFAULT = 1024        # paper §2.2: "Each NIC receive ring is configured with a size of 1,024"
PFRING_SLOTS = 10240       # paper §2.2: "the size of pf_ring buffer is set to 10,240"
XSK_MODES = {"auto": 0, "copy": 1, "zerocopy": 2}
CLONE_NEWNET = 0x40000000  # include/uapi/linux/sched.h


class AfxdpRing:
    """Ring-only AF_XDP on one queue (NETMAP/DNA buffering semantics)."""

    name = "afxdp-ring"

    def __init__(self, ns: str | None, ifname: str, queue: int = 0, ring_size: int = RING_DEFAULT,
                 batch: int = 64, mode: str = "copy", program: RedirectProgram | None = None,
                 max_queues: int | None = None, need_wakeup: bool = True):
        ffi, lib = native()
        if ring_size < 2 or ring_size & (ring_size - 1):
            raise ValueError(f"ring_size={ring_size}: AF_XDP rings are powers of two")
        self.ns, self.ifname, self.queue, self.ring_size = ns, ifname, int(queue), int(ring_size)
        o = ffi.new("struct wc_xring_opts *")
        o.sz = ffi.sizeof("struct wc_xring_opts")
        o.ring_size, o.batch, o.mode, o.need_wakeup = ring_size, batch, XSK_MODES[mode], int(need_wakeup)
        out = ffi.new("struct wc_xring **")
        ifindex = netns.ifindex(ns, ifname)
        with netns.entered(ns):
            check(retry_busy(lambda: lib.wc_xring__create(out, ifindex, self.queue, o)),
                  f"afxdp-ring on {ifname} queue {queue}", {errno.EBUSY: "the queue already has an AF_XDP socket"})
        self.ptr = out[0]
        self._own_program = program is None
        try:
            self.program = program or RedirectProgram(ns, ifname, max_queues or self.queue + 1)
            self.program.set(self.queue, lib.wc_xring__fd(self.ptr))
        except BaseException:
            lib.wc_xring__destroy(self.ptr)
            self.ptr = None
            raise

    @property
    def label(self) -> str:
        return f"afxdp-ring({self.ring_size})"

    def loop(self, work):
        _, lib = native()
        return lambda o, r: lib.wc_drive__xring(self.ptr, work.cb, work.user, work.idle, o, r)

    def dispatch(self, cnt: int, work, timeout_ms: int = 0) -> int:
        _, lib = native()
        return check(lib.wc_xring__dispatch(self.ptr, cnt, work.cb, work.user, timeout_ms), "dispatch")

    def stats(self) -> dict:
        ffi, lib = native()
        st = ffi.new("struct wc_xring_stats *")
        check(lib.wc_xring__stats(self.ptr, st), "afxdp-ring stats")
        x = st.xsk
        return {"delivered": int(st.delivered),
                "capture_drops": int(x.rx_dropped + x.rx_ring_full + x.rx_invalid_descs),
                "delivery_drops": 0, "xsk_rx_fill_ring_empty_descs": int(x.rx_fill_ring_empty_descs)}

    def close(self) -> None:
        _, lib = native()
        if self.ptr is not None:
            if self.program is not None:
                self.program.clear(self.queue)
            lib.wc_xring__destroy(self.ptr)
            self.ptr = None
        if self._own_program and self.program is not None:
            self.program.close()
            self.program = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AfpacketCopy:
    """A TPACKET_V3 ring holding ``slots`` frames of ``frame_len`` bytes
    (PF_RING-mode-2-like copy engine). With ``fanout_id`` it is one member of
    a per-queue fanout group (join in queue order)."""

    name = "afpacket-copy"

    def __init__(self, ns: str | None, ifname: str, slots: int = PFRING_SLOTS, frame_len: int = 60,
                 block_size: int = 4096, retire_ms: int = 1, fanout_id: int = 0):
        ffi, lib = native()
        block_nr = lib.wc_tpacket__blocks_for(slots, frame_len, block_size)
        if not block_nr:
            raise ValueError(f"frame_len={frame_len}: does not fit a {block_size}-byte block")
        o = ffi.new("struct wc_tpacket_opts *")
        o.sz = ffi.sizeof("struct wc_tpacket_opts")
        o.block_size, o.block_nr, o.retire_ms, o.fanout_id = block_size, block_nr, retire_ms, fanout_id
        out = ffi.new("struct wc_tpacket **")
        ifindex = netns.ifindex(ns, ifname)
        with netns.entered(ns):
            check(lib.wc_tpacket__create(out, ifindex, o), f"TPACKET_V3 ring on {ifname}",
                  {errno.EPERM: "run as root (CAP_NET_RAW)"})
        self.ptr = out[0]
        self.ns, self.ifname, self.slots, self.frame_len = ns, ifname, slots, frame_len
        self.capacity = int(lib.wc_tpacket__capacity(self.ptr, frame_len))

    @property
    def label(self) -> str:
        return f"afpacket-copy({self.slots})"

    def loop(self, work):
        _, lib = native()
        return lambda o, r: lib.wc_drive__tpacket(self.ptr, work.cb, work.user, work.idle, o, r)

    def dispatch(self, cnt: int, callback, timeout_ms: int = 0) -> int:
        """Hand packets to callback(hdr, bytes) (Python) or a Work (C)."""
        ffi, lib = native()
        from engine.live.work import Work

        if isinstance(callback, Work):
            return check(lib.wc_tpacket__dispatch(self.ptr, cnt, callback.cb, callback.user, timeout_ms), "dispatch")
        got = []

        @ffi.callback("void(void *, const struct wc_pkthdr *, const uint8_t *)")
        def cb(user, h, data):
            got.append((int(h.ts_ns), bytes(ffi.buffer(data, h.caplen))))

        n = check(lib.wc_tpacket__dispatch(self.ptr, cnt, cb, ffi.NULL, timeout_ms), "dispatch")
        for ts, data in got:
            callback(ts, data)
        return n

    def stats(self) -> dict:
        ffi, lib = native()
        st = ffi.new("struct wc_tpacket_stats *")
        check(lib.wc_tpacket__stats(self.ptr, st), "PACKET_STATISTICS")
        return {"delivered": int(st.delivered), "queued": int(st.packets), "capture_drops": 0,
                "delivery_drops": int(st.drops)}

    def close(self) -> None:
        if self.ptr is not None:
            native()[1].wc_tpacket__destroy(self.ptr)
            self.ptr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Libpcap:
    """libpcap's live capture of an interface (what tcpdump runs on)."""

    name = "tcpdump"

    def __init__(self, ns: str | None, ifname: str, snaplen: int = 65535, buffer_bytes: int = 0,
                 timeout_ms: int = 1):
        ffi, lib = native()
        out = ffi.new("struct wc_pcap **")
        err = ffi.new("char[]", lib.WC_ERRBUF_SIZE)
        with netns.entered(ns):
            rc = lib.wc_pcap__open(out, ifname.encode(), snaplen, buffer_bytes, timeout_ms, err)
        if rc < 0:
            raise XdpError(-rc, f"libpcap on {ifname}: {ffi.string(err).decode(errors='replace')}")
        self.ptr = out[0]
        self.ns, self.ifname = ns, ifname

    label = "tcpdump(libpcap)"

    def loop(self, work):
        _, lib = native()
        return lambda o, r: lib.wc_drive__pcap(self.ptr, work.cb, work.user, work.idle, o, r)

    def stats(self) -> dict:
        ffi, lib = native()
        recv, drop, ifdrop = ffi.new("uint64_t *"), ffi.new("uint64_t *"), ffi.new("uint64_t *")
        check(lib.wc_pcap__stats(self.ptr, recv, drop, ifdrop), "pcap_stats")
        # libpcap on Linux: ps_recv counts packets that passed the filter, ps_drop
        # those the full buffer dropped (pcap-linux.c, TPACKET_V3 tp_drops)
        return {"ps_recv": int(recv[0]), "ps_drop": int(drop[0]), "ps_ifdrop": int(ifdrop[0]),
                "capture_drops": 0, "delivery_drops": int(drop[0])}

    def close(self) -> None:
        if self.ptr is not None:
            native()[1].wc_pcap__close(self.ptr)
            self.ptr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_TCPDUMP_STATS = {
    "captured": re.compile(r"(\d+) packets? captured"),
    "received": re.compile(r"(\d+) packets? received by filter"),
    "dropped": re.compile(r"(\d+) packets? dropped by kernel"),
}


class Tcpdump:
    """The tcpdump binary capturing ifname into /dev/null inside namespace ns.

    Started before the traffic, stopped with SIGINT (which makes tcpdump
    print its counters, the only interface it has for them)."""

    def __init__(self, ns: str | None, ifname: str, buffer_kib: int = 2048, env: dict | None = None):
        """``env``: the program's environment (``pcap_env()`` runs it on
        WireCAP's libpcap, with ifname a ``wirecap:`` device)."""
        exe = shutil.which("tcpdump")
        if exe is None:
            raise PrerequisiteError("tcpdump is not installed (Debian: apt-get install tcpdump)")
        fd = netns.fd_of(ns) if ns else -1
        libc = ctypes.CDLL(None, use_errno=True)

        def enter():  # runs in the child between fork and exec
            if fd >= 0 and libc.setns(fd, CLONE_NEWNET) != 0:
                os._exit(127)

        self.proc = subprocess.Popen([exe, "-i", ifname, "-n", "-q", "-B", str(buffer_kib), "-w", "/dev/null"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=enter, pass_fds=(fd,) if fd >= 0 else (), env=env)
        if fd >= 0:
            os.close(fd)
        self._err = b""
        os.set_blocking(self.proc.stderr.fileno(), False)
        self._wait_listening()

    def _read_err(self) -> None:
        try:
            while True:
                chunk = os.read(self.proc.stderr.fileno(), 65536)
                if not chunk:
                    return
                self._err += chunk
        except BlockingIOError:
            return

    def _wait_listening(self, timeout_s: float = 5.0) -> None:
        # tcpdump says "listening on IF" on stderr once the capture is open
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._read_err()
            if b"listening on" in self._err:
                return
            if self.proc.poll() is not None:
                self._read_err()
                raise RuntimeError(f"tcpdump exited: {self._err.decode(errors='replace').strip()}")
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("tcpdump did not start listening within 5 s")

    def stop(self, timeout_s: float = 10.0) -> dict:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._read_err()
        self.proc.stderr.close()
        text = self._err.decode(errors="replace")
        out = {}
        for key, rx in _TCPDUMP_STATS.items():
            m = rx.search(text)
            out[key] = int(m.group(1)) if m else None
        return out


def attach_pass(ns: str | None, ifname: str) -> PassProgram | None:
    """The XDP_PASS program for kernel-stack engines on veth (None elsewhere)."""
    if counters.ethtool(ns, ifname).get("peer_ifindex") is None:
        return None
    return PassProgram(ns, ifname)
