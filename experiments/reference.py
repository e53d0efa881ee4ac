"""results/reference/: the committed results CI compares every change against.

    results/reference/
        reference.json       why and when each reference was made (history)
        <experiment>.csv     the quick run of every simulated experiment
        perf.json            simulator / bare-loop speed ratios (experiments/perf.py)
        determinism.json     digests of the Fermilab-like trace and of one point
                             simulated on it (experiments/determinism.py)

reference.json also says, per experiment, what it was made from: the
digests of its input traces and the environment (CPU model, numpy's SIMD
level, package versions). ``invoke update-reference`` refuses a work tree
with uncommitted changes, so every entry names a real commit.

The simulator is deterministic, so the quick runs must match their reference
exactly: a changed drop count anywhere is either a bug or a deliberate model
change. A deliberate change is recorded with ``invoke update-reference
--reason "..."`` (the reason, date and commit go into reference.json).

CSV, not Parquet, so that a reference update is a readable diff in review;
floats are written in their shortest round-trip form and both sides of a
comparison go through the same writer and reader, so equality is exact.
"""
from __future__ import annotations

import io
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from experiments import determinism, provenance, registry, results

REFERENCE_DIR = results.REPO_ROOT / "results" / "reference"
# The columns that say *which* point a row is, in the order a message names
# them; every other column is a measurement.
POINT_COLUMNS = ("engine_label", "M", "R", "T", "x", "P", "size", "queues", "queue", "trace", "forward",
                 "nic_buffer", "nics", "clock_ghz", "seed", "backend")
# Counters of how the simulator computed, not of what it computed (the number
# of discrete events changes when the event loop is optimised, with every
# drop count the same): neither stored nor compared.
IMPLEMENTATION_COLUMNS = ("events",)
MAX_MESSAGES = 12
# pandas 3 reads floats back exactly by default (and deprecates the option);
# pandas 2 needs it asked for
_CSV_READ = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}


def reference_dir() -> Path:
    # WIRECAP_REFERENCE lets tests write a reference without touching the committed one
    return Path(os.environ.get("WIRECAP_REFERENCE", REFERENCE_DIR))


def simulated() -> list[str]:
    """Every registered experiment that runs on the simulated testbed."""
    return [n for n in registry.names() if "sim" in getattr(registry.get(n), "BACKENDS", ("sim",))]


def quick_config(name: str) -> dict:
    cfg = registry.config(name, quick=True)
    cfg["backend"] = "sim"
    return cfg


def compute(name: str) -> pd.DataFrame:
    """The experiment's quick run, in this process (deterministic: no need for more)."""
    return registry.get(name).run(quick_config(name))


def stored(df: pd.DataFrame) -> pd.DataFrame:
    """The columns a reference keeps."""
    return df.drop(columns=[c for c in IMPLEMENTATION_COLUMNS if c in df.columns])


def normalize(df: pd.DataFrame) -> pd.DataFrame:
    """The table as the reference file stores it: through CSV and back."""
    return pd.read_csv(io.StringIO(stored(df).to_csv(index=False)), **_CSV_READ)


def load(name: str) -> pd.DataFrame | None:
    path = reference_dir() / f"{name}.csv"
    if not path.exists():
        return None
    return stored(pd.read_csv(path, **_CSV_READ))


def history() -> dict:
    path = reference_dir() / "reference.json"
    return json.loads(path.read_text()) if path.exists() else {"history": [], "experiments": {}}


# ---- comparing --------------------------------------------------------------

def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)) and not np.isnan(v):
        return str(int(v)) if float(v) == int(v) else repr(float(v))
    if isinstance(v, np.generic):
        return str(v.item())
    return str(v)


def _point(row: pd.Series, cols: list[str]) -> str:
    return " ".join(f"{c}={_fmt(row[c])}" for c in cols if not (isinstance(row[c], float) and np.isnan(row[c])))


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return a == b


def _drop_text(v) -> str:
    return f"{100 * float(v):.4f}%" if isinstance(v, (int, float)) and not pd.isna(v) else str(v)


def compare(name: str, expected: pd.DataFrame, actual: pd.DataFrame) -> list[str]:
    """Every difference between the reference and a new run, one message per
    point: the experiment, the point's parameters, expected vs actual drop
    rate, and the other measurements that moved. Empty when identical."""
    actual = normalize(actual)
    msgs = []
    gone, new = sorted(set(expected.columns) - set(actual.columns)), sorted(set(actual.columns) - set(expected.columns))
    if gone or new:
        msgs.append(f"{name}: columns changed: removed {gone or 'none'}, added {new or 'none'}")
    # name a point by the parameters that vary across the experiment (and the engine)
    cols = [c for c in POINT_COLUMNS if c in expected.columns and c in actual.columns
            and (c == "engine_label" or pd.concat([expected[c], actual[c]]).nunique(dropna=False) > 1)]
    exp_keys = [_point(r, cols) for _, r in expected.iterrows()]
    act_keys = [_point(r, cols) for _, r in actual.iterrows()]
    if cols and len(set(exp_keys)) == len(exp_keys) and len(set(act_keys)) == len(act_keys):
        exp_ix, act_ix = dict(zip(exp_keys, range(len(exp_keys)))), dict(zip(act_keys, range(len(act_keys))))
        for k in exp_keys:
            if k not in act_ix:
                msgs.append(f"{name}: point {k}: in the reference, missing from this run")
        for k in act_keys:
            if k not in exp_ix:
                msgs.append(f"{name}: point {k}: new in this run, not in the reference")
        pairs = [(k, exp_ix[k], act_ix[k]) for k in exp_keys if k in act_ix]
    else:
        # no unique point identity: compare row by row
        if len(expected) != len(actual):
            msgs.append(f"{name}: {len(actual)} rows, the reference has {len(expected)}")
        pairs = [(f"row {i} ({exp_keys[i]})", i, i) for i in range(min(len(expected), len(actual)))]
    shared = [c for c in expected.columns if c in actual.columns]
    for key, i, j in pairs:
        e, a = expected.iloc[i], actual.iloc[j]
        moved = [c for c in shared if not _same(e[c], a[c])]
        if not moved:
            continue
        head = f"{name}: point {key}: "
        if "drop_rate" in moved:
            head += f"drop rate expected {_drop_text(e['drop_rate'])}, got {_drop_text(a['drop_rate'])}"
            rest = [c for c in moved if c != "drop_rate"]
        else:
            head += "drop rate unchanged" if "drop_rate" in shared else "values changed"
            rest = moved
        if rest:
            head += "; also " + ", ".join(f"{c} {_fmt(e[c])} -> {_fmt(a[c])}" for c in rest[:6])
            head += ", ..." if len(rest) > 6 else ""
        msgs.append(head)
    if len(msgs) > MAX_MESSAGES:
        msgs = msgs[:MAX_MESSAGES] + [f"{name}: ... and {len(msgs) - MAX_MESSAGES} more differences"]
    return msgs


