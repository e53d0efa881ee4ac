"""What the notebooks call, so that they stay short and their logic is tested.

Every function works on what is on disk under results/ and copes with what
is not there yet: a missing run is reported (``None`` or an explanatory
row), never an exception, so the notebooks run top to bottom on a fresh
clone whatever subset of experiments has results.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from experiments import acceptance, registry, results
from experiments import report as rep
from experiments import sweep as sweep_mod
from experiments.sweep import SWEEP, varying_axes


def status() -> pd.DataFrame:
    """One row per experiment (registered or named by ACCEPTANCE.md): its latest run and claims."""
    rows = []
    for name, info in rep.collect().items():
        rows.append({"experiment": name,
                     "title": registry.get(name).TITLE if info.registered else "(not implemented yet)",
                     "latest run": info.run_label or "-", "rows": len(info.df) if info.df is not None else 0,
                     "checks passing": f"{sum(c.passed for c in info.claims)}/{len(info.claims)}"
                     if info.claims else "-", "note": info.error})
    return pd.DataFrame(rows)


def latest(name: str) -> tuple[Path, dict, pd.DataFrame] | None:
    run_dir = results.latest_run(name)
    if run_dir is None:
        return None
    meta, df = results.load_run(run_dir)
    return run_dir, meta, df


def figure(name: str, run_dir: Path, out_dir: Path) -> Path:
    """The experiment's figure drawn from the saved table by today's plot()."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _, df = results.load_run(run_dir)
    path = out_dir / f"{name}.png"
    registry.get(name).plot(df, path)
    return path


def claims_table(name: str, df: pd.DataFrame) -> pd.DataFrame:
    rows = [c.as_row() for c in registry.get(name).claims(df)]
    cols = ["key", "text", "paper", "ours", "diff", "tolerance", "result", "point"]
    return pd.DataFrame(rows, columns=cols)


def _metric(rows: pd.DataFrame, metric: str) -> float:
    if "/" in metric:
        num, den = metric.split("/", 1)
        total = rows[den].sum()
        return float(rows[num].sum() / total) if total else float("nan")
    return float(rows[metric].mean())


def published_vs_ours(name: str, df: pd.DataFrame | None) -> pd.DataFrame:
    """Every number the paper's text gives for this experiment next to ours
    at the same point (ACCEPTANCE.md via experiments/acceptance.py)."""
    out = []
    for entry in acceptance.for_experiment(name):
        for pub in entry.published:
            ours, note = float("nan"), ""
            if df is None:
                note = "no saved run"
            else:
                missing = [c for c in list(pub.selector) + pub.metric.split("/") if c not in df.columns]
                if missing:
                    note = f"the run has no column {', '.join(missing)}"
                else:
                    sel = np.ones(len(df), dtype=bool)
                    for col, val in pub.selector.items():
                        sel &= (df[col].astype(str) == str(val)).to_numpy()
                    rows = df[sel]
                    if rows.empty:
                        note = "point not in this run (a --quick run?)"
                    else:
                        ours = _metric(rows, pub.metric)
            out.append({"point": pub.label, "paper %": 100 * pub.value, "ours %": 100 * ours,
                        "difference pp": 100 * (ours - pub.value), "tolerance": entry.tolerance, "note": note})
    return pd.DataFrame(out, columns=["point", "paper %", "ours %", "difference pp", "tolerance", "note"])


def plot_published(table: pd.DataFrame, ax, title: str = "") -> None:
    """Paper and ours side by side, one pair of bars per published number."""
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["paper %"], width=0.4, label="paper")
    ax.bar(x + 0.2, table["ours %"].fillna(0), width=0.4, label="ours")
    ax.set_xticks(x, table["point"], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("drop rate (%)")
    ax.set_title(title)
    ax.legend(fontsize=8)


def acceptance_table() -> pd.DataFrame:
    """The report's claim table as a DataFrame."""
    rows = rep.acceptance_rows(rep.collect())
    return pd.DataFrame(rows)[["id", "claim", "paper", "ours", "difference", "tolerance", "result", "run"]]


# ---- sweeps ---------------------------------------------------------------------

def tables() -> pd.DataFrame:
    """Every complete run on disk (sweeps first, newest first) with its varying axes."""
    rows = []
    for exp in [SWEEP] + [e for e in results.experiments_on_disk() if e != SWEEP]:
        for run_dir in reversed(results.run_dirs(exp)):
            meta = json.loads((run_dir / "config.json").read_text())
            rows.append({"kind": "sweep" if exp == SWEEP else "experiment", "name": exp,
                         "label": meta.get("config", {}).get("label", ""), "rows": meta.get("rows"),
                         "run": str(run_dir)})
    return pd.DataFrame(rows, columns=["kind", "name", "label", "rows", "run"])


def load_table(run: str | Path | None = None) -> tuple[Path, pd.DataFrame] | None:
    """A run's table: the given folder, else the newest sweep, else the newest
    run of any experiment; None when results/ holds nothing."""
    if run:
        _, df = results.load_run(Path(run))
        return Path(run), df
    sweep = results.latest_run(SWEEP)
    if sweep is not None:
        return sweep, results.load_run(sweep)[1]
    runs = [r for r in (results.latest_run(e) for e in results.experiments_on_disk()) if r is not None]
    if not runs:
        return None
    newest = max(runs, key=lambda r: (results.run_started(r) or 0, r.name))
    return newest, results.load_run(newest)[1]


def axes(df: pd.DataFrame) -> list[str]:
    return varying_axes(df)


def totals(df: pd.DataFrame) -> pd.DataFrame:
    """Multi-queue tables carry per-queue rows and a totals row (queue "all"): keep the totals."""
    if "queue" in df.columns and (df["queue"].astype(str) == "all").any():
        return df[df["queue"].astype(str) == "all"]
    return df


# the sweep module draws sweeps; the notebook uses the same functions
choose = sweep_mod.choose
pivot = sweep_mod.pivot
plot_lines = sweep_mod.plot_lines
