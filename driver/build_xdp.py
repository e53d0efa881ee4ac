"""cffi (API mode) build of the AF_XDP driver side: ``driver._xdp``.

Holds what the real backend needs from the kernel and libpcap, every .c
file of driver/csrc/xdp, compiled once into the static library ``wcxdp``
(the live engine links it too): AF_XDP sockets on the kernel uAPI
(wc_xsk), BPF objects through bpf(2) (wc_bpf), namespaces/ethtool/bpffs
(wc_sys), the AF_PACKET generator (wc_gen) and TPACKET_V3 ring
(wc_tpacket), the ring-only AF_XDP baseline (wc_xring), and libpcap
(wc_pcap: the only file that includes pcap/pcap.h, because it and
linux/bpf.h both define struct bpf_insn).

Declarations: the marked parts of driver/csrc/xdp/*.h. Python reaches this
module through driver/xdp/_native.py, whose ``native()`` returns the live
engine's lib (engine._live), which resolves these names too.

Build needs: a C compiler, the kernel's uAPI headers (linux-libc-dev) and
libpcap's (libpcap-dev); no libbpf, libxdp or clang. Run needs:
libpcap.so.0.8 (Debian: libpcap0.8).
"""
import sys
from pathlib import Path

from cffi import FFI

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # cffi runs this file by path
from engine.build_support import XDP_CFLAGS, XDP_DIRS, XDP_LIB, cdef_of, depends, includes, public_headers  # noqa: E402

HEADERS = public_headers(XDP_DIRS)

ffibuilder = FFI()
ffibuilder.cdef(cdef_of(HEADERS))
ffibuilder.set_source(
    "driver._xdp",
    includes(HEADERS),
    libraries=[XDP_LIB, "pcap", "pthread"],
    include_dirs=XDP_DIRS,
    depends=depends(XDP_DIRS),
    extra_compile_args=XDP_CFLAGS,
)
