"""The traffic generator of the veth testbed. Every method is bounded in
frames and in time, refuses frames with addresses outside 198.18.0.0/15, and
reports exactly how many frames it sent.

Two senders, because they differ in how frames reach the receive queues
(DESIGN.md §4):

``send`` / ``replay``: AF_PACKET ``sendmmsg`` through the qdisc path
    (driver/csrc/xdp/wc_gen.c). The transmit queue, and so the capture
    side's receive queue, follows the flow hash: RSS-like spreading by flow.
    Rate-controlled on an absolute schedule (exact on average to the clock;
    ~0.4-0.6 Mp/s per sender here). ``sent`` counts the frames the kernel
    accepted; a refused frame is offered again.
``burst``: BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES: an XDP_TX program
    run ``count`` times on one frame turns it into that many frames sent from
    the generator's veth (millions per second). The receive queue follows the
    sending CPU (veth_xdp_xmit picks smp_processor_id() % queues), and the
    receiving veth must run an XDP program or the frames vanish. ``sent``
    is the veth's own count of frames handed to the peer
    (``tx_queue_N_xdp_xmit``); frames the peer's ring refused are reported
    as ``refused``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from driver.xdp import counters, netns, packets
from driver.xdp._native import native
from driver.xdp.errors import check

XDP_TX = 3                   # include/uapi/linux/bpf.h: enum xdp_action
LIVE_SLICE = 1 << 16         # frames per BPF_PROG_RUN call: the time bound is checked between calls
LIVE_BATCH = 64              # frames per flush (NAPI_POLL_WEIGHT, the kernel's default)
DEFAULT_MAX_S = 60.0         # every send stops after this unless told otherwise
MAX_SEND_S = 3600.0          # no send may be bounded later than this (callers plan within it)
STOP_REASONS = {0: "count", 1: "time", 2: "stop"}


@dataclass
class SendResult:
    method: str              # "afpacket" or "live-frames"
    requested: int
    sent: int                # frames that entered the wire (exact)
    refused: int             # refusals (afpacket: retried; live frames: dropped by the peer's ring)
    duration_s: float        # first to last send
    stopped_by: str

    @property
    def rate_pps(self) -> float:
        return self.sent / self.duration_s if self.duration_s > 0 else float("nan")


class Generator:
    """Sends into the capture interface of a testbed, from its gen namespace.

    ``dst_mac``: the capture interface is on another host (a remote run,
    experiments/live/remote.py): frames go to this MAC, and the check that
    the receiving end runs an XDP program is the capture host's job."""

    def __init__(self, testbed, qdisc_bypass: bool = False, dst_mac: str | None = None):
        ffi, lib = native()
        self.tb = testbed
        self.ifindex = netns.ifindex(testbed.gen_ns, testbed.gen_if)
        with netns.entered(testbed.gen_ns):
            self.fd = check(lib.wc_gen__socket(self.ifindex, int(qdisc_bypass)),
                            f"AF_PACKET socket on {testbed.gen_if}")
        self._tx_prog = -1
        self.remote_peer = dst_mac is not None
        self.dst_mac = dst_mac if self.remote_peer else testbed.mac(testbed.cap_if)
        self.src_mac = testbed.mac(testbed.gen_if)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self._tx_prog >= 0:
            os.close(self._tx_prog)
            self._tx_prog = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- frames --------------------------------------------------------------

    def udp(self, i: int = 0, length: int = packets.MIN_FRAME, sport: int | None = None,
            dport: int = 9) -> bytes:
        """A UDP frame of flow i toward the paper's filter net 198.18.2.0/24."""
        return packets.udp_frame(self.dst_mac, self.src_mac, packets.host(packets.SRC_NET, i),
                                 packets.host(packets.DST_NET, i // 7),
                                 10000 + i if sport is None else sport, dport, length)

    def flows(self, n: int, length: int = packets.MIN_FRAME) -> list[bytes]:
        return packets.flow_frames(self.dst_mac, self.src_mac, n, length)

    # ---- AF_PACKET through the qdisc path -------------------------------------

    def send(self, frames: list[bytes], count: int | None = None, rate: float | None = None,
             max_s: float = DEFAULT_MAX_S, seq: bool = False, due_ns: np.ndarray | None = None,
             tpl_idx: np.ndarray | None = None, frame_len: np.ndarray | None = None,
             stop=None, batch: int = 0) -> SendResult:
        """Send ``count`` frames (default: each template once), frame k being
        template k % len(frames) (or tpl_idx[k]); at ``rate`` frames/s (None:
        as fast as the kernel takes them) or at t0 + due_ns[k]. With seq, the
        frame number k is written at packets.SEQ_OFFSET. ``stop``: an
        ``int *`` from ffi that another thread may set to end early."""
        ffi, lib = native()
        if not frames:
            raise ValueError("frames: at least one template is needed")
        for f in frames:
            packets.check_frame(f)
        count = len(frames) if count is None else int(count)
        if count < 1:
            raise ValueError(f"count={count}: send at least one frame")
        if max_s is None or not 0 < max_s <= MAX_SEND_S:
            raise ValueError(f"max_s={max_s}: every send is bounded in time, 0 < max_s <= {MAX_SEND_S:g}")
        if rate is not None and not 0 < rate <= 1e8:
            raise ValueError(f"rate={rate}: frames per second must be in (0, 1e8]")
        stride = max(len(f) for f in frames)
        buf = ffi.new("uint8_t[]", stride * len(frames))
        lens = ffi.new("uint32_t[]", [len(f) for f in frames])
        for i, f in enumerate(frames):
            ffi.memmove(buf + i * stride, f, len(f))
        keep = []
        o = ffi.new("struct wc_gen_opts *")
        o.sz = ffi.sizeof("struct wc_gen_opts")
        o.count = count
        o.max_ns = int(max_s * 1e9)
        o.rate_pps = float(rate or 0.0)
        o.batch = int(batch)
        o.seq_offset = packets.SEQ_OFFSET if seq else -1
        o.stop = stop if stop is not None else ffi.NULL
        for name, arr, dtype, ctype in (("due_ns", due_ns, np.uint64, "uint64_t *"),
                                        ("tpl_idx", tpl_idx, np.uint32, "uint32_t *"),
                                        ("frame_len", frame_len, np.uint16, "uint16_t *")):
            if arr is None:
                continue
            a = np.ascontiguousarray(arr, dtype=dtype)
            if len(a) < count:
                raise ValueError(f"{name}: {len(a)} entries for {count} frames")
            if name == "tpl_idx" and len(a) and int(a[:count].max()) >= len(frames):
                raise ValueError(f"tpl_idx: refers to template {int(a.max())} of {len(frames)}")
            keep.append(a)
            setattr(o, name, ffi.cast(ctype, ffi.from_buffer(a)))
        r = ffi.new("struct wc_gen_result *")
        check(lib.wc_gen__send(self.fd, buf, lens, len(frames), stride, o, r),
              f"sending on {self.tb.gen_if}")
        if r.stopped_by < 0:
            check(r.stopped_by, f"sending on {self.tb.gen_if}")
        del keep
        return SendResult("afpacket", count, int(r.sent), int(r.refused),
                          (r.last_ns - r.first_ns) / 1e9 if r.sent else 0.0,
                          STOP_REASONS.get(r.stopped_by, str(r.stopped_by)))

    # ---- BPF_PROG_RUN live frames ----------------------------------------------

    def burst(self, frame: bytes, count: int, max_s: float = DEFAULT_MAX_S, queue: int = 0) -> SendResult:
        """``count`` copies of ``frame`` as fast as the host goes, into receive
        queue ``queue`` of the capture interface (the sending CPU picks it)."""
        from driver.xdp.xdp_prog import attached_prog_id

        ffi, lib = native()
        packets.check_frame(frame)
        count = int(count)
        if count < 1:
            raise ValueError(f"count={count}: a burst has at least one frame")
        if not 0 < max_s <= MAX_SEND_S:
            raise ValueError(f"max_s={max_s}: every send is bounded in time, 0 < max_s <= {MAX_SEND_S:g}")
        if not self.remote_peer and attached_prog_id(self.tb.cap_ns, self.tb.cap_if) is None:
            raise RuntimeError(f"{self.tb.cap_if} runs no XDP program: live frames sent to a veth without "
                               "one vanish (attach the engine, or driver.xdp.xdp_prog.PassProgram, first)")
        cpu = cpu_for_queue(queue, self.tb.queues)
        if self._tx_prog < 0:
            self._tx_prog = check(lib.wc_bpf__action_prog(XDP_TX), "loading the XDP_TX program")
        before = counters.queue_counters(self.tb.gen_ns, self.tb.gen_if)
        elapsed = ffi.new("uint64_t *")
        data = ffi.from_buffer(frame)
        t_total, done, stopped = 0.0, 0, "count"
        old_aff = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})
        try:
            with netns.entered(self.tb.gen_ns):
                while done < count:
                    if t_total >= max_s:
                        stopped = "time"
                        break
                    n = min(LIVE_SLICE, count - done)
                    check(lib.wc_bpf__live_frames(self._tx_prog, self.ifindex, data, len(frame), n,
                                                  LIVE_BATCH, elapsed), "BPF_PROG_RUN live frames")
                    t_total += elapsed[0] / 1e9
                    done += n
        finally:
            os.sched_setaffinity(0, old_aff)
        delta = counters.queue_counters(self.tb.gen_ns, self.tb.gen_if) - before
        sent = delta.total("tx", "xdp_xmit")
        refused = delta.total("tx", "xdp_xmit_errors")
        return SendResult("live-frames", count, sent, refused, t_total, stopped)


def cpu_for_queue(queue: int, queues: int) -> int:
    """A CPU this process may use whose number maps to ``queue`` (veth picks
    the peer's receive queue as smp_processor_id() % queues)."""
    allowed = sorted(os.sched_getaffinity(0))
    for cpu in allowed:
        if cpu % queues == queue:
            return cpu
    raise ValueError(f"queue {queue}: no usable CPU c with c % {queues} == {queue} "
                     f"(allowed CPUs {allowed}); live-frame bursts reach queues 0..{len(allowed) - 1} here")
