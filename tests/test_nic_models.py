"""The NIC models (driver/sim/nics.py) on tiny inputs with exact, hand-worked counts.

Every case stalls one queue: DNA with an application that needs 1 ms per
packet (app_cost=1e6 ns) takes frame 0 at t = 0 and releases its descriptor
at exactly t = 1 ms = 10^9 ps; until then the ring holds what it can
(ring_usable), the on-chip buffer what it can (only when the NIC holds
frames), and every other frame is a capture drop.
"""
import dataclasses

import numpy as np
import pytest

from driver.sim import Burst, TraceInput, simulate
from driver.sim.nics import NICS, nic_model
from driver.sim.params import BusModel, wire_time_ps
from engine.models import EngineConfig
from traces import rss

DNA = EngineConfig.make("dna")
STALL_NS = 1e6  # 1 ms per packet
MS_PS = 10**9


def stalled(nic, packets, size=64, stall_ns=STALL_NS):
    run = simulate(DNA, Burst(packets, size=size, link_bps=nic.link_bps), app_cost=stall_ns, nic=nic)
    t = run.total
    assert t["sent"] == t["delivered"] + t["capture_drops"] + t["delivery_drops"] == packets
    return t


# ---- line rate --------------------------------------------------------------------
# 64-byte frames take 8 * (64 + 20) = 672 bits on the wire (preamble + IFG):
#   10 GbE  67,200 ps (14,880,952 p/s)    40 GbE 16,800 ps (59,523,810 p/s)
#   100 GbE  6,720 ps (148,809,524 p/s)
# Frame i arrives at i * gap; the frames that arrive before the first
# release at 1 ms are i = 0 .. ceil(10^9 / gap) - 1:
#   10 GbE  14,881 (frame 14,881 arrives at 1,000,003,200 ps)
#   40 GbE  59,524 (frame 59,524 arrives at 1,000,003,200 ps)
#   100 GbE 148,810 (frame 148,810 arrives at 1,000,003,200 ps)
# A burst of exactly that many frames loses all but what the ring (and a
# holding buffer: the 82599 with one queue keeps DROP_EN clear) took; one
# frame more arrives after the release and is delivered, so the drops stay.
LINE_RATE = {
    # nic: (gap ps, frames before 1 ms, frames the stalled queue holds)
    "82599": (67_200, 14_881, 1023 + 4096),  # ring N-1 + 512 KB / 128 B per 64-byte frame
    "xl710": (16_800, 59_524, 1023),         # i40e keeps one descriptor empty; no-descriptor frames dropped
    "e810": (6_720, 148_810, 1023),          # ice: the same
    "cx5": (6_720, 148_810, 1024),           # mlx5: every WQE usable; rx_out_of_buffer drops
}


@pytest.mark.parametrize("name", list(NICS))
def test_line_rate_gap(name):
    gap, _, _ = LINE_RATE[name]
    nic = nic_model(name)
    assert wire_time_ps(64, nic.link_bps) == gap
    assert round(nic.line_rate_pps(64) / 1e4) == {"82599": 1488, "xl710": 5952, "e810": 14881, "cx5": 14881}[name]


@pytest.mark.parametrize("name", list(NICS))
def test_a_line_rate_burst_until_the_first_release(name):
    gap, before, held = LINE_RATE[name]
    assert (before - 1) * gap < MS_PS < before * gap  # worked out above
    nic = nic_model(name)
    t = stalled(nic, before)
    assert t["delivered"] == held
    assert t["capture_drops"] == before - held
    t = stalled(nic, before + 1)  # arrives 3,200 ps after the release: it gets the descriptor
    assert t["delivered"] == held + 1
    assert t["capture_drops"] == before - held


