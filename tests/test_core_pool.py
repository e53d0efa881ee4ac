"""The ring-buffer pool (paper §3.2.1), driven directly through cffi."""
import dataclasses

import pytest

from engine.core import CoreError, Pool


def small_pool(**kw):
    args = dict(ring_size=8, segment_cells=4, chunks=4, nic_id=1, ring_id=2)
    args.update(kw)
    return Pool(**args)


@pytest.mark.parametrize("n,m,r,message", [
    (1024, 300, 100, "M=300: M must divide the ring size N=1024 (paper §3.2.1"),
    (1024, 256, 4, "R=4: R must exceed N/M = 4 (paper §3.2.1"),
    (1024, 256, 3, "R=3: R must exceed N/M = 4 (paper §3.2.1"),
    (8, 3, 10, "M=3: M must divide the ring size N=8 (paper §3.2.1"),
    (8, 0, 10, "M=0: M must be at least 1 (paper §3.2.1"),
    (0, 4, 10, "N=0: N must be 1..65536 descriptors (got N=0)"),
    (131072, 256, 600, "N=131072: N must be 1..65536 descriptors (got N=131072)"),
])
def test_create_rejects_bad_geometry_naming_the_parameter(n, m, r, message):
    with pytest.raises(ValueError) as exc:
        Pool(ring_size=n, segment_cells=m, chunks=r)
    assert str(exc.value).startswith(message)


def test_open_attaches_every_segment():
    p = small_pool()
    assert p.ready == 0 and p.bare_segments == 2
    assert p.open() == 2
    assert p.ready == 8 and p.bare_segments == 0 and p.free_chunks == 2
    assert [p.state(c) for c in range(4)] == ["attached", "attached", "free", "free"]
    with pytest.raises(CoreError):
        p.open()


def test_chunk_life_cycle_exact_trace():
    p = small_pool()
    p.open()
    assert p.rx(3) == 0 and p.ready == 5 and p.partial == 3 and p.full == 0
    assert p.capture() == []                      # nothing full, no flush
    assert p.rx(1) == 1 and p.full == 1           # segment 0 complete
    (m,) = p.capture()
    assert (m.chunk_id, m.first_cell, m.pkt_count, m.seq, m.copied) == (0, 0, 4, 0, False)
    assert (m.nic_id, m.ring_id) == (1, 2)
    assert p.state(0) == "captured" and p.bare_segments == 1
    assert p.ready == 4                           # segment 1 only; segment 0 is bare
    assert p.attach() == [2]                      # FIFO free list: chunk 2 next
    assert p.ready == 8
    p.recycle(m)
    assert p.state(0) == "free" and p.free_chunks == 2
    p.check()
    assert p.stats()["chunks_recycled"] == 1


def test_ring_stalls_at_bare_segment_and_resumes_after_recycle():
    p = small_pool(chunks=3)
    p.open()
    p.rx(8)                                       # both segments full
    metas = p.capture()
    assert [m.chunk_id for m in metas] == [0, 1] and [m.seq for m in metas] == [0, 4]
    assert p.attach() == [2]                      # one free chunk for two bare segments
    assert p.ready == 4
    p.rx(4)
    assert p.ready == 0                           # head segment full, next one bare
    with pytest.raises(CoreError):
        p.rx(1)
    p.recycle(metas[0])
    assert p.attach() == [0] and p.ready == 4     # the bare segment at the head re-armed
    (m,) = p.capture()
    assert m.chunk_id == 2 and m.seq == 8


def test_partial_chunk_timeout_copy():
    p = small_pool()
    p.open()
    p.rx(3)
    (m,) = p.capture(flush=True)
    assert m.copied and (m.chunk_id, m.first_cell, m.pkt_count, m.seq) == (2, 0, 3, 0)
    assert (m.src_chunk, m.src_cell) == (0, 0)
    assert p.partial == 0 and p.capture(flush=True) == []   # nothing new to copy
    p.rx(1)                                        # segment 0 completes: one frame left in it
    (m2,) = p.capture(flush=True)                  # a full chunk wins over flushing
    assert not m2.copied and (m2.chunk_id, m2.first_cell, m2.pkt_count, m2.seq) == (0, 3, 1, 3)
    assert p.stats()["packets_copied"] == 3
    p.recycle(m)
    p.recycle(m2)
    p.check()


def test_partial_copy_needs_a_free_chunk():
    p = small_pool(chunks=3)
    p.open()
    p.rx(4)
    (m,) = p.capture()                             # segment 0 bare, chunk 2 still free
    p.attach()
    p.rx(2)                                        # partial in segment 1; no free chunk left
    assert p.free_chunks == 0
    assert p.capture(flush=True) == []
    p.recycle(m)
    (c,) = p.capture(flush=True)
    assert c.copied and c.pkt_count == 2 and c.seq == 4


def _captured_pool():
    p = small_pool()
    p.open()
    p.rx(4)
    (m,) = p.capture()
    return p, m


@pytest.mark.parametrize("mutate,reason", [
    (dict(nic_id=9), "foreign chunk"),
    (dict(ring_id=0), "foreign chunk"),
    (dict(chunk_id=4), "out of range"),
    (dict(chunk_id=1), "still attached"),
    (dict(chunk_id=3), "already free"),
    (dict(gen=7), "do not match"),
    (dict(pkt_count=3), "do not match"),
    (dict(first_cell=1), "do not match"),
])
def test_recycle_rejects_bad_metadata_and_leaves_pool_unchanged(mutate, reason):
    p, m = _captured_pool()
    before = p.snapshot()
    with pytest.raises(CoreError, match=reason):
        p.recycle(dataclasses.replace(m, **mutate))
    assert p.snapshot() == before
    assert p.stats()["recycle_errors"] == 1
    p.recycle(m)                                   # the genuine metadata still work
    p.check()


def test_double_recycle_and_stale_generation():
    p, m = _captured_pool()
    p.recycle(m)
    before = p.snapshot()
    with pytest.raises(CoreError, match="double recycle"):
        p.recycle(m)
    assert p.snapshot() == before
    # the chunk comes round again: the old metadata carry an old generation
    p.attach()
    for _ in range(6):
        p.rx(4)
        for c in p.capture():
            if c.chunk_id == m.chunk_id:
                with pytest.raises(CoreError, match="do not match"):
                    p.recycle(m)
                p.recycle(c)
                p.check()
                return
            p.recycle(c)
        p.attach()
    pytest.fail("chunk 0 was never captured again")


def test_close_detaches_and_captured_chunks_stay_recyclable():
    p, m = _captured_pool()
    p.attach()
    p.rx(2)
    assert p.close() == 2
    assert p.ready == 0 and p.state(m.chunk_id) == "captured"
    p.recycle(m)
    assert p.free_chunks == 4
    p.check()
