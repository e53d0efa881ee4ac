"""WireCAP on real threads over AF_XDP (issue 5): the engine (engine.py),
its libpcap-compatible handles (pcap.py), the per-packet work of pkt_handler
(work.py) and the application threads that run it in C (consumer.py).
The C side is engine/csrc/live, built into engine._live."""
