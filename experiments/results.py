"""Run directories: ``results/<experiment>/<utc>-<gitsha>/``.

Each holds ``data.parquet`` (one row per point), ``config.json`` (every
parameter, seeds, backend, git commit, host, package versions, how it was
executed) and the figures. Writes are atomic (temporary file + rename),
nothing overwrites an earlier run, and a run whose rows break the accounting
invariant is refused.

A run's life cycle, as it appears on disk:

    started    config.json says "status": "running"; points/ fills up, one
               file per measured point (the resume journal)
    complete   data.parquet written, config.json says "complete", points/
               removed (data.parquet holds every row)

Only complete runs (those with data.parquet) count as results: the report,
``--plot-only`` and the notebooks never see a half-finished run. An
interrupted run is picked up again by the next identical run (same
experiment, configuration and commit), which skips the points in points/.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path

import pandas as pd

from experiments import provenance

REPO_ROOT = Path(__file__).resolve().parent.parent
# WIRECAP_RESULTS moves the results folder (tests use a temporary one).
RESULTS_DIR = Path(os.environ.get("WIRECAP_RESULTS", REPO_ROOT / "results"))
# Folders under results/ that are not experiments' run folders: the report
# must never be built from, nor clean-results ever delete, these.
RESERVED = ("reference",)

ACCOUNTING_COLUMNS = ("sent", "delivered", "capture_drops", "delivery_drops")
VERSIONED_PACKAGES = ("numpy", "pandas", "pyarrow", "matplotlib", "cffi", "invoke", "fabric", "dask",
                      "distributed", "tqdm")
RUN_STAMP = "%Y%m%dT%H%M%SZ"
_RUN_NAME = re.compile(r"^(\d{8}T\d{6}Z)-")
_UMASK = os.umask(0)
os.umask(_UMASK)


class AccountingError(ValueError):
    """Rows break sent == delivered + capture_drops + delivery_drops (+ filtered)."""


def results_dir() -> Path:
    return Path(os.environ.get("WIRECAP_RESULTS", RESULTS_DIR))


def git_sha(short: bool = True) -> str:
    """The checkout's commit (short: with "-dirty" when tracked files changed).

    A copy without .git (deployed by remote-run) reads the commit it was
    made from in .wirecap-commit; anything else is "nogit"."""
    try:
        cmd = ["git", "rev-parse", "--short", "HEAD"] if short else ["git", "rev-parse", "HEAD"]
        out = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        out = None
    sha = out.stdout.strip() if out is not None else ""
    if out is None or out.returncode != 0 or not sha:
        stamp = REPO_ROOT / ".wirecap-commit"
        return ("deployed-" + stamp.read_text().strip()) if stamp.exists() else "nogit"
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
        "git_describe": git_sha(short=True),   # carries "-dirty" when tracked files were edited
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "cpu": provenance.cpu_model(),
        "numpy_simd": provenance.numpy_simd(),  # which SIMD kernels numpy ran (issue 10)
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


# ---- atomic writes ----------------------------------------------------------

def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename: a
    reader (or a crash) sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are for everyone who may read the folder
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def _json_default(obj):
    # numpy scalars (np.int64, np.float64, np.bool_) and anything else with .item()
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def dumps(obj) -> str:
    """JSON as this project writes it: sorted keys, floats that round-trip exactly."""
    return json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n"


def write_json(path: Path, obj) -> None:
    atomic_write_text(path, dumps(obj))


MIXED_KEY = b"wirecap.mixed_columns"


def _mixed_columns(df: pd.DataFrame) -> list[str]:
    """Object columns holding numbers and strings together, e.g. a multi-queue
    table's queue column (0, 1, ..., "all"): Parquet needs one type per column."""
    out = []
    for c in df.columns:
        if df[c].dtype == object:
            kinds = {type(v) for v in df[c] if v is not None and v == v}
            if len(kinds) > 1 and str in kinds:
                out.append(c)
    return out


