"""Offloading policies on the real backend: one replay with an overloaded
queue, run once per policy (beyond the paper; engine/csrc/wc_balance.h).

    from experiments.live import offload
    rows = offload.run({"policies": ["bucket", "chunk"]})

    python -m experiments.live.offload            # as root: prints both policies

The veth testbed steers like an 82599 with RSS (driver/xdp/xdp_prog.py,
RssProgram: the Toeplitz hash with the default key, a 128-entry
redirection table filled as ixgbe does, entry j -> queue j mod n). The
flows are chosen in Python by their Toeplitz bucket (traces/rss.py) so that
every one of them lands on queue 0, spread over many buckets; the other
queues get nothing. Each packet costs the consumer ``cost_ns`` (pace
emulation by default: the rate of a core without burning one), and the
generator sends at ``rate_pps``, more than one consumer can take: queue 0
is overloaded, its buddies idle, the situation of paper §3.1's "long-term
load imbalance". The first ``ramp`` share of the packets comes at half the
rate (a load queue 0 still keeps up with, already unbalanced), the rest at
the full rate. WireCAP-A then has to offload:

    chunk   the paper's: queue 0's chunks go to a buddy once its capture
            queue is fuller than T: flows are split;
    bucket  the balancer moves buckets of queue 0 to the buddies (steer-map
            updates), behind an ordering barrier: no flow is split, no
            packet reordered, flows are migrated;
    hybrid  bucket moves, and a chunk spill above T + (100 - T) / 2.

Arguments (``args`` dict; defaults in brackets): policies [["bucket",
"chunk"]], queues [2], flows [64], packets [120000], rate_pps [90000], ramp [0.2],
cost_ns [20000], emulate [pace], M [64], R [100], T [60], n_buckets [128],
period_ms [10], seed [0], max_s [30].

Returns, per policy, one row per queue and a row with queue = "all", in
multi_pkt_handler's columns (engine, engine_label, offload, queue, sent,
delivered, capture_drops, delivery_drops, filtered, drop_rate, flows_split,
flows_migrated, packets_reordered, bucket_moves, offloaded_out,
offloaded_in, unaccounted, ...).
"""
from __future__ import annotations

import ipaddress
import struct
import sys

import numpy as np

from driver.xdp import packets
from driver.xdp.generator import Generator
from driver.xdp.prereq import require_all
from driver.xdp.testbed import Testbed
from driver.xdp.xdp_prog import RssProgram
from engine.live.engine import OFFLOADS
from engine.live.work import Flows
from experiments.live.common import (Capture, EngineSpec, host_info, make_works, terminate_as_interrupt,
                                     threads_needed, unaccounted)
from traces import rss

DEFAULTS = {"policies": ["bucket", "chunk"], "queues": 2, "flows": 64, "packets": 120000, "rate_pps": 90000.0,
            "ramp": 0.2,
            "cost_ns": 20000.0, "emulate": "pace", "M": 64, "R": 100, "T": 60, "n_buckets": 128,
            "period_ms": 10.0, "seed": 0, "max_s": 30.0}
MAX_PACKETS = 2_000_000   # a bounded generator: 2 M frames is ~20 s at the default rate


def _args(args: dict) -> dict:
    a = dict(DEFAULTS)
    a.update({k: v for k, v in args.items() if v is not None})
    for p in a["policies"]:
        if p not in OFFLOADS:
            raise ValueError(f"policies={a['policies']}: each one of {', '.join(OFFLOADS)}")
    if not 2 <= int(a["queues"]) <= 16:
        raise ValueError(f"queues={a['queues']}: 2..16 (a buddy to offload to; 82599 RSS has 16 queues)")
    if not 1 <= int(a["packets"]) <= MAX_PACKETS:
        raise ValueError(f"packets={a['packets']}: 1..{MAX_PACKETS:,} (the generator is bounded)")
    if not 1 <= int(a["flows"]) <= 4096:
        raise ValueError(f"flows={a['flows']}: 1..4096")
    if not float(a["cost_ns"]) > 0 or not float(a["rate_pps"]) > 0:
        raise ValueError("cost_ns and rate_pps must be > 0")
    if not 0 <= float(a["ramp"]) < 1:
        raise ValueError(f"ramp={a['ramp']}: the share of packets sent at half the rate, in [0, 1)")
    return a


