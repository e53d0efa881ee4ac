"""Run directories: ``results/<experiment>/<utc>-<gitsha>/``.

Each holds ``data.parquet`` (one row per point), ``config.json`` (every
parameter, seeds, backend, git commit, host, package versions) and the
figures. Writes are atomic (temporary file + rename), nothing overwrites an
earlier run, and a run whose rows break the accounting invariant is refused.
"""
from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
# WIRECAP_RESULTS moves the results folder (tests use a temporary one).
RESULTS_DIR = Path(os.environ.get("WIRECAP_RESULTS", REPO_ROOT / "results"))

ACCOUNTING_COLUMNS = ("sent", "delivered", "capture_drops", "delivery_drops")
VERSIONED_PACKAGES = ("numpy", "pandas", "pyarrow", "matplotlib", "cffi", "invoke", "fabric")


class AccountingError(ValueError):
    """Rows break sent == delivered + capture_drops + delivery_drops (+ filtered)."""


def results_dir() -> Path:
    return Path(os.environ.get("WIRECAP_RESULTS", RESULTS_DIR))


def git_sha(short: bool = True) -> str:
    try:
        cmd = ["git", "rev-parse", "--short", "HEAD"] if short else ["git", "rev-parse", "HEAD"]
        out = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "nogit"
    sha = out.stdout.strip()
    if out.returncode != 0 or not sha:
        return "nogit"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=10).stdout.strip()
    return sha + ("-dirty" if dirty and short else "")


def environment() -> dict:
    versions = {}
    for pkg in VERSIONED_PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "git_commit": git_sha(short=False),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "packages": versions,
    }


def check_accounting(df: pd.DataFrame) -> None:
    """Refuse rows where packets appear or vanish (DESIGN.md §3)."""
    missing = [c for c in ACCOUNTING_COLUMNS if c not in df.columns]
    if missing:
        raise AccountingError(f"results lack the accounting columns {missing}")
    filtered = df["filtered"] if "filtered" in df.columns else 0
    balance = df["sent"] - (df["delivered"] + df["capture_drops"] + df["delivery_drops"] + filtered)
    bad = df[balance != 0]
    if len(bad):
        raise AccountingError(
            f"{len(bad)} row(s) break sent == delivered + capture_drops + delivery_drops (+ filtered); "
            f"first: {bad.iloc[0].to_dict()}")


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj) -> None:
    _atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"))


def write_parquet(path: Path, df: pd.DataFrame) -> None:
    _atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))


def write_figure(path: Path, fig) -> None:
    _atomic_write(path, lambda tmp: fig.savefig(tmp, format=path.suffix.lstrip("."), dpi=120, bbox_inches="tight"))


def new_run_dir(experiment: str, when: datetime | None = None) -> Path:
    when = when or datetime.now(timezone.utc)
    base = results_dir() / experiment
    stem = f"{when:%Y%m%dT%H%M%SZ}-{git_sha()}"
    path, i = base / stem, 1
    while path.exists():
        i += 1
        path = base / f"{stem}.{i}"
    path.mkdir(parents=True)
    return path


def save_run(experiment: str, cfg: dict, df: pd.DataFrame, run_dir: Path | None = None,
             extra: dict | None = None, accounting: bool = True) -> Path:
    """Check the invariant (for capture experiments), then write data.parquet and config.json."""
    if accounting:
        check_accounting(df)
    run_dir = run_dir or new_run_dir(experiment)
    write_parquet(run_dir / "data.parquet", df)
    write_json(run_dir / "config.json", {"experiment": experiment, "config": cfg,
                                         "environment": environment(), **(extra or {})})
    return run_dir


def run_dirs(experiment: str) -> list[Path]:
    base = results_dir() / experiment
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.is_dir() and (p / "data.parquet").exists())


def latest_run(experiment: str) -> Path | None:
    runs = run_dirs(experiment)
    return runs[-1] if runs else None


def load_run(run_dir: Path) -> tuple[dict, pd.DataFrame]:
    cfg = json.loads((run_dir / "config.json").read_text())
    return cfg, pd.read_parquet(run_dir / "data.parquet")