def write_parquet(path: Path, df: pd.DataFrame) -> None:
    """Parquet, with mixed number/string columns stored as text and named in
    the file's metadata so that read_parquet gives the numbers back."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    mixed = _mixed_columns(df)
    if not mixed:
        _atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))
        return
    d = df.copy()
    for c in mixed:
        d[c] = d[c].map(lambda v: v if v is None or v != v else str(v))
    table = pa.Table.from_pandas(d, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), MIXED_KEY: json.dumps(mixed).encode()})
    _atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def _from_text(v):
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            return v
    return v


def read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    df = pd.read_parquet(path)
    meta = pq.read_schema(path).metadata or {}
    for c in json.loads(meta.get(MIXED_KEY, b"[]")):
        df[c] = df[c].map(_from_text).astype(object)
    return df


def write_figure(path: Path | str, fig) -> None:
    path = Path(path)
    _atomic_write(path, lambda tmp: fig.savefig(tmp, format=path.suffix.lstrip("."), dpi=120, bbox_inches="tight"))


# ---- run folders -------------------------------------------------------------

def new_run_dir(experiment: str, when: datetime | None = None) -> Path:
    when = when or datetime.now(timezone.utc)
    base = results_dir() / experiment
    stem = f"{when:{RUN_STAMP}}-{git_sha()}"
    path, i = base / stem, 1
    while True:
        try:
            path.mkdir(parents=True)  # exist_ok=False: two runs in one second get .2, .3, ...
            return path
        except FileExistsError:
            i += 1
            path = base / f"{stem}.{i}"


def run_started(run_dir: Path) -> datetime | None:
    """The UTC time in a run folder's name (None for names not made here)."""
    m = _RUN_NAME.match(Path(run_dir).name)
    if not m:
        return None
    return datetime.strptime(m.group(1), RUN_STAMP).replace(tzinfo=timezone.utc)


def start_run(experiment: str, cfg: dict, extra: dict | None = None) -> Path:
    """Create the run folder and record what is about to run (status "running")."""
    run_dir = new_run_dir(experiment)
    write_json(run_dir / "config.json", {"experiment": experiment, "config": cfg, "status": "running",
                                         "started": datetime.now(timezone.utc).isoformat(),
                                         "environment": environment(), **(extra or {})})
    return run_dir


def save_run(experiment: str, cfg: dict, df: pd.DataFrame, run_dir: Path | None = None,
             extra: dict | None = None, accounting: bool = True) -> Path:
    """Check the invariant (for capture experiments), then write config.json
    and data.parquet (last: its presence is what makes a run complete)."""
    if accounting:
        check_accounting(df)
    run_dir = run_dir or new_run_dir(experiment)
    meta = {}
    if (run_dir / "config.json").exists():
        meta = json.loads((run_dir / "config.json").read_text())
    meta.update({"experiment": experiment, "config": cfg, "status": "complete",
                 "finished": datetime.now(timezone.utc).isoformat(), "rows": len(df)})
    meta.setdefault("environment", environment())
    meta.update(extra or {})
    write_json(run_dir / "config.json", meta)
    write_parquet(run_dir / "data.parquet", df)
    PointStore(run_dir).remove()
    return run_dir


def experiments_on_disk() -> list[str]:
    """Every folder under results/ that holds runs (registered or not)."""
    base = results_dir()
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and p.name not in RESERVED)


def run_dirs(experiment: str) -> list[Path]:
    """Complete runs of one experiment, oldest first."""
    base = results_dir() / experiment
    if not base.is_dir():
        return []
    return sorted((p for p in base.iterdir() if p.is_dir() and (p / "data.parquet").exists()),
                  key=_run_order)


def _run_order(p: Path):
    # the UTC stamp sorts runs; ".2", ".3" suffixes (same second) after the first
    stem, _, n = p.name.partition(".")
    return (stem[:16], int(n) if n.isdigit() else 1, p.name)


def incomplete_runs(experiment: str) -> list[Path]:
    """Runs that started (config.json) and never finished (no data.parquet)."""
    base = results_dir() / experiment
    if not base.is_dir():
        return []
    return sorted((p for p in base.iterdir()
                   if p.is_dir() and (p / "config.json").exists() and not (p / "data.parquet").exists()),
                  key=_run_order)


def latest_run(experiment: str, backend: str | None = None) -> Path | None:
    """The newest finished run, or the newest one measured on `backend`."""
    for run in reversed(run_dirs(experiment)):
        if backend is None:
            return run
        try:
            cfg = json.loads((run / "config.json").read_text()).get("config", {})
        except (OSError, json.JSONDecodeError):
            continue
        if cfg.get("backend", "sim") == backend:
            return run
    return None


def load_run(run_dir: Path) -> tuple[dict, pd.DataFrame]:
    run_dir = Path(run_dir)
    if not (run_dir / "data.parquet").exists():
        raise FileNotFoundError(f"{run_dir}: no data.parquet (an unfinished or foreign folder)")
    cfg = json.loads((run_dir / "config.json").read_text())
    return cfg, read_parquet(run_dir / "data.parquet")


