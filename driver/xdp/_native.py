"""The compiled real backend (``driver._xdp``), imported once with a clear
error when it cannot be: not built, or libpcap missing at run time."""
from __future__ import annotations

from driver.xdp.errors import PrerequisiteError

REBUILD = ("install the build dependencies (Debian: apt-get install build-essential linux-libc-dev "
           "libpcap-dev, or `make sysdeps`) and rebuild: "
           ".venv/bin/python -m pip install --no-deps --no-build-isolation -e .")

try:
    from driver._xdp import ffi, lib  # noqa: F401  (re-exported)
    IMPORT_ERROR: str | None = None
except ImportError as exc:  # pragma: no cover - depends on the host
    ffi = lib = None
    if "libpcap" in str(exc):
        IMPORT_ERROR = (f"the real backend needs libpcap at run time ({exc}): install it "
                        "(Debian: apt-get install libpcap0.8) or point LD_LIBRARY_PATH at libpcap.so.0.8")
    else:
        IMPORT_ERROR = f"the real backend's C extension driver._xdp is not built ({exc}): {REBUILD}"


def native():
    """(ffi, lib), or PrerequisiteError saying how to get them."""
    if lib is None:
        raise PrerequisiteError(IMPORT_ERROR)
    return ffi, lib
