"""WireCAP-A's offloading policies in the simulator (beyond the paper):
chunk (the paper's), bucket (redirection-table moves, no flow split) and
hybrid, on a crafted trace whose every number can be worked out by hand.

Two queues, an 8-entry redirection table (ixgbe's default: bucket b ->
queue b mod 2). Buckets 0, 2 and 4 (queue 0) each send a frame every
15 us, bucket 1 (queue 1) one every 100 us; four flows per bucket. At 6 us
a frame, queue 0's thread can take 166.7 kp/s of its 200 kp/s.
With non_ip, queue 0 also gets a frame every 50 us that RSS does not hash.
"""
import dataclasses

import numpy as np
import pytest

from driver.sim import BUCKET_NONE, Burst, TraceInput, simulate
from engine.models import BalanceCosts, EngineConfig

N_BUCKETS = 8
PERIOD_MS = 1.0
MOVE_US = 2.0
DURATION_US = 100_000
COST_NS = 6_000.0
BALANCE = BalanceCosts(period_ms=PERIOD_MS, n_buckets=N_BUCKETS, imbalance_pct=10, move_us=MOVE_US)


def crafted(non_ip: bool = False) -> TraceInput:
    rows = []  # (ts_ns, bucket)
    streams = [(0, 0, 15), (2, 5, 15), (4, 10, 15), (1, 50, 100)] + ([(BUCKET_NONE, 7, 50)] if non_ip else [])
    for bucket, offset_us, gap_us in streams:
        for t in range(offset_us, DURATION_US, gap_us):
            rows.append((t * 1000, bucket))
    rows.sort()
    ts = np.array([r[0] for r in rows], dtype=np.int64)
    bucket = np.array([r[1] for r in rows], dtype=np.uint16)
    # four flows per bucket, taking turns: flow = bucket + 8 * (k mod 4)
    k = np.zeros(len(rows), dtype=np.int64)
    for b in np.unique(bucket):
        idx = np.flatnonzero(bucket == b)
        k[idx] = np.arange(len(idx)) % 4
    flow = (np.where(bucket == BUCKET_NONE, N_BUCKETS - 1, bucket).astype(np.int32) + N_BUCKETS * k).astype(np.int32)
    queue = np.where(bucket == BUCKET_NONE, 0, bucket % 2).astype(np.uint8)  # not hashed: queue 0
    return TraceInput(ts_ns=ts, queue=queue, flow=flow,
                      size=np.full(len(ts), 64, dtype=np.uint32), n_queues=2, n_flows=4 * N_BUCKETS,
                      bucket=bucket, n_buckets=N_BUCKETS)


def run(policy, workload=None, **kw):
    engine = (EngineConfig.make("wirecap-b", 16, 128) if policy == "basic"
              else EngineConfig.make("wirecap-a", 16, 128, 30, offload=policy))
    return simulate(engine, workload or crafted(), app_cost=COST_NS, balance=BALANCE, track_order=True, **kw)


def balanced(r):
    for q in r.queues + [r.total]:
        assert q["sent"] == q["delivered"] + q["capture_drops"] + q["delivery_drops"]


def test_one_bucket_moves_at_the_first_solve_and_its_later_frames_follow_it():
    """First solve at 1 ms: buckets 0, 2, 4 counted 67 frames each (arrivals
    up to and at 1 ms), bucket 1 counted 10: loads 201 vs 10. A bucket of c
    may go while 2c < 191: all three qualify, the lowest (0) goes. Then 134
    vs 77: no bucket is under half the gap (28.5). Later solves see, in
    steady state, 2 x 133 vs 133 + 20: half the gap (56) fits no bucket. So one
    move, bucket 0 -> queue 1, in effect at 1 ms + 2 us (the RETA write):
    bucket 0's frames from then on go to queue 1."""
    tr = crafted()
    r = run("bucket", tr)
    balanced(r)
    assert r.bucket_moves == 1 and r.queues[0]["bucket_moves"] == 1 and r.queues[1]["bucket_moves"] == 0
    t_move_ns = int(PERIOD_MS * 1e6 + MOVE_US * 1e3)
    later = int(((tr.bucket == 0) & (tr.ts_ns > t_move_ns)).sum())
    assert r.queues[1]["sent"] == int((tr.bucket == 1).sum()) + later
    assert r.queues[0]["sent"] == len(tr.ts_ns) - r.queues[1]["sent"]
    # bucket 0's four flows were processed by thread 0, then by thread 1
    # once thread 0 was done with them: migrated, neither split nor reordered
    assert (r.flows_split, r.flows_migrated, r.packets_reordered) == (0, 4, 0)
    assert r.total["capture_drops"] == 0


