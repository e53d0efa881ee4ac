"""On-disk cache of generated traces in their columnar form (.npz).

Generating the Fermilab-like trace takes seconds; loading it from here takes
a fraction of a second. A cache entry is named by a SHA-256 over everything
that decides the packets: the generator's name and version, the seed, every
parameter, the source text of the modules that generate it, and the numpy
version (its random streams). Change any of them and the old entry is simply
never looked up again, so a stale trace cannot come back.

Location: ``$WIRECAP_CACHE`` if set, else ``$XDG_CACHE_HOME/wirecap-repro/traces``,
else ``~/.cache/wirecap-repro/traces``. Entries are written atomically
(temporary file + rename), so concurrent runs never see half a file.

Columns are memory-mapped on load (traces/npzmap.py): a hit costs the pages
that are touched, not a read and a CRC of all 110 MB.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from types import ModuleType

import numpy as np

from traces import npzmap
from traces.trace import KEY_DTYPE, Trace

CACHE_ENV = "WIRECAP_CACHE"
FORMAT_VERSION = 1  # the columns of the .npz below and their meaning (checked on read)
# how cache entries are written: 2 = members 64-byte aligned for memory-mapping. In the
# key, not in the file: format-1 .npz files from `invoke make-trace` stay readable.
CACHE_LAYOUT = 2


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "wirecap-repro" / "traces"


def cache_key(kind: str, seed: int, params: dict, modules: list[ModuleType]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"kind": kind, "seed": int(seed), "params": params, "format": FORMAT_VERSION,
                         "layout": CACHE_LAYOUT,
                         "numpy": np.__version__}, sort_keys=True, default=str).encode())
    for mod in modules:
        h.update(Path(mod.__file__).read_bytes())
    return h.hexdigest()[:24]


def _path(kind: str, key: str) -> Path:
    return cache_dir() / f"{kind}-{key}.npz"


def read_npz(path: str | os.PathLike) -> Trace:
    """A trace saved by write_npz (its columnar form), its columns memory-mapped (read-only)."""
    z = npzmap.load(path)
    keys = z["keys"].view(KEY_DTYPE)
    info = json.loads(str(z["info"]))
    if info.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: columnar trace format {info.get('format')}, expected {FORMAT_VERSION}")
    return Trace(ts_ns=z["ts_ns"], wire_len=z["wire_len"], cap_len=z["cap_len"], key_idx=z["key_idx"],
                 keys=keys, t0_ns=info["t0_ns"], linktype=info["linktype"], name=info["name"],
                 meta=info["meta"])


def write_npz(trace: Trace, path: str | os.PathLike) -> Path:
    """Save the columnar form (no captured bytes) atomically: ts_ns, lengths, key index, key table."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = json.dumps({"format": FORMAT_VERSION, "t0_ns": trace.t0_ns, "linktype": trace.linktype,
                       "name": trace.name, "meta": trace.meta}, default=str)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as f:
            npzmap.save(f, dict(ts_ns=trace.ts_ns, wire_len=trace.wire_len, cap_len=trace.cap_len,
                                key_idx=trace.key_idx,
                                keys=np.ascontiguousarray(trace.keys).view(np.uint8).reshape(-1),
                                info=np.array(info)))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(kind: str, key: str) -> Trace | None:
    """The cached trace, or None if absent or unreadable (then it is regenerated)."""
    path = _path(kind, key)
    if not path.exists():
        return None
    try:
        return read_npz(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        warnings.warn(f"trace cache entry {path} is unreadable ({exc}); regenerating", stacklevel=2)
        return None


def save(kind: str, key: str, trace: Trace) -> Path:
    return write_npz(trace, _path(kind, key))
