"""pkt_handler on the real backend (paper §2.2): one receive queue, one
application thread applying the per-packet work to everything captured, a
burst of P frames sent into that queue.

    from experiments.live import pkt_handler
    row = pkt_handler.run({"engine": "wirecap-b", "M": 256, "R": 500, "burst": 100000,
                           "cost_ns": 25780})

As root. Given no ``interface``, the run creates a throwaway one-queue veth
testbed (driver/xdp/testbed.py) and removes it afterwards, also on errors and
Ctrl-C/SIGTERM.

Arguments (``args`` dict; missing keys take the defaults in brackets):

    engine      wirecap-b | wirecap-a | afxdp-ring | afpacket-copy | tcpdump
                ["wirecap-b"]; "name:M:R[:T]" is accepted too
    M, R, T     WireCAP segment size, pool chunks, offload threshold (%)
                [256, 500, 60]
    ring        afxdp-ring's ring and UMEM in frames [1024]
    slots       afpacket-copy's ring in frames of the run's size [10240]
    burst (P)   frames to send [required; "P" is accepted as a synonym]
    size        frame size on the wire, FCS included [64] (frames of size-4 bytes)
    rate        None: a line-rate burst (BPF_PROG_RUN live frames, as fast as
                the host goes); a number: that many frames/s through AF_PACKET [None].
                A paced burst must fit in max_s (else a ValueError before anything
                is built); one of more than a few seconds is announced through
                ``say`` (default: stderr; None: quiet), with a bar on a terminal
    x           libpcap bpf_filter runs of "net 198.18.2.0/24 and udp" per packet [0]
    cost_ns     per-packet time instead of x (paper: 25780 = x 300 on 2.4 GHz, engine/app_cost.py) [None]
    emulate     how cost_ns is spent: burn | pace | auto (pace when the host has
                fewer cores than the run's threads) [auto]
    interface   capture interface of a testbed made by `invoke testbed-up`
                (wc<tag>c) [None: a throwaway testbed]
    queue       receive queue to capture and send into [0]
    timeout_us  WireCAP's partial-chunk timeout [1000]
    ring_size   WireCAP's fill/RX ring N (power of two) [1024]
    mode        AF_XDP bind mode copy | zerocopy | auto ["copy"; veth has no zero copy]
    max_s       bound on the whole run's traffic and draining [120]
    seed        recorded [0]

Returns the simulator's pkt_handler columns (engine, engine_label, M, R, T, x,
P, size, queues, nic_buffer, backend, seed, sent, delivered, capture_drops,
delivery_drops, filtered, drop_rate) plus offered_pps (the generator's
measured rate), processed_pps (the consumer's achieved rate), and details:
arrival_pps (the rate at which the frames reached the capture queue's XDP
hook: on veth a live-frame burst arrives compressed, faster than offered_pps),
generator, work, cost_ns, emulate, chunks_copied, max_rx_gap_us, xsk_drops,
unaccounted (0 when every frame is accounted for), drained, zerocopy,
host_steal_ms (time the hypervisor took from this VM during the run: the
usual cause of a capture thread's long max_rx_gap_us here), host_cpus, kernel. nic_buffer is False: a veth has no on-chip buffer.
"""
from __future__ import annotations

import contextlib

from driver.xdp import packets
from driver.xdp.generator import Generator
from driver.xdp.prereq import require_all
from driver.xdp.testbed import Testbed
from experiments.live import replay_progress
from experiments.live.common import (Capture, EngineSpec, host_info, make_works, processed_rate, steal_ms,
                                     terminate_as_interrupt, threads_needed, unaccounted)
from experiments.live.workload import human_s

DEFAULTS = {"engine": "wirecap-b", "M": None, "R": None, "T": None, "ring": None, "slots": None,
            "burst": None, "size": 64, "rate": None, "x": 0, "cost_ns": None, "emulate": "auto",
            "interface": None, "queue": 0, "timeout_us": 1000, "ring_size": 1024, "mode": "copy", "max_s": 120.0,
            "seed": 0}


def _args(args: dict) -> dict:
    a = dict(DEFAULTS)
    a.update({k: v for k, v in args.items() if v is not None})
    if a["burst"] is None:
        a["burst"] = a.get("P")
    if a["burst"] is None or int(a["burst"]) < 1:
        raise ValueError("burst: give the number of frames P to send (>= 1)")
    a["burst"] = int(a["burst"])
    if int(a["x"]) < 0:
        raise ValueError(f"x={a['x']}: filter runs per packet must be >= 0")
    if a["cost_ns"] is not None and not float(a["cost_ns"]) > 0:
        raise ValueError(f"cost_ns={a['cost_ns']}: the per-packet time must be > 0 ns")
    if a["rate"] is not None and not 0 < float(a["rate"]) <= 1e8:
        raise ValueError(f"rate={a['rate']}: frames per second in (0, 1e8]")
    if not 0 < float(a["max_s"]) <= 3600:
        raise ValueError(f"max_s={a['max_s']}: a run is bounded, 0 < max_s <= 3600")
    _check_paced_length(a)
    a["frame_len"] = packets.frame_len(int(a["size"]))
    return a


