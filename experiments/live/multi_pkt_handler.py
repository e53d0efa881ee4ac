"""multi_pkt_handler on the real backend (paper §4): n receive queues, one
pkt_handler thread per queue, a trace replayed as recorded.

    from experiments.live import multi_pkt_handler
    rows = multi_pkt_handler.run({"engine": "wirecap-a", "queues": 4, "cost_ns": 25780,
                                  "speed": 0.5, "window_s": [10, 18]})

As root; a throwaway veth testbed with ``queues`` queues (and the NIC2 pair
with ``forward``) is made and removed unless ``interface`` names one from
`invoke testbed-up`.

The trace is replayed onto the queues the 82599's RSS would give its packets
(experiments/live/workload.py: steered), so the per-queue imbalance is the
trace's, not the veth hash's.

Arguments (``args`` dict; defaults in brackets):

    engine      wirecap-b | wirecap-a | afxdp-ring | afpacket-copy ["wirecap-a"]
                ("name:M:R[:T]" accepted; tcpdump captures whole interfaces only)
    M, R, T     [256, 500, 60]
    ring, slots afxdp-ring frames [1024], afpacket-copy frames per queue [10240]
    trace       "fermilab-like", "fermilab-like:SEED" or a capture file ["fermilab-like"]
    queues      n [6]
    groups      advanced mode: buddy-group number per queue, e.g. [0, 0, 1, 1] [one group]
    x           bpf_filter runs per packet [300]; cost_ns: per-packet time instead [None]
    emulate     burn | pace | auto [auto]
    speed       replay speed factor: 0.5 replays in twice the trace's time [1.0];
                per-packet work is scaled by 1/speed (cost_ns/speed, x/speed) so
                every queue's load relative to its consumer is the recorded one
    window_s    [start, end] seconds of the trace to replay [whole trace]
    max_gap_s   idle gaps longer than this (trace seconds) are cut to it; every
                packet is still sent [None: gaps as recorded]
    per_pool    substitute flows per (queue, protocol) for steering [512]
    forward     forward every processed packet out of NIC2 to a receiver [False]
                (WireCAP only); drop rate is then 1 - received/sent
    interface   a testbed's capture interface [None: throwaway testbed]
    mode        AF_XDP bind mode [copy]
    offload     wirecap-a's offloading policy: chunk | bucket | hybrid [chunk; or the
                engine spec's suffix, "wirecap-a:256:500:60:bucket"]
    rss         steer by the 82599's RSS (Toeplitz hash, redirection table) on the
                testbed, driver/xdp/xdp_prog.py RssProgram [True for bucket and hybrid,
                else False: the veth's own flow hash]; bucket moves need it
    n_buckets   redirection-table entries [128, the 82599's]
    period_ms   balancing period [engine/models.py BalanceCosts, the simulator's]
    max_s       bound on the run beyond the replay's duration [120]
    seed        steering's random flows [0]

Before anything is built, the replay is planned (workload.plan): one over
workload.MAX_REPLAY_S is refused with a one-line ValueError that names the
trace, how long it would take and what shortens it; one over a few seconds
is announced through ``say`` (default: a line on stderr; None: quiet), and on
a terminal a bar follows it (experiments/live/replay_progress.py).

Returns one row per queue and a last row with queue = "all": the simulator's
multi_pkt_handler columns (engine, engine_label, M, R, T, x, P, size, queues,
queue, nic_buffer, backend, seed, sent, delivered, capture_drops,
delivery_drops, filtered, drop_rate, offloaded_out, offloaded_in,
flows_split, flows_migrated, packets_reordered, bucket_moves) plus offered_pps, processed_pps, trace, speed, window_s,
cost_ns, work, received (forwarding), unaccounted, drained, and the
scaling notes. offloaded_* count packets (chunks in *_chunks).
"""
from __future__ import annotations

import contextlib

from driver.xdp import packets
from driver.xdp.generator import Generator
from driver.xdp.xdp_prog import RssProgram
from driver.xdp.prereq import require_all
from experiments.live import replay_progress, workload
from experiments.live.common import (Capture, EngineSpec, host_info, make_works, processed_rate,
                                     sink_received, terminate_as_interrupt, threads_needed, unaccounted)
from experiments.live.pkt_handler import testbed_for
from engine.live.work import Flows

DEFAULTS = {"engine": "wirecap-a", "M": None, "R": None, "T": None, "ring": None, "slots": None,
            "trace": "fermilab-like", "queues": 6, "groups": None, "x": 300, "cost_ns": None,
            "emulate": "auto", "speed": 1.0, "window_s": None, "max_gap_s": None, "per_pool": 512, "forward": False,
            "interface": None, "mode": "copy", "max_s": 120.0, "seed": 0, "offload": None, "rss": None,
            "n_buckets": 128, "period_ms": None}


