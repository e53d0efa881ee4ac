"""What the real backend's tools share: engines by name, the capture side of a
run (an engine on some queues, one consumer thread per queue), accounting
from the engine's and the NIC's own counters, and waiting until every sent
frame is accounted for.

Accounting (DESIGN.md §3), per receive queue q of the capture interface:

    arrived_q      frames that reached q's XDP hook (veth rx_queue_q_xdp_packets)
    capture_drops  frames q's receive path dropped before any application
                   buffer: for the AF_XDP engines, every failed redirect (the
                   fill ring was empty: no free chunk / no free ring slot;
                   veth rx_queue_q_drops + xdp_drops)
    delivery_drops frames a copy engine took but its ring had no room for
                   (AF_PACKET tp_drops, libpcap ps_drop)
    delivered      frames handed to an application callback
    filtered       frames an application's BPF filter rejected

and a run is complete when every queue has arrived_q == delivered +
capture_drops + delivery_drops + filtered and the queues together saw every
frame the generator sent. Whatever is still missing when the run stops is
reported as ``unaccounted`` (never hidden inside another column).
"""
from __future__ import annotations

import contextlib
import os
import platform
import signal
import time
from dataclasses import dataclass

from driver.xdp import counters
from driver.xdp.baselines import AfpacketCopy, AfxdpRing, Libpcap
from driver.xdp.xdp_prog import pass_for, redirect_for
from engine.live.consumer import Consumer, wirecap_loop
from engine.live.engine import OFFLOADS, LiveEngine
from engine.app_cost import pkt_handler_cost_ns
from engine.live.work import Flows, Work

ENGINES = ("wirecap-b", "wirecap-a", "afxdp-ring", "afpacket-copy", "tcpdump")
# the sim's engines and their honest analogs on the real backend (DESIGN.md §4)
SIM_ANALOGS = {"dna": "afxdp-ring", "netmap": "afxdp-ring", "pfring": "afpacket-copy"}
# Application threads that sleep between packets (pace) or only wait for
# packets (null work) run SCHED_FIFO just below the capture threads: on a
# shared host this stands for the paper's "each thread on its own core"
# without letting them starve the capture threads. Threads that burn CPU
# (burn, bpf) stay SCHED_OTHER: a spinning real-time thread would starve
# everything else on its CPU.
CONSUMER_RT_PRIORITY = 10
STALL_S = 3.0          # no progress in the counters for this long: the run is over
POLL_S = 0.02
FANOUT_BASE = 0x5700   # PACKET_FANOUT group ids of afpacket-copy (any 16-bit id; per process)


@dataclass(frozen=True)
class EngineSpec:
    name: str
    M: int = 256
    R: int = 500
    T: int = 60
    ring: int = 1024      # afxdp-ring: N frames
    slots: int = 10240    # afpacket-copy: frames its ring holds
    offload: str = "chunk"  # wirecap-a: chunk | bucket | hybrid (engine/csrc/wc_balance.h)

    @classmethod
    def parse(cls, spec: str, M=None, R=None, T=None, ring=None, slots=None, offload=None) -> "EngineSpec":
        """"wirecap-b", "wirecap-b:256:500", "wirecap-a:256:500:60[:bucket]", "afxdp-ring[:1024]",
        "afpacket-copy[:10240]", "tcpdump"; explicit M/R/T/ring/slots/offload win."""
        parts = str(spec).split(":")
        name = parts[0]
        kw = {}
        if parts[-1] in OFFLOADS and len(parts) > 1:
            kw["offload"] = parts.pop()
        nums = [int(p) for p in parts[1:]]
        if name in ("wirecap-b", "wirecap-a"):
            for key, v in zip(("M", "R", "T"), nums):
                kw[key] = v
        elif name == "afxdp-ring" and nums:
            kw["ring"] = nums[0]
        elif name == "afpacket-copy" and nums:
            kw["slots"] = nums[0]
        elif name not in ENGINES:
            raise ValueError(f"engine {spec!r}: the xdp backend runs {', '.join(ENGINES)}")
        for key, v in (("M", M), ("R", R), ("T", T), ("ring", ring), ("slots", slots)):
            if v is not None:
                kw[key] = int(v)
        if offload is not None:
            kw["offload"] = str(offload)
        if kw.get("offload", "chunk") not in OFFLOADS:
            raise ValueError(f"offload={kw['offload']!r}: one of {', '.join(OFFLOADS)}")
        if kw.get("offload", "chunk") != "chunk" and name != "wirecap-a":
            raise ValueError(f"offload={kw['offload']!r}: offloading policies are wirecap-a's, not {name}'s")
        return cls(name, **kw)

    @property
    def wirecap(self) -> bool:
        return self.name.startswith("wirecap")

    @property
    def label(self) -> str:
        if self.name == "wirecap-b":
            return f"WireCAP-B-({self.M},{self.R})"
        if self.name == "wirecap-a":
            policy = "" if self.offload == "chunk" else f",{self.offload}"
            return f"WireCAP-A-({self.M},{self.R},{self.T}%{policy})"
        if self.name == "afxdp-ring":
            return f"afxdp-ring({self.ring})"
        if self.name == "afpacket-copy":
            return f"afpacket-copy({self.slots})"
        return "tcpdump(libpcap)"

    def columns(self) -> dict:
        return {"engine": self.name, "engine_label": self.label,
                "M": self.M if self.wirecap else None, "R": self.R if self.wirecap else None,
                "T": self.T if self.name == "wirecap-a" else None,
                "offload": self.offload if self.name == "wirecap-a" else None}


