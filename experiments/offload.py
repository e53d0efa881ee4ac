"""Beyond the paper: offloading that never splits a flow.

WireCAP-A's advanced mode (paper §3.2.2a) hands whole chunks of an
overloaded queue to a buddy thread: the losses vanish, but the packets of
one flow are then processed by two threads, which the paper admits (§5b).
Monitoring applications keep per-flow state, and this is why users turned
such schemes off: Suricata's AF_PACKET rollover (OISF/suricata PR 1565)
halved the alerts in review and was disabled by default (PR 1618). RSS++
(Barbette et al., CoNEXT 2019) balances instead by moving RSS
redirection-table buckets between cores, so every flow stays on one core.

This experiment measures WireCAP-A with each offloading policy
(engine.models.OFFLOAD_POLICIES) against WireCAP's own chunk offloading,
WireCAP-B and DNA:

    chunk    the paper's: whole chunks to the least-busy buddy above T
    bucket   ours: redirection-table buckets moved to the least-loaded buddy,
             so a flow's packets go to one thread at a time, in order
    hybrid   ours: bucket moves for sustained imbalance, chunk spills only
             in an emergency (each flow a spill splits is counted)

n = 2..6 queues, x = 300, T in {30, 60, 90}%, the Fermilab-like trace with
seeds 1-12 and the three real captures. The claims are ours, not the
paper's: bucket splits no flow and reorders no packet, and hybrid loses at
most chunk's drop rate + 0.5 pp at every point where the n cores can
process the trace (same n, T, trace). The issue that asked for this also
expected bucket to lose at most chunk + 0.5 pp everywhere; measured, that
does not hold where a queue falls behind (an in-order move out of a long
backlog idles its new queue for all of it), and reading() reports where and
by how much instead of claiming it.

Where can no bucket move help? Where one flow alone needs more than one
core: a move carries a whole bucket, so such a flow overloads whichever core
it lands on, and only a chunk spill (splitting that flow) saves its packets.
Every row carries what decides it, from the trace alone: the heaviest flow's
packets against one core's capacity over the trace (trace duration /
app_cost_ns(engine, x)), and the backlog that flow would build on a core of
its own (a single deterministic server fed by its packets) against the
engine's buffer. The other limit is the whole group: when the n cores
together cannot keep up (offered load per core > 1), no policy, chunk
included, can avoid losses. reading() and the figure name those points.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from experiments import executor, plotting
from experiments.claims import Claim, pct

NAME = "offload"
TITLE = "Beyond the paper: flow-preserving bucket offloading vs WireCAP's chunk offloading, n queues (x = 300)"
# the claims below are ours: the report lists them apart from ACCEPTANCE.md's
BEYOND_PAPER = True
BEYOND_SUMMARY = (
    "WireCAP-A's chunk offloading (paper §3.2.2a) removes the losses of an overloaded queue by handing whole "
    "chunks to a buddy thread, so one flow's packets reach two threads (the paper's §5b admits it). Per-flow "
    "applications pay for that: Suricata disabled AF_PACKET rollover, which does the same, after alerts halved "
    "(OISF/suricata PR 1565, PR 1618). We add two policies to the same engine core: bucket, which moves RSS "
    "redirection-table buckets between buddies as RSS++ does (Barbette et al., CoNEXT 2019), and hybrid, "
    "bucket moves with a chunk spill only when a pool is nearly full. Our claims: bucket splits no flow and "
    "reorders no packet, and hybrid loses at most chunk's drop rate + 0.5 pp at every point where the n cores "
    "can process the trace (same trace, n, T). We expected bucket to match chunk + 0.5 pp everywhere too; "
    "it does not where a queue falls behind, and the reading says where and why. n = 2..6 queues, x = 300, T = 30/60/90%, the Fermilab-like trace with seeds 1-12 "
    "and the three real captures; WireCAP-B and DNA for reference. A bucket move cannot help where one flow "
    "needs more than one core (only a chunk spill, splitting that flow, saves its packets): every row "
    "carries the heaviest flow's share of one core and the backlog it would build alone, and the reading "
    "below names such points, or says there are none.")
DEFAULT_CONFIG = {
    # the default trace over twelve seeds (fermilab-like is seed 7), then the
    # three real captures (traces/README.md)
    "traces": [f"fermilab-like:{s}" for s in range(1, 13)],
    "real_traces": ["gnutella", "1kxun", "synscan"],
    "queues": [2, 3, 4, 5, 6],
    "x": 300,
    # WireCAP-A specs name T; each runs with every policy below
    "engines": ["wirecap-b:256:500", "wirecap-a:256:500:30", "wirecap-a:256:500:60", "wirecap-a:256:500:90",
                "dna"],
    "policies": ["chunk", "bucket", "hybrid"],
    # the real captures are mostly idle (1kxun is two captures 5.8 years
    # apart, past the simulator's int64-ps clock): idle gaps longer than this
    # are cut to it (experiments.workloads.replay_times_ns, as the xdp
    # backend's --max-gap-s). None of them holds as many packets as one core
    # processes in 1 s at x = 300 (38,790), so every backlog has drained
    # before a cut gap ends and the cut changes no drop
    "max_gap_s": 1.0,
    # bucket re-solve period and redirection-table size; None: the model's
    # defaults (engine.models.BalanceCosts: RSS++'s 10 ms, the 82599's 128)
    "period_ms": None,
    "n_buckets": None,
    "clock_ghz": 2.4,
    "seed": 0,
}
QUICK_CONFIG = {"traces": ["fermilab-like"], "real_traces": ["gnutella"], "queues": [2, 4, 6],
                "engines": ["wirecap-b:256:500", "wirecap-a:256:500:30", "wirecap-a:256:500:90", "dna"]}

# our claim: a flow-preserving policy may cost at most this much more than chunk
MARGIN = 0.005
CHUNK, BUCKET, HYBRID = "chunk", "bucket", "hybrid"


# ---- points ---------------------------------------------------------------------------

def engine_specs(cfg: dict) -> list[str]:
    """cfg's engines, each WireCAP-A spec once per policy (a spec that already
    names its policy is taken as it is)."""
    from engine.models import EngineConfig

    out = []
    for spec in cfg["engines"]:
        e = EngineConfig.parse(spec)
        if e.name == "wirecap-a" and spec.count(":") < 4:
            out += [EngineConfig.make(e.name, e.M, e.R, e.T, offload=p).spec() for p in cfg["policies"]]
        else:
            out.append(e.spec())
    return list(dict.fromkeys(out))


def points(cfg: dict) -> list[dict]:
    """Trace-major (then n, then engine), so that each worker steers a trace
    once per n (experiments.workloads.steered caches it)."""
    from traces.load import REAL_TRACES

    traces = list(cfg["traces"]) + [t for t in cfg.get("real_traces") or [] if t not in cfg["traces"]]
    extra = {k: cfg[k] for k in ("period_ms", "n_buckets") if cfg.get(k) is not None}
    out = []
    for tr in traces:
        cut = cfg.get("max_gap_s") if tr in REAL_TRACES else None
        for n in cfg["queues"]:
            for e in engine_specs(cfg):
                pt = {"engine": e, "trace": tr, "queues": int(n), "x": int(cfg["x"]), "forward": False,
                      "clock_ghz": float(cfg.get("clock_ghz", 2.4)), "seed": int(cfg.get("seed", 0)), **extra}
                if cut is not None:
                    pt["max_gap_s"] = float(cut)
                out.append(pt)
    return out


def run(cfg, progress=None):
    if cfg.get("backend", "sim") != "sim":
        raise ValueError(f"backend {cfg['backend']!r}: the offload experiment runs on sim")
    return executor.run_points(points(cfg), measure, jobs=int(cfg.get("jobs", 1)), progress=progress)


# ---- one point ----------------------------------------------------------------------------

def measure(point: dict) -> list[dict]:
    """experiments.points.sim_multi_pkt_handler on the point (max_gap_s, for
    the real captures, cuts their idle gaps there), each row with the
    trace's limits for any flow-preserving policy (flow_limits)."""
    from engine.models import EngineConfig
    from experiments.points import sim_multi_pkt_handler

    rows = sim_multi_pkt_handler(point)
    cut = point.get("max_gap_s")
    limits = flow_limits(str(point["trace"]), point["engine"], int(point["x"]),
                         float(point.get("clock_ghz", 2.4)), None if cut is None else float(cut))
    n = int(point["queues"])
    policy = EngineConfig.parse(str(point["engine"])).offload
    for r in rows:
        r.setdefault("offload", policy)
        r["max_gap_s"] = cut
        r.update(limits)
        r["load_per_core"] = limits["trace_packets"] / (n * limits["core_capacity"]) if limits["core_capacity"] else 0.0
    return rows


