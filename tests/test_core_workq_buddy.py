"""Work-queue pairs and buddy-group placement (paper §3.2.1, §3.2.2)."""
import pytest

from engine.core import BuddyGroup, ChunkMeta, WorkQueue


def meta(i):
    return ChunkMeta(0, 0, i, 0, 1, i, 1)


@pytest.mark.parametrize("sp,sc,local", [(False, False, False), (True, False, False), (False, True, False),
                                         (True, True, False), (False, False, True)])
def test_workq_fifo_and_bounds(sp, sc, local):
    """The same queue with or without the single-producer/consumer paths,
    and as the simulator's one-thread ring."""
    q = WorkQueue(3, single_producer=sp, single_consumer=sc, local=local)
    assert q.capacity == 4
    assert [q.push(meta(i)) for i in range(5)] == [True] * 4 + [False]
    assert len(q) == 4
    assert [q.pop().chunk_id for _ in range(4)] == [0, 1, 2, 3]
    assert q.pop() is None and len(q) == 0


@pytest.mark.parametrize("single", [False, True])
def test_workq_of_one_holds_two_and_never_overwrites(single):
    # Vyukov's bounded queue needs two slots: with one, a second push would
    # overwrite the first (its full-slot sequence equals the next position)
    q = WorkQueue(1, single_producer=single, single_consumer=single)
    assert q.capacity == 2
    assert [q.push(meta(i)) for i in range(3)] == [True, True, False]
    assert [q.pop().chunk_id for _ in range(2)] == [0, 1]
    assert q.pop() is None


def test_workq_single_paths_wrap_around_many_times():
    """Slots are reused lap after lap: interleaved pushes and pops through
    both paths keep FIFO order and the bounds."""
    q = WorkQueue(4, single_producer=True, single_consumer=True)
    out, n = [], 0
    for lap in range(50):
        for _ in range(lap % 3 + 1):  # one left over from the last lap: never over 4
            assert q.push(meta(n))
            n += 1
        while len(q) > 1:
            out.append(q.pop().chunk_id)
    out += [m.chunk_id for m in iter(q.pop, None)]
    assert out == list(range(n))


def test_workq_local_ring_grows_in_order_up_to_its_capacity():
    """The one-thread ring starts small and doubles when full: elements keep
    their order across every growth, also from a ring that has wrapped, and
    the capacity (a power of two, as the shared queue's) still bounds it."""
    q = WorkQueue(100, local=True)
    assert q.capacity == 128
    out, n = [], 0
    for _ in range(5):  # wrap the first, small ring before it grows
        assert q.push(meta(n))
        n += 1
        out.append(q.pop().chunk_id)
    while len(q) < 128:
        assert q.push(meta(n))
        n += 1
        if n % 7 == 0:  # pops between the growths move the ring's start
            out.append(q.pop().chunk_id)
    assert not q.push(meta(n)) and len(q) == 128
    out += [m.chunk_id for m in iter(q.pop, None)]
    assert out == list(range(n)) and len(q) == 0


def test_workq_unknown_flag_is_refused():
    from engine.core import ffi, lib

    pq = ffi.new("struct wc_workq **")
    assert lib.wc_workq__create_flags(pq, 4, 8) == -22  # -EINVAL


def fill(q, n):
    for i in range(n):
        q.push(meta(i))


def group(threshold, lens, capacity=10):
    g = BuddyGroup(threshold)
    qs = [WorkQueue(64) for _ in lens]
    for q, n in zip(qs, lens):
        g.add(q, capacity)
        fill(q, n)
    return g


def test_place_stays_home_at_or_below_threshold():
    assert group(60, [6, 0, 0]).place(0) == 0      # 6 <= 60% of 10
    assert group(60, [7, 0, 3]).place(0) == 1      # above: shortest buddy
    assert group(60, [7, 5, 2]).place(0) == 2


def test_place_ties_go_home_then_lowest_index():
    assert group(10, [2, 2, 2]).place(0) == 0
    assert group(10, [3, 2, 2]).place(0) == 1
    assert group(10, [2, 3, 1, 1]).place(1) == 2


def test_threshold_100_never_offloads():
    g = group(100, [10, 0])
    assert g.place(0) == 0


@pytest.mark.parametrize("t", [0, 101, -5])
def test_threshold_range(t):
    with pytest.raises(ValueError, match=r"T=.*\(0, 100\]"):
        BuddyGroup(t)


def test_groups_are_separate():
    # Figure 5: RQ1+RQ2 form one group, RQ3+RQ4 another; RQ3 is idle but
    # a chunk of RQ1 can only go to RQ1 or RQ2.
    g1, g2 = BuddyGroup(50), BuddyGroup(50)
    rq = [WorkQueue(64) for _ in range(4)]
    g1.add(rq[0], 4), g1.add(rq[1], 4)
    g2.add(rq[2], 4), g2.add(rq[3], 4)
    fill(rq[0], 4), fill(rq[1], 3)
    assert g1.place(0) == 1 and len(g1) == 2
