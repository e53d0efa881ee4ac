"""Table 1: packet drop rates of NETMAP, DNA and PF_RING for queues 0 and 3
(and all six) with the Fermilab-like trace replayed as recorded into 6 RSS
queues, x = 300 and x = 0; and WireCAP in both modes on the same workload
(paper §2.2 Experiment 2, abstract and §1)."""
from __future__ import annotations

import pandas as pd

from experiments import multiqueue as mq
from experiments.backends import measured_live
from experiments.claims import Claim, exactly_zero, pct, within

NAME = "table1"
TITLE = "Table 1: drop rates of existing engines under RSS imbalance (6 queues)"
BACKENDS = ("sim", "xdp")
DEFAULT_CONFIG = {
    "trace": "fermilab-like",
    "queues": 6,
    "xs": [300, 0],
    "engines": ["netmap", "dna", "pfring", "wirecap-b:256:500", "wirecap-a:256:500:60"],
    "clock_ghz": 2.4,
    "seed": 0,
}
QUICK_CONFIG: dict = {}  # five engines x two loads is already seconds
# read by the xdp backend only (experiments/live/multiqueue.py)
XDP_CONFIG = {"emulate": "auto",   # burn | pace | auto: how each consumer spends its per-packet time
              "speed": None,       # replay speed factor (None: live/multiqueue.SPEED, scaled to 2 cores)
              "window_s": None,    # [start, end] seconds of the trace to replay (None: the module's default)
              "max_gap_s": None}   # idle gaps of the trace longer than this are cut to it (None: as recorded)


def run(cfg, progress=None):
    if cfg.get("backend", "sim") == "xdp":
        from experiments.live import table1 as live

        return live.run(cfg)
    return mq.run_points(cfg, mq.points(cfg, queues=cfg["queues"], xs=cfg["xs"]), progress)


def table(df: pd.DataFrame, x: int = 300) -> pd.DataFrame:
    """The paper's layout: rows (queue, drop type), columns engines, in %."""
    d = df[(df["x"] == x) & df["engine"].isin(["netmap", "dna", "pfring"])]
    rows = {}
    for q in ("0", "3", "all"):
        sub = d[d["queue"].astype(str) == q].set_index("engine_label")
        for kind in ("capture_drops", "delivery_drops"):
            name = f"queue {q}: {kind.replace('_', ' ')}" if q != "all" else f"all queues: {kind.replace('_', ' ')}"
            rows[name] = (100 * sub[kind] / sub["sent"]).round(1)
    return pd.DataFrame(rows).T[["NETMAP", "DNA", "PF_RING"]]



def plot(df, path):
    live = measured_live(NAME, df)
    if live:
        return live.plot(df, path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.results import write_figure

    t = table(df)
    fig, (ax_t, ax_b) = plt.subplots(2, 1, figsize=(8, 6.5), gridspec_kw={"height_ratios": [1, 1.3]})
    ax_t.axis("off")
    ax_t.table(cellText=[[f"{v:.1f}%" for v in r] for r in t.values], rowLabels=list(t.index),
               colLabels=list(t.columns), loc="center")
    ax_t.set_title("Table 1 (x = 300, Fermilab-like trace, 6 queues)")
    d = mq.per_queue(df[df["x"] == 300])
    width = 0.8 / max(1, d["engine_label"].nunique())
    for i, (label, g) in enumerate(d.groupby("engine_label", sort=False)):
        g = g.sort_values("queue")
        ax_b.bar(g["queue"].astype(int) + i * width, 100 * g["drop_rate"], width, label=label)
    ax_b.set_xlabel("receive queue")
    ax_b.set_ylabel("drop rate (%)")
    ax_b.legend(fontsize=8)
    ax_b.grid(True, axis="y", alpha=0.3)
    write_figure(path, fig)
    plt.close(fig)


def _row(df, label, queue, x=300):
    r = df[(df["engine_label"] == label) & (df["queue"].astype(str) == str(queue)) & (df["x"] == x)]
    return None if r.empty else r.iloc[0]


def _rate(r, kind):
    return float(r[kind]) / float(r["sent"]) if r["sent"] else 0.0


def claims(df) -> list[Claim]:
    live = measured_live(NAME, df)
    if live:
        return live.claims(df)
    out = []
    spec = [  # queue, engine, drop type, paper, lo, hi
        (0, "NETMAP", "capture_drops", 0.465, 0.435, 0.495),
        (0, "DNA", "capture_drops", 0.501, 0.471, 0.531),
        (0, "PF_RING", "capture_drops", 0.0, 0.0, 0.001),
        (0, "PF_RING", "delivery_drops", 0.568, 0.538, 0.598),
        (3, "NETMAP", "capture_drops", 0.334, 0.254, 0.414),
        (3, "DNA", "capture_drops", 0.093, 0.063, 0.123),
        (3, "PF_RING", "capture_drops", 0.008, 0.002, 0.02),
        (3, "PF_RING", "delivery_drops", 0.0, 0.0, 0.001),
    ]
    for q, label, kind, paper, lo, hi in spec:
        r = _row(df, label, q)
        if r is None:
            continue
        out.append(within(NAME, f"table1.q{q}.{label}.{kind}",
                          f"Table 1: queue {q}, {label}, {kind.split('_')[0]} drops", _rate(r, kind), lo, hi,
                          paper, f"x=300, queue {q}"))
    for label in ("DNA", "NETMAP"):
        r = _row(df, label, "all", x=0)
        if r is not None:
            out.append(exactly_zero(NAME, f"table1.x0.{label}", f"x = 0: {label} loses nothing",
                                    int(r["capture_drops"] + r["delivery_drops"]), "x=0, all queues"))
    r = _row(df, "PF_RING", "all", x=0)
    if r is not None:
        others = df[(df["engine_label"] == "PF_RING") & (df["x"] == 0) & ~df["queue"].astype(str).isin(["3", "all"])]
        q3 = _row(df, "PF_RING", 3, x=0)
        ok = (q3 is not None and 0.0 <= _rate(q3, "capture_drops") <= 0.01 and q3["delivery_drops"] == 0
              and int((others["capture_drops"] + others["delivery_drops"]).sum()) == 0)
        out.append(Claim(NAME, "table1.x0.PF_RING", "x = 0: PF_RING only small capture drops on queue 3",
                         "small, queue 3 only", f"queue 3 {pct(_rate(q3, 'capture_drops')) if q3 is not None else '-'}"
                         f", other queues {int((others['capture_drops'] + others['delivery_drops']).sum())} lost",
                         "0-1% on queue 3, nothing elsewhere", bool(ok), "x=0"))
    for label in ("DNA", "NETMAP", "PF_RING"):
        r = _row(df, label, "all")
        if r is not None:
            out.append(within(NAME, f"table1.all.{label}", f"all queues: {label} loses 20-40% (abstract, §1)",
                              float(r["drop_rate"]), 0.15, 0.45, None, "x=300, all queues",
                              tolerance="15% .. 45%"))
    r = _row(df, "WireCAP-A-(256,500,60%)", "all")
    if r is not None:
        out.append(within(NAME, "table1.all.wirecap_a", "all queues: WireCAP (advanced) loses nothing",
                          float(r["drop_rate"]), 0.0, 0.001, 0.0, "x=300, all queues", tolerance="<= 0.1%"))
    return out