@functools.lru_cache(maxsize=64)
def flow_limits(trace: str, engine_spec: str, x: int, clock_ghz: float, max_gap_s: float | None = None) -> dict:
    """What no flow-preserving policy can change, from the trace alone.

    heaviest_flow_packets / core_capacity: the heaviest flow's share of one
    core over the whole trace (core_capacity: packets one application thread
    processes in the trace's duration at app_cost_ns(engine, x)); above 1 no
    bucket move can keep it whole without loss. heaviest_flow_backlog: the
    most packets that flow alone would have waiting on a core of its own (a
    single deterministic server, Lindley's recursion in integer ps), against
    engine_buffer (the cells an engine holds for one queue: the pool R*M for
    WireCAP, the ring for DNA): above it even a core of its own loses some
    of its packets, at any time scale. Times are the replay's (max_gap_s
    cuts idle gaps as the simulator's replay does)."""
    from driver.sim import app_cost_ns
    from driver.sim.params import HostModel
    from engine.models import EngineConfig
    from experiments.workloads import _trace, replay_times_ns

    tr = _trace(trace)
    engine = EngineConfig.parse(engine_spec)
    cost_ns = app_cost_ns(engine, x, HostModel(clock_ghz=clock_ghz))
    ts = replay_times_ns(np.asarray(tr.ts_ns, dtype=np.int64), 1.0, max_gap_s)
    duration_ns = int(ts.max() - ts.min()) if len(ts) else 0
    flows = np.asarray(tr.flow_ids(), dtype=np.int64)
    counts = np.bincount(flows) if len(flows) else np.zeros(1, dtype=np.int64)
    heavy = int(np.argmax(counts))
    backlog = alone_backlog(ts[flows == heavy], cost_ns)
    buffer = engine.R * engine.M if engine.kind == "wirecap" else 1024
    capacity = duration_ns / cost_ns if cost_ns else math.inf
    return {"trace_packets": int(len(ts)), "trace_flows": int(len(counts)),
            "heaviest_flow_packets": int(counts[heavy]), "core_capacity": float(capacity),
            "heaviest_flow_share": float(counts[heavy] / capacity) if capacity else 0.0,
            "heaviest_flow_backlog": backlog, "engine_buffer": int(buffer)}


