"""The clock-free capture step (engine/csrc/wc_capture.h), driven directly.

Small pools (N=8 descriptors, M=4 cells, so two segments) and explicit
times: every test asserts the exact sequence of chunk moves the step makes,
which both backends inherit (the simulator's WireCAP model and the live
capture threads call the same two functions).
"""
import errno

import pytest

from engine.capture import NEVER, CaptureSet, CaptureUnit
from engine.core import BuddyGroup, ChunkMeta, CoreError, Pool, WorkQueue

TIMEOUT = 100


def unit(R=4, ring_id=0, capq_len=64, group=None):
    pool = Pool(ring_size=8, segment_cells=4, chunks=R, ring_id=ring_id)
    pool.open()  # a fresh pool: segment s gets chunk s
    return CaptureUnit(pool, WorkQueue(capq_len), WorkQueue(R), timeout=TIMEOUT, group=group)


def meta(chunk, first=0, count=4, seq=0, flags=0, src_chunk=0, src_cell=0, ring=0):
    return dict(nic_id=0, ring_id=ring, chunk_id=chunk, first_cell=first, pkt_count=count, seq=seq,
                flags=flags, src_chunk=src_chunk, src_cell=src_cell)


def same(m: ChunkMeta, want: dict) -> bool:
    return all(getattr(m, k) == v for k, v in want.items())


def test_full_chunk_is_captured_placed_home_and_its_segment_rearmed():
    u = unit()
    u.pool.rx(4)
    work, plan = u.plan(0)
    assert work and (plan.recycles, plan.full, plan.partial, plan.flush, plan.deadline) == (0, 1, 0, False, NEVER)
    assert u.step(plan, 0) == 2  # one capture, one attach
    (kind, dst, m), attached = u.events
    assert (kind, dst) == ("placed", 0) and same(m, meta(0))
    assert attached == ("attached", [2])  # FIFO free list: chunk 2 re-arms segment 0
    assert u.capq.pop() == m
    assert u.stats()["captured"] == 1 and u.stats()["attached"] == 1


def test_partial_chunk_waits_for_its_timeout_then_is_copied():
    u = unit()
    u.pool.rx(3)
    assert u.plan(10) == (False, u.plan(10)[1])
    assert u.plan(10)[1].deadline == 10 + TIMEOUT  # §3.2.1 case (3): blocked with a timeout, from now
    work, plan = u.plan(109)
    assert not work and plan.deadline == 110 and not plan.flush
    work, plan = u.plan(110)
    assert work and plan.flush and plan.partial == 3
    assert u.step(plan, 110) == 1
    copy = meta(2, count=3, flags=1, src_chunk=0, src_cell=0)  # into the first free chunk
    assert [e[0] for e in u.events] == ["copy", "placed"]
    assert same(u.events[0][1], copy) and same(u.events[1][2], copy)
    assert u.deadline == NEVER
    # the segment keeps its chunk: the next frame completes it, and only
    # that frame is captured from it
    u.pool.rx(1)
    work, plan = u.plan(111)
    assert work and plan.full == 1
    u.step(plan, 111)
    assert same(u.events[2][2], meta(0, first=3, count=1, seq=3))
    st = u.stats()
    assert (st["copied"], st["packets_copied"], st["captured"]) == (1, 3, 1)


def test_recycling_does_not_restart_the_partial_timeout():
    u = unit()
    u.pool.rx(4)
    u.run(0)
    m0 = u.capq.pop()
    u.pool.rx(2)                      # segment 1 partly filled at t=0
    assert u.plan(0)[1].deadline == TIMEOUT
    u.recycle_push(m0)
    work, plan = u.plan(50)
    assert work and plan.recycles == 1 and not plan.flush
    assert u.step(plan, 50) == 1 and u.stats()["recycled"] == 1
    assert u.deadline == TIMEOUT      # unchanged by the recycle
    work, plan = u.plan(TIMEOUT)
    assert work and plan.flush


def test_copy_without_a_free_chunk_keeps_the_frames_and_restarts_the_timeout():
    u = unit(R=3)
    u.pool.rx(4)
    u.run(0)                          # chunk 0 captured, chunk 2 re-arms segment 0: free list empty
    m0 = u.capq.pop()
    u.pool.rx(2)
    u.plan(0)
    work, plan = u.plan(TIMEOUT)
    assert work and plan.flush
    n_events = len(u.events)
    assert u.step(plan, TIMEOUT) == 0
    assert len(u.events) == n_events  # nothing moved, nothing lost
    assert u.deadline == 2 * TIMEOUT and u.stats()["copy_no_chunk"] == 1
    assert u.pool.partial == 2
    u.recycle_push(m0)
    u.run(150)                         # the recycle frees chunk 0; the timeout still runs
    assert u.deadline == 2 * TIMEOUT
    u.run(2 * TIMEOUT)
    assert same(u.events[-1][2], meta(0, count=2, seq=4, flags=1, src_chunk=1, src_cell=0))


