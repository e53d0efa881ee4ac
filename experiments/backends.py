"""Which backend measured a table, and the module that reads it.

An experiment module runs, plots and checks the simulator's rows itself;
rows measured on the real backend (column ``backend`` = "xdp") have their own
columns and claims, read by experiments/live/<name>.py.
"""
from __future__ import annotations

import importlib
from types import ModuleType

import pandas as pd


def measured_live(name: str, df: pd.DataFrame) -> ModuleType | None:
    """experiments.live.<name> when `df` was measured on the xdp backend, else None."""
    if "backend" in df.columns and (df["backend"] == "xdp").any():
        return importlib.import_module(f"experiments.live.{name}")
    return None
