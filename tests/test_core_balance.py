"""Bucket offloading's decision (engine/csrc/wc_balance.h), on crafted
counts: which bucket moves where, and when none may."""
import pytest

from engine.core import Balancer, BucketMove, CoreError


def counted(bal, counts):
    for b, n in enumerate(counts):
        if n:
            bal.count(b, n)
    return bal


def test_default_table_is_ixgbe_round_robin():
    assert Balancer(8, 3).table == [0, 1, 2, 0, 1, 2, 0, 1]
    assert Balancer(4, 2, table=[1, 1, 0, 0]).table == [1, 1, 0, 0]


@pytest.mark.parametrize("kw", [dict(n_buckets=6, n_members=2), dict(n_buckets=4096, n_members=2),
                                dict(n_buckets=8, n_members=0), dict(n_buckets=8, n_members=65),
                                dict(n_buckets=8, n_members=2, threshold_pct=0),
                                dict(n_buckets=8, n_members=2, threshold_pct=101),
                                dict(n_buckets=4, n_members=2, table=[0, 1, 2, 0])])
def test_bad_geometry_is_refused_with_the_rule(kw):
    with pytest.raises(CoreError, match="power of two"):
        Balancer(**kw)


def test_the_heaviest_bucket_that_still_leaves_the_giver_busier_moves():
    # member 0: buckets 0, 2, 4, 6 carry 100 + 60 + 30 + 0; member 1: 10.
    # Loads 190 vs 10 (mean 100): a bucket of c may go while 2c < 180, so
    # 60 (bucket 2), not 100; then 130 vs 70, still 30% above the mean,
    # but 2 * 30 < 60 fails: done.
    bal = counted(Balancer(8, 2, imbalance_pct=10), [100, 10, 60, 0, 30, 0, 0, 0])
    assert bal.solve() == [BucketMove(2, 0, 1, 60)]
    assert bal.table == [0, 1, 1, 1, 0, 1, 0, 1]
    assert bal.moves == 1


def test_a_bucket_heavier_than_the_gap_never_moves():
    """One flow heavier than a core's share: moving it would only move the
    overload, so the solver leaves it (no bucket move can help there)."""
    bal = counted(Balancer(4, 2), [1000, 10, 0, 0])
    assert bal.solve() == []
    assert bal.table == [0, 1, 0, 1]


def test_loads_are_smoothed_over_periods():
    """A bucket's load halves every period: the solver remembers buckets
    that were busy before (a one-period view would move nothing here)."""
    bal = Balancer(4, 2, imbalance_pct=10)
    # period 1: member 0 carries buckets 0 (60) and 2 (20); 2c < 80: bucket 2 goes
    assert counted(bal, [60, 0, 20, 0]).solve() == [BucketMove(2, 0, 1, 20)]
    # period 2, quiet: loads 30 vs 10, no bucket under half the gap
    assert bal.solve() == []
    # period 3: bucket 1 (member 1) 40; loads 15 vs 40 + 5 (bucket 2's
    # remembered 20, halved twice): bucket 2 (5 < 30 / 2) goes back; a
    # one-period view (0 vs 40, one bucket) would move nothing
    assert counted(bal, [0, 40, 0, 0]).solve() == [BucketMove(2, 1, 0, 5)]


def test_a_long_backlog_or_a_full_taker_or_a_lock_stops_moves():
    counts = [100, 10, 60, 0, 30, 0, 0, 0]
    # the giver's backlog above one period of its arrivals (load 190 -> 95)
    assert counted(Balancer(8, 2, imbalance_pct=10), counts).solve(backlog=[96, 0]) == []
    assert counted(Balancer(8, 2, imbalance_pct=10), counts).solve(backlog=[95, 0]) == [BucketMove(2, 0, 1, 60)]
    # the taker's capture queue above T/2 (T = 60: 31% is too full, 30% is not)
    assert counted(Balancer(8, 2, 60, imbalance_pct=10), counts).solve(fill_pct=[0, 31]) == []
    assert counted(Balancer(8, 2, 60, imbalance_pct=10), counts).solve(fill_pct=[0, 30]) != []
    # a move in flight: neither member takes part
    assert counted(Balancer(8, 2, imbalance_pct=10), counts).solve(locked=[0, 1]) == []
    assert counted(Balancer(8, 2, imbalance_pct=10), counts).solve(locked=[1, 0]) == []


def test_ties_go_to_the_lowest_index_and_a_taker_takes_from_one_giver():
    # members 0 (buckets 0, 3, 6) and 1 (1, 4, 7) carry 50 + 30 each, member
    # 2 nothing: member 0 gives first (tie: lowest index), its bucket 3
    # (2 * 30 < 80; 50 is too heavy) to member 2; member 1 still gives, but
    # member 2 has taken from 0 and member 0 (load 50) fits no bucket under
    # half the gap: one move
    bal = counted(Balancer(8, 3, imbalance_pct=10), [50, 50, 0, 30, 30, 0, 0, 0])
    assert bal.solve() == [BucketMove(3, 0, 2, 30)]
