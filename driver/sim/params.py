"""Constants of the simulated testbed: the wire, the 82599-class NIC and the
host. Every value names its source; "calibrated" ones were fitted to a
published number, which ACCEPTANCE.md §1 records. The engines' own costs are
in engine/models.py.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.app_cost import FILTER_NS, PAPER_CLOCK_GHZ

PS_PER_S = 10**12
PS_PER_NS = 1000

# IEEE 802.3: every frame also occupies 8 bytes of preamble + start-of-frame
# delimiter and a 12-byte inter-frame gap on the wire.
ETHERNET_OVERHEAD_BYTES = 20
LINK_10GBE_BPS = 10 * 10**9


def wire_time_ps(size: int, link_bps: int = LINK_10GBE_BPS) -> int:
    """Time one frame of `size` bytes takes on the wire, in picoseconds.

    Exact for 10/40/100 GbE (64 B at 10 GbE: 67,200 ps, i.e. 14,880,952 p/s).
    """
    bits = 8 * (size + ETHERNET_OVERHEAD_BYTES)
    ps, rest = divmod(bits * PS_PER_S, int(link_bps))
    if rest:
        raise ValueError(f"link rate {link_bps} b/s does not give a whole number of picoseconds per frame")
    return ps


def line_rate_pps(size: int, link_bps: int = LINK_10GBE_BPS) -> float:
    """Packets per second at line rate: link_bps / (8 * (size + 20))."""
    return link_bps / (8 * (size + ETHERNET_OVERHEAD_BYTES))


# What a NIC does with a frame whose queue has no ready descriptor
# (NicModel.no_descriptor):
#   "ixgbe"  the 82599 as the Intel driver leaves SRRCTL.DROP_EN: set with
#            more than one queue, clear with one (drop_en() below)
#   "drop"   dropped at once, whatever the queue count (a per-queue discard
#            counter: i40e/ice GLV_RDPC "rx_discards", mlx5 "rx_out_of_buffer")
#   "hold"   the frame waits in the on-chip buffer (DROP_EN clear), blocking
#            the frames behind it (an assumption to sweep, not a NIC's default)
NO_DESCRIPTOR_POLICIES = ("ixgbe", "drop", "hold")
# PCIe payload bandwidth per lane in b/s after line coding (PCIe base spec:
# Gen1 2.5 GT/s and Gen2 5 GT/s use 8b/10b, Gen3 8 GT/s and Gen4 16 GT/s use
# 128b/130b). Transaction-layer overheads are not taken off.
PCIE_LANE_BPS = {1: 2_000_000_000, 2: 4_000_000_000, 3: 8_000_000_000 * 128 // 130, 4: 16_000_000_000 * 128 // 130}
# Neugebauer et al., "Understanding PCIe performance for end host
# networking", SIGCOMM 2018, §2: a memory-write TLP with a 64-bit address
# carries 24 bytes beyond its payload (framing, sequence number, 16-byte
# header, LCRC), and 256 bytes is the common Maximum Payload Size
PCIE_TLP_OVERHEAD_BYTES = 24
PCIE_MPS_BYTES = 256


@dataclass(frozen=True)
class NicModel:
    """A NIC as the simulator sees it. The defaults are the paper's Intel
    82599 10 GbE controller, as the paper configures it; the other models
    (driver/sim/nics.py) change these fields, each with its source there.
    """

    # paper §2.2 and §4: "Each NIC receive ring is configured with a size of 1,024"
    ring_size: int = 1024
    # ixgbe never fills the last descriptor (head == tail means empty), so a
    # Type-II engine holds at most N - 1 frames (ixgbe_desc_unused())
    ring_usable: int = 1023
    # ixgbe IXGBE_RXPBSIZE_MAX: 512 KB receive packet buffer (448 KB when
    # Flow Director reserves 64 KB; the paper does not use it, §6)
    rx_buffer_bytes: int = 512 * 1024
    # calibrated (ACCEPTANCE.md §1): a 64-byte frame occupies 128 bytes of
    # that buffer, so it holds 4,096 of them; fitted to DNA losing 15% at
    # P = 6,000 in Figure 9. Modelled as length + 64 bytes of status,
    # rounded up to the 64-byte allocation unit.
    rx_buffer_frame_overhead: int = 64
    rx_buffer_unit: int = 64
    # --- beyond the paper's testbed (issue 14); driver/sim/nics.py ---------
    name: str = "82599"
    # 82599 datasheet §1.1: one or two 10GBASE ports
    link_bps: int = LINK_10GBE_BPS
    # the most queues RSS spreads over: 82599 RETA entries are 4 bits
    # (datasheet §7.1.2.8.3), 16 queues
    max_queues: int = 16
    # ixgbe.h IXGBE_DEFAULT_RXD 512 and IXGBE_MAX_RXD 4096 (ethtool -G)
    ring_default: int = 512
    ring_max: int = 4096
    # redirection-table entries: 82599 datasheet §8.2.3.7.13 (RETA, 128)
    reta_size: int = 128
    # 0: the table has reta_size entries whatever the queue count; k > 0:
    # at least reta_size, grown to the power of two >= k per queue (mlx5)
    reta_per_queue: int = 0
    # see NO_DESCRIPTOR_POLICIES
    no_descriptor: str = "ixgbe"
    # 82599 datasheet §1.1: PCIe v2.0 (5 GT/s) x8
    pcie_gen: int = 2
    pcie_lanes: int = 8
    # bytes the NIC writes back per received frame beyond the frame: the
    # 82599's advanced receive descriptor, written back in place (datasheet
    # §7.1.6.2, 16 bytes)
    rx_completion_bytes: int = 16
    # where rx_buffer_bytes has no public source: the text of the assumption
    # (empty: it has one). experiments/fig9_fast.py sweeps it.
    assumed: str = ""

    def __post_init__(self):
        if self.no_descriptor not in NO_DESCRIPTOR_POLICIES:
            raise ValueError(f"NicModel.no_descriptor {self.no_descriptor!r}: choose one of "
                             f"{', '.join(NO_DESCRIPTOR_POLICIES)}")
        if self.reta_size < 1 or self.reta_size & (self.reta_size - 1):
            raise ValueError(f"NicModel.reta_size {self.reta_size}: a redirection table has a power-of-two size")

    def drop_en(self, engine_kind: str, n_queues: int) -> bool:
        """Whether a frame with no ready descriptor is dropped at once (the
        simulator's drop_en) rather than held in the on-chip buffer."""
        if self.no_descriptor == "ixgbe":
            return drop_en(engine_kind, n_queues)
        return self.no_descriptor == "drop"

    def reta_entries(self, n_queues: int) -> int:
        """Redirection-table entries with n_queues RSS queues: reta_size, or
        with reta_per_queue k the larger of it and the power of two at or
        above k * n_queues (mlx5e_rqt_size())."""
        if not self.reta_per_queue:
            return self.reta_size
        want = self.reta_per_queue * max(1, int(n_queues))
        return max(self.reta_size, 1 << (want - 1).bit_length())

    @property
    def pcie_bps(self) -> int:
        """PCIe payload bandwidth per direction after line coding, b/s."""
        return PCIE_LANE_BPS[self.pcie_gen] * self.pcie_lanes

    def line_rate_pps(self, size: int = 64) -> float:
        return line_rate_pps(size, self.link_bps)

    def pcie_rx_bytes(self, size: int, writeback_batch: int = 1) -> float:
        """PCIe bytes upstream (NIC to memory) per received frame: the
        frame in MPS-sized write TLPs, and its completion (descriptor
        write-back or CQE) in a TLP shared by `writeback_batch` frames.
        Descriptor fetches travel mostly the other way (completions to the
        NIC) and are left out. simulate(pcie_writeback=k) admits this
        capacity's share of a burst (describe() lists it)."""
        tlps = -(-int(size) // PCIE_MPS_BYTES)
        return (size + PCIE_TLP_OVERHEAD_BYTES * tlps + self.rx_completion_bytes
                + PCIE_TLP_OVERHEAD_BYTES / max(1, int(writeback_batch)))

    def pcie_max_pps(self, size: int = 64, writeback_batch: int = 1) -> float:
        """Frames/s of `size` bytes the PCIe link can carry to memory (one
        port's traffic alone), by pcie_rx_bytes()."""
        return self.pcie_bps / 8 / self.pcie_rx_bytes(size, writeback_batch)


@dataclass(frozen=True)
class HostModel:
    """The capture host (paper §2.2, Figure 2: Intel E5-2690 cores)."""

    # paper §2.2/§4: "The CPU speed is set at 2.4 GHz"
    clock_ghz: float = PAPER_CLOCK_GHZ
    # 85.8 ns per run of the paper's BPF filter (one Fermilab /24 and UDP),
    # from x = 300 giving 38,844 p/s: derived in engine/app_cost.py
    filter_ns_at_2_4ghz: float = FILTER_NS

    @property
    def cpu_scale(self) -> float:
        """CPU-bound times scale with 2.4 GHz / clock."""
        return PAPER_CLOCK_GHZ / self.clock_ghz


def drop_en(engine_kind: str, n_queues: int) -> bool:
    """SRRCTL.DROP_EN as each engine's driver leaves it (ACCEPTANCE.md §1).

    The Intel driver sets it only with more than one queue and no flow
    control (ixgbe_set_rx_drop_en()); with a single queue it stays clear for
    every engine, so frames wait in the on-chip buffer. NETMAP's patched
    driver is inferred not to set it (calibrated on Table 1).
    """
    if n_queues <= 1:
        return False
    return engine_kind != "netmap"


@dataclass(frozen=True)
class BusModel:
    """The I/O and memory bus of the NUMA node both NICs sit on (paper
    Figure 2, §4 "the experiment system bus becomes saturated").

    A fluid server of capacity 1 (one second of bus time per second). Every
    frame moved costs bus time: its receive DMA (descriptor fetch, payload
    write, write-back), its transmit DMA when forwarded, and the memory
    traffic of the cores that handle it, which depends on the engine
    (engine/models.py: `bus_ns`). The offered load is

        D = sum over NICs of rate * (rx_dma + tx_dma + engine memory traffic)

    When D > 1 the DMA engines can move only 1/D of the frames and the rest
    overflow the NICs' on-chip buffers (capture drops); and every memory
    access of the cores waits behind the queue, taking D times as long.

    Calibrated on Figure 14 (ACCEPTANCE.md §2 gives orderings only): ~20 Mp/s
    of 100-byte frames (forwarded) must pass, ~30 Mp/s of 64-byte frames
    must saturate it.
    """

    enabled: bool = False
    # calibrated: bus time per frame for one DMA direction (PCIe Gen3 TLPs
    # for descriptor and payload plus the memory write or read behind them)
    dma_ns: float = 14.95
    dma_ns_per_byte: float = 0.05
    # calibrated (Figure 14 orderings): one cache-line miss of a core to
    # local memory under load (Intel E5-2690: ~80 ns idle, more when the
    # memory system is busy); its wait grows by (D - 1) times this when the
    # bus is offered D > 1
    memory_access_ns: float = 120.0

    def dma(self, size: int) -> float:
        return self.dma_ns + self.dma_ns_per_byte * size

    def offered_load(self, rate_pps: float, size: int, forward: bool, engine_bus_ns: float) -> float:
        """Bus seconds per second that `rate_pps` frames of `size` bytes ask for."""
        return rate_pps * 1e-9 * (self.dma(size) * (2 if forward else 1) + engine_bus_ns)
