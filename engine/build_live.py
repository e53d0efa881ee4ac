"""cffi (API mode) build of the live engine: ``engine._live``.

Holds WireCAP on a real interface, every .c file of engine/csrc/live: the
capture threads, work-queue pairs and pcap-like API (wc_live*), the
per-packet work of pkt_handler (wc_work), flow-split accounting (wc_flows)
and the baselines' bounded application loops (wc_drive). It links the
engine core (``wccore``) and the AF_XDP driver side (``wcxdp``) from their
static libraries, so the hot paths call each other directly in C.

It ``ffi.include``s engine._core and driver._xdp: one cffi type per struct,
and this module's ``lib`` also resolves their functions and constants, which
is why driver/xdp/_native.py hands out this lib as the real backend's one
access path.

Declarations: the marked parts of engine/csrc/live/*.h, plus the Python
packet callback below (a cffi-only declaration, no header has it).
"""
import sys
from pathlib import Path

from cffi import FFI

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # cffi runs this file by path
from driver.build_xdp import ffibuilder as xdp_ffi  # noqa: E402
from engine.build_core import ffibuilder as core_ffi  # noqa: E402
from engine.build_support import (CORE_DIRS, CORE_LIB, LIVE_DIRS, XDP_CFLAGS, XDP_DIRS, XDP_LIB,  # noqa: E402
                                  c_sources, cdef_of, depends, includes, public_headers)

HEADERS = public_headers(LIVE_DIRS)
# cffi checks the included modules' structs here too: their headers come first
INCLUDED_HEADERS = public_headers(CORE_DIRS) + public_headers(XDP_DIRS)
# engine/live/pcap.py defines it with @ffi.def_extern(): C calls Python per packet
PYTHON_CALLBACKS = """
extern "Python" void wc_py_pkt_cb(void *user, const struct wc_pkthdr *h, const uint8_t *data);
"""

ffibuilder = FFI()
ffibuilder.include(core_ffi)
ffibuilder.include(xdp_ffi)
ffibuilder.cdef(cdef_of(HEADERS) + PYTHON_CALLBACKS)
ffibuilder.set_source(
    "engine._live",
    includes(INCLUDED_HEADERS + HEADERS),
    sources=c_sources(LIVE_DIRS),
    # static libraries after the objects that use them: live code calls both, the driver side neither
    libraries=[XDP_LIB, CORE_LIB, "pcap", "pthread"],
    include_dirs=LIVE_DIRS + XDP_DIRS + CORE_DIRS,
    depends=depends(LIVE_DIRS + XDP_DIRS + CORE_DIRS),
    extra_compile_args=XDP_CFLAGS,
)
