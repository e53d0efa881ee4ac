"""NIC models as data: the paper's 82599 and three faster NICs (issue 14).

    from driver.sim.nics import NICS, nic_model
    nic = nic_model("e810")          # ValueError naming the allowed names
    nic.link_bps, nic.reta_entries(6), nic.drop_en("dna", 1)

Every field of every model says where it comes from: a datasheet section,
or a Linux driver file and constant (drivers/net/ethernet/intel/ixgbe,
.../intel/i40e, .../intel/ice, .../mellanox/mlx5/core). What no public
source gives is written as a named assumption (ASSUMED_RX_BUFFER_BYTES),
and experiments/fig9_fast.py sweeps it to show how much results depend on it.

What the simulator takes from a model: the line rate (the generator's frame
gap, and the forwarding NIC's wire), the ring (configured size and the
descriptors an engine can hold), the on-chip receive buffer and what happens
to a frame with no descriptor (drop at once, or wait in the buffer), and the
redirection table that RSS steers a trace through (its size; every driver
here fills entry j with queue j mod n). The PCIe link is recorded but not
simulated: the bus model (BusModel, Figure 14) is calibrated on the paper's
host and 82599s only, and simulate() refuses it with another NIC.
NicModel.pcie_max_pps() derives what the link could carry (PCIe TLP costs,
Neugebauer et al., SIGCOMM 2018); describe() reports it next to the line
rate: the ConnectX-5's Gen3 x16 link carries fewer 64-byte frames than its
100 GbE line rate whether completions are batched or not, the XL710's Gen3
x8 is on the edge (below line rate with a completion TLP per frame, above
with four per TLP); the simulator does not model this (every frame reaches
the ring at line rate).

Every model keeps the paper's ring of 1,024 descriptors (paper §4: "Each NIC
receive ring is configured with a size of 1,024", `ethtool -G`), which each
driver here accepts (ring_default .. ring_max), so that the engines and
WireCAP's pool (M divides N) are the same on every NIC and only the NIC
differs.
"""
from __future__ import annotations

from driver.sim.params import NicModel

GBPS = 10**9

# NAMED ASSUMPTION: no datasheet or driver gives the on-chip receive packet
# buffer of the XL710, E810 or ConnectX-5 per port. We take the 82599's
# (IXGBE_RXPBSIZE_MAX, 512 KB). With these models' drop policy ("drop": a
# frame with no descriptor is discarded at once) the buffer holds nothing
# in the simulator, so results do not depend on it; fig9_fast's sensitivity
# rows show what it would change if the NIC held frames instead ("hold").
ASSUMED_RX_BUFFER_BYTES = 512 * 1024
ASSUMPTION_TEXT = ("on-chip receive buffer size not public: assumed 512 KB (the 82599's); frame footprint "
                   "as the 82599's (length + 64 B, 64 B units)")
# the paper's ring, accepted by every driver below (paper §4)
PAPER_RING = 1024