def threads_needed(spec: EngineSpec, queues: int) -> int:
    """Threads a run keeps busy: the generator, a consumer per queue and,
    for WireCAP, a capture thread per queue."""
    return 1 + queues * (2 if spec.wirecap else 1)


class Capture:
    """``spec`` on queues ``queues`` of tb's capture interface, one consumer
    thread per queue running ``works[i]`` in C."""

    def __init__(self, tb, spec: EngineSpec, queues: list[int], works: list[Work], frame_len: int = 60,
                 forward: bool = False, timeout_us: int = 1000, mode: str = "copy", cpus=None,
                 groups: list[int] | None = None, ring_size: int = 1024, offload: str | None = None, rss=None,
                 period_ms: float | None = None, flows: Flows | None = None):
        if len(works) != len(queues):
            raise ValueError("one Work per queue")
        self.tb, self.spec, self.queues, self.works = tb, spec, list(queues), works
        self.cpus = cpus
        self.groups = groups
        self.ring_size = int(ring_size)
        # bucket offloading (engine/csrc/wc_balance.h): the policy, the RSS
        # steering program it moves buckets in, and flow accounting at
        # hand-over (chunk taken), which WireCAP engines do themselves
        self.offload = spec.offload if offload is None else offload
        self.rss, self.period_ms, self.flows = rss, period_ms, flows
        self.engines: list[LiveEngine] = []
        self.where: dict[int, tuple] = {}
        self.rings, self.sockets, self.pcap = [], [], None
        self.program = None
        self.consumers: list[Consumer] = []
        self.stopped: list[dict] = []
        self.base = counters.queue_counters(tb.cap_ns, tb.cap_if)
        try:
            self._open(frame_len, forward, timeout_us, mode)
        except BaseException:
            self.close()
            raise

    def _open(self, frame_len, forward, timeout_us, mode) -> None:
        tb, s = self.tb, self.spec
        if self.groups is not None and (s.name != "wirecap-a" or len(self.groups) != len(self.queues)):
            raise ValueError("groups: one buddy-group number per queue, for wirecap-a only")
        if s.wirecap:
            # one LiveEngine per buddy group (an application each, its own
            # UMEM), all behind one redirect program on the interface
            self.program = redirect_for(tb)
            groups = self.groups or [0] * len(self.queues)
            for g in sorted(set(groups)):
                qs = [q for q, gg in zip(self.queues, groups) if gg == g]
                eng = LiveEngine(tb.cap_ns, tb.cap_if, queues=qs, M=s.M, R=s.R, advanced=s.name == "wirecap-a",
                                 T=s.T, timeout_us=timeout_us, mode=mode, program=self.program, nic_id=g,
                                 ring_size=self.ring_size, offload=self.offload, rss=self.rss,
                                 period_ms=self.period_ms)
                self.engines.append(eng)
                if self.flows is not None:
                    eng.set_flows(self.flows)
                for m, q in enumerate(qs):
                    self.where[q] = (eng, m)
                if forward:
                    eng.forward_to(tb.cap_ns, tb.fwd_if, tb.queues)
        elif self.offload != "chunk":
            raise ValueError(f"offload={self.offload!r}: offloading policies are WireCAP-A's, not {s.name}'s")
        if s.name == "afxdp-ring":
            self.program = redirect_for(tb)
            self.rings = [AfxdpRing(tb.cap_ns, tb.cap_if, q, ring_size=s.ring, program=self.program, mode=mode)
                          for q in self.queues]
        elif s.name == "afpacket-copy":
            self.program = pass_for(tb)
            if len(self.queues) > 1 and self.queues != list(range(tb.queues)):
                raise ValueError("afpacket-copy on several queues takes all of them (one fanout ring per queue)")
            fan = (FANOUT_BASE + os.getpid()) & 0xFFFF if len(self.queues) > 1 else 0
            self.sockets = [AfpacketCopy(tb.cap_ns, tb.cap_if, slots=s.slots, frame_len=frame_len, fanout_id=fan)
                            for _ in self.queues]
        elif s.name == "tcpdump":
            if len(self.queues) != 1 or tb.queues != 1:
                raise ValueError("tcpdump (libpcap) captures a whole interface: use a 1-queue testbed")
            self.program = pass_for(tb)
            self.pcap = Libpcap(tb.cap_ns, tb.cap_if)
        if forward and not s.wirecap:
            raise ValueError(f"forwarding: only WireCAP forwards (zero copy through the shared UMEM); not {s.name}")

    @property
    def engine(self) -> LiveEngine | None:
        return self.engines[0] if self.engines else None

    def _loops(self):
        if self.engines:
            return [wirecap_loop(*self.where[q], w) for q, w in zip(self.queues, self.works)]
        if self.rings:
            return [r.loop(w) for r, w in zip(self.rings, self.works)]
        if self.sockets:
            return [s.loop(w) for s, w in zip(self.sockets, self.works)]
        return [self.pcap.loop(self.works[0])]

    def arrival_pps(self, queue: int, arrived: int) -> float:
        """The rate at which frames reached queue's XDP hook (the NIC) during
        the run: arrived / (last - first arrival). On veth a BPF_PROG_RUN
        burst reaches the capture side compressed in time, faster than the
        generator's own rate says; the burst formula needs this one."""
        first, last = self.program.arrivals(queue) if self.program is not None else (0, 0)
        if arrived < 2 or last <= first:
            return float("nan")
        return (arrived - 1) * 1e9 / (last - first)

    def start(self, max_s: float) -> None:
        if self.program is not None:
            for q in self.queues:
                self.program.reset_arrivals(q)
        ncpu = len(os.sched_getaffinity(0))
        for eng in self.engines:
            # capture threads: real-time, on the CPUs after the generator's (CPU 0)
            idx = [self.queues.index(q) for q in eng.queues]
            eng.start(cpus=[(1 + i) % ncpu for i in idx] if ncpu > 1 else None)
        for i, loop in enumerate(self._loops()):
            # consumers also off the generator's CPU 0 (on veth the receive
            # path runs there too), unless told otherwise
            cpu = ((1 + i) % ncpu if ncpu > 1 else None) if self.cpus is None else self.cpus[i]
            rt = CONSUMER_RT_PRIORITY if self.works[i].kind in ("pace", "null") else 0
            c = Consumer(loop, max_s=max_s, cpu=cpu, name=f"consumer-q{self.queues[i]}", rt_priority=rt)
            c.start()
            self.consumers.append(c)

    def queue_counts(self) -> dict[int, dict]:
        """Per queue: arrived, delivered, capture/delivery drops, filtered, offloading."""
        delta = counters.queue_counters(self.tb.cap_ns, self.tb.cap_if) - self.base
        out = {}
        for i, q in enumerate(self.queues):
            rx = delta.rx.get(q, {})
            row = {"arrived": rx.get("arrived", 0), "capture_drops": rx.get("drops", 0) + rx.get("xdp_drops", 0),
                   "delivery_drops": 0, "delivered": 0, "filtered": 0, "offloaded_out": 0, "offloaded_in": 0,
                   "offloaded_out_chunks": 0, "offloaded_in_chunks": 0, "chunks_copied": 0,
                   "max_rx_gap_us": None}
            if self.engines:
                eng, _ = self.where[q]
                st = eng.stats(q)
                row.update(delivered=st["delivered"], filtered=st["filtered"],
                           offloaded_out=st["offloaded_out_packets"], offloaded_in=st["offloaded_in_packets"],
                           offloaded_out_chunks=st["offloaded_out"], offloaded_in_chunks=st["offloaded_in"],
                           chunks_copied=st["chunks_copied"], max_rx_gap_us=st["max_rx_gap_ns"] / 1e3,
                           bucket_moves=st["bucket_moves_out"], bucket_moves_in=st["bucket_moves_in"],
                           barrier_holds=st["barrier_holds"], barrier_timeouts=st["barrier_timeouts"],
                           barrier_hold_ms=st["barrier_hold_ns"] / 1e6, inflight_timeouts=st["inflight_timeouts"],
                           xsk_drops=st["capture_drops"], realtime=bool(st["realtime"]),
                           forwarded=st["forwarded"], tx_completed=st["tx_completed"], tx_dropped=st["tx_dropped"])
            elif self.rings:
                st = self.rings[i].stats()
                row.update(delivered=st["delivered"], xsk_drops=st["capture_drops"])
            elif self.sockets:
                st = self.sockets[i].stats()
                row.update(delivered=st["delivered"], delivery_drops=st["delivery_drops"])
            else:
                # libpcap's ps_recv counts frames still in its ring too: count
                # what the application loop handed to the callback instead
                st = self.pcap.stats()
                done = int(self.consumers[0].result.packets) if self.consumers else 0
                row.update(delivered=done, delivery_drops=st["ps_drop"])
            out[q] = row
        return out

    def wait_drained(self, sent: int, max_s: float, stall_s: float = STALL_S) -> tuple[dict, bool]:
        """Poll until every sent frame is accounted for, progress stops, or max_s."""
        deadline = time.monotonic() + max_s
        last, last_change = None, time.monotonic()
        while True:
            c = self.queue_counts()
            arrived = sum(v["arrived"] for v in c.values())
            accounted = sum(v["delivered"] + v["capture_drops"] + v["delivery_drops"] + v["filtered"]
                            for v in c.values())
            if arrived >= sent and accounted >= arrived:
                return c, True
            now = time.monotonic()
            if (arrived, accounted) != last:
                last, last_change = (arrived, accounted), now
            elif now - last_change > stall_s or now > deadline:
                return c, False
            time.sleep(POLL_S)

    def stop(self) -> list[dict]:
        """Stop the consumers; per consumer: packets, first_ns, last_ns,
        stopped_by and rate_pps (what the application loop achieved)."""
        out = []
        for c in self.consumers:
            r = c.join_checked()
            span = (r["last_ns"] - r["first_ns"]) / 1e9
            r["rate_pps"] = r["packets"] / span if span > 0 else float("nan")
            out.append(r)
        self.stopped = out
        for eng in self.engines:
            for m in range(len(eng.queues)):
                eng.tx_flush(m, 1000)
        return out

    def close(self) -> None:
        for c in self.consumers:
            c.stop()
        for c in self.consumers:
            c.join(5)
        self.consumers = []
        for obj in [*self.engines, self.pcap, *self.rings, *self.sockets]:
            if obj is not None:
                obj.close()
        self.engines, self.pcap, self.rings, self.sockets = [], None, [], []
        if self.program is not None:
            self.program.close()
            self.program = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def consumer_cost_ns(x: int, cost_ns: float | None = None) -> float | None:
    """The consumer's time per packet: cost_ns if given, else the paper's
    pkt_handler at x filter runs, the simulator's value (engine/app_cost.py);
    None for x = 0 (no per-packet work)."""
    return cost_ns or (pkt_handler_cost_ns(x) if x else None)