def check(name: str, actual: pd.DataFrame) -> list[str]:
    """compare() against the committed reference; a missing reference is a difference too."""
    expected = load(name)
    if expected is None:
        return [f"{name}: no reference results ({reference_dir() / (name + '.csv')}); if this experiment is "
                f"new, record one with `invoke update-reference --name {name} --reason \"add {name}\"`"]
    msgs = compare(name, expected, actual)
    if msgs:
        msgs.append(f"{name}: if this change is deliberate, record it with "
                    f"`invoke update-reference --name {name} --reason \"...\"`")
    return msgs


# ---- updating ------------------------------------------------------------------

class DirtyTree(ValueError):
    """The work tree has uncommitted changes: a reference made from it could
    not name the code it came from."""


def require_committed(repo_root=None) -> None:
    """Refuse a work tree with uncommitted changes or untracked files (the
    reference's own outputs aside): the history must name a real commit."""
    dirty = provenance.uncommitted(repo_root or provenance.REPO_ROOT)
    if dirty:
        shown = "; ".join(dirty[:5]) + (f"; ... {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise DirtyTree(f"the work tree has uncommitted changes ({shown}): commit them (or remove untracked "
                        f"files) first, so that reference.json names the commit the reference came from")


def update(reason: str, names: list[str] | None = None, perf: bool = True, require_clean: bool = True) -> list[str]:
    """Recompute the quick runs (and the performance ratios) and record why,
    with each experiment's input digests and the environment it ran in.

    require_clean=False is for tests writing into a scratch WIRECAP_REFERENCE."""
    if not reason or not reason.strip():
        raise ValueError("--reason: say why the reference changes")
    names = names or simulated()
    unknown = [n for n in names if n not in simulated()]
    if unknown:
        raise ValueError(f"not simulated experiments: {', '.join(unknown)}; choose from {', '.join(simulated())}")
    if require_clean:
        require_committed()
    out_dir = reference_dir()
    meta = history()
    # read before anything is written: the CSVs below make the tree "-dirty"
    env = results.environment()
    lines, changed = [], []
    for name in names:
        df = compute(name)
        before = load(name)
        results.atomic_write_text(out_dir / f"{name}.csv", stored(df).to_csv(index=False))
        diffs = compare(name, before, df) if before is not None else [f"{name}: new reference"]
        cfg = quick_config(name)
        meta["experiments"][name] = {"rows": len(df), "config": json.loads(results.dumps(cfg)),
                                     "inputs": provenance.input_digests(cfg), "environment": env}
        if diffs:
            changed.append(name)
        status = "new" if before is None else (f"{len(diffs)} difference(s)" if diffs else "unchanged")
        lines.append(f"{name}: {len(df)} rows, {status}")
    probe = determinism.record(out_dir)
    lines.append(f"determinism: {probe['trace']} {probe['trace_sha256'][:16]}, "
                 f"{probe['point']['engine']} point {probe['point_sha256'][:16]}")
    entry = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "commit": env["git_commit"], "describe": env["git_describe"], "reason": reason.strip(),
             "experiments": names, "changed": changed}
    if perf:
        from experiments import perf as perf_mod

        m = perf_mod.reference_measure()
        try:
            m["xdp"] = perf_mod.xdp_measure()
            lines.append(f"perf xdp: WireCAP / bare AF_XDP = {m['xdp']['ratio']:.3f}")
        except perf_mod.Unavailable as exc:
            lines.append(f"perf xdp: not measured ({exc})")
        results.write_json(out_dir / "perf.json", {**m, "date": entry["date"], "commit": entry["commit"],
                                                  "host": results.environment()["host"],
                                                  "regression_factor": perf_mod.REGRESSION_FACTOR})
        entry["perf"] = True
        lines.append("perf: " + ", ".join(f"{k} {v:.4f}" for k, v in m["ratios"].items()))
    meta["history"].append(entry)
    results.write_json(out_dir / "reference.json", meta)
    lines.append(f"recorded in {out_dir / 'reference.json'}: {entry['reason']!r} at {entry['describe']}")
    return lines


def perf_reference() -> dict | None:
    path = reference_dir() / "perf.json"
    return json.loads(path.read_text()) if path.exists() else None
