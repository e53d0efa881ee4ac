"""The capacity planner (experiments/planner.py): its bracketing and
bisection give the answer of an exhaustive sweep of the same grid; its
headroom that of an exhaustive speed grid; bad input is refused naming
the parameter.

Small and real: the first 300,000 packets of two Fermilab-like traces, 4
queues, x = 300, a 60 MB bound (26 steps of each engine's knob: R = 5..30 at
M = 256, mbufs = 1,280..7,680).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import planner
from experiments.planner import PlanError, PlanSpec, _better, _simulate, knob_for, largest_meeting, smallest_meeting

TRACES = ("fermilab-like", "fermilab-like:1")
PACKETS = 300_000
QUEUES = 4
MEMORY_MB = 60
TS = (30, 70)
ROOT = Path(__file__).resolve().parent.parent


def spec(trace, engines, **kw):
    base = dict(trace=trace, x=300, queues=(QUEUES,), engines=engines, max_memory_mb=MEMORY_MB, T=TS,
                packets=PACKETS)
    base.update(kw)
    return PlanSpec(**base)


def exhaustive(trace, engine, target=0.0, speed=1.0):
    """Every configuration of the grid simulated; the planner's own choice
    rule applied to the smallest meeting one of each T."""
    best = None
    for t in (TS if engine == "wirecap-a" else (None,)):
        knob = knob_for(engine, QUEUES, 256, t, MEMORY_MB)
        rows = [_simulate(trace, knob.config(k), "82599", QUEUES, 300, speed, PACKETS)
                for k in range(1, knob.k_max + 1)]
        meets = [r["capture_drops"] + r["delivery_drops"] <= target * r["sent"] for r in rows]
        k = next((i + 1 for i, m in enumerate(meets) if m), None)
        e = knob.config(k if k else knob.k_max)
        row = {"found": k is not None, "pool_mb": knob.pool_bytes(k or knob.k_max) / 2**20,
               "drop_rate": rows[(k or knob.k_max) - 1]["drop_rate"], "T": e.T, "R": e.R, "mbufs": e.mbufs,
               "meets": meets}
        if best is None or _better(row, best):
            best = row
    return best


@pytest.mark.parametrize("trace", TRACES)
@pytest.mark.parametrize("engine", ["wirecap-a", "dpdk"])
def test_plan_equals_the_exhaustive_sweep(trace, engine):
    want = exhaustive(trace, engine)
    got = planner.plan(spec(trace, (engine,))).iloc[0]
    assert bool(got["found"]) == want["found"]
    assert (got["R"] if engine == "wirecap-a" else got["mbufs"]) == (want["R"] if engine == "wirecap-a"
                                                                      else want["mbufs"])
    if engine == "wirecap-a":
        assert got["T"] == want["T"]
    assert got["pool_mb"] == pytest.approx(want["pool_mb"])
    assert got["drop_rate"] == want["drop_rate"]
    # far fewer simulations than the grid (26 per T)
    assert got["evaluations"] <= 12 * (len(TS) if engine == "wirecap-a" else 1)


def test_the_cases_above_are_not_trivial():
    # the grid's answers: interior (neither the first nor beyond the bound)
    # for three of the four, nothing within 60 MB for DPDK on seed 1
    a = exhaustive("fermilab-like", "dpdk")
    assert a["found"] and 1_280 < a["mbufs"] < 7_680
    assert not exhaustive("fermilab-like:1", "dpdk")["found"]
    b = exhaustive("fermilab-like:1", "wirecap-a")
    assert b["found"] and 5 < b["R"] < 30


def test_a_nonzero_target_is_met_with_less():
    lossless = planner.plan(spec("fermilab-like", ("dpdk",))).iloc[0]
    one_pct = planner.plan(spec("fermilab-like", ("dpdk",), target_drop=0.01)).iloc[0]
    want = exhaustive("fermilab-like", "dpdk", target=0.01)
    assert one_pct["mbufs"] == want["mbufs"] < lossless["mbufs"]
    assert 0 < one_pct["drop_rate"] <= 0.01


@pytest.mark.parametrize("engine", ["wirecap-a", "dpdk"])
def test_headroom_equals_the_exhaustive_speed_grid(engine):
    step = 0.1
    got = planner.plan(spec("fermilab-like", (engine,), headroom=True, speed_step=step)).iloc[0]
    best = None
    for t in (TS if engine == "wirecap-a" else (None,)):
        knob = knob_for(engine, QUEUES, 256, t, MEMORY_MB)
        speeds = [round(1.0 + i * step, 9) for i in range(151)]  # 1, 1.1, .. 16 = MAX_SPEED
        meets = []
        for s in speeds:
            r = _simulate("fermilab-like", knob.config(knob.k_max), "82599", QUEUES, 300, s, PACKETS)
            meets.append(r["capture_drops"] + r["delivery_drops"] == 0)
        # the assumption the bisection rests on holds on this grid
        assert meets == sorted(meets, reverse=True)
        top = max((s for s, m in zip(speeds, meets) if m), default=None)
        if top is not None and (best is None or top > best):
            best = top
    assert got["headroom_speed"] == best
    assert best is not None and 1.0 < best < 16.0  # interior: the search had something to find


def test_search_helpers_on_every_threshold():
    for k_max in range(0, 30):
        for t in range(0, 33):
            calls = []
            k, _ = smallest_meeting(lambda k: calls.append(k) or k >= t, k_max)
            assert k == (max(1, t) if max(1, t) <= k_max else None)
            assert all(1 <= c <= k_max for c in calls) and len(set(calls)) == len(calls)
            i, _ = largest_meeting(lambda i: i < t, k_max)
            assert i == (min(t - 1, k_max) if t >= 1 else None)


def fake(drops_by_k):
    """An evaluate() that reads drop counts from a table, for the search's own logic."""
    def evaluate(trace, engine, nic, queues, x, speed, packets):
        k = (engine.mbufs - 1024) // planner.MBUF_STEP
        d = drops_by_k(k)
        return {"sent": 1000, "delivered": 1000 - d, "capture_drops": d, "delivery_drops": 0, "filtered": 0,
                "drop_rate": d / 1000}
    return evaluate


