"""PF_RING's model on its queues' own clocks gives the numbers of the
event-by-event model (engine/csrc/sim/eng_pfring.c, "Each queue on its own
clock"), pinned on small inputs at the edges of that scheme: a burst
ending exactly at a NAPI poll's weight, arrivals tied with an interrupt
(the ITR boundary), a poll's start and end and a packet's completion,
a preempted packet's stale completion tied with the poll that follows,
ksoftirqd taking over and trading CFS turns with the application, frames
waiting in the NIC's buffer, bus drops, forwarding.

The expected numbers come from the model before that change (every
interrupt, poll and packet an event in the main heap), run on these very
inputs; they were not derived from the new code.
"""
import numpy as np
import pytest

from driver.sim import Burst, TraceInput, simulate
from driver.sim.params import BusModel, NicModel
from engine.models import EngineConfig, PfRingCosts

PF = EngineConfig.parse("pfring")
TINY = NicModel(ring_size=8, ring_usable=7, rx_buffer_bytes=0)


def trace(ts_ns, queue, n_queues, size=60):
    n = len(ts_ns)
    return TraceInput(ts_ns=np.asarray(ts_ns, dtype=np.int64), queue=np.asarray(queue, dtype=np.uint8),
                      flow=np.asarray(queue, dtype=np.int32), size=np.full(n, size, dtype=np.uint32),
                      n_queues=n_queues, n_flows=n_queues)


# 60-byte frames: one NAPI copy takes 300 + 0.9 * 60 = 354 ns (PfRingCosts).
# The interrupt at 0 starts a poll at 5 us; the frame arriving exactly then
# is in it (arrivals first), six copies end at 7,124 ns, when another frame
# arrives; it raises the next interrupt at the ITR boundary, 50 us, when a
# frame arrives again and, with packets of 21,438 ns from 7,124 ns, the
# application's second packet completes (the interrupt, raised earlier,
# goes first and preempts a finished packet).
TIES = [0, 1_000, 2_000, 3_000, 4_000, 5_000, 7_124, 50_000, 120_000]
APP_TIED = (50_000 - 7_124) / 2

# The interrupt at 0 starts a poll at 5 us that copies one frame by
# 5,354 ns, when the application starts its packet; the interrupt at 50 us
# preempts it, and its poll copies two frames from 55,000 to 55,708 ns. The
# preempted packet's completion, stale, falls on that poll's start, its
# end, or between (the model handles interrupt, poll start and poll end in
# one step when nothing else of the queue's comes first).
STALE = [0, 50_000, 55_000, 55_708, 100_000]
STALE_AT_START = 55_000 - 5_354


CASES = {
    # 64 frames arrive before the first poll: it copies exactly its weight,
    # the next finds nothing (napi_complete from poll_start)
    "burst at the poll weight": lambda: simulate(PF, Burst(64), app_cost=200),
    "burst of two poll weights": lambda: simulate(PF, Burst(128), app_cost=200, nic_buffer=False),
    "arrivals tied with poll, interrupt, completion": lambda: simulate(PF, trace(TIES, [0] * 9, 1), app_cost=APP_TIED),
    "completion just before the interrupt": lambda: simulate(PF, trace(TIES, [0] * 9, 1), app_cost=APP_TIED - 1),
    "completion just after the interrupt": lambda: simulate(PF, trace(TIES, [0] * 9, 1), app_cost=APP_TIED + 1),
    "ties on two queues": lambda: simulate(PF, trace(sorted(TIES * 2), [0, 1] * 9, 2), app_cost=APP_TIED),
    "stale completion tied with the poll start": lambda: simulate(PF, trace(STALE, [0] * 5, 1), app_cost=STALE_AT_START),
    "stale completion between poll start and end": lambda: simulate(PF, trace(STALE, [0] * 5, 1),
                                                                    app_cost=STALE_AT_START + 354),
    "stale completion just before the poll end": lambda: simulate(PF, trace(STALE, [0] * 5, 1),
                                                                  app_cost=STALE_AT_START + 707),
    "stale completion tied with the poll end": lambda: simulate(PF, trace(STALE, [0] * 5, 1),
                                                                app_cost=STALE_AT_START + 708),
    "stale ties on two queues": lambda: simulate(PF, trace(sorted(STALE * 2), [0, 1] * 5, 2), app_cost=STALE_AT_START),
    "ITR of zero, weight one": lambda: simulate(PF, trace(TIES, [0] * 9, 1), app_cost=APP_TIED,
                                                 pfring=PfRingCosts(itr_us=0.0, napi_weight=1)),
    "weight three": lambda: simulate(PF, trace(TIES, [0] * 9, 1), app_cost=APP_TIED, pfring=PfRingCosts(napi_weight=3)),
    # a softirq budget of 256 frames: ksoftirqd takes over, the application
    # first, then 200 us turns each (the numbers depend on the slice)
    "ksoftirqd handover": lambda: simulate(
        PF, Burst.spread(50_000, 2), app_cost=500,
        pfring=PfRingCosts(softirq_packets=256, softirq_ms=0.05, slice_ms=0.2)),
    "ksoftirqd, one queue, NIC buffer": lambda: simulate(
        PF, Burst(20_000), app_cost=500, pfring=PfRingCosts(softirq_packets=256, softirq_ms=0.05, slice_ms=0.2)),
    "pf_ring of two slots": lambda: simulate(PF, Burst(300), app_cost=1_000, nic=TINY, nic_buffer=False,
                                              pfring=PfRingCosts(slots=2)),
    "free application": lambda: simulate(PF, Burst.spread(3_000, 3), app_cost=0, nic=TINY),
    "frames wait in the NIC buffer": lambda: simulate(PF, Burst(50_000), app_cost=1_000),
    "bus drops, two NICs": lambda: simulate(PF, Burst.spread(20_000, 2, nics=2), x=0, forward=True,
                                            bus=BusModel(enabled=True)),
    "forwarding": lambda: simulate(PF, Burst.spread(5_000, 3), x=100, forward=True, nic=TINY),
}

