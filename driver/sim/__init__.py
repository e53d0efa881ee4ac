"""The simulated testbed (backend ``sim``): Python configures, C runs.

    from driver.sim import Burst, simulate
    from engine.models import EngineConfig
    run = simulate(EngineConfig.make("wirecap-b", 256, 100), Burst(100_000), x=300)
    run.total["drop_rate"]

One call is one experiment point: a workload (line-rate bursts from one
generator per NIC, or a trace already steered into queues) through one
engine. The model is deterministic: the same inputs give the same numbers
on every machine.
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass

import numpy as np

from driver.sim.params import (ETHERNET_OVERHEAD_BYTES, LINK_10GBE_BPS, PS_PER_NS, BusModel, HostModel,
                               NicModel, line_rate_pps, wire_time_ps)
from driver._sim import ffi, lib
from engine.app_cost import pkt_handler_cost_ns
from engine.core import counters, field_names
from engine.models import BalanceCosts, DnaCosts, DpdkCosts, EngineConfig, NetmapCosts, PfRingCosts, WireCapCosts

# the per-queue counters: every field of struct sim_queue_stats but the time
STAT_FIELDS = tuple(f for f in field_names(ffi.typeof("struct sim_queue_stats")) if f != "last_done_ps")
ENGINE_CODES = {"wirecap": lib.SIM_ENGINE_WIRECAP, "dna": lib.SIM_ENGINE_DNA,
                "netmap": lib.SIM_ENGINE_NETMAP, "pfring": lib.SIM_ENGINE_PFRING, "dpdk": lib.SIM_ENGINE_DPDK}
# struct sim_run_rec, row by row
RUN_LOG_DTYPE = np.dtype([("thread", "<u4"), ("owner", "<u4"), ("seq", "<u8"), ("n", "<u8")])
BUS_ONE = lib.SIM_BUS_ONE  # the bus admits every frame (fixed point, sim.h)
BUCKET_NONE = lib.SIM_NO_BUCKET  # a frame RSS does not hash: no bucket moves it
OFFLOAD_CODES = {"chunk": lib.WC_OFFLOAD_CHUNK, "bucket": lib.WC_OFFLOAD_BUCKET, "hybrid": lib.WC_OFFLOAD_HYBRID}
# trace times go to C in ns, which scales them by its own constant
assert lib.SIM_PS_PER_NS == PS_PER_NS, "sim.h SIM_PS_PER_NS and params.PS_PER_NS disagree"
PAGE_BYTES = 4096  # x86-64 base page
PTE_BYTES = 8      # one page-table entry


class SimulationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Burst:
    """P frames of `size` bytes back to back at line rate into each of
    `nics` NICs (paper §4: Figures 8-10 with one NIC, Figure 14 with two).

    Frame i goes to queue pattern_queue[i % len] of its NIC and belongs to
    flow pattern_flow[i % len]; the default pins every frame to queue 0.
    """

    packets: int
    size: int = 64
    link_bps: int = LINK_10GBE_BPS
    n_queues: int = 1
    pattern_queue: tuple[int, ...] = (0,)
    pattern_flow: tuple[int, ...] = (0,)
    nics: int = 1

    def __post_init__(self):
        if self.packets < 1:
            raise ValueError(f"--burst {self.packets}: P must be at least 1 packet")
        if not 60 <= self.size <= 1514:
            raise ValueError(f"--size {self.size}: frame size must be 60..1514 bytes")
        if len(self.pattern_queue) != len(self.pattern_flow) or not self.pattern_queue:
            raise ValueError("pattern_queue and pattern_flow must have the same, non-zero length")
        if self.nics not in (1, 2):
            raise ValueError(f"nics {self.nics}: the testbed has one or two NICs")

    @classmethod
    def spread(cls, packets: int, n_queues: int, size: int = 64, nics: int = 1) -> "Burst":
        """Flows spread evenly over the queues (RSS on many flows, Figure 14)."""
        return cls(packets, size, n_queues=n_queues, pattern_queue=tuple(range(n_queues)),
                   pattern_flow=tuple(range(n_queues)), nics=nics)

    @property
    def round_robin(self) -> bool:
        return self.pattern_queue == tuple(range(self.n_queues))


@dataclass(frozen=True)
class TraceInput:
    """A trace already steered into queues: arrays of equal length."""

    ts_ns: np.ndarray
    queue: np.ndarray
    flow: np.ndarray
    size: np.ndarray
    n_queues: int
    n_flows: int
    # each frame's redirection-table bucket (RSS hash & (table size - 1)),
    # BUCKET_NONE where RSS does not hash it; needed by bucket offloading
    bucket: np.ndarray | None = None
    n_buckets: int = 128


@dataclass
class SimRun:
    engine: EngineConfig
    queues: list[dict]
    total: dict
    events: int
    arrivals: int
    sim_time_s: float
    flows_split: int
    forwarded: int = 0
    tx_backlog_max: int = 0
    forward_log: np.ndarray | None = None  # frame ids in the receiver's order (record_forwarding)
    # matrix[i, j]: frames that arrived on queue i and were processed by queue j's thread
    processed_by: np.ndarray | None = None
    bus_load: float = 0.0                  # offered load D of the bus model (0: bus not modelled)
    bulk_steps: int = 0
    # record_runs: one row (thread, owner queue, first ring seq, packets) per
    # run an application thread processed (a WireCAP chunk), in finishing order
    run_log: np.ndarray | None = None
    flows_migrated: int = 0     # flows handed to another thread with their bucket (not split)
    packets_reordered: int = 0  # track_order: handed to a thread after a later packet of their flow
    bucket_moves: int = 0       # redirection-table buckets moved (policies bucket, hybrid)


def costs_for(engine: EngineConfig, wirecap: WireCapCosts = WireCapCosts(),
              netmap: NetmapCosts = NetmapCosts(), pfring: PfRingCosts = PfRingCosts()):
    return {"wirecap": wirecap, "dna": DnaCosts(), "netmap": netmap, "pfring": pfring,
            "dpdk": DpdkCosts()}[engine.kind]


def app_cost_ns(engine: EngineConfig, x: int, host: HostModel = HostModel(), forward: bool = False,
                contention: float = 1.0, bus: BusModel = BusModel()) -> float:
    """pkt_handler's time per packet: engine overhead + x BPF filter runs
    (paper §2.2), + the forwarding call, + memory stalls when the bus is
    contended (each missed cache line waits `contention` times as long)."""
    c = costs_for(engine)
    speedup = c.app_speedup if engine.kind == "netmap" else 1.0
    cost = pkt_handler_cost_ns(x, c.app_base_ns, host.filter_ns_at_2_4ghz, host.cpu_scale, speedup)
    if forward:
        cost += c.forward_ns * host.cpu_scale
    if contention > 1.0:
        accesses = getattr(c, "memory_accesses_forward" if forward else "memory_accesses", 1)
        cost += accesses * bus.memory_access_ns * (contention - 1.0)
    return cost


def engine_bus_ns(engine: EngineConfig, queues_on_node: int, wirecap: WireCapCosts = WireCapCosts()) -> float:
    """Bus time of an engine's memory traffic per packet beyond DMA (BusModel)."""
    c = costs_for(engine, wirecap)
    ns = getattr(c, "bus_ns", 0.0)
    if engine.kind == "wirecap":
        pool_bytes = queues_on_node * engine.R * engine.M * lib.WC_CELL_SIZE
        pte_bytes = pool_bytes / PAGE_BYTES * PTE_BYTES
        miss = max(0.0, 1.0 - c.pte_cache_bytes / pte_bytes)
        ns += miss * c.page_walk_bus_ns * lib.WC_CELL_SIZE / PAGE_BYTES
    return ns


