"""Run one registered experiment end to end: compute, check, save, plot."""
from __future__ import annotations

from pathlib import Path

from experiments import registry, results


def run_experiment(name: str, quick: bool = False, backend: str = "sim", overrides: dict | None = None,
                   plot_only: bool = False) -> Path:
    mod = registry.get(name)
    backends = getattr(mod, "BACKENDS", ("sim",))
    if backend not in backends:
        raise ValueError(f"backend {backend!r} is not available for {name}; use one of {', '.join(backends)}")
    if plot_only:
        run_dir = results.latest_run(name)
        if run_dir is None:
            raise ValueError(f"--plot-only: no saved run of {name} under {results.results_dir() / name}")
        _, df = results.load_run(run_dir)
        mod.plot(df, run_dir / f"{name}.png")
        return run_dir
    cfg = registry.config(name, quick=quick, overrides=overrides)
    cfg["backend"] = backend
    df = mod.run(cfg)
    run_dir = results.save_run(name, cfg, df, accounting=getattr(mod, "ACCOUNTING", True))
    claims = [c.as_row() for c in mod.claims(df)]
    results.write_json(run_dir / "claims.json", claims)
    mod.plot(df, run_dir / f"{name}.png")
    return run_dir
