"""cffi (API mode) build of the simulated testbed: ``driver._sim``.

Holds the deterministic discrete-event model: the wire, the 82599-class NIC
and the host (driver/csrc/sim) and the capture engines modelled on it
(engine/csrc/sim: WireCAP, the Type-II engines DNA/NETMAP, PF_RING). Its
sources are every .c file in those two folders; the WireCAP model drives
the real engine core, linked in from the static library ``wccore``.

Declarations: the marked part of driver/csrc/sim/sim.h (the public
contract; the internals are in private headers that mark nothing), plus
the core's through ``ffi.include`` (engine/build_core.py).
"""
import sys
from pathlib import Path

from cffi import FFI

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # cffi runs this file by path
from engine.build_core import ffibuilder as core_ffi  # noqa: E402
from engine.build_support import (CORE_CFLAGS, CORE_DIRS, CORE_LDFLAGS, CORE_LIB, SIM_DIRS, c_sources, cdef_of,  # noqa: E402
                                  depends, includes, public_headers)

HEADERS = public_headers(SIM_DIRS)
# cffi checks the included module's structs here too: its headers come first
INCLUDED_HEADERS = public_headers(CORE_DIRS)

ffibuilder = FFI()
ffibuilder.include(core_ffi)
ffibuilder.cdef(cdef_of(HEADERS))
ffibuilder.set_source(
    "driver._sim",
    includes(INCLUDED_HEADERS + HEADERS),
    sources=c_sources(SIM_DIRS),
    libraries=[CORE_LIB],
    include_dirs=SIM_DIRS + CORE_DIRS,
    depends=depends(SIM_DIRS + CORE_DIRS),
    extra_compile_args=CORE_CFLAGS,
    extra_link_args=CORE_LDFLAGS,
)
