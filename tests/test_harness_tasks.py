"""The invoke front door: every task documented, wrong input answered with what to do."""
import os
import re
import subprocess
import sys

import pytest

from experiments import registry, results

ROOT = results.REPO_ROOT
TASKS = ["run-experiment", "list-experiments", "sweep", "plot", "report", "bench", "clean-results",
         "update-reference", "remote-run", "ssh-testbed-up", "ssh-testbed-down", "lock"]


def inv(*args, env=None, timeout=300):
    e = {**os.environ, "WIRECAP_PROGRESS": "0", **(env or {})}
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=e)


def load_tasks():
    import importlib.util

    spec = importlib.util.spec_from_file_location("wirecap_tasks", ROOT / "tasks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_task_is_listed():
    out = inv("--list").stdout
    for t in TASKS:
        assert re.search(rf"^\s+{t}\b", out, re.M), f"{t} missing from invoke --list"


@pytest.mark.parametrize("task", TASKS)
def test_every_parameter_is_documented_with_its_default(task):
    body = getattr(load_tasks(), task.replace("-", "_"))
    assert body.__doc__ and body.__doc__.strip(), f"{task} has no docstring"
    params = [p for p in body.help] if body.help else []
    sig = __import__("inspect").signature(body.body)
    names = [n for n in sig.parameters if n != "c"]
    assert sorted(params) == sorted(names), f"{task}: help for {sorted(set(names) - set(params))} missing"
    for name in names:
        text = body.help[name]
        assert "default" in text or "required" in text, f"{task} --{name}: say the default ({text!r})"


def test_help_shows_units_and_defaults():
    out = inv("--help", "sweep").stdout
    for text in ("-M STRING", "cells per chunk", "chunks per queue", "percent", "(default: 256)", "--scheduler"):
        assert text in out


def test_list_experiments_shows_the_registry():
    out = inv("list-experiments").stdout
    for name in registry.names():
        assert name in out


def test_unknown_experiment_says_what_exists(tmp_path):
    r = inv("run-experiment", "--name", "fig99", env={"WIRECAP_RESULTS": str(tmp_path)})
    assert r.returncode != 0 and "unknown experiment 'fig99'" in r.stderr and "fig9" in r.stderr


def test_bad_param_names_the_parameter(tmp_path):
    r = inv("run-experiment", "--name", "fig10", "--quick", "--param", "Q=1",
            env={"WIRECAP_RESULTS": str(tmp_path)})
    assert r.returncode != 0 and "no parameter 'Q'" in r.stderr
    r = inv("run-experiment", "--name", "fig10", "--param", "R", env={"WIRECAP_RESULTS": str(tmp_path)})
    assert r.returncode != 0 and "expected key=value" in r.stderr


def test_xdp_only_parameters_need_the_xdp_backend():
    with pytest.raises(KeyError, match=r"no parameter 'sender' \(with --backend xdp only\)"):
        registry.config("fig9", overrides={"sender": "afpacket"})
    cfg = registry.config("fig9", overrides={"sender": "afpacket", "cost_ns": 20000}, backend="xdp")
    assert (cfg["sender"], cfg["cost_ns"], cfg["emulate"]) == ("afpacket", 20000, "auto")
    # the simulator's configuration (and so its results' config.json) is unchanged
    assert "sender" not in registry.config("fig9") and "speed" not in registry.config("table1")
    assert registry.config("table1", overrides={"speed": 0.25}, backend="xdp")["speed"] == 0.25


def test_plot_only_without_runs_says_what_to_run(tmp_path):
    r = inv("run-experiment", "--name", "fig10", "--plot-only", env={"WIRECAP_RESULTS": str(tmp_path)})
    assert r.returncode != 0 and "invoke run-experiment --name fig10" in r.stderr


def test_run_and_report_through_the_front_door(tmp_path):
    env = {"WIRECAP_RESULTS": str(tmp_path)}
    r = inv("run-experiment", "--name", "fig10", "--quick", "--jobs", "2", env=env)
    assert r.returncode == 0, r.stderr
    assert str(tmp_path / "fig10") in r.stdout
    r = inv("report", env=env)
    assert r.returncode == 0 and (tmp_path / "REPORT.md").exists() and (tmp_path / "REPORT.html").exists()
    r = inv("plot", "--name", "fig10", env=env)
    assert r.returncode == 0 and "fig10.png" in r.stdout


def test_missing_prerequisites_end_with_what_to_do(tmp_path):
    r = inv("remote-run", "--inventory", str(tmp_path / "nope.toml"), "--name", "fig9")
    assert r.returncode != 0 and "no such file" in r.stderr and "ssh-testbed-up" in r.stderr
    r = inv("clean-results", "--older-than", "soon")
    assert r.returncode != 0 and "--older-than 'soon'" in r.stderr
    r = inv("sweep", "--engine", "wirecap-b", "-M", "64", "-R", "10", env={"WIRECAP_RESULTS": str(tmp_path)})
    assert r.returncode != 0 and "R must exceed" in r.stderr and "--skip-invalid" in r.stderr
    r = inv("update-reference", "--reason", " ")
    assert r.returncode != 0 and "--reason" in r.stderr


def test_bench_flags_refused_with_what_to_do(tmp_path):
    r = inv("bench", "--only", "xdp")
    assert r.returncode == 2 and "bench: --only xdp: not a row of --backend sim; add --backend xdp" in r.stderr
    r = inv("bench", "--only", "fig99")
    assert r.returncode == 2 and "choose from speed, steer, experiments, xdp or an experiment" in r.stderr
    r = inv("bench", "--backend", "gpu")
    assert r.returncode == 2 and "choose sim, xdp or all" in r.stderr
    r = inv("bench", "--skip-experiments", "--json-out", str(tmp_path / "nowhere" / "bench.json"))
    assert r.returncode == 2 and "--json-out" in r.stderr and "does not exist" in r.stderr


def test_bench_xdp_without_root_says_how(monkeypatch):
    from invoke import Context, Exit

    from experiments import bench

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(bench, "measure", lambda plan: pytest.fail("measured without root"))
    with pytest.raises(Exit) as exc:
        load_tasks().bench.body(Context(), backend="xdp")
    assert exc.value.code != 0
    assert "invoke bench --backend xdp needs root" in exc.value.message
    assert "run it as root or with sudo" in exc.value.message


def test_bench_prints_one_table_and_saves_it_as_json(monkeypatch, tmp_path, capsys):
    """Flags to plan to table to file, with fake measurements."""
    import json

    from invoke import Context

    from experiments import bench

    seen = []

    def fake_measure(plan):
        seen.append(plan)
        return [bench.Row("steer", "load + steer fermilab-like, 6 queues", 0.25, "s", bench.STEER_TARGET)]

    monkeypatch.setattr(bench, "measure", fake_measure)
    out = tmp_path / "bench.json"
    load_tasks().bench.body(Context(), only="steer,fig9", skip_experiments=True, json_out=str(out))
    assert seen == [bench.Plan(("steer",), ())]
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("measurement") and "0.250" in table[1] and "< 0.3" in table[1]
    assert table[-1] == "targets: 1 met, 0 missed"
    doc = json.loads(out.read_text())
    assert [r["name"] for r in doc["rows"]] == ["load + steer fermilab-like, 6 queues"] and doc["rows"][0]["met"]


def test_clean_results_dry_run(tmp_path):
    from datetime import datetime, timedelta, timezone

    os.environ["WIRECAP_RESULTS"] = str(tmp_path)
    try:
        old = results.new_run_dir("demo", datetime.now(timezone.utc) - timedelta(days=60))
        results.new_run_dir("demo", datetime.now(timezone.utc))
    finally:
        del os.environ["WIRECAP_RESULTS"]
    r = inv("clean-results", "--older-than", "30d", "--dry-run", env={"WIRECAP_RESULTS": str(tmp_path)})
    assert r.returncode == 0 and f"would delete {old}" in r.stdout and old.exists()
    r = inv("clean-results", "--older-than", "30d", env={"WIRECAP_RESULTS": str(tmp_path)})
    assert r.returncode == 0 and not old.exists()
