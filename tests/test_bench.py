"""experiments/bench.py: which rows, their targets, the table and its JSON,
from fake measurements (no timing here; `invoke bench` measures)."""
import json

import pytest

from experiments import bench, perf, reference
from experiments.bench import Row, Target


def fake_rows():
    return [
        Row("speed", "simulate dna, 1 queue", 61.0, "M packets/s", Target(">=", 50), "best of 3"),
        Row("speed", "simulate pfring, 6 queues", 12.5, "M packets/s", Target(">=", 25)),
        Row("steer", "load + steer fermilab-like, 6 queues", 0.21, "s", Target("<", 0.3)),
        Row("experiments", "experiments, sum", 1234.5, "s"),
        bench.skipped("xdp", "WireCAP / bare AF_XDP (median pair)", "ratio", "the xdp backend needs root",
                      Target(">=", 0.9)),
    ]


def test_targets_are_met_or_not():
    dna, pfring, steer, total, xdp = fake_rows()
    assert (dna.met, pfring.met, steer.met) == (True, False, True)
    assert total.met is None and xdp.met is None          # no target; not measured
    assert Row("steer", "s", 0.3, "s", Target("<", 0.3)).met is False  # "under" is strict
    assert Row("speed", "s", 50.0, "M", Target(">=", 50)).met is True


def test_table_shows_value_unit_target_and_verdict():
    lines = bench.format_table(fake_rows()).splitlines()
    assert lines[0].split() == ["measurement", "value", "unit", "target", "met"]
    dna, pfring, steer, total, xdp = lines[1:6]
    assert "61.0" in dna and "M packets/s" in dna and ">= 50" in dna and " yes " in dna and dna.endswith("best of 3")
    assert "12.5" in pfring and ">= 25" in pfring and " NO" in pfring
    assert "0.210" in steer and "< 0.3" in steer and " yes" in steer
    assert "1,234" in total and " s " in total
    assert " - " in xdp and "skipped: the xdp backend needs root" in xdp and "yes" not in xdp
    assert lines[-1] == "targets: 2 met, 1 missed; 1 skipped"
    # the columns line up: every value column ends where the header's does
    ends = {line.index(" M packets/s") for line in (dna, pfring)}
    assert len(ends) == 1


def test_json_document_shape():
    doc = json.loads(json.dumps(bench.document(fake_rows())))
    assert doc["summary"] == {"met": 2, "missed": 1, "skipped": 1} and doc["date"]
    first, xdp = doc["rows"][0], doc["rows"][-1]
    assert first == {"group": "speed", "name": "simulate dna, 1 queue", "value": 61.0, "unit": "M packets/s",
                     "target": {"op": ">=", "value": 50}, "met": True, "detail": "best of 3", "skipped": None}
    assert xdp["value"] is None and xdp["met"] is None and xdp["skipped"] == "the xdp backend needs root"
    assert doc["rows"][3]["target"] is None


def test_plan_backend_only_and_skip():
    every = tuple(reference.simulated())
    assert bench.plan("sim") == bench.Plan(("speed", "steer", "experiments"), every)
    assert bench.plan("xdp").groups == ("xdp",)
    assert bench.plan("all").groups == ("speed", "steer", "experiments", "xdp")
    assert bench.plan("sim", skip_experiments=True) == bench.Plan(("speed", "steer"), ())
    assert bench.plan("sim", only="steer, speed") == bench.Plan(("speed", "steer"), ())
    assert bench.plan("sim", only="fig9,fig10") == bench.Plan(("experiments",), ("fig9", "fig10"))
    assert bench.plan("all", only="xdp,fig9").groups == ("experiments", "xdp")


