"""Bulk steps (runs of generator frames counted in closed form) give exactly
the numbers of frame-by-frame simulation."""
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from driver.sim import Burst, simulate
from driver.sim.params import BusModel, NicModel
from engine.models import EngineConfig


# max_buffered is a diagnostic that bulk steps sample at run ends only
DIAGNOSTIC = {"max_buffered", "last_done_s"}


def strip(rows):
    return [{k: v for k, v in r.items() if k not in DIAGNOSTIC} for r in rows]


def same(a, b):
    assert strip(a.queues) == strip(b.queues)
    assert strip([a.total]) == strip([b.total])
    assert a.forwarded == b.forwarded


@settings(max_examples=150, deadline=None)
@given(engine=st.sampled_from(["dna", "wirecap-b:64:40", "wirecap-b:256:20", "wirecap-a:128:30:50",
                               "wirecap-a:256:10:30", "netmap", "pfring"]),
       packets=st.integers(1, 60_000), n_queues=st.integers(1, 6), nics=st.integers(1, 2),
       size=st.sampled_from([64, 100, 1500]), x=st.sampled_from([0, 1, 300]),
       app_cost=st.sampled_from([None, 30.0, 150.0, 900.0]), forward=st.booleans(),
       bus=st.sampled_from([0.0, 1.0, 1.7]), buffer_kb=st.sampled_from([0, 16, 512]))
def test_bulk_equals_frame_by_frame(engine, packets, n_queues, nics, size, x, app_cost, forward, bus,
                                    buffer_kb):
    e = EngineConfig.parse(engine)
    w = Burst.spread(packets, n_queues, size=size, nics=nics)
    kw = dict(x=x, app_cost=app_cost, forward=forward, nic=NicModel(rx_buffer_bytes=buffer_kb * 1024))
    if bus:
        # bus on: scale its DMA cost so that the offered load is about `bus`
        kw["bus"] = BusModel(enabled=True, dma_ns=bus * 33.6 / (2 if forward else 1) / nics, dma_ns_per_byte=0)
    a = simulate(e, w, bulk=False, **kw)
    b = simulate(e, w, bulk=True, **kw)
    same(a, b)


def test_bulk_steps_are_used_and_cheap():
    w = Burst.spread(2_000_000, 6, nics=2)
    run = simulate(EngineConfig.parse("wirecap-a:256:100:60"), w, forward=True,
                   bus=BusModel(enabled=True))
    assert run.bulk_steps > 0
    assert run.events + run.bulk_steps < run.total["sent"] / 20
    assert run.total["sent"] == 4_000_000
