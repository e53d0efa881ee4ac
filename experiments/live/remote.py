"""The xdp backend's two sides of a point measured across hosts.

``invoke remote-run --backend xdp --name fig9`` (experiments/remote/) runs
each point of Figure 9 as the paper's Figure 2 does: the engine captures on
the capture host's test interface while the generator host sends the burst
over the link. This module is what experiments/remote/roles.py asks the
xdp backend for:

    points(name, cfg)                    the points, as JSON-able dicts
    capture(point, interface, bind, ready)
                                         capture host: the engine on queue 0
                                         of the interface, one consumer
                                         thread; ends once everything that
                                         arrived is accounted for and the
                                         link has gone quiet (or on SIGTERM)
    generate(point, interface, bind, dest)
                                         generator host: one bounded burst
    row(point, capture, generate)        one row of the table (fig9's columns)
    drain_timeout(point)                 how long the capture side may need
                                         after the burst to work off its pool

The burst (DESIGN.md §4): on a veth link, BPF_PROG_RUN live frames (the
peer's XDP hook counts what it was handed, exactly); on any other driver
the AF_PACKET sender (the kernel's own transmit count, at whatever rate it
takes). ``sender`` in the point forces one. Frames carry 198.18.0.0/15
addresses (packets.py) and go to the capture interface's MAC, which the
orchestrator learnt when it put the test address on it (``dst_mac``).

Only Figure 9 is measured this way: Table 1 and Figure 11 need a
multi-queue link with RSS-like spreading and a trace replay, which the
local testbed provides (`invoke run-experiment --name table1 --backend xdp`).
"""
from __future__ import annotations

import signal
import threading
import time

from driver.xdp import counters, packets
from driver.xdp.generator import Generator
from driver.xdp.hostlink import HostLink
from driver.xdp.prereq import require_all
from experiments.live import fig9
from experiments.live.common import (STALL_S, Capture, EngineSpec, consumer_cost_ns, make_works, steal_ms,
                                     threads_needed)

EXPERIMENTS = ("fig9",)
SENDERS = ("auto", "live-frames", "afpacket")
MAX_BURST_S = 60.0        # the generator's bound on one burst
MAX_CAPTURE_S = 300.0     # the capture side's bound on one point, whatever happens
QUIET_S = STALL_S         # no new arrival and nothing left to deliver for this long: the point is over


def points(name: str, cfg: dict) -> list[dict]:
    """The points of ``name`` on the xdp backend, one dict each; a clear
    error for an experiment that cannot be measured across hosts."""
    if name not in EXPERIMENTS:
        raise ValueError(f"--backend xdp across hosts measures {', '.join(EXPERIMENTS)}; {name} on xdp runs "
                         f"on one host's veth testbed: `invoke run-experiment --name {name} --backend xdp`")
    quick = bool(cfg.get("quick"))
    sim_p = cfg.get("P")
    ps = [int(p) for p in (sim_p if sim_p and not quick else (fig9.XDP_P_QUICK if quick else fig9.XDP_P))]
    ps = sorted({min(p, fig9.P_MAX) for p in ps})
    x = int(cfg.get("x", 300))
    cost = consumer_cost_ns(x, cfg.get("cost_ns"))
    sender = str(cfg.get("sender", "auto"))
    if sender not in SENDERS:
        raise ValueError(f"sender={sender!r}: one of {', '.join(SENDERS)}")
    out = []
    for spec in fig9.engines_from(cfg.get("engines")):
        for P in ps:
            out.append({"experiment": name, "engine": _spec_string(spec), "P": P, "x": x, "cost_ns": cost,
                        "size": int(cfg.get("size", 64)), "emulate": str(cfg.get("emulate", "auto")),
                        "seed": int(cfg.get("seed", 0)), "sender": sender})
    return out


def _spec_string(spec: EngineSpec) -> str:
    if spec.wirecap:
        return f"{spec.name}:{spec.M}:{spec.R}:{spec.T}"
    if spec.name == "afxdp-ring":
        return f"afxdp-ring:{spec.ring}"
    if spec.name == "afpacket-copy":
        return f"afpacket-copy:{spec.slots}"
    return spec.name


def drain_timeout(point: dict) -> float:
    """Seconds the capture side may still need once the generator is done:
    the whole burst worked off at the consumer's rate, plus the quiet time."""
    per_packet_s = (point.get("cost_ns") or 0) / 1e9
    return min(MAX_CAPTURE_S, 10 + QUIET_S + 1.5 * int(point["P"]) * per_packet_s)


