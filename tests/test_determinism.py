"""Identical results on every machine (issue 10).

The check that would have caught issue 10: the Fermilab-like trace and one
simulated point on it, made in fresh processes at each numpy SIMD level the
CPU allows and with no trace cache, must match the digests recorded in
results/reference/determinism.json. Also: nothing CPU-dependent may come
back into the generators, the tests' trace cache is their own, and a
reference says where it came from.
"""
import ast
import json
import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from experiments import determinism, provenance, reference
from traces import cache, fermilab

REPO = Path(__file__).resolve().parent.parent


def test_trace_and_point_match_the_reference_at_every_simd_level():
    recorded = determinism.recorded(reference.reference_dir())
    if recorded is None:
        pytest.fail("results/reference/determinism.json is missing: run `invoke update-reference --reason ...`")
    with ThreadPoolExecutor(max_workers=2) as pool:
        probes = list(pool.map(determinism.probe_in_subprocess, determinism.SIMD_LEVELS))
    levels = {tuple(p["numpy_simd"]["dispatch"]) for p in probes}
    problems = [m for p in probes for m in determinism.compare(recorded, p)]
    assert not problems, f"at SIMD levels {sorted(levels)}:\n" + "\n".join(problems)


def _probe(**over) -> dict:
    base = {"trace": "fermilab-like", "trace_sha256": "a" * 64, "point": determinism.POINT,
            "point_sha256": "b" * 64, "delivered": {"0": 10, "1": 20, "all": 30},
            "numpy_simd": {"dispatch": ["X86_V3"], "disabled": "X86_V4"}}
    return {**base, **over}


def test_compare_says_whether_the_trace_or_the_simulator_moved():
    ref = _probe()
    assert determinism.compare(ref, _probe()) == []
    (msg,) = determinism.compare(ref, _probe(trace_sha256="c" * 64, point_sha256="d" * 64))
    assert msg.startswith("the trace changed: fermilab-like has digest cccccccccccccccc at numpy SIMD X86_V3 "
                          "(NPY_DISABLE_CPU_FEATURES='X86_V4'), the reference recorded aaaaaaaaaaaaaaaa"), msg
    (msg,) = determinism.compare(ref, _probe(point_sha256="d" * 64, delivered={"0": 10, "1": 19, "all": 29}))
    assert msg.startswith("the simulator changed with the same trace:") and \
        msg.endswith("delivered queue 1: 20 -> 19, queue all: 30 -> 29"), msg


# ---- nothing CPU-dependent in what decides a packet ---------------------------

# numpy ufuncs that are dispatched to SIMD kernels differing in the last bit
CPU_DEPENDENT = {"exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "power", "float_power", "sin", "cos",
                 "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh", "arcsinh", "arccosh",
                 "arctanh", "cbrt", "hypot", "logaddexp", "logaddexp2"}
# every module whose float math decides a generated packet or a simulator input
GENERATORS = ["traces/fermilab.py", "traces/linerate.py", "traces/rss.py", "traces/trace.py", "traces/rewrite.py",
              "traces/fifo.py", "experiments/workloads.py", "experiments/points.py", "driver/sim/__init__.py",
              "driver/sim/params.py", "engine/models.py"]


def _cpu_dependent_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in CPU_DEPENDENT and \
                isinstance(node.value, ast.Name) and node.value.id in ("np", "numpy", "math"):
            found.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and not (
                isinstance(node.right, ast.Constant) and isinstance(node.right.value, int)
                and isinstance(node.left, ast.Constant) and isinstance(node.left.value, int)):
            found.append(f"{path.name}:{node.lineno}: ** (use integer shifts or traces.detmath.pow)")
    return sorted(found, key=lambda f: int(f.split(":")[1]))


@pytest.mark.parametrize("module", GENERATORS)
def test_no_cpu_dependent_math_in_what_decides_a_packet(module):
    found = _cpu_dependent_calls(REPO / module)
    assert not found, "CPU-dependent math (the last bit follows the SIMD level; use traces.detmath):\n" + \
        "\n".join(found)