def test_the_rate_decides_the_count():
    """The same 59,525 frames at 10 GbE last 4.0 ms: the queue takes one
    more frame at each of the releases at 1, 2, 3 and 4 ms (the last frame
    arrives at 59,524 * 67.2 ns = 4.0000 ms, after the fourth), so the
    count tells the rates apart."""
    xl = nic_model("xl710")
    slow = dataclasses.replace(xl, link_bps=10 * 10**9)
    assert 59_524 * 67_200 > 4 * MS_PS
    assert stalled(slow, 59_525)["delivered"] == 1023 + 4
    assert stalled(xl, 59_525)["delivered"] == 1023 + 1


# ---- the on-chip buffer ------------------------------------------------------------
# A frame occupies its length + 64 bytes, rounded up to 64-byte units:
#   64 B -> 128 B; 1,514 B -> 1,600 B. 512 KB = 524,288 B holds 4,096 frames
#   of 64 B, and 327 of 1,514 B (327 * 1,600 = 523,200; one more would need 524,800).

@pytest.mark.parametrize("name", list(NICS))
@pytest.mark.parametrize("size,fits", [(64, 4096), (1514, 327)])
def test_a_holding_buffer_absorbs_exactly_its_bytes(name, size, fits):
    """With the NIC holding frames (the 82599's behaviour with one queue;
    for the others the assumption fig9_fast sweeps), a 10,000-frame burst
    into a stalled queue: the ring takes ring_usable, the buffer `fits`,
    and exactly the rest is dropped as buffer overflow. The application
    needs 100 ms for its first frame here, longer than the burst at every
    rate (10,000 * 1,534 * 8 bits at 10 Gb/s: 12.3 ms)."""
    nic = dataclasses.replace(nic_model(name), no_descriptor="hold")
    packets = 10_000
    assert (packets - 1) * wire_time_ps(size, nic.link_bps) < 100 * MS_PS
    assert nic.rx_buffer_bytes == 512 * 1024
    t = stalled(nic, packets, size, stall_ns=1e8)
    assert t["delivered"] == nic.ring_usable + fits
    assert t["drops_fifo"] == packets - nic.ring_usable - fits
    assert t["drops_nodesc"] == 0


@pytest.mark.parametrize("name", ["xl710", "e810", "cx5"])
def test_a_dropping_nic_holds_nothing_whatever_its_buffer(name):
    """XL710, E810 and ConnectX-5 drop a frame with no descriptor at once:
    the (assumed) buffer size changes nothing: 10,000 frames, ring_usable
    delivered, the rest counted as no-descriptor drops."""
    for buffer in (0, 512 * 1024, 64 * 2**20):
        nic = dataclasses.replace(nic_model(name), rx_buffer_bytes=buffer)
        t = stalled(nic, 10_000)
        assert t["delivered"] == nic.ring_usable
        assert t["drops_nodesc"] == 10_000 - nic.ring_usable
        assert t["drops_fifo"] == 0


def test_the_82599_keeps_its_drop_rule():
    """ixgbe: DROP_EN set only with more than one queue (and not by NETMAP)."""
    nic = nic_model("82599")
    assert not nic.drop_en("dna", 1) and nic.drop_en("dna", 2) and not nic.drop_en("netmap", 6)
    for name in ("xl710", "e810", "cx5"):
        assert nic_model(name).drop_en("dna", 1) and nic_model(name).drop_en("netmap", 6)


# ---- the redirection table ------------------------------------------------------------
# Microsoft's RSS verification vectors (tests/test_rss.py), IPv4 with TCP ports:
#   66.9.149.187:2794 -> 161.142.100.80:1766   hash 0x51ccc178
#   38.27.205.30:48228 -> 209.142.163.6:2217   hash 0xafc7327f
# Entry = hash & (entries - 1); each driver fills entry j with queue j mod n.
# With n = 6 queues:
#   0x51ccc178: 128 -> 0x78 = 120 -> q0; 512 -> 0x178 = 376 -> q4;
#               2,048 -> 0x178 = 376 -> q4; 256 -> 0x78 = 120 -> q0
#   0xafc7327f: 128 -> 0x7f = 127 -> q1; 512 -> 0x07f = 127 -> q1;
#               2,048 -> 0x27f = 639 -> q3; 256 -> 0x7f = 127 -> q1
VECTORS = [("66.9.149.187", 2794, "161.142.100.80", 1766, 0x51CCC178),
           ("38.27.205.30", 48228, "209.142.163.6", 2217, 0xAFC7327F)]
