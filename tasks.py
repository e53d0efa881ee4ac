"""The front door: ``invoke --list`` shows every task, ``invoke --help NAME``
its parameters (with units and defaults).

    invoke run-experiment --name fig9            # one figure, full scale
    invoke run-experiment --name all --quick     # every experiment, seconds
    invoke report                                # results/REPORT.md
"""
from __future__ import annotations

import json

from invoke import Collection, Exit, task


def _parse_params(params: list[str]) -> dict:
    """``key=value`` pairs; values are JSON where they parse (numbers, lists)."""
    out = {}
    for item in params or []:
        if "=" not in item:
            raise Exit(f"--param {item!r}: expected key=value, e.g. --param R=500")
        key, raw = item.split("=", 1)
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


@task(
    iterable=["param"],
    help={
        "name": "experiment name (see `invoke list-experiments`) or 'all'",
        "quick": "run the reduced set of points (seconds instead of minutes)",
        "backend": "sim (default: the simulated testbed) or xdp (real AF_XDP, needs root)",
        "plot_only": "redraw the figure of the latest saved run, compute nothing",
        "param": "override one configuration value, key=value (repeatable), e.g. --param R=500",
    },
)
def run_experiment(c, name, quick=False, backend="sim", plot_only=False, param=None):
    """Run an experiment and save results/<name>/<utc>-<gitsha>/ (data, config, figure)."""
    from experiments import registry, runner

    names = registry.names() if name == "all" else [name]
    for n in names:
        if n not in registry.EXPERIMENTS:
            raise Exit(f"unknown experiment {n!r}; known: {', '.join(registry.names())} or 'all'")
    overrides = _parse_params(param)
    for n in names:
        try:
            path = runner.run_experiment(n, quick=quick, backend=backend, overrides=overrides,
                                         plot_only=plot_only)
        except (KeyError, ValueError) as exc:
            raise Exit(f"{n}: {exc}") from exc
        print(f"{n}: {path}")


@task
def list_experiments(c):
    """List the experiments with their titles."""
    from experiments import registry

    for n in registry.names():
        print(f"{n:8s} {registry.get(n).TITLE}")


@task(help={"out": "where to write the Markdown report (default results/REPORT.md)"})
def report(c, out=""):
    """Write results/REPORT.md: every claim of ACCEPTANCE.md, PASS or FAIL, from the latest runs."""
    from experiments import report as rep

    path = rep.write_report(out or None)
    print(path)


@task(help={"backend": "sim (simulator speed) or xdp (real engine vs bare AF_XDP; root)",
            "json_out": "also save pytest-benchmark's JSON here"})
def bench(c, backend="sim", json_out=""):
    """Benchmarks: simulated packets per wall-clock second (sim), or packets/s on a veth (xdp)."""
    import sys
    import tempfile
    from pathlib import Path

    files = {"sim": ["tests/test_benchmark_sim.py"], "xdp": ["tests/test_benchmark_xdp.py"]}
    if backend not in files:
        raise Exit(f"--backend {backend!r}: choose sim or xdp")
    out = json_out or str(Path(tempfile.mkdtemp()) / "bench.json")
    c.run(f"{sys.executable} -m pytest -q --benchmark-only --benchmark-json={out} " + " ".join(files[backend]),
          pty=False)
    data = json.loads(Path(out).read_text())
    print(f"{'benchmark':60s} {'min s':>9s} {'packets/s':>14s}")
    for b in data["benchmarks"]:
        pps = b.get("extra_info", {}).get("packets_per_s")
        print(f"{b['name']:60s} {b['stats']['min']:9.3f} {pps:14,.0f}" if pps else
              f"{b['name']:60s} {b['stats']['min']:9.3f} {'':>14s}")


ns = Collection(run_experiment, list_experiments, report, bench)