def _ps(ns: float) -> int:
    return int(round(ns * PS_PER_NS))


def _fill_engine(p, engine: EngineConfig, host: HostModel, nic: NicModel, nic_buffer: bool, n_queues: int,
                 wirecap: WireCapCosts, netmap: NetmapCosts, pfring: PfRingCosts):
    cpu = host.cpu_scale
    p.n_queues = n_queues
    p.ring_size = nic.ring_size
    p.ring_usable = nic.ring_usable
    p.fifo_bytes = nic.rx_buffer_bytes if nic_buffer else 0
    p.fifo_frame_overhead = nic.rx_buffer_frame_overhead
    p.fifo_unit = nic.rx_buffer_unit
    p.drop_en = nic.drop_en(engine.kind, n_queues)  # the 82599: drop_en() (params.py)
    p.engine = ENGINE_CODES[engine.kind]
    if engine.kind == "wirecap":
        p.wc_m, p.wc_r = engine.M, engine.R
        p.wc_t_pct = engine.T if engine.advanced else 100
        p.wc_advanced = engine.advanced
        p.wc_capture_ps = _ps(wirecap.capture_us * 1000 * cpu)
        p.wc_recycle_ps = _ps(wirecap.recycle_us * 1000 * cpu)
        p.wc_chunk_ps = _ps(wirecap.chunk_us * 1000 * cpu)
        p.wc_copy_ps = _ps(wirecap.copy_ns * cpu)
        p.wc_timeout_ps = _ps(wirecap.timeout_ms * 1e6)
    if engine.kind == "dpdk":
        p.dpdk_mbufs = engine.mbufs
    p.nm_sync_ps = _ps(netmap.sync_us * 1000 * cpu)
    p.nm_wakeup_ps = _ps(netmap.wakeup_us * 1000 * cpu)
    p.pf_slots = pfring.slots
    p.pf_copy_ps = _ps(pfring.copy_ns * cpu)
    p.pf_copy_byte_ps = _ps(pfring.copy_ns_per_byte * cpu)
    p.pf_irq_ps = _ps(pfring.irq_us * 1000 * cpu)
    p.pf_itr_ps = _ps(pfring.itr_us * 1000)
    p.pf_napi_weight = pfring.napi_weight
    p.pf_softirq_pkts = pfring.softirq_packets
    p.pf_softirq_ps = _ps(pfring.softirq_ms * 1e6)
    p.pf_slice_ps = _ps(pfring.slice_ms * 1e6)


