"""Where a result came from: the machine's CPU and numpy's SIMD level, the
digests of an experiment's input traces, and whether the work tree it ran
from was committed.

A reference result is only worth comparing against if it says what it was
made from (issue 10): the same inputs, the same code and the same package
versions must give the same numbers on every machine, and when they do not,
these records say which of the three moved.
"""
from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# outputs of `invoke update-reference` itself: being modified does not make the
# tree that produced them "dirty"
OUTPUT_PATHS = ("results/reference/",)
# config keys that name a trace an experiment reads
TRACE_KEYS = ("trace", "traces", "real_traces")


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo; platform.processor() elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":")[0].strip() in ("model name", "Model", "cpu model"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def numpy_simd() -> dict:
    """numpy's SIMD level in this process: the build's baseline, the dispatch
    targets this CPU runs (after NPY_DISABLE_CPU_FEATURES), and that variable."""
    import numpy as np

    try:
        from numpy._core import _multiarray_umath as mu
    except ImportError:  # numpy 1.x
        from numpy.core import _multiarray_umath as mu
    features = getattr(mu, "__cpu_features__", {})
    return {"numpy": np.__version__,
            "baseline": list(getattr(mu, "__cpu_baseline__", [])),
            "dispatch": [t for t in getattr(mu, "__cpu_dispatch__", []) if features.get(t)],
            "disabled": os.environ.get("NPY_DISABLE_CPU_FEATURES", "")}


def uncommitted(repo_root: Path = REPO_ROOT, ignore: tuple = OUTPUT_PATHS) -> list[str]:
    """Tracked files with uncommitted changes and untracked files git does not
    ignore (either may change a result), outside the reference's own outputs.
    Raises RuntimeError when git cannot tell (no git, not a checkout)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo_root,
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"cannot run git status in {repo_root}: {exc}") from exc
    if out.returncode != 0:
        raise RuntimeError(f"git status failed in {repo_root}: {out.stderr.strip()}")
    paths = []
    for line in out.stdout.splitlines():
        path = line[3:].split(" -> ")[-1].strip('"')
        if not path.startswith(ignore):
            paths.append(f"{line[:2].strip()} {path}")
    return paths


def trace_specs(cfg: dict) -> list[str]:
    """Every trace an experiment's configuration names, in a stable order."""
    specs = []
    for key in TRACE_KEYS:
        value = cfg.get(key)
        for spec in ([value] if isinstance(value, str) else value or []):
            if str(spec) not in specs:
                specs.append(str(spec))
    return specs


def input_digests(cfg: dict) -> dict[str, str]:
    """{trace spec: SHA-256 of its packets} for the traces a configuration
    reads (traces.Trace.digest). Bursts are made in closed form from the
    configuration itself, which the reference records beside this."""
    from traces import load_trace

    return {spec: load_trace(spec).digest() for spec in trace_specs(cfg)}
