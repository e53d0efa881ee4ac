"""multi_pkt_handler (paper §4): spawns n pkt_handler threads, one per
receive queue of one NIC, in basic or advanced mode.

    multi_pkt_handler --backend sim --trace fermilab-like --queues 6 --engine wirecap-a --x 300 --json
    multi_pkt_handler --trace fermilab-like --queues 6 --engine wirecap-a --T 30 --offload bucket

--offload picks how WireCAP-A offloads (beyond the paper): chunk, the
paper's (§3.2.2a; a flow's packets may reach two threads, §5b), bucket
(redirection-table buckets move between buddies as in RSS++, Barbette et
al., CoNEXT 2019: no flow splits, no packet is reordered) or hybrid
(buckets, with a chunk spill only when a pool is nearly full).

The sim backend replays the trace as recorded into the simulated 82599,
which steers every frame by RSS; each queue has its own pkt_handler thread
on its own core (paper Figure 1). In advanced mode the n queues form one
buddy group (or --groups assigns them). Prints one JSON object per queue
and a last one with "queue": "all".

The xdp backend replays the trace into a veth testbed in real time:
--speed, --window-s and --max-gap-s shorten the replay (xdp only; the sim
replays the whole trace as recorded, in simulated time).
"""
from __future__ import annotations

import sys

from engine.models import ENGINES, EngineConfig
from experiments import params
from experiments.params import arg_type
from experiments.tools.cli import (MAX_GAP_HELP, ToolArgumentParser, fail, live_module, output,
                                   replay_epilog, say_as, window)

PROG = "multi_pkt_handler"


def build_parser() -> ToolArgumentParser:
    ap = ToolArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0], epilog=replay_epilog())
    ap.add_argument("--backend", default="sim", choices=["sim", "xdp"], help="sim (default) or xdp")
    ap.add_argument("--trace", default="fermilab-like",
                    help="fermilab-like (default seed), fermilab-like:SEED, gnutella, 1kxun, synscan, "
                         "or a .pcap/.pcapng path")
    ap.add_argument("--queues", type=arg_type("queues"), default=6, help=f"receive queues n, 1..{params.MAX_QUEUES} (default 6)")
    ap.add_argument("--engine", required=True, help=f"capture engine: {', '.join(ENGINES)}")
    ap.add_argument("--M", type=arg_type("M"), default=None, help="WireCAP descriptor segment size M (cells; default 256)")
    ap.add_argument("--R", type=arg_type("R"), default=None, help="WireCAP ring buffer pool size R (chunks; default 500)")
    ap.add_argument("--T", type=arg_type("T"), default=None, help="WireCAP-A offloading threshold T (percent; default 60)")
    ap.add_argument("--mbufs", type=arg_type("mbufs"), default=None,
                    help="dpdk: mbufs in each queue's mempool (default 8,192; more than the ring's 1,024)")
    ap.add_argument("--offload", type=arg_type("offload"), default=None,
                    help="WireCAP-A offloading policy: chunk (the paper's: whole chunks to a buddy, flows may "
                         "split), bucket (ours: redirection-table buckets move, no flow splits), hybrid "
                         "(buckets, chunks only as an emergency spill) (default chunk)")
    ap.add_argument("--period-ms", type=arg_type("period_ms"), default=None,
                    help="bucket/hybrid: how often buckets are re-solved, ms (default 100, engine.models.BalanceCosts; RSS++ uses 10-1,000)")
    ap.add_argument("--buckets", type=arg_type("n_buckets"), default=None,
                    help="bucket/hybrid: redirection-table entries, a power of two (default 128, the 82599's)")
    ap.add_argument("--nic", type=arg_type("nic"), default=None,
                    help="sim: NIC model, " + ", ".join(params.NIC_NAMES) + " (driver/sim/nics.py): its "
                         "redirection table steers the trace, its ring and drop policy take it (default 82599)")
    ap.add_argument("--x", type=arg_type("x"), default=300, help="BPF filter runs per packet (default 300)")
    ap.add_argument("--groups", default=None,
                    help="advanced mode: buddy group of each queue, e.g. 0,0,1,1 (default: one group)")
    ap.add_argument("--forward", action="store_true", help="forward every processed packet out of NIC2")
    ap.add_argument("--clock-ghz", type=arg_type("clock_ghz"), default=2.4, help="core clock for the cost model (default 2.4)")
    ap.add_argument("--seed", type=arg_type("seed"), default=0, help="recorded with the result (default 0)")
    ap.add_argument("--cost-ns", type=arg_type("cost_ns"), default=None, help="xdp: calibrated per-packet work in ns")
    ap.add_argument("--interface", default=None, help="xdp: capture interface (default: a throwaway testbed)")
    ap.add_argument("--speed", type=arg_type("speed"), default=None, metavar="X",
                    help="xdp: replay speed factor, 0.5 takes twice the trace's time; per-packet work is scaled "
                         "by 1/X so each queue's load stays the recorded one (default 1)")
    ap.add_argument("--window-s", type=window, default=None, metavar="START,END",
                    help="xdp: replay only this part of the trace, in seconds (default: all of it)")
    ap.add_argument("--max-gap-s", type=arg_type("max_gap_s"), default=None, metavar="S", help=MAX_GAP_HELP)
    ap.add_argument("--json", action="store_true", help="print a JSON array")
    return ap