def make_works(n: int, x: int, cost_ns, emulate: str, threads: int, flows: Flows | None = None,
               forward: list | None = None) -> list[Work]:
    """One Work per consumer; forward[i] is the LiveEngine consumer i forwards through."""
    return [Work.from_args(x=x, cost_ns=cost_ns, emulate=emulate, threads=threads, flows=flows,
                           forward=forward[i] if forward else None)
            for i in range(n)]


def sink_received(tb) -> int:
    """Frames the packet receiver behind NIC2 got (its interface's counter)."""
    return int(counters.link_stats(tb.sink_ns, tb.sink_if).get("rx_packets", 0))


def host_info() -> dict:
    return {"host_cpus": os.cpu_count(), "kernel": platform.release()}


def steal_ms() -> float:
    """CPU time the hypervisor took from this VM so far (/proc/stat "steal",
    all CPUs), in ms: a run's delta says how much of its time the host was
    not running it at all, the usual cause of a capture thread's long gaps
    (max_rx_gap_us) on a shared virtual machine."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) * 1000.0 / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def processed_rate(work_stats: dict, consumer: dict | None) -> float:
    """The consumer's achieved rate: the work's own measure when it has one
    (bpf, burn, pace), else the application loop's (null work)."""
    r = work_stats.get("rate_pps", float("nan"))
    if r == r and work_stats.get("packets"):
        return r
    return consumer.get("rate_pps", float("nan")) if consumer else float("nan")


def unaccounted(row: dict) -> int:
    return row["sent"] - (row["delivered"] + row["capture_drops"] + row["delivery_drops"] + row["filtered"])


@contextlib.contextmanager
def terminate_as_interrupt():
    """SIGTERM raises KeyboardInterrupt in the main thread, so that every
    `with` block of a run (testbed, engine, programs) unwinds as on Ctrl-C."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    owner = os.getpid()

    def handler(signum, frame):
        if os.getpid() != owner:
            # a forked helper (pyroute2 forks some) must not unwind our stack
            os._exit(128 + signum)
        raise KeyboardInterrupt(f"signal {signum}")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


