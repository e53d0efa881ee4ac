"""The real backend's compiled C, imported once with a clear error when it
cannot be: not built, or libpcap missing at run time.

Three extensions hold it (setup.py): engine._core (pool, work queues, buddy
groups), driver._xdp (AF_XDP sockets, BPF, namespaces, generator, tpacket,
xring, libpcap) and engine._live (the live engine). engine._live
``ffi.include``s the other two, so its ``lib`` resolves every name of all
three and its ``ffi`` knows every type: ``native()`` hands out that pair,
the one access path for every call site of the real backend.
"""
from __future__ import annotations

from driver.xdp.errors import PrerequisiteError

REBUILD = ("install the build dependencies (Debian: apt-get install build-essential linux-libc-dev "
           "libpcap-dev, or `make sysdeps`) and rebuild: "
           ".venv/bin/python -m pip install --no-deps --no-build-isolation -e .")

try:
    from engine._live import ffi, lib  # noqa: F401  (re-exported)
    IMPORT_ERROR: str | None = None
except ImportError as exc:  # pragma: no cover - depends on the host
    ffi = lib = None
    if "libpcap" in str(exc):
        IMPORT_ERROR = (f"the real backend needs libpcap at run time ({exc}): install it "
                        "(Debian: apt-get install libpcap0.8) or point LD_LIBRARY_PATH at libpcap.so.0.8")
    else:
        IMPORT_ERROR = f"the real backend's C extensions (driver._xdp, engine._live) are not built ({exc}): {REBUILD}"


def native():
    """(ffi, lib) of the real backend, or PrerequisiteError saying how to get them."""
    if lib is None:
        raise PrerequisiteError(IMPORT_ERROR)
    return ffi, lib