# With DROP_EN set (more than one queue) a trace's frames are taken in the
# core's loop (quiet.c, ops->take) but for a queue's last arrival, which
# goes the usual way, and, with the queues' events in the main heap (flow
# tracking), a frame that raises an interrupt. Their numbers too come from
# the model before that change.
LAST = [0, 1_000, 50_000, 50_000, 50_000, 50_000, 60_000]
CASES.update({
    "last arrivals tied on two queues": lambda: simulate(PF, trace(LAST, [0, 1, 0, 1, 1, 0, 0], 2),
                                                          app_cost=APP_TIED),
    "last arrival tied with another queue's": lambda: simulate(PF, trace(LAST, [0, 1, 0, 1, 1, 0, 1], 2),
                                                                app_cost=APP_TIED),
    "ties on two queues, flows tracked": lambda: simulate(PF, trace(sorted(TIES * 2), [0, 1] * 9, 2),
                                                           app_cost=APP_TIED, track_flows=True),
    "stale ties on two queues, flows tracked": lambda: simulate(PF, trace(sorted(STALE * 2), [0, 1] * 5, 2),
                                                                 app_cost=STALE_AT_START, track_flows=True),
    "forwarding a trace on two queues": lambda: simulate(PF, trace(sorted(TIES * 2), [0, 1] * 9, 2),
                                                          app_cost=APP_TIED, forward=True),
    "pf_ring of two slots, a trace on two queues": lambda: simulate(
        PF, trace(sorted(TIES * 2), [0, 1] * 9, 2), app_cost=100_000, pfring=PfRingCosts(slots=2)),
    "no descriptor, a trace on two queues": lambda: simulate(PF, trace(list(range(0, 40_000, 500)), [0, 1] * 40, 2),
                                                              app_cost=1_000, nic=TINY),
})


def pinned(run):
    return ([(q["sent"], q["delivered"], q["capture_drops"], q["drops_nodesc"], q["drops_fifo"], q["drops_bus"],
              q["delivery_drops"], q["max_buffered"], q["received"]) for q in run.queues],
            round(run.sim_time_s * 1e12))


