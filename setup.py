"""Build hook: cffi compiles the C parts (API mode) at install time.

The engine core and the AF_XDP driver code are compiled once each, as
static libraries (build_clib), then linked into the extensions that need
them (build_ext); see engine/build_support.py. Everything else about the
package lives in pyproject.toml.
"""
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine.build_pcapabi import build as build_pcapabi  # noqa: E402
from engine.build_support import static_libraries  # noqa: E402


class build_ext_after_clib(build_ext):
    """`pip install` runs build_clib first; a bare `setup.py build_ext`
    would not, and the extensions could not link: run it here. Then
    WireCAP's libpcap (engine/build_pcapabi.py), a plain shared library
    that no Python module imports: build/pcap/libpcap.so.0.8."""

    def run(self):
        self.run_command("build_clib")
        super().run()
        build_pcapabi()


setup(
    libraries=static_libraries(),
    cmdclass={"build_ext": build_ext_after_clib},
    cffi_modules=[
        "engine/build_core.py:ffibuilder",  # pool, work queues, buddy groups, capture step
        "driver/build_sim.py:ffibuilder",   # the simulated testbed: NIC model + engine models
        "driver/build_xdp.py:ffibuilder",   # AF_XDP sockets, BPF, namespaces, generator, libpcap
        "engine/build_live.py:ffibuilder",  # the live engine on AF_XDP (capture threads, work)
        "traces/build_pcapscan.py:ffibuilder",  # pcap/pcapng scan, flow keys, pcap writer, FIFO check
    ],
)
