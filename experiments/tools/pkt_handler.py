"""pkt_handler (paper §2.2): capture from one receive queue and apply a BPF
filter x times to every packet before discarding it.

    pkt_handler --backend sim --engine wirecap-b --M 256 --R 100 --x 300 --burst 100000 --json

The sim backend feeds a burst of P frames at line rate into one queue of the
simulated 82599 and runs the chosen engine; the filter runs are time
(85.8 ns each at 2.4 GHz, scaled by --clock-ghz). The xdp backend runs the
real engine on AF_XDP (experiments.live.pkt_handler).
"""
from __future__ import annotations

import sys

from engine.models import ENGINES, EngineConfig
from experiments.params import NIC_NAMES, arg_type
from experiments.tools.cli import ToolArgumentParser, fail, live_module, on_off, output, say_as

PROG = "pkt_handler"


def build_parser() -> ToolArgumentParser:
    ap = ToolArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", default="sim", choices=["sim", "xdp"],
                    help="sim: simulated testbed (default); xdp: real AF_XDP (root)")
    ap.add_argument("--engine", required=True,
                    help=f"capture engine: {', '.join(ENGINES)} (xdp also: afxdp-ring, afpacket-copy, tcpdump)")
    ap.add_argument("--M", type=arg_type("M"), default=None, help="WireCAP descriptor segment size M (cells; default 256)")
    ap.add_argument("--R", type=arg_type("R"), default=None, help="WireCAP ring buffer pool size R (chunks; default 500)")
    ap.add_argument("--T", type=arg_type("T"), default=None, help="WireCAP-A offloading threshold T (percent; default 60)")
    ap.add_argument("--mbufs", type=arg_type("mbufs"), default=None,
                    help="dpdk: mbufs in each queue's mempool (default 8,192; more than the ring's 1,024)")
    ap.add_argument("--x", type=arg_type("x"), default=0, help="BPF filter runs per packet (default 0)")
    ap.add_argument("--burst", type=arg_type("P"), required=True, metavar="P", help="packets in the line-rate burst")
    ap.add_argument("--size", type=arg_type("size"), default=64, help="frame size in bytes (default 64)")
    ap.add_argument("--nic-buffer", type=on_off, default=True, metavar="on|off",
                    help="the NIC's 512 KB on-chip receive buffer (default on)")
    ap.add_argument("--nic", type=arg_type("nic"), default=None,
                    help="sim: NIC model, " + ", ".join(NIC_NAMES) + " (driver/sim/nics.py); the burst runs at its "
                         "line rate (default 82599, the paper's 10 GbE)")
    ap.add_argument("--clock-ghz", type=arg_type("clock_ghz"), default=2.4, help="core clock for the cost model (default 2.4)")
    ap.add_argument("--seed", type=arg_type("seed"), default=0, help="recorded with the result (default 0)")
    ap.add_argument("--cost-ns", type=arg_type("cost_ns"), default=None,
                    help="xdp: calibrated per-packet work in ns instead of x filter runs")
    ap.add_argument("--rate", type=arg_type("rate"), default=None,
                    help="xdp: generator rate in packets/s (default: maximum); a paced burst over 5 s is announced "
                         "on stderr (a bar on a terminal), one over 120 s (the run's bound) is refused")
    ap.add_argument("--interface", default=None,
                    help="xdp: capture interface (default: a throwaway veth testbed)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    return ap


def validate(args) -> EngineConfig | None:
    """The engine the options build (sim engines); each option's own range was
    checked by its argparse type (experiments/params.py)."""
    if args.backend == "xdp" and args.engine in ("afxdp-ring", "afpacket-copy", "tcpdump"):
        return None
    try:
        return EngineConfig.make(args.engine, args.M, args.R, args.T, mbufs=args.mbufs)
    except ValueError as exc:
        fail(PROG, str(exc))
    return None


def summary(row: dict) -> str:
    nic = f"  nic={row['nic']}" if "nic" in row else ""
    lines = [
        f"{row['engine_label']}  x={row['x']}  P={row['P']:,} x {row['size']} B  "
        f"backend={row['backend']}{nic}",
        f"  sent            {row['sent']:>12,}",
        f"  delivered       {row['delivered']:>12,}",
        f"  capture drops   {row['capture_drops']:>12,}",
        f"  delivery drops  {row['delivery_drops']:>12,}",
        f"  drop rate       {100 * row['drop_rate']:>11.3f}%",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    engine = validate(args)
    # a dpdk engine travels as its spec (dpdk:MBUFS), which sim_pkt_handler parses
    point = {"engine": engine.spec() if engine and engine.kind == "dpdk" else args.engine,
             "M": engine.M if engine else args.M,
             "R": engine.R if engine else args.R, "T": engine.T if engine else args.T,
             "x": args.x, "P": args.burst, "size": args.size, "nic_buffer": args.nic_buffer,
             "clock_ghz": args.clock_ghz, "seed": args.seed}
    if args.backend == "sim":
        from experiments.points import sim_pkt_handler

        if args.nic is not None:
            point["nic"] = args.nic
        row = sim_pkt_handler(point)
    else:
        if args.nic is not None:
            fail(PROG, f"--nic {args.nic}: NIC models are the sim backend's; the xdp backend captures from a real "
                       "interface (--interface)")
        live = live_module(PROG, "pkt_handler")
        point.update(cost_ns=args.cost_ns, rate=args.rate, interface=args.interface, burst=args.burst)
        try:
            row = live.run(point, say=say_as(PROG))
        except (OSError, RuntimeError, ValueError) as exc:
            fail(PROG, f"--backend xdp: {exc}")
    output(row, args.json, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
