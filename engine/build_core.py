"""cffi (API mode) build of the engine core: ``engine._core``.

Holds the parts of WireCAP every backend shares, compiled once into the
static library ``wccore`` (setup.py ``libraries=``; engine/build_support.py):
the ring-buffer pool with its four operations and geometry rules
(driver/csrc/wc_pool), the capture and recycle work queues
(engine/csrc/wc_workq), the buddy groups (engine/csrc/wc_buddy), and every
other engine/csrc/*.c and driver/csrc/*.c (the capture step included).

The other extensions ``ffi.include`` this one, so ``struct wc_chunk_meta``
and the other core types are one cffi type everywhere, and their ``lib``
also resolves the core's functions and constants. Declarations come from
the marked parts of the headers in driver/csrc and engine/csrc.
"""
import sys
from pathlib import Path

from cffi import FFI

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # cffi runs this file by path
from engine.build_support import CORE_DIRS, CORE_LIB, CORE_CFLAGS, cdef_of, depends, includes, public_headers  # noqa: E402

HEADERS = public_headers(CORE_DIRS)

ffibuilder = FFI()
ffibuilder.cdef(cdef_of(HEADERS))
ffibuilder.set_source(
    "engine._core",
    includes(HEADERS),
    libraries=[CORE_LIB],
    include_dirs=CORE_DIRS,
    depends=depends(CORE_DIRS),
    extra_compile_args=CORE_CFLAGS,
)
