"""DNA's closed form for bulk steps (engine/csrc/sim/eng_dna_bulk.c) gives
exactly the numbers of frame-by-frame simulation where it counts streaks of
frames, skips a full ring's frames, and stops at a full ring: small rings,
an application near the queue's frame rate, the bus dropping a share."""
from hypothesis import given, settings
from hypothesis import strategies as st

from driver.sim import Burst, simulate
from driver.sim.params import BusModel, NicModel, wire_time_ps
from engine.models import EngineConfig


def counters(run):
    return [{k: v for k, v in r.items() if k != "last_done_s"} for r in run.queues + [run.total]]


@settings(max_examples=120, deadline=None)
@given(packets=st.integers(1, 40_000), n_queues=st.integers(1, 6), nics=st.integers(1, 2),
       size=st.sampled_from([64, 100]),
       # the application's cost per frame, in units of its queue's frame gap
       pace=st.sampled_from([0.3, 0.97, 1.0, 1.004, 1.07, 1.3, 4.0]),
       ring=st.sampled_from([2, 3, 8, 64, 1024]), bus=st.sampled_from([0.0, 1.03, 1.08, 1.7, 9.0]),
       buffer_kb=st.sampled_from([0, 16]), forward=st.booleans())
def test_dna_bulk_equals_frame_by_frame(packets, n_queues, nics, size, pace, ring, bus, buffer_kb, forward):
    w = Burst.spread(packets, n_queues, size=size, nics=nics)
    step_ns = wire_time_ps(size, w.link_bps) * n_queues / 1000
    kw = dict(app_cost=pace * step_ns, forward=forward,
              nic=NicModel(ring_size=ring, ring_usable=ring - 1, rx_buffer_bytes=buffer_kb * 1024))
    if bus:
        # scale the bus's DMA cost so that the offered load is about `bus`
        kw["bus"] = BusModel(enabled=True, dma_ns=bus * 33.6 / (2 if forward else 1) / nics, dma_ns_per_byte=0)
    a = simulate(EngineConfig.parse("dna"), w, bulk=False, **kw)
    b = simulate(EngineConfig.parse("dna"), w, bulk=True, **kw)
    # DNA's bulk steps follow every frame's ring occupancy: max_buffered too
    assert counters(a) == counters(b)
    assert a.forwarded == b.forwarded
