"""The per-packet work of pkt_handler as a C callback (engine/csrc/live/wc_work.h).

    Work.from_args(x=300)                  # x runs of libpcap bpf_filter per packet
    Work.from_args(cost_ns=PAPER_COST_NS)  # 25.78 µs per packet (x = 300): burn it, or pace it
    Work.null()                            # the benchmark's null callback

``emulate`` decides how a per-packet time is spent: "burn" spins the CPU for
cost_ns (the paper's situation: one core per pkt_handler thread), "pace"
emulates the same processing rate while sleeping (hosts with fewer cores
than threads, where burning would starve the capture threads), "auto" picks
pace when the host has fewer cores than the run's threads.

Both report the rate they achieved (``stats()["rate_pps"]``), so a run says
what it measured, not what it asked for.
"""
from __future__ import annotations

import os

from driver.xdp._native import native
from driver.xdp.errors import check
from engine.app_cost import PAPER_COST_NS  # noqa: F401  (re-exported: the paper's x = 300 cost)

PAPER_FILTER = "net 198.18.2.0/24 and udp"  # paper §2.2 filter (a Fermilab /24, UDP), in 198.18.0.0/15
EMULATE = ("auto", "burn", "pace")


class Filter:
    """A BPF filter compiled by libpcap (pcap_compile on DLT_EN10MB)."""

    def __init__(self, expr: str, snaplen: int = 65535):
        ffi, lib = native()
        out = ffi.new("struct wc_filter **")
        err = ffi.new("char[]", lib.WC_ERRBUF_SIZE)
        rc = lib.wc_filter__compile(out, expr.encode(), snaplen, err)
        if rc < 0:
            raise ValueError(f"filter {expr!r}: {ffi.string(err).decode(errors='replace')}")
        self.expr = expr
        self.ptr = ffi.gc(out[0], lib.wc_filter__destroy)

    def __call__(self, frame: bytes) -> bool:
        _, lib = native()
        return bool(lib.wc_filter__run(self.ptr, frame, len(frame), len(frame)))

    @property
    def insns(self) -> int:
        return native()[1].wc_filter__insns(self.ptr)


class Work:
    """One consumer thread's per-packet work; pass ``cb`` and ``user`` to a
    dispatch/consume call. Not shared between threads."""

    def __init__(self, kind: str, x: int = 0, cost_ns: float = 0, filter_expr: str = PAPER_FILTER,
                 flows=None, forward=None, forward_timeout_ms: int = 100):
        ffi, lib = native()
        kinds = {"null": lib.WC_WORK_NULL, "bpf": lib.WC_WORK_BPF, "burn": lib.WC_WORK_BURN,
                 "pace": lib.WC_WORK_PACE}
        if kind not in kinds:
            raise ValueError(f"work kind {kind!r}: one of {', '.join(kinds)}")
        if x < 0:
            raise ValueError(f"x={x}: filter runs per packet must be >= 0")
        if kind in ("burn", "pace") and not cost_ns > 0:
            raise ValueError(f"cost_ns={cost_ns}: {kind} needs a positive per-packet time")
        self.kind, self.x, self.cost_ns = kind, int(x), float(cost_ns)
        self.filter = Filter(filter_expr) if kind == "bpf" else None
        o = ffi.new("struct wc_work_opts *")
        o.sz = ffi.sizeof("struct wc_work_opts")
        o.kind = kinds[kind]
        o.x = self.x
        o.cost_ns = int(round(cost_ns))
        o.filter = self.filter.ptr if self.filter else ffi.NULL
        o.flows = flows.ptr if flows is not None else ffi.NULL
        o.forward = forward.ptr if forward is not None else ffi.NULL
        o.forward_timeout_ms = int(forward_timeout_ms)
        self._flows, self._forward = flows, forward
        out = ffi.new("struct wc_work **")
        check(lib.wc_work__create(out, o), "wc_work__create")
        self.ptr = ffi.gc(out[0], lib.wc_work__destroy)
        # a null workload that neither forwards nor notes flows is the bare
        # callback; anything else goes through wc_work__cb
        bare = kind == "null" and flows is None and forward is None
        self.cb = lib.wc_work__null_cb if bare else lib.wc_work__cb
        self.idle = lib.wc_work__idle
        self.user = self.ptr

    @classmethod
    def null(cls) -> "Work":
        return cls("null")

    @classmethod
    def from_args(cls, x: int = 0, cost_ns: float | None = None, emulate: str = "auto",
                  threads: int = 3, **kw) -> "Work":
        """pkt_handler's options: cost_ns wins over x; x = 0 with no cost_ns is
        the null workload (but still a real callback)."""
        if emulate not in EMULATE:
            raise ValueError(f"emulate={emulate!r}: one of {', '.join(EMULATE)}")
        if cost_ns:
            kind = emulate if emulate != "auto" else ("pace" if (os.cpu_count() or 1) < threads else "burn")
            return cls(kind, cost_ns=cost_ns, **kw)
        if x:
            return cls("bpf", x=x, **kw)
        return cls("null", **kw)

    def stats(self) -> dict:
        ffi, lib = native()
        st = ffi.new("struct wc_work_stats *")
        lib.wc_work__stats(self.ptr, st)
        busy = (st.last_ns - st.first_ns) / 1e9 if st.packets else 0.0
        return {"packets": int(st.packets), "matched": int(st.matched),
                "forward_errors": int(st.forward_errors), "busy_s": busy,
                "slept_s": st.slept_ns / 1e9,
                "rate_pps": st.packets / busy if busy > 0 else float("nan")}

    def describe(self) -> str:
        if self.kind == "bpf":
            return f"{self.x} x bpf_filter({self.filter.expr!r})"
        if self.kind in ("burn", "pace"):
            return f"{self.kind} {self.cost_ns:.0f} ns/packet ({1e9 / self.cost_ns:,.0f} p/s)"
        return "null callback"