def schedule(count: int, rate_pps: float, ramp: float) -> np.ndarray:
    """Send times (ns after the start): the first ramp * count frames at
    rate / 2, the rest at rate."""
    k = int(count * ramp)
    slow = np.arange(k, dtype=np.float64) * (2e9 / rate_pps)
    t0 = k * 2e9 / rate_pps
    fast = t0 + np.arange(count - k, dtype=np.float64) * (1e9 / rate_pps)
    return np.concatenate([slow, fast]).astype(np.uint64)


def overloaded_flows(n: int, queues: int, n_buckets: int = 128, queue: int = 0, seed: int = 0,
                     dst_mac="02:00:00:00:00:01", src_mac="02:00:00:00:00:02") -> list[bytes]:
    """n TCP frames of distinct flows, all steered to ``queue`` by the 82599's
    RSS with ixgbe's default table (bucket mod queues), spread round-robin
    over that queue's buckets: addresses in 198.18.0.0/15 only (RFC 2544,
    DESIGN.md §5), from the outside net 198.19/16 to the inside 198.18/16."""
    rng = np.random.default_rng(seed)
    mine = [b for b in range(n_buckets) if b % queues == queue]
    by_bucket: dict[int, list[bytes]] = {b: [] for b in mine}
    want = -(-n // len(mine))            # per bucket, rounded up
    tries = 0
    while sum(min(len(v), want) for v in by_bucket.values()) < n:
        tries += 1
        if tries > 200 * n * queues + 10000:
            raise RuntimeError(f"no {n} flows found for queue {queue} (n_buckets={n_buckets})")
        src = ipaddress.IPv4Address(f"198.19.{rng.integers(0, 256)}.{rng.integers(1, 255)}")
        dst = ipaddress.IPv4Address(f"198.18.{rng.integers(0, 256)}.{rng.integers(1, 255)}")
        sport, dport = int(rng.integers(1024, 65536)), int(rng.integers(1, 65536))
        h = rss.toeplitz_bytes(src.packed + dst.packed + struct.pack("!HH", sport, dport))
        b = h & (n_buckets - 1)
        if b in by_bucket and len(by_bucket[b]) < want:
            by_bucket[b].append(packets.tcp_frame(dst_mac, src_mac, str(src), str(dst), sport, dport,
                                                  packets.MIN_FRAME))
    out = []
    for i in range(want):
        out += [v[i] for v in by_bucket.values() if len(v) > i]
    return out[:n]


def run_policy(tb, a: dict, policy: str, frames: list[bytes]) -> list[dict]:
    """One policy on testbed tb: a fresh RSS table, engine and flow table."""
    n = tb.queues
    queues = list(range(n))
    spec = EngineSpec.parse("wirecap-a", a["M"], a["R"], a["T"])
    flows = Flows(1 << 16)
    # packets are ordered by the generator's frame number (in the TCP
    # acknowledgment field of these frames, outside every hashed field)
    flows.order_at(packets.SEQ_OFFSET)
    with RssProgram(tb.gen_ns, tb.gen_if, n, n_buckets=int(a["n_buckets"])) as steer:
        works = make_works(n, 0, float(a["cost_ns"]), a["emulate"], threads_needed(spec, n))
        with Capture(tb, spec, queues, works, offload=policy, rss=steer, period_ms=float(a["period_ms"]),
                     flows=flows) as cap, Generator(tb) as gen:
            count = int(a["packets"])
            due = schedule(count, float(a["rate_pps"]), float(a["ramp"]))
            span_s = float(due[-1]) / 1e9
            cap.start(max_s=span_s + float(a["max_s"]) + 30)
            sent = gen.send(frames, count=count, due_ns=due, seq=True, max_s=span_s * 3 + float(a["max_s"]))
            counts, drained = cap.wait_drained(sent.sent, max_s=float(a["max_s"]))
            loops = cap.stop()
            moves = cap.engine.bucket_moves
            fstats = flows.stats()
            rows = []
            for i, q in enumerate(queues):
                c = counts[q]
                fq = flows.queue_stats(q)
                row = {**spec.columns(), "engine_label": cap.engine.label, "offload": policy, "backend": "xdp",
                       "queues": n, "queue": q, "sent": c["arrived"], "delivered": c["delivered"],
                       "capture_drops": c["capture_drops"], "delivery_drops": c["delivery_drops"],
                       "filtered": c["filtered"], "offloaded_out": c["offloaded_out"],
                       "offloaded_in": c["offloaded_in"], "bucket_moves": c.get("bucket_moves", 0),
                       "barrier_holds": c.get("barrier_holds", 0), "barrier_timeouts": c.get("barrier_timeouts", 0),
                       "barrier_hold_ms": c.get("barrier_hold_ms", 0.0),
                       "inflight_timeouts": c.get("inflight_timeouts", 0),
                       "processed": loops[i]["packets"], **fq}
                st = cap.engine.stats(q)
                # read after stop, as the total is: the balancer may move a
                # bucket between the drained counts and the stop
                row.update(rx_misordered=st["rx_misordered"], driver_errors=st["driver_errors"],
                           fill_waits=st["fill_waits"], chunks_copied=st["chunks_copied"],
                           bucket_moves=st["bucket_moves_out"])
                row["drop_rate"] = (row["capture_drops"] + row["delivery_drops"]) / row["sent"] if row["sent"] else 0.0
                row["unaccounted"] = unaccounted(row)
                rows.append(row)
            keys = ("delivered", "capture_drops", "delivery_drops", "filtered", "offloaded_out", "offloaded_in",
                    "barrier_holds", "barrier_timeouts", "barrier_hold_ms", "inflight_timeouts", "processed")
            total = {**rows[0], "queue": "all", "sent": sent.sent, **{k: sum(r[k] for r in rows) for k in keys}}
            total["capture_drops"] += max(0, sent.sent - sum(r["sent"] for r in rows))  # lost before the NIC
            total.update(flows=fstats["flows"], flows_split=fstats["flows_split"],
                         flows_migrated=fstats["flows_migrated"], packets_reordered=fstats["packets_reordered"],
                         bucket_moves=moves, drained=drained, offered_pps=sent.rate_pps,
                         generator_refused=sent.refused, rate_pps=float(a["rate_pps"]),
                         cost_ns=float(a["cost_ns"]), **host_info())
            total["drop_rate"] = ((total["capture_drops"] + total["delivery_drops"]) / total["sent"]
                                  if total["sent"] else 0.0)
            total["unaccounted"] = unaccounted(total)
            rows.append(total)
    return rows


def run(args: dict, tb=None) -> list[dict]:
    """Every policy of args on testbed tb (None: a throwaway one with
    ``queues`` queues, removed afterwards, also on failure)."""
    a = _args(args)
    require_all()
    if tb is not None:
        if tb.queues != int(a["queues"]):
            raise ValueError(f"queues={a['queues']}: the testbed given has {tb.queues}")
        return _run_all(tb, a)
    with terminate_as_interrupt(), Testbed(queues=int(a["queues"])) as tb:
        return _run_all(tb, a)


def _run_all(tb, a: dict) -> list[dict]:
    frames = overloaded_flows(int(a["flows"]), tb.queues, int(a["n_buckets"]), 0, int(a["seed"]),
                              tb.mac(tb.cap_if), tb.mac(tb.gen_if))
    out = []
    for policy in a["policies"]:
        out += run_policy(tb, a, policy, frames)
    return out


def summary(rows: list[dict]) -> str:
    out = [f"{'policy':>7s} {'queue':>5s} {'sent':>9s} {'delivered':>9s} {'capture':>8s} {'drop %':>7s} "
           f"{'split':>6s} {'migrated':>8s} {'reordered':>9s} {'moves':>6s} {'off-out':>8s} {'unacc':>6s}"]
    for r in rows:
        out.append(f"{r['offload']:>7s} {str(r['queue']):>5s} {r['sent']:>9,} {r['delivered']:>9,} "
                   f"{r['capture_drops']:>8,} {100 * r['drop_rate']:>7.3f} {r['flows_split']:>6,} "
                   f"{r['flows_migrated']:>8,} {r['packets_reordered']:>9,} {r['bucket_moves']:>6,} "
                   f"{r['offloaded_out']:>8,} {r['unaccounted']:>6,}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    ap = argparse.ArgumentParser(prog="python -m experiments.live.offload", description=__doc__.split("\n\n")[0])
    ap.add_argument("--policies", default="bucket,chunk", help="comma-separated: chunk, bucket, hybrid")
    for key in ("queues", "flows", "packets", "M", "R", "T", "n_buckets", "seed"):
        ap.add_argument(f"--{key.replace('_', '-')}", type=int, default=None)
    for key in ("rate_pps", "cost_ns", "period_ms", "max_s", "ramp"):
        ap.add_argument(f"--{key.replace('_', '-')}", type=float, default=None)
    ap.add_argument("--emulate", choices=["pace", "burn", "auto"], default=None)
    ap.add_argument("--json", action="store_true")
    ns = ap.parse_args(argv)
    args = {k: v for k, v in vars(ns).items() if k not in ("json", "policies")}
    args["policies"] = ns.policies.split(",")
    try:
        rows = run(args)
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"offload: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(rows, indent=1, default=str) if ns.json else summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
