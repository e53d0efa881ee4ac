"""Multi-queue behaviour of the simulator: offloading, buddy groups, forwarding."""
import numpy as np
import pytest

from driver.sim import simulate
from engine.models import EngineConfig
from simworkloads import poisson

E = EngineConfig.parse


def test_offloading_never_crosses_buddy_groups():
    # paper Figure 5: RQ1+RQ2 belong to application 1, RQ3+RQ4 to
    # application 2. RQ1 and RQ3 are flooded, RQ2 and RQ4 idle.
    w = poisson([90_000, 1_000, 90_000, 1_000], seconds=1.0)
    run = simulate(E("wirecap-a:256:100:50"), w, x=300, groups=[0, 0, 1, 1])
    m = run.processed_by
    assert m[0, 2] == m[0, 3] == m[2, 0] == m[2, 1] == 0
    assert m[1, 2] == m[1, 3] == m[3, 0] == m[3, 1] == 0
    assert m[0, 1] > 0 and m[2, 3] > 0              # but inside each group it does offload
    assert run.queues[0]["offloaded_out"] == m[0, 1]
    assert run.queues[1]["offloaded_in"] == m[0, 1]


def test_offloading_goes_to_the_least_busy_buddy():
    w = poisson([90_000, 30_000, 1_000], seconds=1.0)
    run = simulate(E("wirecap-a:256:100:50"), w, x=300)
    m = run.processed_by
    assert m[0, 2] > m[0, 1]


def _strip(rows):
    return [{k: v for k, v in r.items() if k not in ("flows_split",)} for r in rows]


def test_threshold_100_is_basic_mode():
    w = poisson([90_000, 20_000, 20_000], seconds=1.0)
    a = simulate(E("wirecap-a:256:100:100"), w, x=300)
    b = simulate(E("wirecap-b:256:100"), w, x=300)
    assert a.queues == b.queues and a.total == b.total
    assert a.total["offloaded_out"] == 0 and a.flows_split == 0


def test_advanced_mode_cuts_drops_and_reports_split_flows():
    w = poisson([90_000, 10_000, 10_000, 10_000], seconds=1.0)
    basic = simulate(E("wirecap-b:256:100"), w, x=300)
    adv = simulate(E("wirecap-a:256:100:60"), w, x=300)
    assert basic.total["drop_rate"] > 0.2
    assert adv.total["drop_rate"] < basic.total["drop_rate"] - 0.1
    assert 0 < adv.flows_split <= 50  # only queue 0's 50 flows can split
    assert adv.queues[0]["flows_split"] == adv.flows_split


@pytest.mark.parametrize("spec", ["dna", "pfring", "wirecap-b:256:100", "wirecap-a:256:100:60", "netmap"])
def test_forwarding_delivers_exactly_the_processed_packets(spec):
    w = poisson([60_000, 15_000, 15_000], seconds=1.0)
    run = simulate(E(spec), w, x=300, forward=True, record_forwarding=True)
    log = run.forward_log
    assert run.forwarded == run.total["delivered"] == run.total["received"] == len(log)
    assert len(np.unique(log)) == len(log)          # every frame at most once
    for q in run.queues:
        assert q["received"] == q["delivered"]
    if not E(spec).advanced:
        # no offloading: each flow's frames reach the receiver in arrival order
        flows = w.flow[log]
        for f in np.unique(flows)[:20]:
            ids = log[flows == f]
            assert (np.diff(ids.astype(np.int64)) > 0).all()
    assert run.tx_backlog_max < 1024                  # NIC2's transmit ring never fills


def test_forwarding_delays_wirecap_recycling_but_keeps_accounting():
    w = poisson([60_000, 15_000], seconds=1.0)
    plain = simulate(E("wirecap-b:256:100"), w, x=300)
    fwd = simulate(E("wirecap-b:256:100"), w, x=300, forward=True)
    for r in fwd.queues:
        assert r["sent"] == r["delivered"] + r["capture_drops"] + r["delivery_drops"]
    assert fwd.total["delivered"] <= plain.total["delivered"]


def test_netmap_head_of_line_blocking_hurts_the_light_queue():
    # DROP_EN clear (NETMAP): frames for the flooded queue block the shared
    # buffer, so the light queue loses too; DNA (DROP_EN set) it does not.
    w = poisson([90_000, 5_000], seconds=1.0)
    nm = simulate(E("netmap"), w, x=300)
    dna = simulate(E("dna"), w, x=300)
    assert dna.queues[1]["drop_rate"] == 0.0
    assert nm.queues[1]["drop_rate"] > 0.2
