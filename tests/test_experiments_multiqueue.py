"""The properties issue 4 asks of advanced mode, forwarding and the bus, on
the Table 1 workload. (Every experiment's claims at its quick points are
checked by tests/test_regression.py.)"""
import json
import subprocess
import sys

import pytest

from driver.sim import Burst, simulate
from driver.sim.params import BusModel
from engine.models import EngineConfig
from experiments.workloads import steered

E = EngineConfig.parse


@pytest.fixture(scope="module")
def table1_workload():
    return steered("fermilab-like", 6)


def test_threshold_100_equals_basic_on_the_table1_workload(table1_workload):
    a = simulate(E("wirecap-a:256:100:100"), table1_workload, x=300)
    b = simulate(E("wirecap-b:256:100"), table1_workload, x=300)
    assert a.queues == b.queues
    assert a.flows_split == 0


def test_lowering_t_never_costs_more_than_0_2_pp(table1_workload):
    rate = {t: simulate(E(f"wirecap-a:256:100:{t}"), table1_workload, x=300).total["drop_rate"]
            for t in (30, 60, 90)}
    assert rate[30] <= rate[60] + 0.002 and rate[60] <= rate[90] + 0.002 and rate[30] <= rate[90] + 0.002
    assert rate[90] > 0  # the point has something to lose


def test_advanced_runs_report_split_flows(table1_workload):
    run = simulate(E("wirecap-a:256:500:60"), table1_workload, x=300)
    assert run.total["offloaded_out"] > 0
    assert run.flows_split > 0 and run.flows_split == sum(q["flows_split"] for q in run.queues)


def test_the_bus_model_conserves_packets():
    for size in (64, 100):
        run = simulate(E("wirecap-a:256:100:60"), Burst.spread(2_000_000, 3, size=size, nics=2), forward=True,
                       bus=BusModel(enabled=True))
        t = run.total
        assert t["sent"] == 4_000_000
        assert t["sent"] == t["delivered"] + t["capture_drops"] + t["delivery_drops"]
        assert t["received"] == t["delivered"] == run.forwarded
        assert (t["drops_bus"] > 0) == (size == 64)


def multi(*args):
    return subprocess.run([sys.executable, "-m", "experiments.tools.multi_pkt_handler", *args],
                          capture_output=True, text=True, timeout=300)


def test_multi_pkt_handler_json():
    res = multi("--backend", "sim", "--trace", "fermilab-like", "--queues", "6", "--engine", "wirecap-a",
                "--M", "256", "--R", "500", "--T", "60", "--x", "300", "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["queue"] for r in rows] == [0, 1, 2, 3, 4, 5, "all"]
    for r in rows:
        for col in ("engine", "M", "R", "T", "x", "queues", "sent", "delivered", "capture_drops",
                    "delivery_drops", "drop_rate", "offloaded_out", "offloaded_in", "flows_split"):
            assert col in r
    assert rows[-1]["sent"] == sum(r["sent"] for r in rows[:-1]) == 5_000_000


@pytest.mark.parametrize("args,message", [
    (["--queues", "0"], "argument --queues: queues must be an integer in 1..16, got 0"),
    (["--engine", "wirecap-b", "--M", "100"], "--M 100: M must divide the ring size N=1024"),
    (["--engine", "wirecap-a", "--T", "150"], "argument --T: T must be an integer in 1..100, got 150"),
    (["--x", "-3"], "argument --x: x must be an integer in 0..1,000,000, got -3"),
    (["--engine", "wirecap-a", "--queues", "4", "--groups", "0,0,1"], "--groups '0,0,1': give one group number"),
    (["--engine", "dna", "--queues", "2", "--groups", "0,1"], "--groups: buddy groups only exist in advanced mode"),
    (["--trace", "/nonexistent.pcap"], "--trace"),
])
def test_multi_pkt_handler_bad_arguments(args, message):
    if "--engine" not in args:
        args = ["--engine", "dna"] + args
    res = multi(*args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr
