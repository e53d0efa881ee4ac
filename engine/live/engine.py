"""WireCAP on a real interface: ``LiveEngine`` (engine/csrc/live/wc_live.h).

    with Testbed(queues=2) as tb, LiveEngine.on_testbed(tb, M=256, R=500) as eng:
        eng.start()
        h = eng.handle(0)                  # the pcap-like handle of queue 0
        h.dispatch(-1, lambda hdr, data: ...)

One engine is one application: its queues form one buddy group sharing one
UMEM. Basic mode (WireCAP-B-(M,R)) keeps each queue's chunks home; advanced
mode (WireCAP-A-(M,R,T)) lets a capture thread offload a chunk to the least
busy buddy when its own capture queue holds more than T% of R chunks.
"""
from __future__ import annotations

import errno

from driver.xdp import netns
from driver.xdp._native import native
from driver.xdp.errors import check, retry_busy
from driver.xdp.xdp_prog import RedirectProgram
from engine.core import ChunkMeta, check_geometry, counters

XSK_MODES = {"auto": 0, "copy": 1, "zerocopy": 2}
# advanced mode's offloading policies (engine/csrc/wc_balance.h): the paper's
# chunk offloading (§3.2.2a), bucket moves only (no flow is ever split), or
# bucket moves plus a chunk spill in an emergency
OFFLOADS = ("chunk", "bucket", "hybrid")
# Capture threads run SCHED_FIFO at this priority (0: SCHED_OTHER). They must
# re-arm a descriptor segment within (N-M)/Pin; on a shared host a normal
# thread is kept off its CPU for milliseconds (measured: max_rx_gap_ns). They
# sleep after spin_us of idling, so they cannot starve the CPU. Below the
# kernel's own real-time threads (priority 99 watchdog/migration).
RT_PRIORITY = 20

_CREATE_HINTS = {
    errno.EBUSY: "a queue already has an AF_XDP socket (another engine on it?)",
    errno.EOPNOTSUPP: "the driver has no zero-copy AF_XDP: use mode='copy' or 'auto'",
    errno.ENOMEM: "UMEM too large for memory (R*M*2 KB per queue) or the locked-memory limit",
    # N, M and R were checked before (validate_geometry): what is left is the queue list
    errno.EINVAL: "a queue number out of range or given twice, or too many queues",
    errno.EAFNOSUPPORT: "the kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)",
}

def validate_geometry(ring_size: int, M: int, R: int) -> None:
    """AF_XDP's rule (power-of-two rings), then the pool's (paper §3.2.1),
    which the C core writes once (engine.core.check_geometry)."""
    if ring_size < 1 or ring_size & (ring_size - 1):
        raise ValueError(f"ring_size N={ring_size}: AF_XDP rings are powers of two (e.g. 1024)")
    check_geometry(ring_size, M, R)