def find_resumable(experiment: str, cfg: dict) -> Path | None:
    """The newest unfinished run with exactly this configuration, made by this
    commit: its saved points are valid for the run about to start."""
    commit = git_sha(short=False)
    want = json.loads(dumps(cfg))  # the same normalisation as what is on disk
    for run_dir in reversed(incomplete_runs(experiment)):
        try:
            meta = json.loads((run_dir / "config.json").read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if meta.get("config") == want and meta.get("environment", {}).get("git_commit") == commit:
            return run_dir
    return None



def open_run(experiment: str, cfg: dict, resume: bool, extra: dict | None = None) -> tuple[Path, PointStore]:
    """The run folder for cfg and its journal: the resumable one (``resume``
    and find_resumable() finds one), else a new one started with ``extra``."""
    run_dir = find_resumable(experiment, cfg) if resume else None
    if run_dir is None:
        run_dir = start_run(experiment, cfg, extra=extra)
    return run_dir, PointStore(run_dir)


def discard_empty_run(run_dir: Path) -> bool:
    """Remove a started run that saved nothing (a run that failed before its
    first point): a folder holding only config.json helps no one. A run with
    saved points, or a complete one, is kept. True when removed."""
    run_dir = Path(run_dir)
    if (run_dir / "data.parquet").exists() or len(PointStore(run_dir)):
        return False
    shutil.rmtree(run_dir, ignore_errors=True)
    return not run_dir.exists()


# ---- the resume journal -----------------------------------------------------

def point_key(fn, point: dict) -> str:
    """A stable name for (function, point): the same point measured by the
    same function always maps to the same journal file."""
    ident = f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"
    blob = json.dumps({"fn": ident, "point": point}, sort_keys=True, default=_json_default)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


class PointStore:
    """``<run>/points/<key>.json``: the rows of every point measured so far.

    One file per point, each written atomically, so an interrupted run loses
    at most the points in flight. Floats go through JSON's shortest
    round-trip form, so a resumed table equals an uninterrupted one exactly.
    """

    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir) / "points"

    def get(self, key: str) -> list[dict] | None:
        path = self.dir / f"{key}.json"
        try:
            return json.loads(path.read_text())["rows"]
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, KeyError):
            return None  # cannot happen with atomic writes; recompute rather than trust it

    def put(self, key: str, point: dict, rows: list[dict]) -> None:
        atomic_write_text(self.dir / f"{key}.json",
                          json.dumps({"point": point, "rows": rows}, default=_json_default))

    def __len__(self) -> int:
        return len(list(self.dir.glob("*.json"))) if self.dir.is_dir() else 0

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- housekeeping -----------------------------------------------------------

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
MAX_AGE = timedelta(days=999_999_999)   # datetime.timedelta.max, to the day
_AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str) -> timedelta:
    """'30d', '12h', '2w', '90m', '45s' -> timedelta."""
    m = _AGE.match(str(text))
    if not m:
        raise ValueError(f"--older-than {text!r}: expected a number and a unit s, m, h, d or w, e.g. 30d")
    unit = _AGE_UNITS[m.group(2)]
    seconds = float(m.group(1)) * timedelta(**{unit: 1}).total_seconds()
    if not seconds <= MAX_AGE.total_seconds():   # also inf from a long string of digits
        raise ValueError(f"--older-than {text!r}: at most {MAX_AGE.days:,}d ({MAX_AGE.days // 7:,}w), "
                         f"the longest age this can count")
    return timedelta(seconds=seconds)


def clean_results(older_than: timedelta, keep_latest: bool = True, dry_run: bool = False,
                  now: datetime | None = None) -> list[Path]:
    """Delete run folders started more than `older_than` ago. Never touches
    results/reference/, folders whose names this module did not make, or (with
    keep_latest) the newest complete run of each experiment, so the report can
    still be rebuilt."""
    now = now or datetime.now(timezone.utc)
    removed = []
    for exp in experiments_on_disk():
        base = results_dir() / exp
        keep = latest_run(exp) if keep_latest else None
        for run_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            started = run_started(run_dir)
            if started is None or run_dir == keep or now - started <= older_than:
                continue
            removed.append(run_dir)
            if not dry_run:
                shutil.rmtree(run_dir)
    return removed