def capture(point: dict, interface: str, bind: str, ready) -> dict:
    """The engine on queue 0 of ``interface`` for one point; returns
    fig9.capture_side()'s measurements plus why it ended."""
    require_all()
    spec = EngineSpec.parse(point["engine"])
    link = HostLink.local(interface, "rx")
    flen = packets.frame_len(int(point["size"]))
    cost = point.get("cost_ns")
    # this host runs a consumer (and a capture thread) but not the generator
    works = make_works(1, 0 if cost else int(point["x"]), cost, point.get("emulate", "auto"),
                       threads_needed(spec, 1) - 1)
    stop = threading.Event()
    old = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with Capture(link, spec, [0], works, frame_len=flen) as cap:
            cap.start(max_s=MAX_CAPTURE_S)
            steal0 = steal_ms()
            ready()
            counts, drained, end = _until_quiet(cap, int(point["P"]), stop)
            loops = cap.stop()
            arrival = cap.arrival_pps(0, counts[0]["arrived"])
    finally:
        signal.signal(signal.SIGTERM, old)
    side = fig9.capture_side(counts[0], works[0], loops[0], arrival, drained, steal_ms() - steal0)
    return {**side, "end": end, "interface": interface, "queues": link.queues}


def _until_quiet(cap: Capture, expected: int, stop: threading.Event) -> tuple[dict, bool, str]:
    """Poll the queue's counters until the burst is in and worked off:
    ``expected`` frames arrived and all accounted for ("complete"), or
    frames arrived, all accounted for, and nothing new for QUIET_S
    ("quiet": fewer arrived than requested), or SIGTERM, or the bound."""
    deadline = time.monotonic() + MAX_CAPTURE_S
    last, last_change = None, time.monotonic()
    while True:
        c = cap.queue_counts()
        q = c[0]
        arrived = q["arrived"]
        accounted = q["delivered"] + q["capture_drops"] + q["delivery_drops"] + q["filtered"]
        settled = arrived > 0 and accounted >= arrived
        if settled and arrived >= expected:
            return c, True, "complete"
        now = time.monotonic()
        if (arrived, accounted) != last:
            last, last_change = (arrived, accounted), now
        elif settled and now - last_change > QUIET_S:
            return c, True, "quiet"
        if stop.is_set():
            return c, settled, "stopped"
        if now > deadline:
            return c, settled, "deadline"
        time.sleep(0.02)


def _is_veth(interface: str) -> bool:
    # veth alone keeps per-queue counters of what it handed to its peer's XDP ring
    return any(k.startswith("tx_queue_") and k.endswith("_xdp_xmit") for k in counters.ethtool(None, interface))


def generate(point: dict, interface: str, bind: str, dest: str) -> dict:
    """One bounded burst of P frames toward the capture interface's MAC."""
    require_all()
    dst_mac = point.get("dst_mac")
    if not dst_mac:
        raise ValueError("dst_mac: the capture interface's MAC is missing from the point (the orchestrator "
                         "takes it from the capture host's iface-up)")
    link = HostLink.local(interface, "tx")
    sender = point.get("sender", "auto")
    if sender == "auto":
        sender = "live-frames" if _is_veth(interface) else "afpacket"
    flen = packets.frame_len(int(point["size"]))
    P = int(point["P"])
    with Generator(link, dst_mac=dst_mac) as gen:
        frame = gen.udp(0, flen)
        if sender == "live-frames":
            res = gen.burst(frame, P, max_s=MAX_BURST_S)
        else:
            res = gen.send([frame], count=P, max_s=MAX_BURST_S)
    return {"sent": res.sent, "requested": res.requested, "refused": res.refused, "rate_pps": res.rate_pps,
            "duration_s": res.duration_s, "stopped_by": res.stopped_by, "method": res.method}


def row(point: dict, capture: dict, generate: dict) -> dict:
    spec = EngineSpec.parse(point["engine"])
    out = fig9.make_row(spec, int(point["P"]), int(point["x"]), point.get("cost_ns"), int(point["size"]),
                        int(point["seed"]), capture, generate)
    out.update({"remote": True, "capture_end": capture.get("end"), "sender": generate.get("method")})
    return out
