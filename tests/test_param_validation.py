"""One validation layer (experiments/params.py) for every parameter: a bad
value ends with one line naming the parameter or path, exit status 2, and no
new run folder (issue 16, part 4)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from invoke import Context, Exit

from experiments import params, registry, results, runner

ROOT = results.REPO_ROOT


def load_tasks():
    import importlib.util

    spec = importlib.util.spec_from_file_location("wirecap_tasks_pv", ROOT / "tasks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


TASKS = load_tasks()


def inv(*args, env=None, timeout=300):
    e = {**os.environ, "WIRECAP_PROGRESS": "0", **(env or {})}
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=e)


def run_folders(base: Path) -> list[Path]:
    return sorted(p for p in Path(base).rglob("*") if p.is_dir() and p.name != "points")


def refused(fn, *args, **kw) -> str:
    """Call a task; it must exit 2 with one line. Returns the line."""
    with pytest.raises(Exit) as info:
        fn(Context(), *args, **kw)
    msg = str(info.value.message)
    assert info.value.code == 2, msg
    assert msg.strip() and "\n" not in msg.strip(), msg
    assert "Traceback" not in msg
    return msg


# ---- the examples, in process ------------------------------------------------

@pytest.mark.parametrize("name,param,names", [
    ("fig9", "x=[1e15]", "x"),
    ("fig9", "clock_ghz=0", "clock_ghz"),
    ("fig9", "P=[1e30]", "P"),
    ("fig9", "P=[]", "P"),
    ("fig9", "P=[3.5]", "P"),
    ("fig9", "P=[true]", "P"),
    ("fig9", 'engines=["wirecap-b:256:500"', "engines"),
    ("fig9", 'engines=["foo"]', "engines"),
    ("fig12", "R=[2]", "R"),
    ("fig14", "P=1e30", "P"),
    ("fig3", "bin_ms=NaN", "bin_ms"),
])
def test_run_experiment_refuses_bad_values_before_any_folder(res, name, param, names):
    msg = refused(TASKS.run_experiment, name=name, quick=True, param=[param])
    assert msg.startswith(f"--param {param}: ") and names in msg
    assert run_folders(res) == []


def test_the_exact_message_for_a_huge_burst(res):
    msg = refused(TASKS.run_experiment, name="fig9", quick=True, param=["P=[1e30]"])
    assert msg == "--param P=[1e30]: P must be an integer in 1..10,000,000,000, got 1e+30"


def test_a_scalar_for_a_list_parameter_is_a_one_element_list():
    assert registry.config("fig12", overrides={"R": 500})["R"] == [500]
    assert registry.config("fig9", overrides={"P": 1e3})["P"] == [1000]
    assert registry.config("fig14", overrides={"P": 1e6})["P"] == 1_000_000   # fig14's P is one number
    with pytest.raises(ValueError, match="x must be one value"):
        registry.config("fig9", overrides={"x": [300]})


def test_jobs_zero_is_refused_by_run_experiment_and_sweep(res):
    assert "--jobs 0" in refused(TASKS.run_experiment, name="fig9", quick=True, jobs=0)
    assert "--jobs 0" in refused(TASKS.sweep, engine="dna", jobs=0)
    assert run_folders(res) == []


@pytest.mark.parametrize("axes,flag", [({"P": "1e30"}, "-P"), ({"R": "100000000000"}, "-R"),
                                       ({"x": "nan"}, "-x"), ({"queues": "0"}, "--queues"),
                                       ({"engine": "foo"}, "--engine")])
def test_sweep_axes_go_through_the_schema(res, axes, flag):
    kw = {"engine": "wirecap-b", **axes}
    assert refused(TASKS.sweep, **kw).startswith(f"sweep {flag} ")
    assert run_folders(res) == []


def test_plot_with_nothing_to_plot_exits_2(res):
    assert "fig9" in refused(TASKS.plot, name="fig9")
    assert "nothing to plot" in refused(TASKS.plot)


@pytest.mark.parametrize("where", ["/proc/x", "missing/x"])
def test_output_paths_are_checked_first_and_no_folder_is_made(res, tmp_path, where):
    from traces.tasks import make_trace

    base = where if where.startswith("/") else str(tmp_path / where)
    msg = refused(TASKS.report, out=base + ".md")
    assert msg.startswith(f"--out {base}.md: ")
    msg = refused(make_trace, kind="burst", packets=10, out=base + ".pcap")
    assert msg.startswith(f"--out {base}.pcap: ")
    assert not (tmp_path / "missing").exists()


def test_clean_results_age_out_of_range(res):
    assert refused(TASKS.clean_results, older_than="99999999999w").startswith("--older-than '99999999999w'")


@pytest.mark.parametrize("argv,option", [
    (["--engine", "dna", "--burst", "1000000000000000000000"], "--burst"),
    (["--engine", "wirecap-b", "--R", "100000000000", "--burst", "10"], "--R"),
    (["--engine", "dna", "--clock-ghz", "nan", "--burst", "10"], "--clock-ghz"),
    (["--engine", "dna", "--burst", "3.5"], "--burst"),
])
def test_pkt_handler_ranges_from_the_schema(capsys, argv, option):
    from experiments.tools import pkt_handler

    with pytest.raises(SystemExit) as info:
        pkt_handler.main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and option in err, err


def test_pkt_handler_takes_1e3_style_integers(capsys):
    from experiments.tools import pkt_handler

    assert pkt_handler.main(["--engine", "dna", "--burst", "1e3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["P"] == 1000


@pytest.mark.parametrize("tool,argv,option", [
    ("multi_pkt_handler", ["--engine", "dna", "--queues", "17"], "--queues"),
    ("multi_pkt_handler", ["--engine", "dna", "--x", "1e15"], "--x"),
    ("queue_profiler", ["--bin-ms", "inf"], "--bin-ms"),
])
def test_other_tools_ranges_from_the_schema(capsys, tool, argv, option):
    import importlib

    mod = importlib.import_module(f"experiments.tools.{tool}")
    with pytest.raises(SystemExit) as info:
        mod.main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and option in err, err


def test_a_run_that_fails_before_its_first_point_leaves_no_folder(res, monkeypatch):
    mod = registry.get("fig9")

    def broken(cfg, progress=None):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(mod, "run", broken)
    with pytest.raises(RuntimeError):
        runner.run_experiment("fig9", quick=True)
    assert list(res.rglob("config.json")) == []


# ---- the exit-status contract through real processes (a few: each costs seconds) -----

def test_invoke_exit_2_one_line_no_folder(tmp_path):
    env = {"WIRECAP_RESULTS": str(tmp_path)}
    for args, head in [(["run-experiment", "--name", "fig12", "--param", "R=[0]"], "--param R=[0]: R "),
                       (["make-trace", "--kind", "burst", "--out", "/proc/x.pcap"], "--out /proc/x.pcap: ")]:
        r = inv(*args, env=env)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(head) and "Traceback" not in r.stderr, r.stderr
    assert run_folders(tmp_path) == []


def test_pkt_handler_process_exit_2():
    r = subprocess.run([sys.executable, "-m", "experiments.tools.pkt_handler", "--engine", "dna",
                        "--burst", "1000000000000000000000"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--burst" in r.stderr, r.stderr


# ---- property-based: every parameter of every experiment ------------------------------

def _pairs():
    out = []
    for name in registry.names():
        mod = registry.get(name)
        for key in mod.DEFAULT_CONFIG:
            out.append((name, key, "sim"))
        for key in getattr(mod, "XDP_CONFIG", {}):
            if "xdp" in getattr(mod, "BACKENDS", ("sim",)):
                out.append((name, key, "xdp"))
    return out


PAIRS = _pairs()
ALWAYS_BAD = [True, False, float("nan"), float("inf"), float("-inf"), "", [], {}, "not-a-value"]


def bad_values(key: str, default):
    spec = params.SCHEMA[key]
    bad = [v for v in ALWAYS_BAD if not (spec.kind == "bool" and isinstance(v, bool))]
    if not spec.nullable:
        bad.append(None)
    if spec.kind == "int":
        bad += [spec.lo - 1, spec.hi + 1, 10**30, 1e300, spec.lo + 0.5, "12", -(10**20)]
        ints = st.one_of(st.integers(max_value=int(spec.lo) - 1), st.integers(min_value=int(spec.hi) + 1),
                         st.integers(int(spec.lo), int(spec.hi)).map(lambda i: i + 0.5))
    elif spec.kind == "float":
        bad += [spec.lo if spec.lo_open else spec.lo - 1, spec.hi * 2 + 1, -1e300, 1e300, "2.4"]
        ints = st.one_of(st.floats(max_value=spec.lo, exclude_max=not spec.lo_open),
                         st.floats(min_value=spec.hi, exclude_min=True))
    elif spec.kind == "window":
        bad += [[1], [2, 1], ["a", "b"], [0, float("nan")], [-1, 5]]
        ints = st.just([3, 3])
    else:   # engine, trace, choice, bool: numbers are never valid
        bad += [0, 1.5, -3, "no-such-thing:99"]
        ints = st.integers()
    return st.one_of(st.sampled_from(bad), ints)


@st.composite
def a_bad_override(draw):
    name, key, backend = draw(st.sampled_from(PAIRS))
    default = {**registry.get(name).DEFAULT_CONFIG, **getattr(registry.get(name), "XDP_CONFIG", {})}[key]
    value = draw(bad_values(key, default))
    return name, key, backend, value


def test_every_experiment_parameter_is_in_the_schema():
    assert sorted({k for _, k, _ in PAIRS} - set(params.SCHEMA)) == []


@settings(max_examples=40, deadline=None)
@given(a_bad_override())
def test_bad_values_raise_a_value_error_naming_the_parameter(case):
    name, key, backend, value = case
    with pytest.raises(ValueError) as info:
        registry.config(name, overrides={key: value}, backend=backend)
    assert key in str(info.value), (name, key, value, str(info.value))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=a_bad_override())
def test_bad_values_through_run_experiment_create_no_folder(res, case):
    name, key, backend, value = case
    if backend == "xdp":   # the xdp backend needs root and a testbed: its values are checked above
        return
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return
    msg = refused(TASKS.run_experiment, name=name, quick=True, param=[f"{key}={text}"])
    assert key in msg
    assert run_folders(res) == []