EXPECTED = {"82599": (128, [0, 1]), "xl710": (512, [4, 1]), "e810": (2048, [4, 3]), "cx5": (256, [0, 1])}


def _hash(src, sport, dst, dport):
    import ipaddress

    data = (ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed
            + sport.to_bytes(2, "big") + dport.to_bytes(2, "big"))
    return rss.toeplitz_bytes(data)


@pytest.mark.parametrize("name", list(NICS))
def test_reta_maps_the_verification_hashes(name):
    entries, queues = EXPECTED[name]
    nic = nic_model(name)
    assert nic.reta_entries(6) == entries
    for (src, sport, dst, dport, h), q in zip(VECTORS, queues):
        assert _hash(src, sport, dst, dport) == h
        assert (h & (entries - 1)) % 6 == q


def test_mlx5_table_grows_with_channels():
    """mlx5e_rqt_size(): max(256, roundup_pow_of_two(8 * channels))."""
    cx5 = nic_model("cx5")
    assert [cx5.reta_entries(n) for n in (1, 32, 33, 64, 128)] == [256, 256, 512, 512, 1024]
    assert nic_model("e810").reta_entries(64) == 2048


def test_trace_steering_uses_the_nics_table():
    """The Fermilab-like trace steered through each table: the buckets are
    hash & (entries - 1) and every frame's queue is its bucket mod n."""
    from experiments.workloads import steered

    for name in NICS:
        nic = nic_model(name)
        tr = steered("fermilab-like", 6, nic.reta_entries(6), nic=name)
        hashed = tr.bucket != 0xFFFF
        assert tr.n_buckets == nic.reta_entries(6)
        assert int(tr.bucket[hashed].max()) < tr.n_buckets
        assert np.array_equal(tr.queue[hashed], (tr.bucket[hashed] % 6).astype(np.uint8))


# ---- refusals --------------------------------------------------------------------------

def test_unknown_nic_names_the_models():
    with pytest.raises(ValueError, match=r"^--nic 'x520': unknown NIC model; choose one of 82599, xl710, e810, cx5$"):
        nic_model("x520")


def test_queues_above_the_models_max():
    from experiments.points import sim_multi_pkt_handler

    with pytest.raises(ValueError, match=r"^--queues 17: RSS on the 82599 spreads over 1\.\.16 queues; "
                                         r"NIC models with that many: xl710, e810, cx5$"):
        from driver.sim.nics import check_queues

        check_queues(nic_model("82599"), 17)
    with pytest.raises(ValueError, match=r"^--queues 65: RSS on the xl710 spreads over 1\.\.64 queues; "
                                         r"NIC models with that many: e810, cx5$"):
        sim_multi_pkt_handler({"engine": "dna", "trace": "fermilab-like", "queues": 65, "x": 0, "nic": "xl710"})
    with pytest.raises(ValueError, match=r"^--queues 65: the simulator holds at most 64 queues"):
        sim_multi_pkt_handler({"engine": "dna", "trace": "fermilab-like", "queues": 65, "x": 0, "nic": "e810"})
    n = 17
    tr = TraceInput(ts_ns=np.arange(n, dtype=np.int64), queue=np.arange(n, dtype=np.uint8),
                    flow=np.arange(n, dtype=np.int32), size=np.full(n, 64, dtype=np.uint32), n_queues=n, n_flows=n)
    with pytest.raises(ValueError, match=r"^--queues 17: RSS on the 82599 spreads over 1\.\.16 queues"):
        simulate(DNA, tr, nic=nic_model("82599"))
    assert simulate(DNA, tr, nic=nic_model("xl710")).total["delivered"] == n


