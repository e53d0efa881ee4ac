"""queue_profiler: packets per receive queue per 10 ms (paper §2.2, Experiment 1).

The paper's tool "captures packets from a specific receive queue and counts
the number of packets captured every 10 ms"; one runs per queue. Ours
profiles every queue at once:

    queue_profiler --backend sim --trace fermilab-like --queues 6 --bin-ms 10 --json

``--backend sim`` steers the trace through the simulated 82599 (Toeplitz
RSS, 128-entry redirection table; traces/rss.py) and bins each queue's
packets by their recorded time: the paper saw no drops while profiling
("No packet drops occur in the experiment"), so arrival time is capture
time. ``--backend xdp`` captures the real queues of a veth testbed while the
trace is replayed into it (root; experiments/live/queue_profiler.py).

``--json`` prints a JSON array of ``{queue, bin_start_s, packets, bytes}``,
one object per queue per bin from the first packet's bin to the last
(``--sparse``: non-empty bins only); it covers every packet of the trace.
``bytes`` counts frames as pcap records them (no FCS). Without ``--json``
a per-queue summary is printed. Bad arguments exit 2 with a one-line error
naming the parameter.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pandas as pd

from experiments.params import arg_type
from experiments.tools.cli import (MAX_GAP_HELP, ToolArgumentParser, fail, replay_epilog,
                                   say_as, window)

PROG = "queue_profiler"
BIN_MS_DEFAULT = 10.0          # paper §2.2: "counts the number of packets captured every 10 ms"
MAX_DENSE_ROWS = 10_000_000    # beyond this, --sparse is required
COLUMNS = ["queue", "bin_start_s", "packets", "bytes"]


class BackendUnavailable(RuntimeError):
    """The backend exists in the design but not (yet) in this build."""


class TooManyBins(ValueError):
    """Dense bins over a long trace would not fit in memory."""


def profile_trace(trace, n_queues: int, bin_ms: float = BIN_MS_DEFAULT, sparse: bool = False,
                  queues: np.ndarray | None = None, **rss_options) -> pd.DataFrame:
    """Packets and bytes per (queue, bin). Dense over [first bin, last bin] unless sparse.

    queues: the queue of each packet (default: RSS over n_queues with rss_options).
    """
    if not bin_ms > 0:
        raise ValueError(f"bin_ms must be > 0, got {bin_ms}")
    bin_ns = bin_ms * 1e6
    q = trace.rss_queues(n_queues, **rss_options) if queues is None else np.asarray(queues)
    if len(trace) == 0:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                             zip(COLUMNS, ("int64", "float64", "int64", "int64"))})
    b = np.floor(trace.ts_ns / bin_ns).astype(np.int64)
    lo = int(b.min())
    span = int(b.max()) - lo + 1
    idx = q.astype(np.int64) * span + (b - lo)
    wl = trace.wire_len.astype(np.int64)
    if sparse:
        cells, inv = np.unique(idx, return_inverse=True)
        inv = inv.reshape(-1)
        packets = np.bincount(inv)
        nbytes = np.bincount(inv, weights=wl).astype(np.int64)
    else:
        if n_queues * span > MAX_DENSE_ROWS:
            raise TooManyBins(f"{bin_ms:g} ms bins over {trace.duration_s:.0f} s would be {n_queues * span} "
                              f"rows; use --sparse or a larger --bin-ms")
        cells = np.arange(n_queues * span, dtype=np.int64)
        packets = np.bincount(idx, minlength=len(cells))
        nbytes = np.bincount(idx, weights=wl, minlength=len(cells)).astype(np.int64)
    return pd.DataFrame({
        "queue": cells // span,
        "bin_start_s": np.round((cells % span + lo) * bin_ms / 1e3, 9),
        "packets": packets.astype(np.int64),
        "bytes": nbytes,
    })


def summarize(df: pd.DataFrame, n_queues: int, bin_ms: float, duration_s: float) -> pd.DataFrame:
    """Per queue: packets, share, mean p/s over the trace, peak bin and its rate."""
    rows = []
    total = int(df["packets"].sum())
    for q in range(n_queues):
        d = df[df["queue"] == q]
        n = int(d["packets"].sum())
        peak = d.loc[d["packets"].idxmax()] if n else None
        rows.append({"queue": q, "packets": n, "share": n / total if total else 0.0,
                     "mean_pps": n / duration_s if duration_s > 0 else float("nan"),
                     "peak_bin_packets": int(peak["packets"]) if n else 0,
                     "peak_bin_start_s": float(peak["bin_start_s"]) if n else float("nan"),
                     "peak_pps": int(peak["packets"]) * 1e3 / bin_ms if n else 0.0})
    return pd.DataFrame(rows)


# ---- backends: one function each -------------------------------------------------

def profile_sim(args) -> tuple[pd.DataFrame, float]:
    """The simulated 82599: RSS steering of the trace, binned by recorded time."""
    from traces import load_trace

    try:
        trace = load_trace(args.trace)
    except (OSError, ValueError) as exc:
        fail(PROG, f"--trace {args.trace}: {exc}")
    if args.speed != 1.0:
        trace = trace.scaled(args.speed)
    options = {"udp_ports": args.udp_ports, "symmetric": args.symmetric}
    if args.rss_key is not None:
        options["key"] = args.rss_key
    queues = None
    try:
        if args.nic is not None:
            queues = nic_queues(trace, args.nic, args.queues, **options)
            options = {}
        df = profile_trace(trace, args.queues, args.bin_ms, sparse=args.sparse, queues=queues, **options)
    except TooManyBins as exc:
        fail(PROG, f"--bin-ms {args.bin_ms:g}: {exc}")
    except ValueError as exc:  # the RSS options (traces/rss.py checks them)
        fail(PROG, f"--rss-key/--symmetric: {exc}")
    return df, trace.duration_s


def nic_queues(trace, nic: str, n_queues: int, **rss_options) -> np.ndarray:
    """Each packet's queue as NIC model `nic` steers it (driver/sim/nics.py):
    the Toeplitz hash, entry hash & (entries - 1) of its redirection table,
    filled entry j -> queue j mod n as every driver modelled does; packets
    RSS does not hash go to queue 0. ValueError naming the limit when RSS
    on that NIC cannot spread over n_queues."""
    from driver.sim.nics import check_queues, nic_model
    from traces import rss

    model = nic_model(nic)
    check_queues(model, n_queues)
    h, hashed = rss.key_hashes(trace.keys, **rss_options)
    entries = model.reta_entries(n_queues)
    per_key = np.where(hashed, (h & np.uint32(entries - 1)) % n_queues, 0)
    return per_key[trace.key_idx]


def profile_xdp(args) -> tuple[pd.DataFrame, float]:
    """Real receive queues through AF_XDP: the trace replayed (addresses
    rewritten into 198.18.0.0/15) into a veth testbed, every queue captured
    (experiments/live/queue_profiler.py). Needs root."""
    try:
        from experiments.live import queue_profiler as live
        from experiments.live.workload import ReplayTooLong
    except ImportError as exc:
        raise BackendUnavailable(f"--backend xdp: the real backend is not available ({exc})") from None
    point = {"trace": args.trace, "queues": args.queues, "speed": args.speed, "bin_ms": args.bin_ms,
             "interface": args.interface, "window_s": args.window_s, "max_gap_s": args.max_gap_s}
    try:
        rows = live.run(point, say=say_as(PROG))
    except ReplayTooLong as exc:     # the trace's fault, not the backend's: say so alone
        raise BackendUnavailable(str(exc)) from None
    except (OSError, RuntimeError, ValueError) as exc:
        raise BackendUnavailable(f"--backend xdp: {exc}") from None
    df = pd.DataFrame(rows, columns=["queue", "bin_start_s", "packets", "bytes"])
    duration = float(df["bin_start_s"].max() + args.bin_ms / 1000) if len(df) else 0.0
    return df, duration


BACKENDS = {"sim": profile_sim, "xdp": profile_xdp}


# ---- command line -------------------------------------------------------------------

def _rss_key(text):
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected 40 bytes as 80 hex digits") from None
    if len(key) != 40:
        raise argparse.ArgumentTypeError(f"expected 40 bytes as 80 hex digits, got {len(key)} bytes")
    return key


def parser() -> argparse.ArgumentParser:
    p = ToolArgumentParser(prog=PROG, description="Packets per receive queue per time bin (paper §2.2).",
                           epilog=replay_epilog())
    p.add_argument("--backend", choices=sorted(BACKENDS), default="sim",
                   help="sim: the simulated 82599 (default); xdp: real queues of a veth testbed (root)")
    p.add_argument("--trace", default="fermilab-like",
                   help="fermilab-like, fermilab-like:SEED, a real trace name, or a .pcap/.pcapng/.npz path")
    p.add_argument("--queues", type=arg_type("queues"), default=6, help="RSS receive queues (1..16; default 6)")
    p.add_argument("--nic", type=arg_type("nic"), default=None,
                   help="sim: NIC model whose redirection table steers the trace: 82599 (default: 128 entries), "
                        "xl710 (512), e810 (2,048), cx5 (256 or 8 per queue) (driver/sim/nics.py)")
    p.add_argument("--bin-ms", type=arg_type("bin_ms"), default=BIN_MS_DEFAULT,
                   help="bin width in ms (default 10)")
    p.add_argument("--queue", type=arg_type("queue"), default=None, help="report only this queue (as the paper's tool)")
    p.add_argument("--json", action="store_true", help="print a JSON array of {queue, bin_start_s, packets, bytes}")
    p.add_argument("--sparse", action="store_true", help="omit empty bins")
    p.add_argument("--udp-ports", action="store_true", help="hash UDP ports too (ethtool rx-flow-hash udp4 sdfn)")
    p.add_argument("--symmetric", action="store_true", help="symmetric RSS key (both directions, one queue)")
    p.add_argument("--rss-key", type=_rss_key, default=None, help="RSS key, 80 hex digits (default: Microsoft's)")
    p.add_argument("--speed", type=arg_type("speed"), default=1.0,
                   help="replay speed factor (2: twice as fast)")
    p.add_argument("--window-s", type=window, default=None, metavar="START,END",
                   help="xdp: replay only this part of the trace, in seconds (default: all of it)")
    p.add_argument("--max-gap-s", type=arg_type("max_gap_s"), default=None, metavar="S",
                   help=MAX_GAP_HELP + "; bins are then on the shortened clock")
    p.add_argument("--interface", default=None,
                   help="xdp: capture interface of a testbed from `invoke testbed-up` (default: a throwaway one)")
    return p


def _print_summary(df: pd.DataFrame, args, duration_s: float, out) -> None:
    s = summarize(df, args.queues, args.bin_ms, duration_s)
    if args.queue is not None:
        s = s[s["queue"] == args.queue]
    total = int(df["packets"].sum())
    print(f"{args.trace}: {total} packets, {duration_s:.3f} s, {args.queues} RSS queues, "
          f"{args.bin_ms:g} ms bins", file=out)
    print(f"{'queue':>5} {'packets':>10} {'share':>7} {'mean p/s':>10} {'peak bin':>9} {'at s':>9} {'peak p/s':>10}",
          file=out)
    for r in s.itertuples():
        print(f"{r.queue:>5} {r.packets:>10} {100 * r.share:>6.1f}% {r.mean_pps:>10.0f} {r.peak_bin_packets:>9} "
              f"{r.peak_bin_start_s:>9.2f} {r.peak_pps:>10.0f}", file=out)


def main(argv=None, out=None) -> int:
    out = out or sys.stdout
    args = parser().parse_args(argv)
    if args.queue is not None and not 0 <= args.queue < args.queues:
        fail(PROG, f"--queue {args.queue}: must be 0..{args.queues - 1} with --queues {args.queues}")
    if args.nic is not None and args.backend != "sim":
        fail(PROG, f"--nic {args.nic}: NIC models are the sim backend's; the xdp backend captures a real interface")
    if args.max_gap_s is not None and args.backend != "xdp":
        fail(PROG, "--max-gap-s: only with --backend xdp (the sim backend bins the trace's recorded times)")
    try:
        df, duration_s = BACKENDS[args.backend](args)
    except BackendUnavailable as exc:
        fail(PROG, str(exc))
    if args.json:
        d = df if args.queue is None else df[df["queue"] == args.queue]
        rows = (json.dumps({"queue": int(r.queue), "bin_start_s": float(r.bin_start_s),
                            "packets": int(r.packets), "bytes": int(r.bytes)}) for r in d.itertuples())
        out.write("[\n" + ",\n".join(rows) + "\n]\n")
    else:
        _print_summary(df, args, duration_s, out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
