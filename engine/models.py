"""The capture engines: one configuration type, five engines, their costs.

| name       | paper                     | model                                      |
|------------|---------------------------|--------------------------------------------|
| wirecap-b  | WireCAP-B-(M, R)          | ring-buffer pool, one queue at a time      |
| wirecap-a  | WireCAP-A-(M, R, T)       | + buddy-group offloading above T; policy   |
|            |                           |   chunk (paper), bucket or hybrid (ours)   |
| dna        | DNA (ixgbe-3.10.16-DNA)   | Type-II: ring is the buffer (model only)   |
| netmap     | NETMAP (20131019)         | Type-II with per-sync release (model only) |
| pfring     | PF_RING 5.5.2, mode 2     | Type-I: NAPI copy into pf_ring (model only)|
| dpdk       | (beyond: §7 future work)  | poll-mode driver + mbuf mempool (model only)|

DNA, NETMAP, PF_RING and DPDK need kernel modules or a NIC bound to a
user-space driver: here they exist
only as models of the simulator, and say so. WireCAP runs on the same C core
in the simulator and on AF_XDP.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.app_cost import APP_BASE_NS
from engine.core import geometry_error

ENGINES = ("wirecap-b", "wirecap-a", "dna", "netmap", "pfring", "dpdk")
KIND = {"wirecap-b": "wirecap", "wirecap-a": "wirecap", "dna": "dna", "netmap": "netmap", "pfring": "pfring",
        "dpdk": "dpdk"}

# paper §4: WireCAP-B-(256, 500) and WireCAP-A-(256, 500, 60%) as defaults
DEFAULT_M = 256
DEFAULT_R = 500
DEFAULT_T = 60

# WireCAP-A's offloading policies (engine/csrc/wc_balance.h): the paper's
# chunk offloading (§3.2.2a), and ours beyond the paper: redirection-table
# bucket moves that keep every flow on one thread (RSS++, Barbette et al.,
# CoNEXT 2019), and buckets with a chunk spill only in an emergency
OFFLOAD_POLICIES = ("chunk", "bucket", "hybrid")
DEFAULT_OFFLOAD = "chunk"


@dataclass(frozen=True)
class WireCapCosts:
    """Capture-thread and application costs of WireCAP (ACCEPTANCE.md §1)."""

    capture_us: float = 2.0    # assumed: one capture ioctl (syscall + wake-up)
    recycle_us: float = 2.0    # assumed: one recycle ioctl
    chunk_us: float = 0.5      # assumed: per chunk moved (metadata, re-arm M descriptors)
    copy_ns: float = 50.0      # assumed: per packet copied by the partial-chunk timeout
    # assumed, paper §3.2.1 gives no value: one jiffy at HZ = 1000
    timeout_ms: float = 1.0
    app_base_ns: float = APP_BASE_NS  # assumed: pcap_dispatch overhead per packet (engine/app_cost.py)
    forward_ns: float = 10.0   # assumed: zero-copy inject, attach the cell to a TX descriptor
    # calibrated (Figure 14, orderings): bus time of the memory traffic per
    # packet beyond DMA: re-arming descriptors with cells of ever new
    # chunks, chunk metadata through the work queues, recycle validation
    # ("WireCAP requires extra I/O operations and memory accesses", §4)
    bus_ns: float = 1.0
    # cache lines the application misses per packet: the header; when
    # forwarding also the TX descriptor that points into the pool and its
    # completion write-back, read before the chunk may be recycled. Their
    # cost rises with bus contention (BusModel.memory_access_ns).
    memory_accesses: int = 1
    memory_accesses_forward: int = 3
    # calibrated (Figure 14, WireCAP-A-(256,500) "performs poorly at 5 or 6
    # queues", §4: "a big-memory application typically pays a high cost for
    # page-based virtual memory"): the pools' page-table entries (8 B per
    # 4 KB page) compete for the cache with everything else; past this
    # share of the 20 MB L3 the page walks of TLB misses (one per page, two
    # 2 KB cells) go to memory, each costing `page_walk_bus_ns` of bus time
    pte_cache_bytes: int = 4 * 2**20
    page_walk_bus_ns: float = 12.0


@dataclass(frozen=True)
class BalanceCosts:
    """Bucket offloading (policies bucket and hybrid; engine/csrc/wc_balance.h)."""

    # RSS++ re-solves every 10 to 1,000 ms (Barbette et al. 2019, §4); the
    # short end, so that a burst is met while WireCAP's pool absorbs it
    period_ms: float = 100.0
    # redirection-table entries: 128 on the 82599 (datasheet §8.2.3.7.13,
    # RETA); 512 on the XL710, up to 2,048 on the E810
    n_buckets: int = 128
    # work above the group's mean that counts as a sustained imbalance
    imbalance_pct: int = 10
    # assumed: a move takes effect this long after the decision: the solve
    # plus one RETA register write (datasheet §8.2.3.7.13: four 8-bit
    # entries per 32-bit register at 0x0EB00 + 4n), a posted PCIe write
    # (~1 us round trip with the read-back that flushes it); on AF_XDP one
    # bpf(BPF_MAP_UPDATE_ELEM) system call, of the same order
    move_us: float = 2.0

    def __post_init__(self):
        if not self.period_ms > 0:
            raise ValueError(f"--period-ms {self.period_ms}: the re-solve period must be > 0 ms "
                             "(RSS++ uses 10 to 1,000)")
        nb = int(self.n_buckets)
        if nb < 1 or nb > 2048 or nb & (nb - 1):
            raise ValueError(f"--buckets {self.n_buckets}: the redirection table has a power-of-two size "
                             "in 1..2,048 (82599: 128)")
        if not 0 < self.imbalance_pct <= 1000:
            raise ValueError(f"imbalance_pct {self.imbalance_pct}: must be in (0, 1000] percent")
        if self.move_us < 0:
            raise ValueError(f"move_us {self.move_us}: must be >= 0")



@dataclass(frozen=True)
class DnaCosts:
    app_base_ns: float = 40.0  # assumed: pfring_recv on a DNA ring, per packet (x = 0)
    forward_ns: float = 20.0   # assumed: pfring_send copies the frame into a TX slot
    bus_ns: float = 0.0        # the ring's buffers are reused in place: no traffic beyond DMA
    # the header; the few TX slots it copies into stay in the cache
    memory_accesses: int = 1
    memory_accesses_forward: int = 1


@dataclass(frozen=True)
class NetmapCosts:
    app_base_ns: float = 30.0  # assumed: per packet from a netmap ring (x = 0)
    forward_ns: float = 20.0   # assumed: copy into a TX slot
    sync_us: float = 1.0       # assumed: one NIOCRXSYNC
    wakeup_us: float = 10.0    # assumed: poll() wake-up after sleeping
    # calibrated on Table 1 queue 0 (NETMAP 46.5% vs DNA 50.1%): the
    # application runs 1.11x as fast under NETMAP (43.2 kp/s at x = 300).
    # The paper does not explain it; keep it a named, documented factor.
    app_speedup: float = 1.11


@dataclass(frozen=True)
class PfRingCosts:
    app_base_ns: float = 100.0  # assumed: pfring_recv from the pf_ring, per packet (x = 0)
    forward_ns: float = 20.0    # assumed: pfring_send copies the frame
    slots: int = 10_240         # paper §2.2: "the size of pf_ring buffer is set to 10,240"
    # calibrated: NAPI copy of one frame, 0.3 us + 0.9 ns/byte (~2.8 Mp/s at 64 B)
    copy_ns: float = 300.0
    copy_ns_per_byte: float = 0.9
    irq_us: float = 5.0         # calibrated: hard interrupt entry/exit
    # calibrated on Table 1 queue 0 (PF_RING 56.8% vs DNA 50.1%): ixgbe's
    # adaptive ITR in its low-latency class allows 20,000 interrupts/s,
    # i.e. at most one per 50 us (ixgbe_update_itr(): low_latency)
    itr_us: float = 50.0
    napi_weight: int = 64       # Linux NAPI_POLL_WEIGHT
    # Linux: net.core.netdev_budget = 300 per softirq round, up to 10
    # restarts (MAX_SOFTIRQ_RESTART) or 2 ms (MAX_SOFTIRQ_TIME), then ksoftirqd
    softirq_packets: int = 3_000
    softirq_ms: float = 2.0
    slice_ms: float = 24.0      # calibrated: CFS turn while ksoftirqd and the application compete


@dataclass(frozen=True)
class DpdkCosts:
    """The DPDK-style engine (beyond the paper; engine/csrc/sim/eng_dpdk.c).

    A model of software not run here. The mempool size is the engine's
    parameter (EngineConfig.mbufs); what is below is fixed.
    """

    # DPDK's examples size their mbuf pool at 8,192 mbufs at least
    # (examples/l2fwd/main.c: nb_mbufs = RTE_MAX(ports x (rx + tx descriptors
    # + MAX_PKT_BURST + lcores x MEMPOOL_CACHE_SIZE), 8192U)) and create it
    # with rte_pktmbuf_pool_create(); one pool per queue here
    default_mbufs: int = 8192
    # the mbufs' data room, RTE_MBUF_DEFAULT_DATAROOM = 2,048 B (plus the
    # 128-byte headroom and the 128-byte struct rte_mbuf in real memory);
    # the planner counts 2 KB per mbuf, as per WireCAP cell, so that pool
    # sizes compare like for like
    mbuf_bytes: int = 2048
    # assumed: rte_eth_rx_burst + rte_ring hand-off + the worker's loop, per
    # packet (x = 0); DPDK's per-packet costs are tens of cycles, of the
    # order of netmap's (NetmapCosts.app_base_ns)
    app_base_ns: float = 30.0
    forward_ns: float = 20.0   # assumed: rte_eth_tx_burst of the mbuf (zero copy), as the others
    memory_accesses: int = 1   # the header
    memory_accesses_forward: int = 1


# the mempool must exceed the ring (eng_dpdk.c: it fills the ring at start)
# and stay within a simulable size (8,192 x 2 KB = 16 MB per queue by default)
MAX_MBUFS = 64 * 2**20


def mbufs_error(mbufs: int, ring_size: int) -> str | None:
    """Why a mempool of `mbufs` cannot serve a ring of ring_size, or None."""
    if not ring_size < mbufs <= MAX_MBUFS:
        return (f"the mempool must hold more mbufs than the ring's {ring_size:,} descriptors (the PMD gives "
                f"each one at queue start, ixgbe_alloc_rx_queue_mbufs, and needs one more to take a packet "
                f"out): an integer in {ring_size + 1:,}..{MAX_MBUFS:,}")
    return None


@dataclass(frozen=True)
class EngineConfig:
    """One engine configuration, e.g. WireCAP-A-(256, 500, 60%)."""

    name: str
    M: int | None = None
    R: int | None = None
    T: int | None = None   # percent
    offload: str | None = None  # WireCAP-A: one of OFFLOAD_POLICIES
    mbufs: int | None = None    # DPDK: mbufs in each queue's mempool

    @property
    def kind(self) -> str:
        return KIND[self.name]

    @property
    def advanced(self) -> bool:
        return self.name == "wirecap-a"

    @property
    def label(self) -> str:
        if self.name == "wirecap-b":
            return f"WireCAP-B-({self.M},{self.R})"
        if self.name == "wirecap-a":
            policy = "" if self.offload in (None, DEFAULT_OFFLOAD) else f",{self.offload}"
            return f"WireCAP-A-({self.M},{self.R},{self.T}%{policy})"
        if self.name == "dpdk":
            return f"DPDK-({self.mbufs})"
        return {"dna": "DNA", "netmap": "NETMAP", "pfring": "PF_RING"}[self.name]

    @classmethod
    def make(cls, name: str, M: int | None = None, R: int | None = None, T: int | None = None,
             offload: str | None = None, ring_size: int = 1024, mbufs: int | None = None) -> "EngineConfig":
        """Build and validate; errors name the parameter and its allowed range."""
        if name not in ENGINES:
            raise ValueError(f"--engine {name!r}: unknown engine; choose one of {', '.join(ENGINES)}")
        if name == "dpdk":
            if M is not None or R is not None or T is not None or offload is not None:
                raise ValueError("--engine dpdk: M, R, T and --offload are WireCAP's; DPDK takes the mempool "
                                 "size only (dpdk:MBUFS)")
            mbufs = DpdkCosts.default_mbufs if mbufs is None else mbufs
            if isinstance(mbufs, bool) or int(mbufs) != mbufs:
                raise ValueError(f"--mbufs {mbufs!r}: an integer number of mbufs expected")
            err = mbufs_error(int(mbufs), ring_size)
            if err is not None:
                raise ValueError(f"--mbufs {mbufs}: {err}")
            return cls(name, mbufs=int(mbufs))
        if mbufs is not None:
            raise ValueError(f"--mbufs {mbufs}: the mempool size applies to dpdk only, not {name}")
        if KIND[name] != "wirecap":
            return cls(name)
        M = DEFAULT_M if M is None else int(M)
        R = DEFAULT_R if R is None else int(R)
        err = geometry_error(ring_size, M, R)  # the pool's rules, written once in the C core
        if err is not None:
            param, text = err
            hint = ""
            if param == "M" and M >= 1:
                hint = "; one of " + ", ".join(str(d) for d in range(1, ring_size + 1) if ring_size % d == 0)
            raise ValueError(f"--{param} {dict(N=ring_size, M=M, R=R)[param]}: {text}{hint}")
        if name == "wirecap-a":
            T = DEFAULT_T if T is None else T
            if not 0 < T <= 100:
                raise ValueError(f"--T {T}: the offloading threshold T must be in (0, 100] percent")
            offload = DEFAULT_OFFLOAD if offload is None else str(offload)
            if offload not in OFFLOAD_POLICIES:
                raise ValueError(f"--offload {offload!r}: unknown offloading policy; choose one of "
                                 f"{', '.join(OFFLOAD_POLICIES)}")
            return cls(name, M, R, int(T), offload)
        if offload not in (None, DEFAULT_OFFLOAD):
            raise ValueError(f"--offload {offload}: offloading policies apply to wirecap-a only, not {name}")
        return cls(name, M, R, None)

    @classmethod
    def parse(cls, spec: str, ring_size: int = 1024) -> "EngineConfig":
        """'dna', 'wirecap-b:256:500', 'wirecap-a:256:500:60', 'wirecap-a:256:500:60:bucket', 'dpdk:8192'."""
        name, *nums = spec.split(":")
        if name == "dpdk":
            if len(nums) > 1 or (nums and not nums[0].isdigit()):
                raise ValueError(f"engine spec {spec!r}: expected dpdk[:MBUFS] with a positive integer MBUFS "
                                 "(mbufs per queue's mempool)")
            return cls.make(name, ring_size=ring_size, mbufs=int(nums[0]) if nums else None)
        offload = None
        if name == "wirecap-a" and len(nums) == 4:
            offload = nums.pop()
        try:
            values = [int(n) for n in nums]
        except ValueError:
            raise ValueError(f"engine spec {spec!r}: expected name[:M:R[:T[:POLICY]]] with integers M, R, T") from None
        return cls.make(name, *values, offload=offload, ring_size=ring_size)

    def spec(self) -> str:
        parts = [self.name] + [str(v) for v in (self.M, self.R, self.T, self.mbufs) if v is not None]
        if self.offload not in (None, DEFAULT_OFFLOAD):
            parts.append(self.offload)
        return ":".join(parts)