def paced_s(a: dict) -> float:
    """Seconds a paced burst takes (0 for a line-rate one)."""
    return a["burst"] / float(a["rate"]) if a["rate"] is not None else 0.0


def _check_paced_length(a: dict) -> None:
    # the generator would stop at max_s and send only part of the burst
    if paced_s(a) > float(a["max_s"]):
        raise ValueError(f"burst={a['burst']:,} at rate={float(a['rate']):g} frames/s takes {human_s(paced_s(a))}, "
                         f"longer than the run's max_s={float(a['max_s']):g} s: raise the rate or send fewer frames")


def _announce(a: dict, say) -> None:
    if say is not None and paced_s(a) > replay_progress.ANNOUNCE_OVER_S:
        say(f"sending {a['burst']:,} frames at {float(a['rate']):g} frames/s takes about {human_s(paced_s(a))}, "
            f"plus set-up and draining")


@contextlib.contextmanager
def testbed_for(a: dict, queues: int = 1, forward: bool = False):
    """The testbed of a run: the one behind ``interface``, or a throwaway one."""
    if a.get("interface"):
        tb = Testbed.find(a["interface"])
        if tb.cap_if != a["interface"]:
            raise ValueError(f"interface {a['interface']}: give the capture interface {tb.cap_if}")
        yield tb
        return
    with Testbed(queues=queues, forward=forward) as tb:
        yield tb


def run(args: dict, say=replay_progress.say_on_stderr) -> dict:
    a = _args(args)                # before the testbed: a refused burst leaves nothing to clean up
    require_all()
    _announce(a, say)
    spec = EngineSpec.parse(a["engine"], a["M"], a["R"], a["T"], a["ring"], a["slots"])
    q = int(a["queue"])
    with terminate_as_interrupt(), testbed_for(a) as tb:
        if not 0 <= q < tb.queues:
            raise ValueError(f"queue={q}: the testbed has queues 0..{tb.queues - 1}")
        works = make_works(1, int(a["x"]), a["cost_ns"], a["emulate"], threads_needed(spec, 1))
        steered = None
        if a["rate"] is not None and tb.queues > 1:
            # a flow the kernel's hash sends to queue q (probing needs the queues free)
            from driver.xdp.steering import flows_for_queue

            steered = flows_for_queue(tb, q, 1)[0]
        with Capture(tb, spec, [q], works, frame_len=a["frame_len"], timeout_us=int(a["timeout_us"]),
                     mode=a["mode"], ring_size=int(a["ring_size"])) as cap, Generator(tb) as gen:
            cap.start(max_s=float(a["max_s"]) + 30)
            steal0 = steal_ms()
            frame = gen.udp(0, a["frame_len"])
            if a["rate"] is None:
                sent = gen.burst(frame, a["burst"], max_s=float(a["max_s"]), queue=q)
            else:
                frame = steered or frame
                if len(frame) != a["frame_len"]:
                    frame = frame + bytes(max(0, a["frame_len"] - len(frame)))
                bar = replay_progress.ReplayBar.for_rate("paced burst", a["burst"], float(a["rate"]),
                                                         show=None if say else False)
                with bar:
                    sent = gen.send([frame], count=a["burst"], rate=float(a["rate"]), max_s=float(a["max_s"]))
            counts, drained = cap.wait_drained(sent.sent, max_s=float(a["max_s"]))
            loops = cap.stop()
            c = counts[q]
            w = works[0].stats()
            row = {**spec.columns(), "x": int(a["x"]), "P": a["burst"], "size": int(a["size"]), "queues": 1,
                   "nic_buffer": False, "backend": "xdp", "seed": int(a["seed"]),
                   "sent": sent.sent, "delivered": c["delivered"],
                   "capture_drops": c["capture_drops"] + max(0, sent.sent - c["arrived"]),
                   "delivery_drops": c["delivery_drops"], "filtered": c["filtered"]}
            row["drop_rate"] = (row["capture_drops"] + row["delivery_drops"]) / row["sent"] if row["sent"] else 0.0
            row.update({
                "offered_pps": sent.rate_pps, "arrival_pps": cap.arrival_pps(q, c["arrived"]),
                "processed_pps": processed_rate(w, loops[0]),
                "generator": sent.method, "generator_refused": sent.refused, "work": works[0].describe(),
                "cost_ns": a["cost_ns"], "emulate": works[0].kind if a["cost_ns"] else None,
                "chunks_copied": c["chunks_copied"], "max_rx_gap_us": c["max_rx_gap_us"],
                "xsk_drops": c.get("xsk_drops"), "drained": drained, "queue": q,
                "zerocopy": bool(cap.engine.zerocopy) if cap.engine is not None else False,
                "interface": a["interface"] or "throwaway", "host_steal_ms": steal_ms() - steal0, **host_info(),
            })
            row["unaccounted"] = unaccounted(row)
    return row


def main() -> int:  # pragma: no cover - convenience for `python -m`
    import json
    import sys

    args = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {"burst": 10000}
    json.dump(run(args), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