NICS: dict[str, NicModel] = {
    # Intel 82599 10 GbE: the paper's NIC; every default of NicModel
    # (driver/sim/params.py) with its source. Bit-identical to the model
    # before the registry existed.
    "82599": NicModel(),

    # Intel XL710 (700 series) 40 GbE, Linux i40e
    "xl710": NicModel(
        name="xl710",
        link_bps=40 * GBPS,             # 40GBASE: XL710 datasheet §1 (one 40 GbE port)
        ring_size=PAPER_RING,
        # i40e never fills the last descriptor either: I40E_DESC_UNUSED() in
        # i40e_txrx.h is ((ntc > ntu) ? 0 : count) + ntc - ntu - 1
        ring_usable=PAPER_RING - 1,
        ring_default=512,               # i40e.h I40E_DEFAULT_NUM_DESCRIPTORS
        ring_max=4096,                  # i40e.h I40E_MAX_NUM_DESCRIPTORS (8160 on later kernels: _XL710)
        # i40e_main.c i40e_sw_init(): pf->rss_size_max = BIT(func_caps.rss_table_entry_width);
        # the XL710 reports 6-bit entries (datasheet §7.1.8 PFQF_HLUT), 64 queues
        max_queues=64,
        # PF lookup table: PFQF_HLUT[0..127], four entries each (i40e_register.h
        # I40E_PFQF_HLUT_MAX_INDEX 127): 512, the driver's pf->rss_table_size;
        # i40e_fill_rss_lut(): lut[i] = i % rss_size
        reta_size=512,
        # a frame with no descriptor is discarded and counted per VSI in
        # GLV_RDPC (i40e_main.c i40e_stats_update_rx_discards(), ethtool rx_discards)
        no_descriptor="drop",
        rx_buffer_bytes=ASSUMED_RX_BUFFER_BYTES,
        pcie_gen=3, pcie_lanes=8,       # XL710 datasheet §1: PCIe v3.0 x8
        # i40e uses 32-byte receive descriptors, written back in place
        # (i40e_type.h union i40e_32byte_rx_desc; 16-byte ones only with
        # I40E_RX_DESC 16-byte builds)
        rx_completion_bytes=32,
        assumed=ASSUMPTION_TEXT,
    ),

    # Intel E810 (800 series) 100 GbE, Linux ice
    "e810": NicModel(
        name="e810",
        link_bps=100 * GBPS,            # E810-CAM2: one 100 GbE port at full rate
        ring_size=PAPER_RING,
        ring_usable=PAPER_RING - 1,     # ice_txrx.h ICE_DESC_UNUSED(): one descriptor kept empty
        ring_default=2048,              # ice.h ICE_DFLT_NUM_RX_DESC
        ring_max=8160,                  # ice.h ICE_MAX_NUM_DESC
        # ice_lib.c ice_vsi_set_rss_params(): a PF VSI may spread over
        # BIT(rss_table_entry_width) queues; the simulator holds at most 64
        # queues (WC_GROUP_MAX), so this is never the limit here
        max_queues=256,
        # ice_lib.c: a PF VSI's table is func_caps rss_table_size, 2,048
        # entries (ICE_LUT_PF_SIZE / ICE_AQC_GSET_RSS_LUT_TABLE_SIZE_2K);
        # ice_fill_rss_lut(): lut[i] = i % rss_size
        reta_size=2048,
        # ice_update_eth_stats(): GLV_RDPC, rx_discards, as on the XL710
        no_descriptor="drop",
        rx_buffer_bytes=ASSUMED_RX_BUFFER_BYTES,
        pcie_gen=4, pcie_lanes=16,      # E810 datasheet §1: PCIe v4.0 x16
        rx_completion_bytes=32,         # ice_lan_tx_rx.h union ice_32b_rx_flex_desc
        assumed=ASSUMPTION_TEXT,
    ),

    # NVIDIA/Mellanox ConnectX-5 100 GbE, Linux mlx5
    "cx5": NicModel(
        name="cx5",
        link_bps=100 * GBPS,            # ConnectX-5 EN: 100GbE
        ring_size=PAPER_RING,
        # the receive queue is a cyclic work queue whose producer may post
        # every entry (mlx5/core/wq.h mlx5_wq_cyc_is_full(): cur_sz == sz): all
        # N usable. Assumed: striding RQ off (ethtool --set-priv-flags
        # rx_striding_rq off), so one descriptor holds one frame
        ring_usable=PAPER_RING,
        ring_default=1024,              # en.h MLX5E_PARAMS_DEFAULT_LOG_RQ_SIZE 0xa
        ring_max=8192,                  # en.h MLX5E_PARAMS_MAXIMUM_LOG_RQ_SIZE 0xd
        # en.h MLX5E_MAX_NUM_CHANNELS (MLX5E_INDIR_RQT_SIZE / 2) = 128
        max_queues=128,
        # en/rqt.h MLX5E_INDIR_MIN_RQT_SIZE 256 (commit "net/mlx5e: Increase
        # indirection RQ table size to 256", 2021); en/rqt.c mlx5e_rqt_size():
        # max(256, roundup_pow_of_two(channels * MLX5E_UNIFORM_SPREAD_RQT_FACTOR 8));
        # mlx5e_rss_params_indir_init_uniform(): table[i] = i % channels
        reta_size=256,
        reta_per_queue=8,
        # ethtool rx_out_of_buffer: "packets dropped due to lack of software
        # buffers" (commit 593cf33829ad, "net/mlx5e: Allocate set of queue
        # counters per netdev"): dropped at once, per queue
        no_descriptor="drop",
        rx_buffer_bytes=ASSUMED_RX_BUFFER_BYTES,
        pcie_gen=3, pcie_lanes=16,      # ConnectX-5 EN product brief: PCIe Gen 3.0 x16
        # a 64-byte completion queue entry per frame (include/linux/mlx5/device.h
        # struct mlx5_cqe64), CQE compression off (ethtool priv-flag rx_cqe_compress)
        rx_completion_bytes=64,
        assumed=ASSUMPTION_TEXT,
    ),
}
DEFAULT_NIC = "82599"


def names() -> list[str]:
    return list(NICS)


def nic_model(name: str) -> NicModel:
    """The model called `name`; ValueError naming the allowed names."""
    try:
        return NICS[str(name)]
    except KeyError:
        raise ValueError(f"--nic {name!r}: unknown NIC model; choose one of {', '.join(NICS)}") from None


def check_queues(nic: NicModel, n_queues: int) -> int:
    """n_queues if RSS can spread over that many queues of `nic`, else a
    ValueError naming the limit and where it comes from."""
    n = int(n_queues)
    if n < 1 or n > nic.max_queues:
        bigger = [k for k, m in NICS.items() if m.max_queues >= n] if n >= 1 else []
        hint = f"; NIC models with that many: {', '.join(bigger)}" if bigger else ""
        raise ValueError(f"--queues {n}: RSS on the {nic.name} spreads over 1..{nic.max_queues} queues{hint}")
    return n


def describe() -> list[dict]:
    """One row per model (README, report): the numbers the simulator uses."""
    rows = []
    for key, m in NICS.items():
        rows.append({"nic": key, "link_gbps": m.link_bps // GBPS,
                     "line_rate_mpps_64B": round(m.line_rate_pps(64) / 1e6, 2),
                     "max_queues": m.max_queues, "ring": f"{m.ring_size} ({m.ring_usable} usable; default "
                     f"{m.ring_default}, max {m.ring_max})", "reta": m.reta_size if not m.reta_per_queue else
                     f">= {m.reta_size} ({m.reta_per_queue}/queue)", "rx_buffer_kb": m.rx_buffer_bytes // 1024,
                     "no_descriptor": m.no_descriptor, "pcie": f"Gen{m.pcie_gen} x{m.pcie_lanes}",
                     # 64-byte frames/s the PCIe link carries with a completion TLP per
                     # frame, and with one per 4 frames (driver batching); simulated only
                     # with simulate(pcie_writeback=k) (fig9_fast's pcie rows)
                     "pcie_mpps_64B": (round(m.pcie_max_pps(64, 1) / 1e6, 1), round(m.pcie_max_pps(64, 4) / 1e6, 1)),
                     "assumed": m.assumed})
    return rows
