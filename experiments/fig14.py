"""Figure 14: scalability. Two NICs, each fed at line rate by its own
generator (10^9 frames of 64 or 100 bytes), n queues per NIC, x = 0, every
packet forwarded out of the other NIC. About 20 Mp/s of 100-byte frames
pass without loss; about 30 Mp/s of 64-byte frames saturate the system bus,
and then WireCAP's extra memory traffic costs it more than DNA (paper §4).

The bus is the fluid model of driver/sim/params.py (BusModel); its
constants are calibrated on this figure, whose claims are orderings only.
"""
from __future__ import annotations

import pandas as pd

from experiments import executor, plotting
from experiments.claims import Claim, exactly_zero, ordering, pct
from experiments.points import sim_scalability

NAME = "fig14"
TITLE = "Scalability: two NICs forwarding to each other, n queues per NIC (x = 0)"
DEFAULT_CONFIG = {
    "P": 1_000_000_000,  # paper §4: "The generators transmit 1x10^9 64-Byte or 100-Byte packets"
    "sizes": [64, 100],
    "queues": [1, 2, 3, 4, 5, 6],
    "engines": ["dna", "wirecap-a:256:100:60", "wirecap-a:256:500:60"],
    "clock_ghz": 2.4,
    "seed": 0,
}
QUICK_CONFIG = {"P": 10_000_000}


def points(cfg: dict) -> list[dict]:
    return [{"engine": e, "P": cfg["P"], "size": s, "queues": n, "clock_ghz": cfg.get("clock_ghz", 2.4),
             "seed": cfg.get("seed", 0)}
            for s in cfg["sizes"] for e in cfg["engines"] for n in cfg["queues"]]


def cost(point: dict) -> float:
    """A point's relative run time, to start the longest first (executor):
    WireCAP's events grow with the frames that pass the bus (fewer at 64 B,
    which saturate it) and a little with the queues; DNA's points are
    counted in closed form. Shape measured on 2 cores at P = 10^9: WireCAP
    2.1-3.8 s at 100 B and 1.2-2.8 s at 64 B, DNA under 0.1 s."""
    if point["engine"] == "dna":
        return 0.0
    return point["P"] * (1.25 if point["size"] >= 100 else 1.0) * (5 + point["queues"])


def run(cfg, progress=None):
    if cfg.get("backend", "sim") != "sim":
        raise ValueError(f"backend {cfg['backend']!r}: this experiment runs on sim here")
    return executor.run_points(points(cfg), sim_scalability, jobs=int(cfg.get("jobs", 1)), progress=progress,
                               cost=cost)


def plot(df, path):
    sizes = sorted(df["size"].unique())
    fig, axes = plotting.axes(len(sizes), width=5, height=4, sharey=True)
    for ax, size in zip(axes, sizes):
        plotting.drop_lines(ax, df[df["size"] == size], "queues")
        ax.set_title(f"{size}-byte packets, 2 x 10 GbE")
        ax.set_xlabel("receive queues per NIC")
    axes[0].legend(fontsize=8)
    plotting.save(fig, path)


def _series(df: pd.DataFrame, label: str, size: int) -> pd.Series:
    d = df[(df["engine_label"] == label) & (df["size"] == size)]
    return d.set_index("queues")["drop_rate"].sort_index()


def claims(df: pd.DataFrame) -> list[Claim]:
    out = []
    dna, wc100, wc500 = "DNA", "WireCAP-A-(256,100,60%)", "WireCAP-A-(256,500,60%)"
    big = df[df["size"] == 100]
    if len(big):
        out.append(exactly_zero(NAME, "fig14.100B_lossless", "100-byte packets (~20 Mp/s): no loss for WireCAP or DNA",
                                int((big["sent"] - big["received"]).sum()), "size=100, every n"))
    small = df[df["size"] == 64]
    if len(small):
        low = small.loc[small["drop_rate"].idxmin()]
        out.append(Claim(NAME, "fig14.64B_saturates", "64-byte packets (~30 Mp/s): the bus saturates, both lose",
                         "significant", f"lowest {pct(low['drop_rate'])} ({low['engine_label']}, n={low['queues']})",
                         "both > 5%", bool((small["drop_rate"] > 0.05).all()), "size=64, every n"))
    d, a, b = _series(df, dna, 64), _series(df, wc100, 64), _series(df, wc500, 64)
    if 1 in d.index and 1 in a.index:
        out.append(ordering(NAME, "fig14.wirecap_worse_at_1", "WireCAP loses more than DNA at 1 queue per NIC",
                            a[1] > d[1], f"{pct(a[1])} vs {pct(d[1])}", "n=1, 64 B"))
    common = [n for n in d.index if n in a.index]
    if len(common) >= 2:
        gap = (a[common] - d[common])
        first, last = gap.iloc[0], gap.iloc[-1]
        out.append(ordering(NAME, "fig14.wirecap100_approaches_dna",
                            "WireCAP-A-(256,100,60%) approaches DNA as queues grow",
                            last < first / 2, f"gap {100 * first:.2f} pp at n={common[0]}, "
                            f"{100 * last:.2f} pp at n={common[-1]}", "64 B"))
    many = [n for n in (5, 6) if n in b.index and n in a.index and n in d.index]
    few = [n for n in b.index if n <= 4 and n > 1]
    if many and few:
        worse = all(b[n] > a[n] and b[n] > d[n] for n in many) and min(b[n] for n in many) > max(b[f] for f in few)
        out.append(ordering(NAME, "fig14.wirecap500_poor_at_5_6",
                            "WireCAP-A-(256,500,60%) does poorly at 5-6 queues per NIC", worse,
                            ", ".join(f"n={n}: {pct(b[n])}" for n in sorted(b.index)), "64 B"))
    return out
