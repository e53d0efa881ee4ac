"""Exact drop counts on tiny hand-computed scenarios, one per engine.

Ten 64-byte frames at 10 GbE line rate (one every 67.2 ns) into a ring of
four descriptors (three usable for the Type-II engines). The expected
numbers were worked out by hand from the models' rules (see each test).
"""
import pytest

from driver.sim import Burst, simulate
from driver.sim.params import NicModel
from engine.models import EngineConfig, PfRingCosts

TINY = NicModel(ring_size=4, ring_usable=3, rx_buffer_bytes=0)


def counts(run):
    t = run.total
    return t["sent"], t["delivered"], t["capture_drops"], t["delivery_drops"]


def test_dna_releases_descriptors_one_by_one():
    # consumer 200 ns/packet: batch {0} done at 200 ns, batch {1,2} at 600 ns.
    # frame 3 (201.6 ns) finds one released slot, 4 and 5 a full ring, 6
    # (403.2 ns) the slot frame 1 freed at 400 ns, 7 and 8 a full ring, 9
    # (604.8 ns) the slots of batch {1,2}.
    run = simulate(EngineConfig.make("dna"), Burst(10), nic=TINY, nic_buffer=False, app_cost=200)
    assert counts(run) == (10, 6, 4, 0)
    # DROP_EN is clear with one queue: a frame with no descriptor tries the
    # (here zero-sized) on-chip buffer and overflows it
    assert run.total["drops_fifo"] == 4 and run.total["drops_nodesc"] == 0
    assert run.total["max_buffered"] == 3


def test_dna_with_a_slower_consumer_keeps_exactly_the_ring():
    run = simulate(EngineConfig.make("dna"), Burst(10), nic=TINY, nic_buffer=False, app_cost=25_780)
    assert counts(run) == (10, 3, 7, 0)


def test_netmap_releases_at_sync():
    # frame 0 wakes poll() after 10 us; frames 1, 2 fill the three usable
    # slots; 3..9 are dropped; the sync at 10 us takes all three.
    run = simulate(EngineConfig.make("netmap"), Burst(10), nic=TINY, nic_buffer=False, app_cost=200)
    assert counts(run) == (10, 3, 7, 0)
    assert run.sim_time_s * 1e9 == 10_000 + 1_000 + 3 * 200  # wake-up, sync, three packets


def test_pfring_copy_into_a_full_pf_ring_is_a_delivery_drop():
    # the interrupt at 0 starts NAPI after 5 us; frames 3..9 find the ring
    # (3 usable) full; the poll copies 3 frames into a 2-slot pf_ring.
    run = simulate(EngineConfig.make("pfring"), Burst(10), nic=TINY, nic_buffer=False, app_cost=200,
                   pfring=PfRingCosts(slots=2))
    assert counts(run) == (10, 2, 7, 1)
    copy_ns = 300 + 0.9 * 64
    assert abs(run.sim_time_s * 1e9 - (5_000 + 3 * copy_ns + 2 * 200)) < 1e-6


def test_wirecap_segments_chunks_and_the_nic_buffer():
    # N=4, M=2, R=3; buffer of three 128-byte frame slots. Frames 0-3 fill
    # both segments (capture op 2.5 us starts at 67.2 ns when segment 0
    # fills); 4, 5, 6 wait in the buffer, 7, 8, 9 overflow it. At 2,567.2 ns
    # the op captures both chunks and attaches the last free chunk: 4 and 5
    # fill it. Frame 6 waits until chunk 0 is processed (2 x 25.78 us) and
    # recycled, then sits alone in a chunk until the 1 ms timeout copies it.
    nic = NicModel(ring_size=4, ring_usable=3, rx_buffer_bytes=3 * 128)
    run = simulate(EngineConfig.make("wirecap-b", 2, 3, ring_size=4), Burst(10), nic=nic, x=300)
    assert counts(run) == (10, 7, 3, 0)
    assert run.total["drops_fifo"] == 3 and run.total["chunks_copied"] == 1


def test_wirecap_without_buffer_drops_while_the_capture_op_runs():
    run = simulate(EngineConfig.make("wirecap-b", 2, 3, ring_size=4), Burst(10),
                   nic=NicModel(ring_size=4, ring_usable=3, rx_buffer_bytes=0), x=300)
    assert counts(run) == (10, 4, 6, 0)
    assert run.total["drops_nodesc"] == 0 and run.total["drops_fifo"] == 6


def _trace(ts_ns):
    import numpy as np

    from driver.sim import TraceInput

    n = len(ts_ns)
    return TraceInput(ts_ns=np.asarray(ts_ns, dtype=np.int64), queue=np.zeros(n, np.uint8),
                      flow=np.zeros(n, np.int32), size=np.full(n, 64, np.uint32), n_queues=1, n_flows=1)


def test_trace_times_are_taken_in_ns_exactly():
    """The C side scales ns to ps itself: three frames 1 s apart end the run
    exactly 2 s + one frame's processing after the first."""
    run = simulate(EngineConfig.parse("dna"), _trace([0, 10**9, 2 * 10**9]), x=0, app_cost=1000.0)
    assert run.total["delivered"] == 3
    assert run.sim_time_s == pytest.approx(2.000001, abs=1e-12)


def test_a_trace_past_the_clock_is_refused_by_name():
    """1kxun spans years: int64 picoseconds hold 106 days, and the run says
    so instead of wrapping around (which would look like unsorted times)."""
    import driver.sim as sim

    with pytest.raises(ValueError, match="2,000 days in.*106 days"):
        simulate(EngineConfig.parse("dna"), _trace([0, 2000 * 86400 * 10**9]))
    with pytest.raises(ValueError, match="past 106 days"):  # the C check, for callers of sim_run
        simulate(EngineConfig.parse("dna"), _trace([0, sim.lib.SIM_TS_NS_MAX + 1, 0]))
