"""Run one registered experiment end to end: compute, check, save, plot.

    run_experiment("fig9", quick=True, jobs=2)

1. build the configuration (DEFAULT_CONFIG, QUICK_CONFIG, --param overrides),
   checked by experiments/params.py: nothing is created for a bad value,
2. open a run folder, or resume the newest unfinished one with the same
   configuration and commit (its saved points are not measured again),
3. compute through the executor (in order, in processes, or on Dask), with a
   progress bar on a terminal,
4. check accounting, save data.parquet and config.json, claims.json, figure.
"""
from __future__ import annotations

import inspect
import time
from pathlib import Path

from experiments import executor, params, registry, results
from experiments.progress import ProgressBar


def _backends(mod) -> tuple[str, ...]:
    return tuple(getattr(mod, "BACKENDS", ("sim",)))


def call_run(mod, cfg: dict, progress=None):
    """The experiment's table, computed and saved nowhere (run_experiment
    saves it; experiments/bench.py only times it)."""
    # registry.py: run(cfg, progress=None); tolerate a module whose run(cfg)
    # has no progress parameter rather than fail on an optional feature
    if "progress" in inspect.signature(mod.run).parameters:
        return mod.run(cfg, progress=progress)
    return mod.run(cfg)


def plot_run(name: str, run_dir: Path | None = None) -> Path:
    """Redraw the figure of a saved run (the latest by default); compute nothing."""
    mod = registry.get(name)
    run_dir = Path(run_dir) if run_dir else results.latest_run(name)
    if run_dir is None:
        raise ValueError(f"no saved run of {name} under {results.results_dir() / name}; "
                         f"run `invoke run-experiment --name {name}` first")
    _, df = results.load_run(run_dir)
    path = run_dir / f"{name}.png"
    mod.plot(df, path)
    return path


def run_experiment(name: str, quick: bool = False, backend: str = "sim", overrides: dict | None = None,
                   plot_only: bool = False, jobs: int = 1, scheduler: str | None = None,
                   resume: bool = True, progress: bool | None = None, extra: dict | None = None) -> Path:
    """Run `name` and return its run folder.

    jobs: local processes (1: in order); scheduler: a Dask scheduler address
    (overrides jobs); resume: pick up an interrupted identical run; progress:
    draw a bar (None: only on a terminal); extra: more metadata for
    config.json (e.g. where a remote run came from).
    """
    mod = registry.get(name)
    backends = _backends(mod)
    if backend not in backends:
        raise ValueError(f"backend {backend!r} is not available for {name}; use one of {', '.join(backends)}")
    if plot_only:
        return plot_run(name).parent
    # every parameter is checked (experiments/params.py) before any folder exists
    cfg = registry.config(name, quick=quick, overrides=overrides, backend=backend)
    cfg["backend"] = backend
    params.check("jobs", jobs)
    run_dir, store = results.open_run(name, cfg, resume, extra={"execution": {"jobs": jobs, "scheduler": scheduler}})
    saved = len(store)
    if saved:
        print(f"{name}: resuming {run_dir} ({saved} point(s) already saved)")
    t0 = time.perf_counter()
    try:
        with ProgressBar(name, show=progress) as bar, \
                executor.settings(jobs=jobs, scheduler=scheduler, store=store):
            df = call_run(mod, cfg, bar)
    except KeyboardInterrupt:
        print(f"\n{name}: interrupted; {len(store)} point(s) saved in {run_dir}; "
              f"the same command resumes from them")
        raise
    except Exception:
        # failed before its first point: leave no folder holding only config.json
        results.discard_empty_run(run_dir)
        raise
    wall_s = time.perf_counter() - t0
    info = {"execution": {"jobs": jobs, "scheduler": scheduler, "resumed_points": saved,
                          "wall_s": round(wall_s, 3)}, **(extra or {})}
    results.save_run(name, cfg, df, run_dir=run_dir, extra=info, accounting=getattr(mod, "ACCOUNTING", True))
    claims = [c.as_row() for c in mod.claims(df)]
    results.write_json(run_dir / "claims.json", claims)
    mod.plot(df, run_dir / f"{name}.png")
    return run_dir