def test_a_non_monotone_model_is_flagged():
    # drops 0 at k = 1, 5 at k = 2, 0 from 3: bracketing asks k = 1 first and
    # stops; a table that rises between asked points is flagged
    row = planner.plan(spec("fermilab-like", ("dpdk",)), evaluate=fake(lambda k: {1: 9, 2: 3, 3: 7}.get(k, 0))).iloc[0]
    assert row["mbufs"] == 1024 + 4 * planner.MBUF_STEP and not row["monotone"]
    ok = planner.plan(spec("fermilab-like", ("dpdk",)), evaluate=fake(lambda k: max(0, 10 - k))).iloc[0]
    assert ok["monotone"] and ok["mbufs"] == 1024 + 10 * planner.MBUF_STEP


def test_nothing_within_the_bounds_is_a_row_with_a_reason():
    row = planner.plan(spec("fermilab-like", ("dpdk",)), evaluate=fake(lambda k: 1)).iloc[0]
    assert not row["found"] and row["mbufs"] == 7_680
    assert row["reason"] == "nothing within --max-memory-mb 60 MB meets 0%: the largest (60.0 MB) drops 0.100%"
    small = planner.plan(spec("fermilab-like", ("dpdk",), max_memory_mb=1)).iloc[0]
    assert not small["found"] and small["reason"] == "even the smallest configuration exceeds --max-memory-mb 1 MB"
    assert small["evaluations"] == 0


@pytest.mark.parametrize("kw,message", [
    ({"nic": "x520"}, "--nic 'x520': unknown NIC model; choose one of 82599, xl710, e810, cx5"),
    ({"queues": (0, 4)}, "--queues 0,4: RSS spreads over 1..16 queues"),
    ({"queues": (17,)}, "--queues 17: RSS spreads over 1..16 queues"),
    ({"engines": ("dpdk", "xdp")}, "--engines dpdk,xdp: choose among wirecap-b, wirecap-a, dpdk, dna, netmap, pfring"),
    ({"max_memory_mb": 0}, "--max-memory-mb 0: a number of MB in (0, 1,048,576]"),
    ({"target_drop": 1.0}, "--target-drop 1.0: a drop-rate fraction in [0, 1) (0: lossless)"),
    ({"M": 300}, "-M 300: M must divide the ring's N = 1024: one of 1, 2, 4"),
    ({"T": (0, 60)}, "-T 0,60: WireCAP-A's thresholds, percent, each in 1..100"),
    ({"speed_step": 0}, "--speed-step 0: a speed-up step in [0.001, 15]"),
    ({"packets": 0}, "--packets 0: an integer in 1..4,294,967,295"),
    ({"x": -1}, "x must be an integer in 0..1,000,000, got -1"),
    ({"trace": "no-such-trace"}, "trace 'no-such-trace': no such trace"),
])
def test_refusals_name_the_parameter(kw, message):
    with pytest.raises(PlanError) as exc:
        spec(kw.pop("trace", "fermilab-like"), kw.pop("engines", ("dpdk",)), **kw).check()
    assert message in str(exc.value)


@pytest.mark.parametrize("nic", ["82599", "e810"])
def test_the_one_nic_function_is_the_simulators_nic(nic):
    """A planner point on a NIC is simulate() on that NIC's model, the trace
    spread by that NIC's redirection table; an unknown NIC is refused."""
    from driver.sim import nics, simulate
    from engine.models import EngineConfig
    from experiments.workloads import head, steered

    eng = EngineConfig.make("dpdk", mbufs=2048)
    got = _simulate("fermilab-like", eng, nic, 4, 300, packets=50_000)
    model = nics.nic_model(nic)
    wl = head(steered("fermilab-like", 4, model.reta_entries(4), nic=nic), 50_000)
    t = simulate(eng, wl, x=300, nic=model, track_flows=False).total
    assert got == {k: t[k] for k in got}
    with pytest.raises(ValueError, match=r"--nic 'x520': unknown NIC model"):
        _simulate("fermilab-like", eng, "x520", 2, 300)


