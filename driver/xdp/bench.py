"""Capture throughput on one veth, engine against engine (DESIGN.md §7: "the
WireCAP engine on one queue delivers at least 90% of what a bare AF_XDP drop
loop reaches on the same veth, measured in the same run").

Each measurement sends one BPF_PROG_RUN live-frame burst of ``packets``
64-byte frames into queue 0 of a one-queue testbed from CPU 0, with the
engine's threads on the other CPUs, and reports

    delivered / (time of the last delivery - time the burst started)

(packets per second through the engine, its drops, and the generator's
offered rate). Every engine's application loop runs at the same real-time
priority (RT_PRIORITY, below WireCAP's capture threads), so the comparison
is of engines, not of how the host's other load happened to fall. On veth the receive path (NAPI, XDP, the copy into the UMEM)
runs on the sender's CPU, so the offered rate bounds every engine: compare
engines measured in the same run only.

    bare         AF_XDP, UMEM = ring, no callback: xdpsock's rxdrop
    bare-pool    the same loop with a UMEM (and rings) as large as WireCAP's
                 pool, POOL_RING frames: the kernel copies into as much
                 memory as for WireCAP (not in ENGINES, the default set; the
                 CI regression check's baseline, experiments/perf.py)
    wirecap      WireCAP basic mode, a C callback that does nothing
    afxdp-ring   the ring-only baseline with the same null callback
    afpacket     the TPACKET_V3 copy ring (10,240 frames), null callback
    libpcap      libpcap's own capture loop, null callback
    tcpdump      the tcpdump binary writing to /dev/null (if installed):
                 captured / burst time, from its own counters
    tcpdump-wirecap  the same binary, unmodified, on WireCAP's libpcap
                 (build/pcap, device wirecap:IF, basic mode with WireCAP's
                 M and R below): the same measure, so the two tcpdump rows
                 of one run compare the capture engines under one program
"""
from __future__ import annotations

import shutil
import time

from driver.xdp.baselines import RING_DEFAULT, AfpacketCopy, AfxdpRing, Libpcap, Tcpdump, attach_pass
from driver.xdp.generator import Generator
from engine.live.consumer import Consumer, wirecap_loop
from engine.live.engine import LiveEngine
from engine.live.work import Work
from engine.pcapabi import pcap_env

ENGINES = ("bare", "wirecap", "afxdp-ring", "afpacket", "libpcap", "tcpdump", "tcpdump-wirecap")
# WireCAP's configuration here: basic mode, M = 256 cells x R = 500 chunks
WIRECAP_M, WIRECAP_R = 256, 500
# bare-pool's ring and UMEM: WireCAP's R*M frames, rounded up to a power of two
POOL_RING = 1 << (WIRECAP_M * WIRECAP_R - 1).bit_length()
MEASURABLE = ENGINES + ("bare-pool",)
# Every application loop runs SCHED_FIFO (below WireCAP's capture threads,
# as in experiments/live/common.py), so that no engine is measured against the
# other load of a shared host.
RT_PRIORITY = 10
PACKETS = 1_000_000
DRAIN_S = 30.0


def _result(name, sent, delivered, drops, t0, t_last, offered) -> dict:
    span = (t_last - t0) / 1e9 if t_last > t0 else float("nan")
    return {"engine": name, "sent": sent, "delivered": delivered, "drops": drops,
            "packets_per_s": delivered / span if span == span and span > 0 else 0.0,
            "offered_pps": offered, "span_s": span}


