"""Figure 11: advanced mode, x = 300, the trace over n = 1..6 queues.
Basic mode still loses under long-term imbalance; offloading to buddy
queues removes nearly all drops (paper §4)."""
from __future__ import annotations

from experiments import multiqueue as mq
from experiments.backends import measured_live
from experiments.claims import Claim, within

NAME = "fig11"
TITLE = "WireCAP advanced mode vs existing engines, n queues (x = 300)"
BACKENDS = ("sim", "xdp")
DEFAULT_CONFIG = {
    "trace": "fermilab-like",
    "queues": [1, 2, 3, 4, 5, 6],
    "x": 300,
    "engines": ["pfring", "dna", "netmap", "wirecap-b:256:500", "wirecap-a:256:500:60"],
    "forward": False,
    "clock_ghz": 2.4,
    "seed": 0,
}
QUICK_CONFIG = {"queues": [2, 4, 6]}
# read by the xdp backend only (experiments/live/multiqueue.py)
XDP_CONFIG = {"emulate": "auto",   # burn | pace | auto: how each consumer spends its per-packet time
              "speed": None,       # replay speed factor (None: live/multiqueue.SPEED, scaled to 2 cores)
              "window_s": None,    # [start, end] seconds of the trace to replay (None: the module's default)
              "max_gap_s": None}   # idle gaps of the trace longer than this are cut to it (None: as recorded)
# a claim about offloading applies where the other queues could absorb at
# least this share of the traffic (see multiqueue.spare_capacity)
SPARE_MIN = 0.05


def run(cfg, progress=None):
    if cfg.get("backend", "sim") == "xdp":
        from experiments.live import fig11 as live

        return live.run(cfg)
    return mq.run_points(cfg, mq.points(cfg), progress)



def plot(df, path):
    live = measured_live(NAME, df)
    if live:
        return live.plot(df, path)
    mq.plot_vs_queues(df, path, "Figure 11: x = 300")


def advanced_claims(name: str, df, basic="WireCAP-B-(256,500)", adv="WireCAP-A-(256,500,60%)") -> list[Claim]:
    out = []
    d = mq.overall(df)
    b = d[d["engine_label"] == basic].set_index("queues")["drop_rate"]
    a = d[d["engine_label"] == adv].set_index("queues")["drop_rate"]
    if 6 in b.index:
        out.append(within(name, f"{name}.basic_loses", f"{basic} still loses under long-term imbalance",
                          float(b[6]), 0.05, 1.0, None, "n=6", tolerance="> 5% overall at n = 6"))
    checked, worst = [], None
    for n in sorted(a.index.intersection(b.index)):
        if mq.spare_capacity(df, basic, n) < SPARE_MIN:
            continue
        gap = float(b[n] - a[n])
        checked.append(n)
        worst = gap if worst is None else min(worst, gap)
    if checked:
        out.append(Claim(name, f"{name}.offload_helps", "offloading greatly reduces loss",
                         ">= 5 pp", f"min gap {100 * worst:.2f} pp at n in {checked}",
                         "A at least 5 pp below B where other queues have spare capacity",
                         worst >= 0.05, f"n={checked}"))
    if 6 in a.index:
        out.append(within(name, f"{name}.advanced_n6", f"{adv} loses (almost) nothing at n = 6",
                          float(a[6]), 0.0, 0.001, 0.0, "n=6", tolerance="<= 0.1%"))
    return out


def claims(df) -> list[Claim]:
    live = measured_live(NAME, df)
    if live:
        return live.claims(df)
    return advanced_claims(NAME, df)