def test_queue_ranges():
    assert planner.parse_queues("1..4") == (1, 2, 3, 4)
    assert planner.parse_queues("2,4,6") == (2, 4, 6)
    with pytest.raises(PlanError, match=r"--queues '4..2': a count, a list \(2,4,6\) or a range"):
        planner.parse_queues("4..2")


def _invoke(*args, tmp_path):
    env = dict(os.environ, WIRECAP_RESULTS=str(tmp_path), WIRECAP_PROGRESS="0")
    return subprocess.run([str(Path(sys.executable).with_name("invoke")), "plan", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_task_prints_json_and_saves_the_run(tmp_path):
    out = _invoke("--trace", "fermilab-like", "-x", "300", "--queues", "4", "--engines", "dpdk,dna",
                  "--max-memory-mb", "60", "--packets", str(PACKETS), "--json", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [(r["engine"], r["nic"], r["queues"]) for r in rows] == [("dpdk", "82599", 4), ("dna", "82599", 4)]
    for key in ("M", "R", "T", "pool_mb", "drop_rate", "mbufs", "found"):
        assert key in rows[0]
    assert rows[0]["mbufs"] == exhaustive("fermilab-like", "dpdk")["mbufs"]
    assert not rows[1]["found"] and rows[1]["reason"].startswith("no buffer to size: its ring (8.0 MB) drops")
    run_dir = Path(out.stderr.strip().splitlines()[-1])
    assert run_dir.parent == tmp_path / "plan" and (run_dir / "data.parquet").exists()
    meta = json.loads((run_dir / "config.json").read_text())
    assert meta["status"] == "complete" and meta["config"]["engines"] == ["dpdk", "dna"]


def test_the_plan_is_deterministic():
    a = planner.plan(spec("fermilab-like", ("dpdk", "wirecap-b"), headroom=True, speed_step=0.5))
    b = planner.plan(spec("fermilab-like", ("dpdk", "wirecap-b"), headroom=True, speed_step=0.5))
    assert a.equals(b)


def test_strict_exits_1_when_nothing_suffices(tmp_path):
    out = _invoke("--queues", "2", "--engines", "dpdk", "--max-memory-mb", "1", "--packets", "1000", "--strict",
                  tmp_path=tmp_path)
    assert out.returncode == 1, out.stderr
    assert "NONE" in out.stdout and "even the smallest configuration exceeds --max-memory-mb 1 MB" in out.stdout
    assert "(--strict)" in out.stderr


def test_the_task_refuses_bad_input_with_status_2(tmp_path):
    out = _invoke("--nic", "x520", tmp_path=tmp_path)
    assert out.returncode == 2 and "--nic 'x520': unknown NIC model" in out.stderr
    out = _invoke("-x", "lots", tmp_path=tmp_path)
    assert out.returncode == 2 and "plan: -x 'lots': expected an integer" in out.stderr
    assert not (tmp_path / "plan").exists()  # nothing saved for refused input


@pytest.mark.parametrize("engine", ["wirecap-a:256:50:40", "dpdk:4096"])
def test_a_planner_point_is_the_experiments_point(engine):
    # the same trace, queues and x give multi_pkt_handler's (Table 1, Figures
    # 11-13) numbers: the planner adds no model of its own
    from engine.models import EngineConfig
    from experiments.points import sim_multi_pkt_handler

    a = _simulate("fermilab-like", EngineConfig.parse(engine), "82599", 6, 300)
    b = sim_multi_pkt_handler({"engine": engine, "trace": "fermilab-like", "queues": 6, "x": 300})[-1]
    assert [a[k] for k in ("sent", "delivered", "capture_drops", "delivery_drops")] == \
           [b[k] for k in ("sent", "delivered", "capture_drops", "delivery_drops")]


def test_plan_paper_shows_its_table_in_the_report(tmp_path, monkeypatch):
    from experiments import plan_paper, registry, report, results

    monkeypatch.setenv("WIRECAP_RESULTS", str(tmp_path))
    cfg = registry.config("plan_paper", overrides={"queues": [QUEUES], "engines": ["dpdk", "dna"],
                                                   "max_memory_mb": MEMORY_MB, "packets": PACKETS})
    df = plan_paper.run(cfg)
    run_dir = results.save_run("plan_paper", cfg, df)
    plan_paper.plot(df, run_dir / "plan_paper.png")
    results.write_json(run_dir / "claims.json", [c.as_row() for c in plan_paper.claims(df)])
    md, html = report.write_report(str(tmp_path / "REPORT.md"))
    text = md.read_text()
    assert "### plan_paper:" in text and "| engine | queues | M | R | T % | mbufs | pool MB |" in text
    mbufs = exhaustive("fermilab-like", "dpdk")["mbufs"]
    assert f"| dpdk | {QUEUES} |  |  |  | {mbufs:,} |" in text
    assert "<th>pool MB</th>" in html.read_text()
    assert f"n = {QUEUES} (load per core" in plan_paper.reading(df)