def validate(args) -> tuple[EngineConfig | None, list[int] | None]:
    groups = None
    if args.groups is not None:
        try:
            groups = [int(g) for g in args.groups.split(",")]
        except ValueError:
            fail(PROG, f"--groups {args.groups!r}: expected comma-separated group numbers, e.g. 0,0,1,1")
        if len(groups) != args.queues or min(groups) < 0 or max(groups) >= args.queues:
            fail(PROG, f"--groups {args.groups!r}: give one group number (0..{args.queues - 1}) per queue")
    _check_replay_options(args)
    if args.backend == "xdp" and args.engine in ("afxdp-ring", "afpacket-copy", "tcpdump"):
        return None, groups
    if args.offload not in (None, "chunk") and args.engine != "wirecap-a":
        fail(PROG, f"--offload {args.offload}: offloading policies apply to wirecap-a only, not {args.engine}")
    try:
        engine = EngineConfig.make(args.engine, args.M, args.R, args.T, offload=args.offload, mbufs=args.mbufs)
    except ValueError as exc:
        fail(PROG, str(exc))
    if groups is not None and not engine.advanced:
        fail(PROG, "--groups: buddy groups only exist in advanced mode (--engine wirecap-a)")
    bucketed = engine.advanced and engine.offload in ("bucket", "hybrid")
    for flag, value in (("--period-ms", args.period_ms), ("--buckets", args.buckets)):
        if value is not None and not bucketed:
            fail(PROG, f"{flag}: only with --engine wirecap-a --offload bucket or hybrid (chunk offloading "
                       f"moves no redirection-table bucket)")
    return engine, groups


def _check_replay_options(args) -> None:
    given = [flag for flag, v in (("--speed", args.speed), ("--window-s", args.window_s),
                                  ("--max-gap-s", args.max_gap_s)) if v is not None]
    if args.backend == "sim" and given:
        fail(PROG, f"{given[0]}: only with --backend xdp (the sim backend replays the whole trace as recorded, "
                   f"in simulated time)")


def summary(rows: list[dict]) -> str:
    head = rows[-1]
    nic = f"  nic={head['nic']}" if "nic" in head else ""
    out = [f"{head['engine_label']}  x={head['x']}  {head['queues']} queues  trace={head['trace']}{nic}",
           f"{'queue':>5s} {'sent':>10s} {'delivered':>10s} {'capture':>9s} {'delivery':>9s} "
           f"{'drop %':>7s} {'off-out':>8s} {'off-in':>8s} {'split':>6s} {'reorder':>7s} {'moves':>6s}"]
    for r in rows:
        # the bucket counters exist where the backend measures them
        extra = " ".join(f"{r[k]:>{w},}" if isinstance(r.get(k), int) else f"{'-':>{w}s}"
                         for k, w in (("packets_reordered", 7), ("bucket_moves", 6)))
        out.append(f"{str(r['queue']):>5s} {r['sent']:>10,} {r['delivered']:>10,} {r['capture_drops']:>9,} "
                   f"{r['delivery_drops']:>9,} {100 * r['drop_rate']:>7.2f} {r['offloaded_out']:>8,} "
                   f"{r['offloaded_in']:>8,} {r['flows_split']:>6,} {extra}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    engine, groups = validate(args)
    # the spec names the policy (wirecap-a:256:500:60:bucket) when it is not the paper's chunk
    point = {"engine": engine.spec() if engine else args.engine, "trace": args.trace, "queues": args.queues,
             "x": args.x, "forward": args.forward, "groups": groups, "clock_ghz": args.clock_ghz,
             "seed": args.seed}
    for key, value in (("period_ms", args.period_ms), ("n_buckets", args.buckets)):
        if value is not None:
            point[key] = value
    if args.nic is not None:
        if args.backend != "sim":
            fail(PROG, f"--nic {args.nic}: NIC models are the sim backend's; the xdp backend captures from a real "
                       "interface (--interface)")
        point["nic"] = args.nic
    try:
        if args.backend == "sim":
            from experiments.points import sim_multi_pkt_handler

            rows = sim_multi_pkt_handler(point)
        else:
            live = live_module(PROG, "multi_pkt_handler")
            point.update(cost_ns=args.cost_ns, interface=args.interface, M=args.M, R=args.R, T=args.T,
                         offload=engine.offload if engine else None,
                         speed=args.speed, window_s=args.window_s, max_gap_s=args.max_gap_s)
            rows = live.run(point, say=say_as(PROG))
    except FileNotFoundError as exc:
        fail(PROG, f"--trace {args.trace!r}: {exc}")
    except (OSError, RuntimeError, ValueError) as exc:
        fail(PROG, f"{exc}")
    output(rows, args.json, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