def alone_backlog(ts_ns, cost_ns: float) -> int:
    """The most packets a flow arriving at ts_ns would have in a core of its
    own (waiting or in service), that core spending cost_ns on each: a
    single deterministic server, by Lindley's recursion on the work waiting
    before each packet, W_i = max(0, W_{i-1} + s - gap_i) = S_i - min(0,
    min_{j<=i} S_j) with S the running sum of (s - gap), in integer ps so
    that every machine gets the same number."""
    t = np.sort(np.asarray(ts_ns, dtype=np.int64))
    if not len(t):
        return 0
    cost_ps = max(int(round(cost_ns * 1000)), 1)
    s = np.cumsum(cost_ps - np.diff(t) * 1000)
    if not len(s):
        return 1
    work = s - np.minimum(np.minimum.accumulate(s), 0)
    # a packet finds W ps of work ahead of it: ceil(W / s) packets, plus itself
    return int(-(-max(int(work.max()), 0) // cost_ps)) + 1


# ---- reading the table ------------------------------------------------------------------

def overall(df: pd.DataFrame) -> pd.DataFrame:
    d = df[df["queue"].astype(str) == "all"].copy()
    if "offload" not in d.columns:
        d["offload"] = None
    d["policy"] = d["offload"].where(d["engine"] == "wirecap-a", None)
    return d


def comparison(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (trace, n, T): each policy's drop rate, flows split and
    packets reordered side by side, the gap to chunk (pp), and the trace's
    limits."""
    d = overall(df)
    a = d[d["engine"] == "wirecap-a"]
    keys = ["trace", "queues", "M", "R", "T"]
    values = [v for v in ("drop_rate", "flows_split", "packets_reordered", "bucket_moves", "flows_migrated")
              if v in a.columns]
    wide = a.pivot_table(index=keys, columns="policy", values=values, aggfunc="first")
    wide.columns = [f"{v}_{p}" for v, p in wide.columns]
    limits = a.groupby(keys)[["heaviest_flow_share", "heaviest_flow_backlog", "engine_buffer",
                              "load_per_core"]].first()
    out = wide.join(limits).reset_index()
    for p in (BUCKET, HYBRID):
        if f"drop_rate_{p}" in out and f"drop_rate_{CHUNK}" in out:
            out[f"gap_{p}_pp"] = 100 * (out[f"drop_rate_{p}"] - out[f"drop_rate_{CHUNK}"])
    return out


def unhelpable(df: pd.DataFrame) -> pd.DataFrame:
    """The points where no bucket move can save a flow's packets: its
    heaviest flow needs more than one core, or on a core of its own would
    queue more packets than the engine holds."""
    c = comparison(df)
    return c[(c["heaviest_flow_share"] > 1) | (c["heaviest_flow_backlog"] > c["engine_buffer"])]


def overloaded(df: pd.DataFrame) -> pd.DataFrame:
    """The points where the n cores together cannot keep up: every policy loses."""
    c = comparison(df)
    return c[c["load_per_core"] > 1]


def worse_than_basic(df: pd.DataFrame, basic: str = "wirecap-b") -> pd.DataFrame | None:
    """The bucket points that lose more than 0.1 pp above WireCAP-B on the same trace
    and n (no offloading at all), with the gap in pp: moving buckets should
    never cost packets that staying put would have kept."""
    d = overall(df)
    b = d[d["engine"] == basic].groupby(["trace", "queues"])["drop_rate"].first().rename("basic")
    k = d[d["policy"] == BUCKET]
    if b.empty or k.empty:
        return None
    j = k.join(b, on=["trace", "queues"])
    j["gap_pp"] = 100 * (j["drop_rate"] - j["basic"])
    return j[j["gap_pp"] > 0.1]  # past 0.1 pp: not the jitter of which packets an overload drops


def _where(row) -> str:
    return f"{row['trace']}, n={int(row['queues'])}, T={int(row['T'])}%"


def claims(df) -> list[Claim]:
    c = comparison(df)
    out = []
    if c.empty or f"drop_rate_{CHUNK}" not in c:
        return [Claim(NAME, f"{NAME}.no_data", "the table holds WireCAP-A with chunk offloading", "ours",
                      "no WireCAP-A chunk rows", "rows present", False)]
    # hybrid against chunk, wherever the n cores can process the trace: under
    # an aggregate overload every policy loses 20-45% and which packets go
    # is the jitter of the overload, not a policy's merit
    col = f"gap_{HYBRID}_pp"
    if col not in c:
        out.append(Claim(NAME, f"{NAME}.{HYBRID}_drops", f"{HYBRID} loses at most chunk's drop rate + 0.5 pp",
                         "ours", f"no {HYBRID} rows", "rows present", False))
    else:
        fit = c[c["load_per_core"] <= 1]
        if fit.empty:
            out.append(Claim(NAME, f"{NAME}.{HYBRID}_drops", f"{HYBRID} loses at most chunk's drop rate + 0.5 pp",
                             "ours", "no point where the cores can process the trace", "points present", False))
        else:
            worst = fit.loc[fit[col].idxmax()]
            over = int((fit[col] > 100 * MARGIN + 1e-9).sum())
            out.append(Claim(NAME, f"{NAME}.{HYBRID}_drops",
                             "WireCAP-A with hybrid offloading loses at most WireCAP-A chunk's drop rate + 0.5 pp "
                             "at every point where the n cores can process the trace (same trace, n, T)",
                             "ours (beyond the paper)",
                             f"worst {worst[col]:+.2f} pp ({pct(worst[f'drop_rate_{HYBRID}'])} vs chunk "
                             f"{pct(worst[f'drop_rate_{CHUNK}'])}); over +0.50 pp at {over} of {len(fit)} points",
                             "<= +0.50 pp at every such point", over == 0,
                             _where(worst), f"{worst[col]:+.2f} pp"))
    if f"flows_split_{BUCKET}" in c:
        split = int(c[f"flows_split_{BUCKET}"].sum())
        out.append(Claim(NAME, f"{NAME}.bucket_no_split", "bucket offloading splits no flow", "ours (beyond the paper)",
                         f"{split} flows split over {len(c)} points", "exactly 0", split == 0, "all points"))
        col = f"packets_reordered_{BUCKET}"
        reord = int(c[col].sum()) if col in c else None
        out.append(Claim(NAME, f"{NAME}.bucket_no_reorder", "bucket offloading reorders no packet",
                         "ours (beyond the paper)",
                         f"{reord} packets reordered over {len(c)} points" if reord is not None
                         else "packets_reordered not measured", "exactly 0", reord == 0, "all points"))
    # the trade exists: where chunk offloads at all, it splits flows (what bucket avoids)
    chunk_split = int(c[f"flows_split_{CHUNK}"].sum())
    out.append(Claim(NAME, f"{NAME}.chunk_splits", "chunk offloading splits flows (the cost bucket avoids)",
                     "ours (the paper's §5b admits it)", f"{chunk_split:,} flows split over {len(c)} points",
                     "> 0", chunk_split > 0, "all points"))
    return out


def reading(df) -> str:
    c = comparison(df)
    if c.empty:
        return TITLE
    parts = []
    for p in (BUCKET, HYBRID):
        col = f"gap_{p}_pp"
        if col in c:
            parts.append(f"{p} vs chunk: worst {c[col].max():+.2f} pp, best {c[col].min():+.2f} pp")
    col = f"gap_{BUCKET}_pp"
    if col in c:
        # the hypothesis, measured and refuted: reported, not claimed
        over = c[c[col] > 100 * MARGIN + 1e-9]
        if len(over):
            w = over.loc[over[col].idxmax()]
            parts.append(f"the hypothesis that bucket loses at most chunk + 0.5 pp everywhere does not hold: it "
                         f"loses more at {len(over)} of {len(c)} points (worst {_where(w)}: "
                         f"{pct(w[f'drop_rate_{BUCKET}'])} vs {pct(w[f'drop_rate_{CHUNK}'])}), all where a queue "
                         f"falls behind: a bucket moved out of a backlog makes its new queue wait, in order, for "
                         f"that backlog, so the balancer moves only out of short ones, and a queue whose pool "
                         f"has filled keeps its buckets while chunk offloading would share its backlog at once")
        else:
            parts.append("bucket loses at most chunk + 0.5 pp at every point")
    for p in (CHUNK, BUCKET, HYBRID):
        if f"flows_split_{p}" in c:
            reord = f"packets_reordered_{p}"
            parts.append(f"{p} splits {int(c[f'flows_split_{p}'].sum()):,} flows"
                         + (f" and reorders {int(c[reord].sum()):,} packets" if reord in c else "") + " in all")
    worse = worse_than_basic(df)
    if worse is not None and len(worse):
        w = worse.loc[worse["gap_pp"].idxmax()]
        parts.append(f"bucket loses over 0.1 pp more than WireCAP-B, which does not offload at all, at {len(worse)} of "
                     f"{len(c)} points (worst {_where(w)}: {pct(w['drop_rate'])} vs {pct(w['basic'])}): its "
                     f"moves made those points worse, a fault of the balancing, not of the trace")
    share = c["heaviest_flow_share"].max()
    hard = unhelpable(df)
    if hard.empty:
        parts.append(f"no point has a flow heavier than one core (the heaviest needs {100 * share:.1f}% of one "
                     f"at x = {int(df['x'].iloc[0])}, and alone on a core would queue at most "
                     f"{int(c['heaviest_flow_backlog'].max()):,} packets): nowhere is a chunk spill the only "
                     f"way to save packets, so where bucket loses more than chunk the cause is the price of "
                     f"keeping order (above), not a flow")
    else:
        parts.append("no bucket move can help at " + "; ".join(_where(r) for _, r in hard.head(6).iterrows())
                     + (" ..." if len(hard) > 6 else "") + ": a flow there needs more than one core, so only a "
                     "chunk spill saves its packets, by splitting it")
    over = overloaded(df)
    if not over.empty:
        ns = sorted({int(n) for n in over["queues"]})
        parts.append(f"at n = {', '.join(map(str, ns))} the trace's packets exceed what the n cores process "
                     f"in its duration ({over['load_per_core'].min():.2f}-{over['load_per_core'].max():.2f} of "
                     f"their capacity), so every policy loses there, chunk included")
    n_ok = sum(x.passed for x in claims(df))
    return "; ".join(parts) + f"; {n_ok} of {len(claims(df))} checks hold."


# ---- the figure ---------------------------------------------------------------------------

def plot(df, path):
    """Top: overall drop rate against n for each T (Fermilab-like seeds: the
    mean, the band their min..max), WireCAP-A per policy, WireCAP-B, DNA.
    Bottom: flows split per policy (symlog), with packets reordered."""
    d = overall(df)
    fermi = d[d["trace"].astype(str).str.startswith("fermilab-like")]
    Ts = sorted(int(t) for t in d.loc[d["engine"] == "wirecap-a", "T"].dropna().unique())
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, grid = plt.subplots(2, max(len(Ts), 1), figsize=(4.6 * max(len(Ts), 1), 7.6), squeeze=False,
                             sharex=True)
    styles = {CHUNK: ("tab:orange", "o"), BUCKET: ("tab:green", "s"), HYBRID: ("tab:purple", "^")}
    n_traces = fermi["trace"].nunique()
    for j, T in enumerate(Ts):
        top, bottom = grid[0][j], grid[1][j]
        lines = [(r, "tab:blue", "D", None) for r in ("wirecap-b",)] + [("dna", "tab:gray", "x", None)]
        lines += [("wirecap-a", styles[p][0], styles[p][1], p) for p in (CHUNK, BUCKET, HYBRID)]
        for name, color, marker, policy in lines:
            g = fermi[fermi["engine"] == name]
            if policy is not None:
                g = g[(g["policy"] == policy) & (g["T"] == T)]
            if g.empty:
                continue
            label = g["engine_label"].iloc[0] if policy is None else f"WireCAP-A {policy}"
            s = g.groupby("queues")["drop_rate"].agg(["mean", "min", "max"]) * 100
            top.plot(s.index, s["mean"], marker=marker, color=color, ms=4, label=label)
            if n_traces > 1:
                top.fill_between(s.index, s["min"], s["max"], color=color, alpha=0.15)
            if policy is not None:
                cols = [k for k in ("flows_split", "packets_reordered") if k in g.columns]
                sp = g.groupby("queues")[cols].sum()
                bottom.plot(sp.index, sp["flows_split"], marker=marker, color=color, ms=4,
                            label=f"{policy}: flows split")
                if "packets_reordered" in sp and sp["packets_reordered"].any():
                    bottom.plot(sp.index, sp["packets_reordered"], marker=marker, color=color, ms=3,
                                ls=":", label=f"{policy}: packets reordered")
        over = sorted({int(n) for n in overloaded(df)["queues"]}) if "load_per_core" in df else []
        if over:
            top.axvspan(min(over) - 0.4, max(over) + 0.4, color="red", alpha=0.06)
            top.text(min(over) - 0.3, top.get_ylim()[1] * 0.95, "load > n cores:\nevery policy loses",
                     fontsize=7, va="top", color="darkred")
        top.set_title(f"T = {T}%  ({n_traces} Fermilab-like trace{'s' if n_traces != 1 else ''})", fontsize=9)
        top.set_ylabel("drop rate (%)" + (", mean and min-max" if n_traces > 1 else ""))
        top.grid(True, alpha=0.3)
        bottom.set_yscale("symlog", linthresh=1)
        bottom.set_ylim(0, max(10.0, bottom.get_ylim()[1] * 2))  # 0 in view: bucket's line lies on it
        bottom.set_ylabel(f"flows split (solid), packets reordered (dotted),\nsummed over {n_traces} "
                          f"Fermilab-like trace{'s' if n_traces != 1 else ''}", fontsize=8)
        bottom.set_xlabel("receive queues n (x = 300)")
        bottom.set_xticks(sorted(d["queues"].unique()))
        bottom.grid(True, alpha=0.3)
        if j == 0:
            top.legend(fontsize=7)
            bottom.legend(fontsize=7)
    c = comparison(df)
    hard = unhelpable(df)
    note = (f"heaviest flow: at most {100 * c['heaviest_flow_share'].max():.1f}% of one core: no point where "
            f"only a chunk spill can help" if hard.empty and not c.empty else
            f"{len(hard)} point(s) with a flow heavier than one core: only a chunk spill can help there")
    cl = claims(df)
    gaps = ", ".join(f"{p} vs chunk worst {c[f'gap_{p}_pp'].max():+.2f} pp" for p in (BUCKET, HYBRID)
                     if f"gap_{p}_pp" in c)
    fig.suptitle("Beyond the paper: WireCAP-A offloading by chunk, bucket, hybrid\n" + note + "\n"
                 + f"{gaps}; our claims: {sum(x.passed for x in cl)} of {len(cl)} hold", fontsize=10)
    fig.tight_layout()
    plotting.save(fig, path)
