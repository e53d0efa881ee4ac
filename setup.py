"""Build hook: cffi compiles the C parts (API mode) at install time.

Everything else about the package lives in pyproject.toml.
"""
from setuptools import setup

setup(
    cffi_modules=[
        # ring-buffer pool, work-queue pairs, buddy groups, and the simulator
        "engine/build_wirecap.py:ffibuilder",
        "driver/build_xdp.py:ffibuilder",  # the real backend: AF_XDP, threads, libpcap (issue 5)
        "traces/build_pcapscan.py:ffibuilder",  # pcap/pcapng scan, flow keys, pcap writer, FIFO check
    ],
)