def test_chunk_offloading_splits_and_reorders_where_bucket_moves_do_not():
    """The paper's policy on the same trace: queue 0's backlog passes T, whole
    chunks go to thread 1, and queue 0's flows reach both threads."""
    chunk, bucket, basic = run("chunk"), run("bucket"), run("basic")
    for r in (chunk, bucket, basic):
        balanced(r)
    assert chunk.bucket_moves == 0 and chunk.total["offloaded_out"] > 0
    assert chunk.flows_split > 0 and chunk.packets_reordered > 0
    assert 0 < chunk.flows_split <= 12  # only queue 0's twelve flows can split
    assert bucket.total["offloaded_out"] == 0
    # without offloading queue 0 falls behind by 33 kp/s for 100 ms: about
    # 3,300 frames, more than its 16 x 128 cells can hold
    assert basic.total["capture_drops"] > 0
    assert chunk.total["capture_drops"] == bucket.total["capture_drops"] == 0


def test_hybrid_moves_the_bucket_and_spills_only_above_its_emergency_level():
    """Hybrid: the same bucket move; the spill level is halfway between T
    and a full pool (65% at T = 30), which the balanced queues never reach."""
    r = run("hybrid")
    balanced(r)
    assert r.bucket_moves == 1
    assert (r.flows_split, r.packets_reordered, r.total["offloaded_out"]) == (0, 0, 0)


def test_the_run_is_the_same_with_and_without_quiet_frames():
    a, b = run("bucket", bulk=True), run("bucket", bulk=False)
    assert a.queues == b.queues and a.events == b.events
    assert (a.flows_migrated, a.bucket_moves) == (b.flows_migrated, b.bucket_moves)


def test_frames_rss_does_not_hash_never_move():
    """Non-IP frames keep queue 0 whatever the table says, and the balancer
    does not count them (no bucket carries them): the same single move."""
    tr = crafted(non_ip=True)
    r = run("bucket", tr)
    balanced(r)
    assert r.bucket_moves == 1
    later = int(((tr.bucket == 0) & (tr.ts_ns > int(PERIOD_MS * 1e6 + MOVE_US * 1e3))).sum())
    assert r.queues[1]["sent"] == int((tr.bucket == 1).sum()) + later
    assert r.queues[0]["sent"] == int(((tr.bucket != 1) & (tr.bucket != 0)).sum()) + \
        int((tr.bucket == 0).sum()) - later
    assert (r.flows_split, r.packets_reordered) == (0, 0)


def test_bad_inputs_are_refused_with_the_parameter_named():
    tr = crafted()
    engine = EngineConfig.make("wirecap-a", 16, 128, 30, offload="bucket")
    with pytest.raises(ValueError, match="--offload bucket.*not a burst"):
        simulate(engine, Burst(100, n_queues=2), balance=BALANCE)
    with pytest.raises(ValueError, match="--offload bucket.*not a burst"):
        simulate(engine, dataclasses.replace(tr, bucket=None), balance=BALANCE)
    with pytest.raises(ValueError, match="--buckets 128"):
        simulate(engine, tr)  # the trace was steered through 8 entries
    with pytest.raises(ValueError, match="groups"):
        simulate(engine, tr, balance=BALANCE, groups=[0, 1])
    with pytest.raises(ValueError, match="--offload 'spread'"):
        EngineConfig.make("wirecap-a", 16, 128, 30, offload="spread")
    with pytest.raises(ValueError, match="wirecap-a only"):
        EngineConfig.make("wirecap-b", 16, 128, offload="bucket")
    with pytest.raises(ValueError, match="--period-ms"):
        BalanceCosts(period_ms=0)
    with pytest.raises(ValueError, match="--buckets 100"):
        BalanceCosts(n_buckets=100)
    # a bucket whose frames came on two queues is no redirection table
    q = tr.queue.copy()
    q[np.flatnonzero(tr.bucket == 0)[5]] = 1
    with pytest.raises(ValueError, match="rejected the parameters"):
        simulate(engine, dataclasses.replace(tr, queue=q), balance=BALANCE)


def test_engine_specs_carry_the_policy():
    e = EngineConfig.parse("wirecap-a:256:500:30:bucket")
    assert (e.offload, e.label, e.spec()) == ("bucket", "WireCAP-A-(256,500,30%,bucket)", "wirecap-a:256:500:30:bucket")
    c = EngineConfig.parse("wirecap-a:256:500:30")
    assert (c.offload, c.label, c.spec()) == ("chunk", "WireCAP-A-(256,500,30%)", "wirecap-a:256:500:30")
    assert EngineConfig.make("wirecap-b", 256, 500).offload is None