def test_the_lint_finds_what_it_looks_for(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy as np\nx = np.exp(1.0)\ny = 2.0 ** 3\nz = 2 ** 10\n")
    assert _cpu_dependent_calls(bad) == ["bad.py:2: np.exp", "bad.py:3: ** (use integer shifts or "
                                         "traces.detmath.pow)"]


@pytest.mark.parametrize("iw,wmax", [(3, 44), (10, 180), (10, 700), (3, 3), (10, 8), (1, 2), (2, 16), (10, 40)])
def test_tcp_rounds_in_integers_match_a_round_by_round_count(iw, wmax):
    """Slow start doubles from iw up to wmax, then wmax per round: the
    closed form must give the windows a sender would send, packet for packet."""
    sizes = np.arange(1, 400)
    flow, k, w, before = fermilab._tcp_rounds(sizes, np.full(len(sizes), iw), np.full(len(sizes), wmax))
    for f, size in enumerate(sizes):
        windows, sent, cwnd = [], 0, iw
        while sent < size:
            windows.append(min(cwnd, wmax, size - sent))
            sent += windows[-1]
            cwnd = min(cwnd * 2, wmax)
        mine = flow == f
        assert list(w[mine]) == windows, (size, iw, wmax)
        assert list(k[mine]) == list(range(len(windows)))
        assert list(before[mine]) == list(np.cumsum([0] + windows[:-1]))


# ---- hermetic tests -----------------------------------------------------------

def test_the_test_session_has_its_own_trace_cache():
    where = cache.cache_dir()
    home_cache = Path.home() / ".cache"
    assert home_cache not in where.parents and where != home_cache
    if not os.environ.get("WIRECAP_TEST_CACHE"):
        assert Path(os.environ[cache.CACHE_ENV]).name.startswith("wirecap-test-cache-")
        assert stat.S_IMODE(where.stat().st_mode) == 0o700 and not where.is_symlink()


# ---- a reference says where it came from ------------------------------------------

def _git(repo: Path, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"})


def test_update_reference_refuses_uncommitted_changes(tmp_path):
    repo = tmp_path / "repo"
    (repo / "results" / "reference").mkdir(parents=True)
    (repo / "model.py").write_text("R = 500\n")
    (repo / "results" / "reference" / "fig9.csv").write_text("a\n1\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "one")
    reference.require_committed(repo)                       # clean: accepted
    (repo / "results" / "reference" / "fig9.csv").write_text("a\n2\n")
    reference.require_committed(repo)                       # the reference's own output: accepted
    (repo / "model.py").write_text("R = 250\n")
    (repo / "scratch.py").write_text("")
    with pytest.raises(reference.DirtyTree) as exc:
        reference.require_committed(repo)
    assert "uncommitted changes (M model.py; ?? scratch.py): commit them" in str(exc.value)


def test_reference_records_inputs_and_environment():
    meta = reference.history()
    for name in reference.simulated():
        entry = meta["experiments"][name]
        assert set(entry["inputs"]) == set(provenance.trace_specs(entry["config"])), name
        env = entry["environment"]
        assert env["cpu"] and env["numpy_simd"]["dispatch"] is not None and env["packages"]["numpy"], name
        assert not env["git_describe"].endswith("-dirty"), f"{name}: reference made from a dirty tree"
    assert not meta["history"][-1]["describe"].endswith("-dirty"), "the last reference came from a dirty tree"
    assert meta["experiments"]["table1"]["inputs"]["fermilab-like"] == \
        determinism.recorded(reference.reference_dir())["trace_sha256"]
    fig3 = meta["experiments"]["fig3"]["inputs"]
    assert set(fig3) == {"fermilab-like", "gnutella", "1kxun", "synscan"}


def test_input_digests_name_every_trace_of_a_config():
    assert provenance.trace_specs({"trace": "fermilab-like", "real_traces": ["gnutella", "fermilab-like"]}) == \
        ["fermilab-like", "gnutella"]
    d = provenance.input_digests({"real_traces": ["synscan"]})
    assert list(d) == ["synscan"] and len(d["synscan"]) == 64
    assert d == provenance.input_digests({"trace": "synscan"})


def test_environment_records_cpu_and_simd_level():
    """A run's environment says which SIMD kernels numpy ran, honouring
    NPY_DISABLE_CPU_FEATURES (what a reference made on another CPU shows)."""
    code = "import json; from experiments import results; print(json.dumps(results.environment()))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4"))
    assert r.returncode == 0, r.stderr
    env = json.loads(r.stdout)
    assert env["cpu"] == provenance.cpu_model() and env["cpu"]
    simd = env["numpy_simd"]
    assert simd["disabled"] == "X86_V3 X86_V4" and simd["numpy"] == np.__version__
    assert not {"X86_V3", "X86_V4"} & set(simd["dispatch"]), simd