def _args(args: dict) -> dict:
    a = dict(DEFAULTS)
    a.update({k: v for k, v in args.items() if v is not None})
    n = int(a["queues"])
    if not 1 <= n <= 64:
        raise ValueError(f"queues={n}: 1..64 receive queues")
    if int(a["x"]) < 0:
        raise ValueError(f"x={a['x']}: filter runs per packet must be >= 0")
    if a["cost_ns"] is not None and not float(a["cost_ns"]) > 0:
        raise ValueError(f"cost_ns={a['cost_ns']}: must be > 0")
    if a["groups"] is not None and len(a["groups"]) != n:
        raise ValueError(f"groups={a['groups']}: one group number per queue ({n})")
    return a


def plan(a: dict) -> workload.ReplayPlan:
    """The run's replay, checked (too long, empty, past the generator's bound)."""
    p = workload.plan(a["trace"], float(a["speed"]), a["window_s"], a["max_gap_s"])
    return p.check(slack_s=float(a["max_s"]))


def run(args: dict, say=replay_progress.say_on_stderr) -> list[dict]:
    a = _args(args)
    spec = EngineSpec.parse(a["engine"], a["M"], a["R"], a["T"], a["ring"], a["slots"], a["offload"])
    use_rss = spec.offload != "chunk" if a["rss"] is None else bool(a["rss"])
    if spec.offload != "chunk" and not use_rss:
        raise ValueError(f"offload={spec.offload!r}: bucket moves need rss=True (the RSS steering program)")
    replay_plan = plan(a)          # before the testbed: a refused replay leaves nothing to clean up
    require_all()
    replay_progress.announce(replay_plan, say)
    n, speed = int(a["queues"]), float(a["speed"])
    cost = float(a["cost_ns"]) / speed if a["cost_ns"] else None
    x = int(round(int(a["x"]) / speed)) if not cost else 0
    with terminate_as_interrupt(), testbed_for(a, queues=n, forward=bool(a["forward"])) as tb, \
            _rss(tb, n, use_rss, int(a["n_buckets"])) as steer:
        queues = list(range(n))
        # with the RSS program attached, the probes find flows by the 82599's hash
        replay = workload.steered(a["trace"], tb, n, speed=speed, window_s=a["window_s"],
                                  per_pool=int(a["per_pool"]), seed=int(a["seed"]),
                                  max_gap_s=a["max_gap_s"], trace=replay_plan.trace)
        flows = Flows(1 << 20) if spec.wirecap else None
        if flows is not None:
            # WireCAP's flows are noted at hand-over, ordered by the frame
            # number the generator writes (wc_flows.h)
            flows.order_at(packets.SEQ_OFFSET)
        with _capture(tb, spec, queues, a, x, cost, flows, steer) as (cap, works), Generator(tb) as gen:
            received0 = sink_received(tb) if a["forward"] else 0
            cap.start(max_s=replay.duration_s + float(a["max_s"]) + 30)
            with replay_progress.ReplayBar.for_replay(replay, show=None if say else False):
                sent = gen.send(replay.templates, count=len(replay), due_ns=replay.due_ns,
                                tpl_idx=replay.tpl_idx, frame_len=replay.frame_len, seq=flows is not None,
                                max_s=replay.duration_s * workload.SEND_BOUND_FACTOR + float(a["max_s"]))
            counts, drained = cap.wait_drained(sent.sent, max_s=float(a["max_s"]))
            loops = cap.stop()
            received = sink_received(tb) - received0 if a["forward"] else None
            flow_stats = flows.stats() if flows is not None else {}
            split_q = _split_per_queue(flows, queues)
            moves = sum(e.bucket_moves for e in cap.engines)
            rows = _rows(a, spec, replay, sent, counts, works, loops, split_q, flow_stats, received, drained, x,
                         cost, moves)
    return rows


@contextlib.contextmanager
def _rss(tb, n: int, use: bool, n_buckets: int):
    """The RSS steering program on the generator's veth for the run (None if not used)."""
    if not use:
        yield None
        return
    with RssProgram(tb.gen_ns, tb.gen_if, n, n_buckets=n_buckets) as prog:
        yield prog


class _capture:
    """Capture plus its Works (with forwarding wired to the right engine)."""

    def __init__(self, tb, spec, queues, a, x, cost, flows, steer=None):
        self.args = (tb, spec, queues, a, x, cost, flows, steer)

    def __enter__(self):
        tb, spec, queues, a, x, cost, flows, steer = self.args
        n = len(queues)
        threads = threads_needed(spec, n)
        # WireCAP engines note flows themselves, when a chunk is handed over
        # (wc_live__set_flows); the others as the consumer processes them
        work_flows = None if spec.wirecap else flows
        works = make_works(n, x, cost, a["emulate"], threads, flows=work_flows)
        self.cap = Capture(tb, spec, queues, works, frame_len=60, forward=bool(a["forward"]), mode=a["mode"],
                           groups=a["groups"], rss=steer, period_ms=a["period_ms"],
                           flows=flows if spec.wirecap else None)
        if a["forward"]:
            # each consumer forwards through its own engine's TX socket
            fwd = [self.cap.where[q][0] for q in queues]
            works = make_works(n, x, cost, a["emulate"], threads, flows=work_flows, forward=fwd)
            self.cap.works = works
        return self.cap, self.cap.works

    def __exit__(self, *exc):
        self.cap.close()