def _run_consumer(tb, name, loop_of, drops_of, packets):
    """Run the engine's application loop in C, send the burst, wait until
    every frame is delivered or dropped (or progress stops)."""
    work = Work.null()
    with Generator(tb) as gen:
        c = Consumer(loop_of(work), max_s=DRAIN_S + 60, cpu=1 if _ncpu() > 1 else None, name=f"bench-{name}",
                     rt_priority=RT_PRIORITY)
        c.start()
        time.sleep(0.05)
        t0 = time.monotonic_ns()
        sent = gen.burst(gen.udp(0), packets, max_s=60)
        deadline, prev, still = time.monotonic() + DRAIN_S, None, 0
        while time.monotonic() < deadline:
            now = (int(c.result.packets), drops_of())
            if sum(now) >= sent.sent:
                break
            still = still + 1 if now == prev else 0
            if still > 20:      # 2 s without progress
                break
            prev = now
            time.sleep(0.1)
        res = c.join_checked()
    return _result(name, sent.sent, res["packets"], drops_of(), t0, res["last_ns"], sent.rate_pps)


def _ncpu() -> int:
    import os

    return len(os.sched_getaffinity(0))


def measure(tb, engine: str, packets: int = PACKETS) -> dict:
    """One engine's throughput on tb (a one-queue testbed)."""
    if engine not in MEASURABLE:
        raise ValueError(f"engine {engine!r}: one of {', '.join(MEASURABLE)}")
    ns, ifn = tb.cap_ns, tb.cap_if
    if engine in ("bare", "bare-pool", "afxdp-ring"):
        with AfxdpRing(ns, ifn, 0, ring_size=POOL_RING if engine == "bare-pool" else RING_DEFAULT) as ring:
            if engine != "afxdp-ring":
                # no callback at all: the drop loop touches no packet data
                def loop_of(work):
                    from driver.xdp._native import native

                    ffi, lib = native()
                    return lambda o, r: lib.wc_drive__xring(ring.ptr, ffi.NULL, ffi.NULL, ffi.NULL, o, r)
            else:
                loop_of = ring.loop
            return _run_consumer(tb, engine, loop_of, lambda: ring.stats()["capture_drops"], packets)
    if engine == "wirecap":
        with LiveEngine.on_testbed(tb, M=WIRECAP_M, R=WIRECAP_R) as eng:
            eng.start(cpus=[1 % _ncpu()])

            return _run_consumer(tb, engine, lambda w: wirecap_loop(eng, 0, w),
                                 lambda: eng.stats(0)["capture_drops"], packets)
    if engine == "tcpdump-wirecap":
        return _tcpdump(tb, engine, f"wirecap:{ifn}", packets,
                        pcap_env(M=WIRECAP_M, R=WIRECAP_R, offload="none"))
    prog = attach_pass(ns, ifn)
    try:
        if engine == "afpacket":
            with AfpacketCopy(ns, ifn) as sock:
                return _run_consumer(tb, engine, sock.loop, lambda: sock.stats()["delivery_drops"], packets)
        if engine == "libpcap":
            with Libpcap(ns, ifn) as pc:
                return _run_consumer(tb, engine, pc.loop, lambda: pc.stats()["ps_drop"], packets)
        return _tcpdump(tb, engine, ifn, packets, None)
    finally:
        if prog is not None:
            prog.close()


def _tcpdump(tb, engine: str, device: str, packets: int, env: dict | None) -> dict:
    """The tcpdump binary: captured / burst time, from its own counters."""
    if shutil.which("tcpdump") is None:
        return {"engine": engine, "skipped": "tcpdump is not installed"}
    td = Tcpdump(tb.cap_ns, device, env=env)
    with Generator(tb) as gen:
        sent = gen.burst(gen.udp(0), packets, max_s=60)
    time.sleep(0.5)
    out = td.stop()
    got = out.get("captured") or 0
    return {"engine": engine, "sent": sent.sent, "delivered": got, "drops": out.get("dropped"),
            "packets_per_s": got / sent.duration_s if sent.duration_s else 0.0,
            "offered_pps": sent.rate_pps, "span_s": sent.duration_s}


def run_all(packets: int = PACKETS, engines=ENGINES) -> list[dict]:
    """Every engine, one after the other, on one testbed."""
    from driver.xdp.testbed import Testbed

    with Testbed(queues=1) as tb:
        return [measure(tb, e, packets) for e in engines]
