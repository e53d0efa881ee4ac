"""The compiled hot paths (``traces._pcapscan``), with a clear error when missing."""
from __future__ import annotations

import numpy as np

try:
    from traces._pcapscan import ffi, lib
except ImportError as exc:  # pragma: no cover - only on a checkout that was never built
    raise ImportError(
        "traces._pcapscan is not built; run `pip install --no-deps --no-build-isolation -e .` "
        f"in the repository root ({exc})") from exc

__all__ = ["ffi", "lib", "ptr"]


def ptr(arr: np.ndarray | None, ctype: str):
    """A C pointer to a C-contiguous numpy array (NULL for None)."""
    if arr is None:
        return ffi.NULL
    if not arr.flags.c_contiguous:
        raise ValueError("array must be C-contiguous")
    return ffi.cast(ctype, arr.ctypes.data)
