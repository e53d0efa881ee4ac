"""``load_trace``: one name for every trace the project uses.

    load_trace("fermilab-like")        # the generator, default seed (cached on disk)
    load_trace("fermilab-like:42")     # another seed
    load_trace("path/to/file.pcap")    # a pcap or pcapng file
    load_trace("path/to/trace.npz")    # a columnar trace saved by `invoke make-trace`
    load_trace("gnutella")             # a real capture from ../shared/traces/ (see REAL_TRACES)
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

from traces import cache, detmath, fermilab, pcapio, rss, trace as trace_mod
from traces.trace import Trace

FERMILAB = "fermilab-like"
REPO_ROOT = Path(__file__).resolve().parent.parent
# the shared real captures (../shared/traces/README.md); WIRECAP_SHARED_TRACES moves them
SHARED_TRACES_ENV = "WIRECAP_SHARED_TRACES"
REAL_TRACES = ("gnutella", "1kxun", "synscan")
# the same three files, unchanged, shipped with the project (traces/data/README.md)
# for checkouts that have no ../shared beside them (a clean clone in CI)
BUNDLED_TRACES = Path(__file__).resolve().parent / "data"


def shared_traces_dir() -> Path:
    """$WIRECAP_SHARED_TRACES if set; else ../shared/traces; else the bundled copy."""
    if os.environ.get(SHARED_TRACES_ENV):
        return Path(os.environ[SHARED_TRACES_ENV])
    shared = REPO_ROOT.parent / "shared" / "traces"
    return shared if shared.is_dir() else BUNDLED_TRACES


def real_trace_path(name: str) -> Path:
    """Path of a shared real capture; a clear error if the folder or file is missing."""
    if name not in REAL_TRACES:
        raise ValueError(f"unknown real trace {name!r}; known: {', '.join(REAL_TRACES)}")
    path = shared_traces_dir() / f"{name}.pcap"
    if not path.exists():
        raise FileNotFoundError(f"real trace {name!r} not found at {path} (the shared traces folder "
                                f"../shared/traces is missing; set ${SHARED_TRACES_ENV} to where it is)")
    return path


def fermilab_like(seed: int = fermilab.DEFAULT_SEED, params: fermilab.FermilabParams = fermilab.DEFAULT_PARAMS,
                  use_cache: bool = True) -> Trace:
    """The generated trace, from the cache when the same generator made it before."""
    # the sources that decide the packets: the model, its math, the key layout, RSS (elephant ports)
    key = cache.cache_key(FERMILAB, seed, params.as_dict(), [fermilab, detmath, trace_mod, rss])
    if use_cache:
        hit = cache.load(FERMILAB, key)
        if hit is not None:
            return hit
    tr = fermilab.generate(seed, params)
    if use_cache:
        try:
            cache.save(FERMILAB, key, tr)
        except OSError as exc:
            warnings.warn(f"could not cache the generated trace under {cache.cache_dir()} ({exc}); "
                          f"set ${cache.CACHE_ENV} to a writable folder", stacklevel=2)
    return tr


def parse_spec(spec: str) -> tuple[str, int | None]:
    """("fermilab-like", seed) for generator names, (spec, None) otherwise."""
    if spec == FERMILAB:
        return FERMILAB, fermilab.DEFAULT_SEED
    if spec.startswith(FERMILAB + ":"):
        raw = spec[len(FERMILAB) + 1:]
        try:
            seed = int(raw)
        except ValueError:
            raise ValueError(f"bad seed {raw!r} in {spec!r}: expected fermilab-like:INTEGER") from None
        if seed < 0:
            raise ValueError(f"bad seed {seed} in {spec!r}: must be >= 0")
        return FERMILAB, seed
    return spec, None


def _read_path(path: Path, raw: bool) -> Trace:
    if path.suffix == ".npz":
        if raw:
            raise ValueError(f"{path}: a columnar .npz trace holds no packet bytes (raw=True)")
        return cache.read_npz(path)
    return pcapio.read_capture(path, raw=raw)


def load_trace(spec: str | os.PathLike = FERMILAB, raw: bool = False, use_cache: bool = True) -> Trace:
    """A trace by name: "fermilab-like", "fermilab-like:SEED", a real trace name, or a file path
    (.pcap, .pcapng, or a columnar .npz)."""
    if isinstance(spec, os.PathLike):
        return _read_path(Path(spec), raw)
    kind, seed = parse_spec(str(spec))
    if kind == FERMILAB:
        return fermilab_like(seed, use_cache=use_cache)
    if kind in REAL_TRACES and not Path(kind).exists():
        return pcapio.read_capture(real_trace_path(kind), raw=raw)
    path = Path(kind)
    if not path.exists():
        raise FileNotFoundError(f"no trace {kind!r}: expected 'fermilab-like', 'fermilab-like:SEED', "
                                f"one of {', '.join(REAL_TRACES)}, or a path to a .pcap/.pcapng/.npz file")
    return _read_path(path, raw)