def test_a_generator_faster_than_the_link():
    with pytest.raises(ValueError, match=r"^--nic 82599: a 100 Gb/s generator cannot feed its 10 Gb/s link"):
        simulate(DNA, Burst(10, link_bps=100 * 10**9), nic=nic_model("82599"))


def test_the_bus_model_is_the_82599s():
    with pytest.raises(ValueError, match=r"^--nic e810: the bus model \(Figure 14\) is calibrated on the paper's "
                                         r"host with 82599s only"):
        simulate(DNA, Burst(10, link_bps=100 * 10**9), nic=nic_model("e810"), bus=BusModel(enabled=True))


def test_bad_policy_is_refused():
    with pytest.raises(ValueError, match=r"no_descriptor 'wait': choose one of ixgbe, drop, hold"):
        dataclasses.replace(nic_model("e810"), no_descriptor="wait")


# ---- the 82599 stays the paper's -------------------------------------------------------

def test_the_default_model_is_the_registry_82599():
    from driver.sim.params import NicModel

    assert nic_model("82599") == NicModel()
    assert (NicModel().ring_size, NicModel().ring_usable, NicModel().rx_buffer_bytes) == (1024, 1023, 512 * 1024)


def test_points_without_a_nic_key_keep_their_columns():
    from experiments.points import sim_pkt_handler

    plain = sim_pkt_handler({"engine": "dna", "x": 300, "P": 6000})
    named = sim_pkt_handler({"engine": "dna", "x": 300, "P": 6000, "nic": "82599"})
    assert "nic" not in plain and named["nic"] == "82599"
    assert {k: v for k, v in named.items() if k in plain} == plain


def test_the_parameter_schema_knows_every_model():
    from experiments import params

    assert params.NIC_NAMES == tuple(NICS)
    with pytest.raises(params.ParamError, match=r'^nic must be one of 82599, xl710, e810, cx5, got "x520"$'):
        params.check("nic", "x520")


# ---- the tools and the sweep -----------------------------------------------------------

