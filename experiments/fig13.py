"""Figure 13: Figure 11 with forwarding: every processed packet leaves
through NIC2 to a receiver; drop rate = 1 - received/sent. NETMAP is left
out, as in the paper ("We cannot make multi_pkt_handler work under NETMAP
in this experiment")."""
from __future__ import annotations

from experiments import multiqueue as mq
from experiments.claims import Claim
from experiments.fig11 import advanced_claims

NAME = "fig13"
TITLE = "WireCAP packet forwarding, n queues (x = 300)"
DEFAULT_CONFIG = {
    "trace": "fermilab-like",
    "queues": [1, 2, 3, 4, 5, 6],
    "x": 300,
    "engines": ["pfring", "dna", "wirecap-b:256:500", "wirecap-a:256:500:60"],
    "forward": True,
    "clock_ghz": 2.4,
    "seed": 0,
}
QUICK_CONFIG = {"queues": [2, 4, 6]}


def run(cfg, progress=None):
    return mq.run_points(cfg, mq.points(cfg), progress)


def plot(df, path):
    mq.plot_vs_queues(df, path, "Figure 13: forwarding, x = 300")


def claims(df) -> list[Claim]:
    out = advanced_claims(NAME, df)
    d = mq.per_queue(df)
    missing = int((d["delivered"] - d["received"]).abs().sum())
    out.append(Claim(NAME, "fig13.receiver_counts", "every forwarded packet counted at the receiver",
                     "all", f"{missing} processed packets missing at the receiver", "exactly 0",
                     missing == 0, "all points"))
    return out
