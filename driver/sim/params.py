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


@dataclass(frozen=True)
class NicModel:
    """An Intel 82599 10 GbE controller as the paper configures it."""

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
