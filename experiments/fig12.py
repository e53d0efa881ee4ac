"""Figure 12: WireCAP-A drop rate as the offloading threshold T varies,
M and R fixed, 6 queues, x = 300: "WireCAP performs better when T is set to
a relatively lower value" (paper §4, §5b)."""
from __future__ import annotations

import pandas as pd

from experiments import multiqueue as mq, plotting
from experiments.claims import Claim

NAME = "fig12"
TITLE = "WireCAP advanced mode: drop rate vs offloading threshold T"
DEFAULT_CONFIG = {
    "trace": "fermilab-like",
    "queues": 6,
    "x": 300,
    "M": 256,
    "R": [100, 500],
    "T": [10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
    "clock_ghz": 2.4,
    "seed": 0,
}
QUICK_CONFIG = {"R": [100], "T": [30, 60, 90]}


def run(cfg, progress=None):
    engines = [f"wirecap-a:{cfg['M']}:{r}:{t}" for r in cfg["R"] for t in cfg["T"]]
    return mq.run_points(cfg, mq.points(cfg, engines=engines, queues=cfg["queues"]), progress)


def plot(df, path):
    d = mq.overall(df).copy()
    d["series"] = [f"WireCAP-A-({m},{r},T)" for m, r in zip(d["M"], d["R"])]
    fig, (ax,) = plotting.axes()
    plotting.drop_lines(ax, d, "T", group="series")
    ax.set_xlabel("offloading threshold T (% of the capture queue)")
    ax.set_title("Figure 12: 6 queues, x = 300")
    ax.legend(fontsize=8)
    plotting.save(fig, path)


def claims(df: pd.DataFrame) -> list[Claim]:
    out = []
    d = mq.overall(df)
    for (m, r), g in d.groupby(["M", "R"], sort=False):
        rate = g.set_index("T")["drop_rate"]
        ts = [t for t in (30, 60, 90) if t in rate.index]
        pairs = [(lo, hi) for i, lo in enumerate(ts) for hi in ts[i + 1:]]
        if not pairs:
            continue
        worst = max(float(rate[lo] - rate[hi]) for lo, hi in pairs)
        out.append(Claim(NAME, f"fig12.lower_t_better.{m}.{r}", f"lower T performs better (M={m}, R={r})",
                         "drop(T_low) <= drop(T_high)", f"worst excess {100 * worst:+.3f} pp",
                         "+0.2 pp for T in {30, 60, 90}%", worst <= 0.002,
                         ", ".join(f"T={t}: {100 * rate[t]:.3f}%" for t in ts)))
    return out