def test_offload_to_the_least_busy_buddy_above_threshold():
    g = BuddyGroup(50)                 # home while the queue holds at most 2 of R=4 chunks
    a, b = unit(group=g), unit(ring_id=1, group=g)
    assert (a.member, b.member) == (0, 1)
    for _ in range(3):
        a.pool.rx(4)
        a.run(0)
    assert [e[1] for e in a.events if e[0] == "placed"] == [0, 0, 0]
    a.pool.rx(4)                       # the fourth: a's capture queue holds 3 > 50% of 4
    a.run(0)
    placed = [e for e in a.events if e[0] == "placed"]
    assert placed[-1][1] == 1 and same(placed[-1][2], meta(3, seq=12))
    assert len(a.capq) == 3 and b.capq.pop().chunk_id == 3
    st = a.stats()
    assert (st["offloaded_out"], st["offloaded_out_packets"], st["place_errors"]) == (1, 4, 0)


def test_full_capture_queue_recycles_the_chunk_and_counts_its_packets():
    u = unit(capq_len=2)
    u.capq.push(ChunkMeta(**{**meta(9), "gen": 1}))  # one slot left
    u.pool.rx(8)                       # both segments full
    assert u.step(u.plan(0)[1], 0) == 4  # two captures, two attaches
    assert [e[0] for e in u.events] == ["placed", "attached"]
    assert u.events[1] == ("attached", [2, 3])
    st = u.stats()
    assert (st["overflows"], st["overflow_packets"]) == (1, 4)
    assert u.faults() == 1             # what the simulator checks after each step
    assert u.pool.state(1) == "free"   # the pool stays consistent
    u.pool.check()


def test_recycle_errors_are_counted_by_reason():
    u = unit()
    u.pool.rx(4)
    u.run(0)
    m0 = u.capq.pop()
    u.recycle_push(m0)
    u.recycle_push(m0)                 # double recycle
    u.recycle_push(ChunkMeta(**{**meta(1), "gen": 0, "ring_id": 5}))  # foreign
    u.recycle_push(ChunkMeta(**{**meta(1), "gen": 0}))  # still attached
    assert u.faults() == 0
    u.run(1)
    st = u.stats()
    assert (st["recycled"], st["recycle_ealready"], st["recycle_exdev"], st["recycle_ebusy"]) == (1, 1, 1, 1)
    assert u.faults() == 3


def test_forwarded_chunk_is_recycled_after_its_last_send_completes():
    u = unit()
    m = ChunkMeta(**{**meta(0), "gen": 1})
    assert u.release(m) is True        # nothing in flight: recycle now
    u.tx_hold(0)
    u.tx_hold(0)
    assert u.release(m) is False       # kept until the sends complete
    assert u.tx_done(0) is None
    assert u.tx_done(0) == m
    assert u.tx_done(0) is None        # no send outstanding: nothing happens
    with pytest.raises(CoreError) as e:
        u.tx_hold(4)
    assert e.value.errno == errno.ERANGE


def test_owner_table_routes_by_nic_and_ring():
    s = CaptureSet()
    a, b = unit(ring_id=3), unit(ring_id=7)
    s.add(0, 3, a)
    s.add(0, 7, b)
    m = ChunkMeta(**{**meta(0), "gen": 1, "ring_id": 7})
    assert s.owner(m) is b
    assert s.owner(ChunkMeta(**{**meta(0), "gen": 1, "ring_id": 3})) is a
    assert s.owner(ChunkMeta(**{**meta(0), "gen": 1, "ring_id": 7, "nic_id": 1})) is None
    assert s.owner(ChunkMeta(**{**meta(0), "gen": 1, "ring_id": 4})) is None
    with pytest.raises(CoreError) as e:
        s.add(0, 7, a)
    assert e.value.errno == errno.EEXIST
    with pytest.raises(CoreError) as e:
        s.add(0, 1024, a)
    assert e.value.errno == errno.EINVAL


def test_invalid_unit_is_refused():
    pool = Pool(ring_size=8, segment_cells=4, chunks=4)
    with pytest.raises(CoreError) as e:
        CaptureUnit(pool, WorkQueue(4), WorkQueue(4), timeout=0)
    assert e.value.errno == errno.EINVAL
