"""The real backend's driver side (issue 5): veth testbeds in network
namespaces (testbed.py), our XDP programs (xdp_prog.py), device counters
(counters.py), frames (packets.py), the traffic generator (generator.py),
the honest baselines (baselines.py) and the prerequisites check
(prereq.py). The C side is driver/csrc/xdp, built into driver._xdp
(reached through _native.native()).
See driver/xdp/README.md."""