def _check_nic(nic: NicModel, workload, bus: BusModel) -> None:
    """What the NIC model cannot take: a generator faster than its wire, a
    trace steered over more queues than its RSS spreads over, the bus model
    (calibrated on the paper's host and 82599s only)."""
    if isinstance(workload, Burst) and workload.link_bps > nic.link_bps:
        raise ValueError(f"--nic {nic.name}: a {workload.link_bps / 1e9:g} Gb/s generator cannot feed its "
                         f"{nic.link_bps / 1e9:g} Gb/s link; choose a faster NIC or Burst(link_bps=...)")
    if isinstance(workload, TraceInput) and workload.n_queues > nic.max_queues:
        from driver.sim.nics import check_queues

        check_queues(nic, workload.n_queues)
    if bus.enabled and nic.name != "82599":
        raise ValueError(f"--nic {nic.name}: the bus model (Figure 14) is calibrated on the paper's host "
                         "with 82599s only; use --nic 82599 or leave the bus out")
    if (8 * 10**12) % nic.link_bps:
        raise ValueError(f"--nic {nic.name}: link rate {nic.link_bps} b/s is not a whole number of ps per byte")


def simulate(engine: EngineConfig, workload: Burst | TraceInput, *, x: int = 0,
             host: HostModel = HostModel(), nic: NicModel = NicModel(), nic_buffer: bool = True,
             groups: list[int] | None = None, track_flows: bool | None = None,
             wirecap: WireCapCosts = WireCapCosts(), netmap: NetmapCosts = NetmapCosts(),
             pfring: PfRingCosts = PfRingCosts(), app_cost: float | None = None,
             forward: bool = False, record_forwarding: bool = False, bus: BusModel = BusModel(),
             bulk: bool | None = None, app_start_ns: int = 0, record_runs: bool = False,
             balance: BalanceCosts = BalanceCosts(), track_order: bool = False,
             pcie_writeback: int = 0) -> SimRun:
    """Run one point.

    groups[q]: queue q's buddy group in advanced mode (default: the queues
    of each NIC form one group, as in the paper's §4). app_cost (ns per
    packet) replaces pkt_handler's x-derived cost. forward sends every
    processed frame out of another NIC to a receiver (Figures 13, 14);
    record_forwarding also returns the frame ids in the receiver's order.
    bus models the shared I/O and memory bus (Figure 14). bulk counts runs
    of frames in closed form, generator runs or a trace's quiet frames
    (default: wherever it applies; the numbers are the same either way). app_start_ns: WireCAP's application
    threads start reading their capture queues only then (a reader that is
    not there yet). record_runs returns SimRun.run_log.

    WireCAP-A's offloading policy is engine.offload: bucket and hybrid
    move redirection-table buckets (balance: period, table size, move
    cost) and need a trace with its frames' buckets (TraceInput.bucket).
    track_order counts packets_reordered (trace mode).

    pcie_writeback > 0 models the NIC's PCIe link for a burst: it carries
    nic.pcie_max_pps(size, pcie_writeback) frames/s to memory (one
    completion TLP per pcie_writeback frames), and of a faster burst only
    that share is DMA'd; the rest overflow the on-chip buffer (capture
    drops), through the same admission as the bus model. 0: not modelled
    (the paper's 82599 on Gen2 x8 carries more than 10 GbE line rate).
    """
    p = ffi.new("struct sim_params *")
    keep = []  # numpy buffers must outlive the call
    n_queues = workload.n_queues
    nics = workload.nics if isinstance(workload, Burst) else 1
    nq_total = nics * n_queues
    contention, admit = 1.0, 1.0
    p.n_nics = nics
    _check_nic(nic, workload, bus)
    if not 0 <= int(pcie_writeback) <= 64:
        raise ValueError(f"pcie_writeback={pcie_writeback}: frames per completion TLP, 1..64 (0: PCIe not modelled)")
    if isinstance(workload, Burst):
        p.n_packets = workload.packets
        p.gen_gap_ps = wire_time_ps(workload.size, workload.link_bps)
        p.gen_size = workload.size
        gq = np.ascontiguousarray(workload.pattern_queue, dtype=np.uint8)
        gf = np.ascontiguousarray(workload.pattern_flow, dtype=np.int32)
        keep += [gq, gf]
        p.gen_len = len(gq)
        p.gen_queue = ffi.from_buffer("uint8_t[]", gq)
        p.gen_flow = ffi.from_buffer("int32_t[]", gf)
        p.n_flows = int(gf.max()) + 1
        flows_default = False
        if bus.enabled:
            rate = line_rate_pps(workload.size, workload.link_bps)
            contention = nics * bus.offered_load(rate, workload.size, forward,
                                                 engine_bus_ns(engine, nq_total, wirecap))
            admit = min(1.0, 1.0 / contention)
            contention = max(1.0, contention)
        if pcie_writeback:
            # each NIC's own link: its port receives the burst at line rate
            admit *= min(1.0, nic.pcie_max_pps(workload.size, pcie_writeback)
                         / line_rate_pps(workload.size, workload.link_bps))
    else:
        if bus.enabled:
            raise ValueError("the bus model applies to generator workloads (Burst), not traces")
        if pcie_writeback:
            raise ValueError("pcie_writeback: the PCIe link is modelled for generator bursts (Burst), not traces")
        ts = np.ascontiguousarray(workload.ts_ns, dtype=np.int64)  # ns: the C side scales to ps
        q = np.ascontiguousarray(workload.queue, dtype=np.uint8)
        fl = np.ascontiguousarray(workload.flow, dtype=np.int32)
        sz = np.ascontiguousarray(workload.size, dtype=np.uint32)
        if not (len(ts) == len(q) == len(fl) == len(sz)):
            raise ValueError("trace arrays differ in length")
        if len(ts) and ts[-1] > lib.SIM_TS_NS_MAX:
            raise ValueError(f"the trace's last packet arrives {ts[-1] / 1e9 / 86400:,.0f} days in; the simulator's "
                             f"clock (int64 ps) holds {lib.SIM_TS_NS_MAX // (86400 * 10**9)} days: simulate a shorter trace, "
                             "or replay this one on the xdp backend, which can cut idle gaps (--max-gap-s)")
        keep += [ts, q, fl, sz]
        p.n_packets = len(ts)
        p.ts_ns = ffi.from_buffer("int64_t[]", ts)
        p.queue = ffi.from_buffer("uint8_t[]", q)
        p.flow = ffi.from_buffer("int32_t[]", fl)
        p.size = ffi.from_buffer("uint32_t[]", sz)
        p.n_flows = workload.n_flows
        flows_default = engine.advanced
    p.track_flows = flows_default if track_flows is None else bool(track_flows)
    if track_order:
        if isinstance(workload, Burst):
            raise ValueError("track_order counts reordering on traces, not on generator bursts")
        p.track_order = 1
    offload = engine.offload if engine.advanced else None
    if offload in ("bucket", "hybrid"):
        if isinstance(workload, Burst) or workload.bucket is None:
            raise ValueError(f"--offload {offload}: bucket moves need a trace steered through the redirection "
                             "table (experiments.workloads.steered gives its frames' buckets), not a burst")
        if groups is not None and len(set(groups)) > 1:
            raise ValueError(f"--offload {offload}: the balancer spans the NIC's queues as one buddy group; "
                             "drop groups=")
        if int(workload.n_buckets) != int(balance.n_buckets):
            raise ValueError(f"--buckets {balance.n_buckets}: the trace was steered through a "
                             f"{workload.n_buckets}-entry table; steer it with the same size")
        bk = np.ascontiguousarray(workload.bucket, dtype=np.uint16)
        if len(bk) != len(workload.ts_ns):
            raise ValueError("trace arrays differ in length (bucket)")
        keep.append(bk)
        p.bucket = ffi.from_buffer("uint16_t[]", bk)
        p.n_buckets = int(balance.n_buckets)
        p.bal_period_ps = _ps(balance.period_ms * 1e6)
        p.bal_move_ps = _ps(balance.move_us * 1e3)
        p.bal_imbalance_pct = int(balance.imbalance_pct)
        if p.bal_move_ps >= p.bal_period_ps:
            raise ValueError(f"--period-ms {balance.period_ms}: a move ({balance.move_us} us) must take effect "
                             "before the next solve")
    if offload is not None:
        p.wc_offload = OFFLOAD_CODES[offload]
    p.bus_admit = BUS_ONE if admit >= 1.0 else int(admit * BUS_ONE)
    _fill_engine(p, engine, host, nic, nic_buffer, n_queues, wirecap, netmap, pfring)
    p.app_cost_ps = _ps(app_cost_ns(engine, x, host, forward, contention, bus))
    if app_cost is not None:
        if app_cost < 0:
            raise ValueError(f"app_cost {app_cost}: must be >= 0 ns per packet")
        p.app_cost_ps = _ps(app_cost)
    fwd_log = None
    if forward:
        p.forward = 1
        p.tx_ps_per_byte = 8 * 10**12 // nic.link_bps  # the forwarding NIC is of the same model
        p.tx_overhead_bytes = ETHERNET_OVERHEAD_BYTES
        if record_forwarding:
            fwd_log = np.zeros(int(p.n_packets) * nics, dtype=np.uint32)
            p.fwd_log = ffi.from_buffer("uint32_t[]", fwd_log)
            p.fwd_log_cap = len(fwd_log)
    if engine.advanced:
        default = [q // n_queues for q in range(nq_total)]
        g = np.ascontiguousarray(groups if groups is not None else default, dtype=np.uint8)
        if len(g) != nq_total:
            raise ValueError(f"groups: one buddy group per queue expected, got {len(g)} for {nq_total}")
        keep.append(g)
        p.wc_group = ffi.from_buffer("uint8_t[]", g)
    # closed forms: bulk steps for a round-robin Burst without per-frame
    # records; quiet frames for a trace (they keep every record)
    can_bulk = not isinstance(workload, Burst) or (workload.round_robin and not p.track_flows
                                                   and not record_forwarding)
    if bulk and not can_bulk:
        raise ValueError("bulk steps need a round-robin Burst and no per-frame records")
    p.bulk = can_bulk if bulk is None else bool(bulk)
    if app_start_ns:
        if engine.kind != "wirecap" or app_start_ns < 0:
            raise ValueError(f"app_start_ns {app_start_ns}: a late application start is modelled "
                             "for WireCAP only, as a time >= 0")
        p.app_start_ps = _ps(app_start_ns)
    run_log = None
    if record_runs:
        if RUN_LOG_DTYPE.itemsize != ffi.sizeof("struct sim_run_rec"):
            raise SimulationError("RUN_LOG_DTYPE does not match struct sim_run_rec")
        run_log = np.zeros(int(p.n_packets) * nics + 1, dtype=RUN_LOG_DTYPE)
        p.run_log = ffi.cast("struct sim_run_rec *", ffi.from_buffer(run_log))
        p.run_log_cap = len(run_log)

    matrix = np.zeros((nq_total, nq_total), dtype=np.uint64)
    p.offload_matrix = ffi.from_buffer("uint64_t[]", matrix)
    qs = ffi.new("struct sim_queue_stats[]", nq_total)
    res = ffi.new("struct sim_result *")
    rc = lib.sim_run(p, qs, res)
    del keep
    if rc < 0:
        if rc == -errno.EINVAL:
            raise ValueError("simulator rejected the parameters (queue index out of range, "
                             "timestamps not sorted or past 106 days, or a missing array)")
        raise SimulationError(f"simulation failed: {os.strerror(-rc)} (errno {-rc})")
    queues = []
    for i in range(nq_total):
        row = {"queue": i, "nic": i // n_queues, **counters(qs[i], skip=("last_done_ps",))}
        row["last_done_s"] = qs[i].last_done_ps / 1e12
        queues.append(row)
    total = {f: sum(r[f] for r in queues) for f in STAT_FIELDS}
    for row in queues + [total]:
        row["filtered"] = 0
        row["drop_rate"] = ((row["capture_drops"] + row["delivery_drops"]) / row["sent"]) if row["sent"] else 0.0
        lost = row["sent"] - row["delivered"] - row["capture_drops"] - row["delivery_drops"]
        if lost:
            raise SimulationError(f"accounting invariant broken ({lost} packets unaccounted): {row}")
    if fwd_log is not None:
        fwd_log = fwd_log[: int(res.fwd_logged)]
    if run_log is not None:
        run_log = run_log[: int(res.runs_logged)]
    return SimRun(engine, queues, total, int(res.events), int(res.arrivals), res.end_ps / 1e12,
                  int(res.flows_split), int(res.forwarded), int(res.tx_backlog_max), fwd_log, matrix,
                  contention if bus.enabled else 0.0, int(res.bulk_steps), run_log,
                  int(res.flows_migrated), int(res.packets_reordered), int(res.bucket_moves))