@pytest.mark.parametrize("backend,only,skip,message", [
    ("gpu", "", False, "--backend 'gpu': choose sim, xdp or all"),
    ("sim", "speeed", False, "--only speeed: choose from speed, steer, experiments, xdp or an experiment"),
    ("sim", "xdp", False, "--only xdp: not a row of --backend sim; add --backend xdp (or all)"),
    ("xdp", "fig9", False, "--only fig9: not a row of --backend xdp; add --backend sim (or all)"),
    ("sim", "fig9", True, "nothing to measure"),
])
def test_plan_refuses_with_what_to_do(backend, only, skip, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        bench.plan(backend, only, skip)


def test_measure_runs_the_planned_groups_in_order(monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "speed_rows", lambda say: calls.append("speed") or [])
    monkeypatch.setattr(bench, "steer_row", lambda say: calls.append("steer") or Row("steer", "s", 1, "s"))
    monkeypatch.setattr(bench, "experiment_rows", lambda names, say: calls.append(names) or [])
    monkeypatch.setattr(bench, "xdp_rows", lambda say: calls.append("xdp") or [])
    rows = bench.measure(bench.plan("all", only="xdp,fig9,steer"), say=lambda line: None)
    assert calls == ["steer", ("fig9",), "xdp"] and [r.group for r in rows] == ["steer"]


def test_experiment_rows_time_each_and_sum(monkeypatch):
    seconds = {"fig9": 12.0, "fig11": 41.0}
    monkeypatch.setattr(bench, "full_scale", lambda name, jobs: seconds[name])
    rows = bench.experiment_rows(["fig9", "fig11"], jobs=2, say=lambda line: None)
    assert [(r.name, r.value, r.met) for r in rows] == [("fig9, full scale", 12.0, True),
                                                        ("fig11, full scale", 41.0, False),
                                                        ("experiments, sum", 53.0, None)]
    assert all(r.detail.endswith("jobs = 2") for r in rows)


def test_steer_row_is_the_best_of_fresh_interpreters(monkeypatch):
    from experiments import workloads

    times = iter([0.5, 0.25, 0.4])
    monkeypatch.setattr(workloads, "steered", lambda spec, n: None)   # the warm-up
    monkeypatch.setattr(bench, "_steer_once", lambda: next(times))
    row = bench.steer_row(say=lambda line: None)
    assert (row.value, row.unit, row.met, row.extra["seconds_each"]) == (0.25, "s", True, [0.5, 0.25, 0.4])


def test_xdp_rows_report_median_pairs_and_both_speeds(monkeypatch):
    m = {"ratio": 0.93, "ratios": [0.88, 0.93, 1.02, 0.91, 0.95], "packets": 1_000_000, "baseline": "bare-pool",
         "engine_pps": 1.21e6, "bare_pps": 1.3e6, "engine_packets_per_s": [1.2e6] * 5,
         "bare_packets_per_s": [1.3e6] * 5}
    small = {**m, "ratio": 0.79, "ratios": [0.8, 0.79, 0.7], "baseline": "bare"}
    asked = []

    def measure(rounds=perf.XDP_ROUNDS, baseline=perf.XDP_BASELINE):
        asked.append((rounds, baseline))
        return m if baseline == "bare-pool" else small

    monkeypatch.setattr(perf, "xdp_measure", measure)
    ratio, cached, engine, bare = bench.xdp_rows(say=lambda line: None)
    assert asked == [(perf.XDP_ROUNDS, "bare-pool"), (perf.XDP_SMALL_ROUNDS, "bare")]
    assert (ratio.value, ratio.unit, ratio.met) == (0.93, "ratio", True)
    assert "5 pairs" in ratio.detail and "0.88 .. 1.02" in ratio.detail
    assert (ratio.extra["pair_min"], ratio.extra["pair_max"]) == (0.88, 1.02)
    # the cache-sized UMEM: no target, the reason in the detail
    assert (cached.value, cached.target, cached.extra["baseline"]) == (0.79, None, "bare")
    assert "256 MB" in cached.detail and "3 pairs" in cached.detail
    assert (engine.value, bare.value, engine.unit) == (1.21, 1.3, "M packets/s") and "bare-pool" in bare.name


def test_xdp_row_says_why_it_was_skipped(monkeypatch):
    def unavailable():
        raise perf.Unavailable("the xdp backend needs root (...): run it as root or with sudo")

    monkeypatch.setattr(perf, "xdp_measure", unavailable)
    (row,) = bench.xdp_rows(say=lambda line: None)
    assert row.value is None and row.skipped.startswith("the xdp backend needs root")
    assert "skipped: the xdp backend needs root" in bench.format_table([row])