def _split_per_queue(flows, queues) -> dict:
    """Per queue: flows_split, flows_migrated, packets_reordered."""
    if flows is None:
        return {q: {"flows_split": 0, "flows_migrated": 0, "packets_reordered": 0} for q in queues}
    return {q: flows.queue_stats(q) for q in queues}


def _rows(a, spec, replay, sent, counts, works, loops, split_q, flow_stats, received, drained, x,
          cost, moves=0) -> list[dict]:
    n = len(counts)
    common = {**spec.columns(), "x": int(a["x"]), "P": sent.sent, "size": None, "queues": n,
              "nic_buffer": False, "backend": "xdp", "seed": int(a["seed"]), "trace": str(a["trace"]),
              "forward": bool(a["forward"]), "speed": float(a["speed"]),
              "window_s": list(a["window_s"]) if a["window_s"] else None, "max_gap_s": a["max_gap_s"],
              "cost_ns": a["cost_ns"], "work": works[0].describe(), "scaling": _scaling(a, x, cost),
              "substitute_flows": replay.meta.get("substitute_flows"), "skipped": replay.skipped,
              "offered_pps": sent.rate_pps, **host_info()}
    rows = []
    for i, (q, c) in enumerate(sorted(counts.items())):
        w = works[i].stats()
        row = dict(common, queue=q, sent=c["arrived"], delivered=c["delivered"], capture_drops=c["capture_drops"],
                   delivery_drops=c["delivery_drops"], filtered=c["filtered"], offloaded_out=c["offloaded_out"],
                   offloaded_in=c["offloaded_in"], offloaded_out_chunks=c["offloaded_out_chunks"],
                   offloaded_in_chunks=c["offloaded_in_chunks"], **split_q[q],
                   bucket_moves=c.get("bucket_moves", 0), bucket_moves_in=c.get("bucket_moves_in", 0),
                   barrier_holds=c.get("barrier_holds", 0), barrier_timeouts=c.get("barrier_timeouts", 0),
                   processed=loops[i]["packets"], processed_pps=processed_rate(w, loops[i]),
                   max_rx_gap_us=c["max_rx_gap_us"],
                   target_sent=int((replay.target_queue == q).sum()))
        row["drop_rate"] = (row["capture_drops"] + row["delivery_drops"]) / row["sent"] if row["sent"] else 0.0
        row["unaccounted"] = unaccounted(row)
        rows.append(row)
    keys = ("delivered", "capture_drops", "delivery_drops", "filtered", "offloaded_out", "offloaded_in",
            "offloaded_out_chunks", "offloaded_in_chunks", "processed")
    total = dict(common, queue="all", sent=sent.sent, **{k: sum(r[k] for r in rows) for k in keys})
    total["capture_drops"] += max(0, sent.sent - sum(r["sent"] for r in rows))  # lost before the NIC
    total["flows_split"] = flow_stats.get("flows_split", 0)
    total["flows_migrated"] = flow_stats.get("flows_migrated", 0)
    total["packets_reordered"] = flow_stats.get("packets_reordered", 0)
    total["bucket_moves"] = moves
    total["barrier_holds"] = sum(r["barrier_holds"] for r in rows)
    total["barrier_timeouts"] = sum(r["barrier_timeouts"] for r in rows)
    total["flows"] = flow_stats.get("flows")
    total["processed_pps"] = sum(r["processed_pps"] for r in rows if r["processed_pps"] == r["processed_pps"])
    total["drop_rate"] = (total["capture_drops"] + total["delivery_drops"]) / total["sent"] if total["sent"] else 0.0
    total["unaccounted"] = unaccounted(total)
    total["drained"] = drained
    total["generator_refused"] = sent.refused
    total["replay_s"] = replay.duration_s
    total["send_s"] = sent.duration_s
    if received is not None:
        total["received"] = received
        total["drop_rate"] = 1 - received / sent.sent if sent.sent else 0.0  # paper §4: at the receiver
    rows.append(total)
    return rows


def _scaling(a, x, cost) -> str:
    s = f"replay at {a['speed']}x recorded speed"
    if a["window_s"]:
        s += f", trace window {a['window_s'][0]}-{a['window_s'][1]} s"
    if a["max_gap_s"]:
        s += f", idle gaps over {a['max_gap_s']} s cut to it"
    if cost:
        s += f"; per-packet time {cost:.0f} ns (= {a['cost_ns']} ns / speed)"
    elif x:
        s += f"; x = {x} filter runs (= {a['x']} / speed)"
    return s
