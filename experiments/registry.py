"""The one table of experiments.

Every experiment is a module exposing:

    NAME, TITLE        identifiers
    DEFAULT_CONFIG     dict: the paper's parameters (full published scale)
    QUICK_CONFIG       dict: overrides for ``--quick`` (seconds, same claims)
    run(cfg, progress=None) -> pandas.DataFrame   one row per measured point
    plot(df, path)     writes the figure
    claims(df) -> list[experiments.claims.Claim]

and optionally BACKENDS (default ("sim",)), XDP_CONFIG (dict: the parameters
only the xdp backend reads, with their defaults; ``--param`` accepts them
with ``--backend xdp``) and ACCOUNTING (default True:
rows carry sent/delivered/capture_drops/delivery_drops and must balance;
False for experiments that only profile traffic, such as fig3).
"""
from __future__ import annotations

import importlib
from types import ModuleType

from experiments import params

EXPERIMENTS: dict[str, str] = {
    "fig3": "experiments.fig3",
    "fig8": "experiments.fig8",
    "fig9": "experiments.fig9",
    "fig10": "experiments.fig10",
    "table1": "experiments.table1",
    "fig11": "experiments.fig11",
    "fig12": "experiments.fig12",
    "fig13": "experiments.fig13",
    "fig14": "experiments.fig14",
    # beyond the paper: its claims are ours (report.py lists them apart)
    "offload": "experiments.offload",
    # beyond the paper's testbed: 40 and 100 GbE NIC models (driver/sim/nics.py)
    "fig9_fast": "experiments.fig9_fast",
    "fig11_fast": "experiments.fig11_fast",
    # beyond the paper: the capacity planner on the paper's configuration
    "plan_paper": "experiments.plan_paper",
}


def names() -> list[str]:
    return list(EXPERIMENTS)


def get(name: str) -> ModuleType:
    try:
        return importlib.import_module(EXPERIMENTS[name])
    except KeyError:
        raise KeyError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}") from None


def config(name: str, quick: bool = False, overrides: dict | None = None, backend: str = "sim") -> dict:
    mod = get(name)
    cfg = dict(mod.DEFAULT_CONFIG)
    if quick:
        cfg.update(mod.QUICK_CONFIG)
    xdp_only = dict(getattr(mod, "XDP_CONFIG", {}))
    if backend == "xdp":
        cfg.update(xdp_only)
    for key in (overrides or {}):
        if key not in cfg:
            hint = f" (with --backend xdp only)" if key in xdp_only else ""
            raise KeyError(f"experiment {name} has no parameter {key!r}{hint}; parameters: {', '.join(cfg)}")
    # experiments/params.py: every value within its limits (ParamError, a
    # ValueError naming the parameter), a scalar for a list parameter as
    # [scalar], 1e3 as 1000; then the engines the configuration builds
    cfg.update(params.check_overrides(name, cfg, dict(overrides or {}), backend=backend))
    cfg["quick"] = bool(quick)
    return cfg
