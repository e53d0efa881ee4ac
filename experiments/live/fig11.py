"""Figure 11 on the real backend: the Fermilab-like trace replayed into n
veth queues (82599 RSS placement), one pkt_handler thread per queue at the
paper's x = 300 rate; WireCAP-B and WireCAP-A (one buddy group) against the
ring-only and copy analogs.

cfg keys (the sim's fig11 configuration is accepted; sim-only engines map to
their analogs):

    engines   ["pfring", "dna", "netmap", "wirecap-b:256:500", "wirecap-a:256:500:60"]
    queues    n values [1..6]; quick: [2, 6]
    x         300;  trace "fermilab-like";  forward False;  seed 0
    speed     replay speed and consumer-rate factor [0.5]
    window_s  trace window [8, 24] (queue 0's long-term overload is on from ~10 s);
              quick: [8, 16]
"""
from __future__ import annotations

import pandas as pd

from experiments.live import multiqueue as mq

NAME = "fig11"
WINDOW_S = [8, 24]
WINDOW_S_QUICK = [8, 16]


def run(cfg: dict, progress=None) -> pd.DataFrame:
    cfg = dict(cfg)  # root is asked for by run_points, after the replay is checked
    quick = bool(cfg.get("quick"))
    if cfg.get("window_s") is None:
        cfg["window_s"] = WINDOW_S_QUICK if quick else WINDOW_S
    queues = [2, 6] if quick else [int(n) for n in cfg.get("queues", [1, 2, 3, 4, 5, 6])]
    return mq.run_points(cfg, queues, [int(cfg.get("x", 300))], progress)


def plot(df: pd.DataFrame, path) -> None:
    from experiments.multiqueue import plot_vs_queues

    plot_vs_queues(df, path, "Figure 11 on AF_XDP (veth), x = 300 rate")


def claims(df: pd.DataFrame) -> list:
    from experiments.claims import Claim

    out = []
    d = mq.overall(df)
    b = d[d["engine"] == "wirecap-b"].set_index("queues")["drop_rate"]
    a = d[d["engine"] == "wirecap-a"].set_index("queues")["drop_rate"]
    common = sorted(a.index.intersection(b.index))
    if common:
        gaps = {n: float(b[n] - a[n]) for n in common}
        helps = [n for n in common if b[n] > 0.05]
        ok = all(gaps[n] >= 0.05 for n in helps) if helps else True
        out.append(Claim(NAME, "fig11.xdp.offload_helps", "xdp: offloading removes the basic mode's long-term loss",
                         ">= 5 pp where B loses > 5%",
                         ", ".join(f"n={n}: B {100 * b[n]:.1f}% A {100 * a[n]:.1f}%" for n in common),
                         "A at least 5 pp below B", bool(ok), "backend=xdp"))
        n = max(common)
        out.append(Claim(NAME, "fig11.xdp.advanced_max_n", f"xdp: WireCAP-A loses (almost) nothing at n = {n}",
                         "<= 0.1%", f"{100 * float(a[n]):.3f}%", "<= 0.1%", float(a[n]) <= 0.001, "backend=xdp"))
    return out