class LiveEngine:
    """One application's WireCAP on queues ``queues`` of ``ifname`` in namespace ``ns``."""

    def __init__(self, ns: str | None, ifname: str, queues=(0,), M: int = 256, R: int = 500,
                 ring_size: int = 1024, advanced: bool = False, T: int = 60, timeout_us: int = 1000,
                 mode: str = "copy", need_wakeup: bool = True, timestamps: bool = True,
                 program: RedirectProgram | None = None, nic_id: int = 0, spin_us: int = 0,
                 rx_batch: int = 0, max_queues: int | None = None, rt_priority: int = RT_PRIORITY,
                 offload: str = "chunk", rss=None, period_ms: float | None = None,
                 imbalance_pct: int | None = None, barrier_max_ms: float = 2000.0):
        ffi, lib = native()
        validate_geometry(ring_size, M, R)
        if advanced and not 0 < T <= 100:
            raise ValueError(f"T={T}: the offloading threshold must be in (0, 100] percent")
        if offload not in OFFLOADS:
            raise ValueError(f"offload={offload!r}: one of {', '.join(OFFLOADS)}")
        if offload != "chunk":
            if not advanced:
                raise ValueError(f"offload={offload!r}: offloading policies are advanced mode's "
                                 "(WireCAP-A, advanced=True)")
            if rss is None:
                raise ValueError(f"offload={offload!r}: bucket moves need the RSS steering program "
                                 "(rss=driver.xdp.xdp_prog.RssProgram on the testbed's generator veth)")
            # the simulator's defaults (engine/models.py BalanceCosts), one source
            from engine.models import BalanceCosts

            period_ms = BalanceCosts.period_ms if period_ms is None else float(period_ms)
            imbalance_pct = BalanceCosts.imbalance_pct if imbalance_pct is None else int(imbalance_pct)
            if not 0 <= imbalance_pct <= 1000:
                raise ValueError(f"imbalance_pct={imbalance_pct}: 0..1000 percent above the mean")
            if not 0.1 <= period_ms <= 10000:
                raise ValueError(f"period_ms={period_ms}: the balancing period is 0.1..10000 ms "
                                 "(RSS++ uses 10 to 1,000 ms)")
        if mode not in XSK_MODES:
            raise ValueError(f"mode={mode!r}: one of {', '.join(XSK_MODES)}")
        self.queues = [int(q) for q in queues]
        if not self.queues or len(set(self.queues)) != len(self.queues):
            raise ValueError(f"queues={queues}: give distinct queue numbers")
        self.ns, self.ifname = ns, ifname
        self.M, self.R, self.N, self.T = M, R, ring_size, T if advanced else None
        self.advanced = advanced
        self._own_program = program is None
        self.program = program
        self._ptr = None
        o = ffi.new("struct wc_live_opts *")
        o.sz = ffi.sizeof("struct wc_live_opts")
        o.ring_size, o.segment_cells, o.chunks = ring_size, M, R
        o.advanced = int(advanced)
        o.threshold_pct = T if advanced else 0
        o.nic_id = nic_id
        o.timeout_us = timeout_us
        o.mode = XSK_MODES[mode]
        o.need_wakeup = int(need_wakeup)
        o.spin_us = spin_us
        o.rx_batch = rx_batch
        o.timestamps = int(timestamps)
        o.rt_priority = int(rt_priority)
        self.offload, self.rss = offload, rss
        o.offload = OFFLOADS.index(offload)
        if offload != "chunk":
            o.n_buckets = rss.n_buckets
            o.period_us = int(round(period_ms * 1000))
            o.imbalance_pct = imbalance_pct
            o.barrier_max_us = int(round(barrier_max_ms * 1000))
            o.steer_fd, o.counts_fd = rss.fds[1], rss.fds[2]
            o.arrival_fd = program.arrival_fd if program is not None and program.arrival_fd > 0 else -1
        qs = ffi.new("uint32_t[]", self.queues)
        out = ffi.new("struct wc_live **")
        ifindex = netns.ifindex(ns, ifname)
        hints = dict(_CREATE_HINTS)
        if offload != "chunk":
            hints[errno.ENOENT] = (f"the RSS program steers a bucket to a queue outside queues={self.queues}: "
                                   "steer every bucket to one of this engine's queues (RssProgram.set)")
            hints[errno.EBADF] = "the RSS program's maps cannot be mapped (kernel >= 5.5 for BPF_F_MMAPABLE)"
        with netns.entered(ns):
            check(retry_busy(lambda: lib.wc_live__create(out, ifindex, qs, len(self.queues), o)),
                  f"WireCAP on {ifname} queues {self.queues} (M={M}, R={R}, N={ring_size}, offload={offload})",
                  hints)
        self._ptr = out[0]
        try:
            if self.program is None:
                self.program = RedirectProgram(ns, ifname, max_queues or max(self.queues) + 1,
                                               timestamps=timestamps)
            for i, q in enumerate(self.queues):
                self.program.set(q, lib.wc_live__xsk_fd(self._ptr, i))
        except BaseException:
            self.close()
            raise
        self._handles = {}
        self.zerocopy = bool(lib.wc_live__zerocopy(self._ptr))

    @classmethod
    def on_testbed(cls, tb, queues=None, **kw) -> "LiveEngine":
        """WireCAP on a testbed's capture interface (NIC1); all queues by default."""
        return cls(tb.cap_ns, tb.cap_if, queues=list(range(tb.queues)) if queues is None else queues,
                   max_queues=kw.pop("max_queues", tb.queues), **kw)

    @property
    def ptr(self):
        if self._ptr is None:
            raise ValueError("the engine is closed")
        return self._ptr

    def set_flows(self, flows) -> None:
        """Account flows (engine.live.work.Flows) as application threads take
        chunks: flows_split, flows_migrated, packets_reordered. Before start."""
        _, lib = native()
        if self.rss is not None:
            flows.set_rss(self.rss.n_buckets)
        check(lib.wc_live__set_flows(self.ptr, flows.ptr), "wc_live__set_flows",
              {errno.EBUSY: "set flows before start()"})
        self._flows = flows

    @property
    def bucket_moves(self) -> int:
        return int(native()[1].wc_live__bucket_moves(self.ptr))

    @property
    def label(self) -> str:
        if self.advanced:
            pol = "" if self.offload == "chunk" else f" {self.offload}"
            return f"WireCAP-A-({self.M},{self.R},{self.T}%){pol}"
        return f"WireCAP-B-({self.M},{self.R})"

    def member(self, queue: int) -> int:
        try:
            return self.queues.index(int(queue))
        except ValueError:
            raise ValueError(f"queue {queue} is not one of this engine's queues {self.queues}") from None

    # ---- life cycle ------------------------------------------------------------

    def start(self, cpus=None) -> "LiveEngine":
        """Start the capture threads; cpus[i] pins queue i's (None: unpinned)."""
        ffi, lib = native()
        arr = ffi.NULL
        if cpus is not None:
            if len(cpus) != len(self.queues):
                raise ValueError(f"cpus={cpus}: one CPU (or -1) per queue, {len(self.queues)} needed")
            arr = ffi.new("int[]", [(-1 if c is None else int(c)) for c in cpus])
        check(lib.wc_live__start(self.ptr, arr), "starting the capture threads")
        return self

    def stop(self) -> None:
        if self._ptr is not None:
            native()[1].wc_live__stop(self._ptr)

    def close(self) -> None:
        """Stop the threads, take the sockets out of the XSKMAP, free everything."""
        _, lib = native()
        if self._ptr is not None:
            lib.wc_live__stop(self._ptr)
            if self.program is not None:
                for q in self.queues:
                    self.program.clear(q)
            lib.wc_live__destroy(self._ptr)
            self._ptr = None
        if self._own_program and self.program is not None:
            self.program.close()
            self.program = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- the application side -----------------------------------------------------

    def handle(self, queue: int):
        """The pcap-like handle of ``queue`` (one per queue; use it from one thread)."""
        from engine.live.pcap import PcapHandle

        m = self.member(queue)
        if m not in self._handles:
            self._handles[m] = PcapHandle(self, m)
        return self._handles[m]

    def forward_to(self, ns: str | None, ifname: str, tx_queues: int = 1) -> None:
        """Give every queue's application a TX socket on ifname (NIC2), queue
        member % tx_queues, sharing this engine's UMEM (zero-copy forwarding)."""
        _, lib = native()
        ifindex = netns.ifindex(ns, ifname)
        with netns.entered(ns):
            for m in range(len(self.queues)):
                check(lib.wc_live__tx_attach(self.ptr, m, ifindex, m % tx_queues),
                      f"TX socket on {ifname} queue {m % tx_queues}", _CREATE_HINTS)

    def tx_flush(self, member: int, timeout_ms: int = 1000) -> int:
        """Frames of member still waiting for their send to complete."""
        return native()[1].wc_live__tx_flush(self.ptr, member, timeout_ms)

    # ---- chunk-level access ---------------------------------------------------------

    def chunk_get(self, queue: int, timeout_ms: int = 0) -> ChunkMeta | None:
        ffi, lib = native()
        m = ffi.new("struct wc_chunk_meta *")
        rc = check(lib.wc_live__chunk_get(self.ptr, self.member(queue), m, timeout_ms), "chunk_get")
        return ChunkMeta.from_c(m) if rc else None

    def chunk_packets(self, meta: ChunkMeta) -> list[bytes]:
        ffi, lib = native()
        c = meta.to_c()
        length = ffi.new("uint32_t *")
        out = []
        for i in range(meta.pkt_count):
            p = lib.wc_live__chunk_packet(self.ptr, c, i, length)
            if p == ffi.NULL:
                raise ValueError(f"chunk {meta.chunk_id}: packet {i} is not in this engine's pools")
            out.append(bytes(ffi.buffer(p, length[0])))
        return out

    def chunk_put(self, meta: ChunkMeta) -> None:
        """Recycle: into the owner's recycle queue; the capture thread validates."""
        _, lib = native()
        check(lib.wc_live__chunk_put(self.ptr, meta.to_c()), f"recycling chunk {meta.chunk_id}",
              {errno.EXDEV: "no queue of this engine owns that chunk (nic_id/ring_id)"})

    def recycle_into(self, queue: int, meta: ChunkMeta) -> None:
        """Push meta into queue's recycle queue as is (a misbehaving application)."""
        _, lib = native()
        check(lib.wc_live__recycle_into(self.ptr, self.member(queue), meta.to_c()), "recycle_into")

    def check(self, queue: int) -> None:
        """The pool's consistency check, run by its capture thread (raises if broken)."""
        _, lib = native()
        check(lib.wc_live__check(self.ptr, self.member(queue)), f"pool of queue {queue} is inconsistent")

    # ---- counters -------------------------------------------------------------------

    def stats(self, queue: int) -> dict:
        ffi, lib = native()
        st = ffi.new("struct wc_live_qstats *")
        check(lib.wc_live__stats(self.ptr, self.member(queue), st), "stats")
        out = counters(st)  # every field of struct wc_live_qstats; its xsk stats as xsk_*
        # the kernel's capture drops for this queue's socket (XDP_STATISTICS)
        out["capture_drops"] = out["xsk_rx_dropped"] + out["xsk_rx_ring_full"] + out["xsk_rx_invalid_descs"]
        out["queue"] = int(queue)
        return out

    def totals(self) -> dict:
        rows = [self.stats(q) for q in self.queues]
        return {k: sum(r[k] for r in rows) for k in rows[0] if k != "queue"}