# (per queue: sent, delivered, capture drops, no descriptor, buffer overflow,
#  bus, delivery drops, max buffered, received), end time in ps
EXPECTED = {
    'ITR of zero, weight one': ([
        (9, 9, 0, 0, 0, 0, 0, 7, 0),
    ], 211128000),
    'arrivals tied with poll, interrupt, completion': ([
        (9, 9, 0, 0, 0, 0, 0, 7, 0),
    ], 211128000),
    'burst at the poll weight': ([
        (64, 64, 0, 0, 0, 0, 0, 64, 0),
    ], 40686400),
    'burst of two poll weights': ([
        (128, 128, 0, 0, 0, 0, 0, 128, 0),
    ], 76372800),
    'bus drops, two NICs': ([
        (10000, 4067, 5933, 5189, 0, 744, 0, 3008, 4067),
        (10000, 4067, 5933, 5189, 0, 744, 0, 3008, 4067),
        (10000, 4067, 5933, 5189, 0, 744, 0, 3008, 4067),
        (10000, 4067, 5933, 5189, 0, 744, 0, 3008, 4067),
    ], 2019278133),
    'completion just after the interrupt': ([
        (9, 9, 0, 0, 0, 0, 0, 7, 0),
    ], 211137000),
    'completion just before the interrupt': ([
        (9, 9, 0, 0, 0, 0, 0, 6, 0),
    ], 211119000),
    'forwarding': ([
        (1667, 56, 1611, 1611, 0, 0, 0, 22, 56),
        (1667, 56, 1611, 1611, 0, 0, 0, 22, 56),
        (1666, 56, 1610, 1610, 0, 0, 0, 22, 56),
    ], 547360000),
    'frames wait in the NIC buffer': ([
        (50000, 8127, 41873, 0, 41873, 0, 0, 5119, 0),
    ], 11038215200),
    'free application': ([
        (1000, 35, 965, 965, 0, 0, 0, 7, 0),
        (1000, 35, 965, 965, 0, 0, 0, 7, 0),
        (1000, 35, 965, 965, 0, 0, 0, 7, 0),
    ], 207637600),
    'ksoftirqd handover': ([
        (25000, 5861, 19139, 19139, 0, 0, 0, 2031, 0),
        (25000, 5861, 19139, 19139, 0, 0, 0, 2031, 0),
    ], 5048872000),
    'ksoftirqd, one queue, NIC buffer': ([
        (20000, 7039, 12961, 0, 12961, 0, 0, 2447, 0),
    ], 6041646400),
    'pf_ring of two slots': ([
        (300, 4, 286, 0, 286, 0, 10, 2, 0),
    ], 59503200),
    'ties on two queues': ([
        (9, 9, 0, 0, 0, 0, 0, 7, 0),
        (9, 9, 0, 0, 0, 0, 0, 7, 0),
    ], 211128000),
    'stale completion tied with the poll start': ([
        (5, 5, 0, 0, 0, 0, 0, 4, 0),
    ], 265000000),
    'stale completion between poll start and end': ([
        (5, 5, 0, 0, 0, 0, 0, 4, 0),
    ], 266770000),
    'stale completion just before the poll end': ([
        (5, 5, 0, 0, 0, 0, 0, 4, 0),
    ], 268535000),
    'stale completion tied with the poll end': ([
        (5, 5, 0, 0, 0, 0, 0, 4, 0),
    ], 268540000),
    'stale ties on two queues': ([
        (5, 5, 0, 0, 0, 0, 0, 4, 0),
        (5, 5, 0, 0, 0, 0, 0, 4, 0),
    ], 265000000),
    'weight three': ([
        (9, 9, 0, 0, 0, 0, 0, 7, 0),
    ], 211128000),
    'forwarding a trace on two queues': ([
        (9, 9, 0, 0, 0, 0, 0, 7, 9),
        (9, 9, 0, 0, 0, 0, 0, 7, 9),
    ], 211128000),
    "last arrival tied with another queue's": ([
        (3, 3, 0, 0, 0, 0, 0, 2, 0),
        (4, 4, 0, 0, 0, 0, 0, 2, 0),
    ], 127792000),
    'last arrivals tied on two queues': ([
        (4, 4, 0, 0, 0, 0, 0, 2, 0),
        (3, 3, 0, 0, 0, 0, 0, 2, 0),
    ], 126792000),
    'no descriptor, a trace on two queues': ([
        (40, 13, 27, 27, 0, 0, 0, 7, 0),
        (40, 13, 27, 27, 0, 0, 0, 7, 0),
    ], 64978000),
    'pf_ring of two slots, a trace on two queues': ([
        (9, 3, 0, 0, 0, 0, 6, 2, 0),
        (9, 3, 0, 0, 0, 0, 6, 2, 0),
    ], 318186000),
    'stale ties on two queues, flows tracked': ([
        (5, 5, 0, 0, 0, 0, 0, 4, 0),
        (5, 5, 0, 0, 0, 0, 0, 4, 0),
    ], 265000000),
    'ties on two queues, flows tracked': ([
        (9, 9, 0, 0, 0, 0, 0, 7, 0),
        (9, 9, 0, 0, 0, 0, 0, 7, 0),
    ], 211128000),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_pfring_counts_are_those_of_the_event_by_event_model(name):
    assert pinned(CASES[name]()) == EXPECTED[name]