class Flows:
    """Which application thread processed each flow (flows_split)."""

    def __init__(self, capacity: int = 1 << 20):
        ffi, lib = native()
        out = ffi.new("struct wc_flows **")
        check(lib.wc_flows__create(out, capacity), "wc_flows__create")
        self.ptr = ffi.gc(out[0], lib.wc_flows__destroy)

    def set_rss(self, n_buckets: int = 128) -> None:
        """Buckets as the 82599 computes them (traces/rss.py, default key), so
        that a hand-over by a bucket move counts as migrated, not split."""
        import numpy as np

        from traces import rss

        ffi, lib = native()
        table = np.ascontiguousarray(rss._tables(rss.DEFAULT_RSS_KEY)[:lib.WC_RSS_INPUT_BYTES], dtype=np.uint32)
        check(lib.wc_flows__set_rss(self.ptr, ffi.cast("uint32_t *", ffi.from_buffer(table)), int(n_buckets)),
              f"wc_flows__set_rss (n_buckets={n_buckets}: a power of two <= {lib.WC_RSS_BUCKETS_MAX})")

    def order_at(self, offset: int | None) -> None:
        """Order packets by the generator's frame number at ``offset``
        (packets.SEQ_OFFSET when the run sends with seq=True); None: by the
        XDP arrival stamps (exact within a queue only, see wc_flows.h)."""
        native()[1].wc_flows__order_at(self.ptr, -1 if offset is None else int(offset))

    def bucket(self, frame: bytes) -> int:
        return int(native()[1].wc_flows__bucket(self.ptr, frame, len(frame)))

    def stats(self) -> dict:
        _, lib = native()
        return {"flows": int(lib.wc_flows__count(self.ptr)), "flows_split": int(lib.wc_flows__split(self.ptr)),
                "flows_migrated": int(lib.wc_flows__migrated(self.ptr)),
                "packets_reordered": int(lib.wc_flows__reordered(self.ptr)),
                "flows_overflow": int(lib.wc_flows__overflow(self.ptr))}

    def queue_stats(self, queue: int) -> dict:
        _, lib = native()
        q = int(queue)
        return {"flows_split": int(lib.wc_flows__split_queue(self.ptr, q)),
                "flows_migrated": int(lib.wc_flows__migrated_queue(self.ptr, q)),
                "packets_reordered": int(lib.wc_flows__reordered_queue(self.ptr, q))}
