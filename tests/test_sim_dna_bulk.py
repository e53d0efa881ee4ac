"""DNA's closed form for bulk steps (engine/csrc/sim/eng_dna_bulk.c) gives
exactly the numbers of frame-by-frame simulation, max_buffered and each
queue's last completion included: where it counts rows of frames that the
bus passes, skips a full ring's frames, stops at a full ring, and closes
the rest of a run whose every bus drop lets the application idle. A grid,
not random draws: the regimes lie in narrow bands of the application's
cost (a closed form that is wrong just outside its band must fail here)."""
import itertools

import pytest

from driver.sim import Burst, simulate
from driver.sim.params import BusModel, NicModel, wire_time_ps
from engine.models import EngineConfig

# the application's cost per frame, in units of its queue's frame gap: a
# bus drop ends every busy spell up to about 1.079 at load 1.08, and up to
# about 1.41 at 1.7; slower, the application falls behind
PACES = [0.3, 0.97, 1.0, 1.004, 1.02, 1.07, 1.077, 1.079, 1.3, 1.45, 1.55, 1.65, 4.0]


@pytest.mark.parametrize("pace", PACES)
def test_dna_bulk_equals_frame_by_frame(pace):
    for bus, n_queues, ring, nics, forward in itertools.product([0.0, 1.03, 1.08, 1.3, 1.7, 3.0, 9.0], [1, 2, 5],
                                                                [2, 3, 8, 1024], [1, 2], [False, True]):
        w = Burst.spread(20_000 + 7 * n_queues, n_queues, size=64, nics=nics)
        step_ns = wire_time_ps(64, w.link_bps) * n_queues / 1000
        kw = dict(app_cost=pace * step_ns, forward=forward, nic=NicModel(ring_size=ring, ring_usable=ring - 1))
        if bus:
            # scale the bus's DMA cost so that the offered load is about `bus`
            kw["bus"] = BusModel(enabled=True, dma_ns=bus * 33.6 / (2 if forward else 1) / nics,
                                 dma_ns_per_byte=0)
        a = simulate(EngineConfig.parse("dna"), w, bulk=False, **kw)
        b = simulate(EngineConfig.parse("dna"), w, bulk=True, **kw)
        case = dict(bus=bus, n_queues=n_queues, ring=ring, nics=nics, forward=forward)
        assert a.queues + [a.total] == b.queues + [b.total], case
        assert a.forwarded == b.forwarded, case