def test_pkt_handler_runs_at_the_nics_line_rate(capsys):
    """pkt_handler --nic: 6,000 frames into a stalled-by-x = 300 DNA queue.
    Each packet takes 25.7 us (engine/app_cost.py at x = 300), so during the
    burst (6,000 * 6.72 ns = 40.3 us at 100 GbE) DNA finishes one packet:
    the ring's 1,024 (mlx5: all usable) + 1 descriptors take frames, the
    rest is dropped at once."""
    import json

    from experiments.tools import pkt_handler

    assert pkt_handler.main(["--engine", "dna", "--x", "300", "--burst", "6000", "--nic", "cx5", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["nic"], row["delivered"], row["drops_nodesc"], row["drops_fifo"]) == ("cx5", 1025, 4975, 0)
    assert pkt_handler.main(["--engine", "dna", "--x", "300", "--burst", "6000", "--json"]) == 0
    assert "nic" not in json.loads(capsys.readouterr().out)  # the paper's tool output, unchanged


def test_tools_refuse_an_unknown_nic(capsys):
    from experiments.tools import multi_pkt_handler, pkt_handler

    for main, argv in ((pkt_handler.main, ["--engine", "dna", "--burst", "10"]),
                       (multi_pkt_handler.main, ["--engine", "dna"])):
        with pytest.raises(SystemExit) as exc:
            main(argv + ["--nic", "x520"])
        assert exc.value.code == 2
        assert 'argument --nic: nic must be one of 82599, xl710, e810, cx5, got "x520"' in capsys.readouterr().err


def test_sweep_nic_axis_keys_points_as_before():
    from experiments import sweep as sw

    old, _ = sw.points(sw.grid_from_args("dna", x="300", P="1000"))
    both, _ = sw.points(sw.grid_from_args("dna", x="300", P="1000", nic="82599,e810"))
    assert old == both[:1] and "nic" not in old[0]
    assert both[1]["nic"] == "e810"
    rows = [sw.measure(p) for p in both]
    assert [r["nic"] for r in rows] == ["82599", "e810"]
    for r in rows:
        assert r["sent"] == r["delivered"] + r["capture_drops"] + r["delivery_drops"]
    with pytest.raises(ValueError, match=r"^--queues 17: RSS on the 82599 spreads over 1\.\.16 queues"):
        sw.points(sw.grid_from_args("dna", queues="17", trace="fermilab-like", nic="82599"))


# ---- the experiments ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["fig9_fast", "fig11_fast"])
def test_fast_experiments_balance_and_hold_their_claims(name):
    from experiments import reference, registry

    mod = registry.get(name)
    df = reference.compute(name)
    assert (df["sent"] == df["delivered"] + df["capture_drops"] + df["delivery_drops"]).all()
    assert set(df["nic"]) >= {"xl710", "e810", "cx5"}
    failed = [c.key for c in mod.claims(df) if not c.passed]
    assert mod.claims(df) and not failed
    assert mod.reading(df)


def test_fig11_fast_speeds_the_trace_to_the_link():
    from experiments import fig11_fast, registry

    cfg = registry.config("fig11_fast", quick=True)
    pts = fig11_fast.points(cfg)
    assert {(p["nic"], p.get("speed"), p["x"]) for p in pts} == {("xl710", 4.0, 75), ("e810", 10.0, 30),
                                                                 ("cx5", 10.0, 30)}
    with pytest.raises(ValueError, match=r"^x 301: with scale_load the filter runs are divided by the speed-up 4"):
        fig11_fast.points({**cfg, "x": 301})


def test_queue_profiler_steers_through_the_nics_table():
    """--nic 82599 gives the paper's steering exactly; --nic cx5 the same
    per-queue counts as the simulator's steering through mlx5's table."""
    import io

    from experiments.tools import queue_profiler
    from experiments.workloads import steered
    from traces import load_trace

    tr = load_trace("fermilab-like")
    assert np.array_equal(queue_profiler.nic_queues(tr, "82599", 6), tr.rss_queues(6))
    cx5 = nic_model("cx5")
    sim = steered("fermilab-like", 6, cx5.reta_entries(6), nic="cx5")
    assert np.array_equal(np.bincount(queue_profiler.nic_queues(tr, "cx5", 6), minlength=6),
                          np.bincount(sim.queue, minlength=6))
    out = io.StringIO()
    assert queue_profiler.main(["--queues", "6", "--nic", "82599"], out=out) == 0
    plain = io.StringIO()
    queue_profiler.main(["--queues", "6"], out=plain)
    assert out.getvalue() == plain.getvalue()


def test_every_model_configures_a_ring_its_driver_accepts():
    for name, nic in NICS.items():
        assert 64 <= nic.ring_size <= nic.ring_max, name
        assert nic.ring_default <= nic.ring_max
        assert nic.ring_size - 1 <= nic.ring_usable <= nic.ring_size
        assert nic.pcie_bps > nic.link_bps, name  # the link fits the PCIe link (payload, before TLP overheads)
        assert bool(nic.assumed) == (name != "82599")


def test_a_sweep_on_the_82599_records_its_config_as_before():
    from experiments import sweep as sw

    assert "nic" not in sw.grid_from_args("dna").as_config()
    assert sw.grid_from_args("dna", nic="e810").as_config()["nic"] == ["e810"]


def test_pcie_capacity_is_derived_from_tlp_costs():
    """Upstream bytes per frame: frame + 24 B per 256-byte TLP + completion
    + 24 B per completion TLP (Neugebauer et al. 2018).
      82599, 64 B:   64 + 24 + 16 + 24 = 128 B; Gen2 x8 = 4.0 GB/s -> 31.25 Mp/s
      cx5, 64 B:     64 + 24 + 64 + 24 = 176 B; Gen3 x16 = 16 * 8e9 * 128/130 / 8
                     = 15,753,846,153 B/s -> 89.51 Mp/s, below 148.81 Mp/s
      82599, 1514 B: 6 TLPs: 1514 + 144 + 16 + 24 = 1,698 B"""
    i, cx5, e810 = nic_model("82599"), nic_model("cx5"), nic_model("e810")
    assert i.pcie_rx_bytes(64) == 128 and cx5.pcie_rx_bytes(64) == 176 and i.pcie_rx_bytes(1514) == 1698
    assert i.pcie_rx_bytes(64, writeback_batch=4) == 64 + 24 + 16 + 6
    assert round(i.pcie_max_pps(64)) == 31_250_000
    assert round(cx5.pcie_max_pps(64) / 1e4) == 8951
    assert cx5.pcie_max_pps(64, 4) < cx5.line_rate_pps(64) < e810.pcie_max_pps(64)


# ---- the PCIe link (simulate(pcie_writeback=k)) -------------------------------------------

def test_pcie_carries_what_its_link_moves_exactly():
    """ConnectX-5 class, PCIe Gen3 x16: 8 GT/s x 128/130 x 16 lanes =
    126,030,769,216 b/s. A 64-byte frame costs 64 B of payload + 24 B of TLP
    header + a 64-byte CQE + its 24-byte TLP (one per frame, k = 1) = 176 B:
    89,510,489 frames/s, 60.151% of 100 GbE's 148,809,524 frames/s. A burst of
    100,000 frames into WireCAP-B-(256,500), lossless without PCIe
    (formula 128,033 frames), keeps floor(100,000 x 0.60151...) = 60,151 and
    loses the other 39,849 at the NIC."""
    nic = nic_model("cx5")
    assert nic.pcie_bps == 126_030_769_216
    assert nic.pcie_max_pps(64, 1) == pytest.approx(126_030_769_216 / 8 / 176)
    eng = EngineConfig.parse("wirecap-b:256:500")
    burst = Burst(100_000, size=64, link_bps=nic.link_bps)
    assert simulate(eng, burst, x=300, nic=nic).total["capture_drops"] == 0
    t = simulate(eng, burst, x=300, nic=nic, pcie_writeback=1).total
    assert (t["capture_drops"], t["delivered"]) == (39_849, 60_151)
    assert t["sent"] == t["delivered"] + t["capture_drops"] + t["delivery_drops"]


def test_pcie_that_carries_line_rate_changes_nothing():
    """The 82599's Gen2 x8 link and the E810's Gen4 x16 carry their line
    rate: every counter equals the run without the link modelled."""
    for name in ("82599", "e810"):
        nic = nic_model(name)
        burst = Burst(50_000, size=64, link_bps=nic.link_bps)
        for spec in ("dna", "wirecap-b:256:100"):
            eng = EngineConfig.parse(spec) if ":" in spec else EngineConfig.make(spec)
            assert (simulate(eng, burst, x=300, nic=nic, pcie_writeback=1).total
                    == simulate(eng, burst, x=300, nic=nic).total)


def test_pcie_refusals():
    nic = nic_model("cx5")
    eng = EngineConfig.parse("wirecap-b:256:500")
    with pytest.raises(ValueError, match=r"pcie_writeback=65: frames per completion TLP, 1\.\.64"):
        simulate(eng, Burst(10, size=64, link_bps=nic.link_bps), nic=nic, pcie_writeback=65)
    tr = TraceInput(ts_ns=np.arange(4, dtype=np.int64), queue=np.zeros(4, np.uint8), flow=np.zeros(4, np.int32),
                    size=np.full(4, 64, np.uint32), n_queues=1, n_flows=1)
    with pytest.raises(ValueError, match=r"pcie_writeback: the PCIe link is modelled for generator bursts"):
        simulate(eng, tr, nic=nic, pcie_writeback=1)
