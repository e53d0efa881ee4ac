"""Table 1 on the real backend: the Fermilab-like trace replayed into 6 veth
queues with the 82599's RSS placement (experiments/live/workload.py), one
pkt_handler thread per queue at the paper's x = 300 rate, and x = 0; the
analogs of the existing engines (afxdp-ring for DNA/NETMAP, afpacket-copy
for PF_RING) against WireCAP in both modes.

cfg keys (the sim's table1 configuration is accepted; sim-only engines map to
their analogs):

    engines   ["netmap", "dna", "pfring", "wirecap-b:256:500", "wirecap-a:256:500:60"]
    queues    6;  xs [300, 0];  trace "fermilab-like";  seed 0
    speed     replay speed and consumer-rate factor [0.5] (see multiqueue.SPEED)
    window_s  trace window in seconds [None: the whole trace]; quick: [8, 16]
"""
from __future__ import annotations

import pandas as pd

from experiments.live import multiqueue as mq

NAME = "table1"


def run(cfg: dict, progress=None) -> pd.DataFrame:
    cfg = dict(cfg)  # root is asked for by run_points, after the replay is checked
    if cfg.get("quick") and cfg.get("window_s") is None:
        cfg["window_s"] = [8, 16]
    xs = [int(x) for x in cfg.get("xs", [300, 0])]
    return mq.run_points(cfg, [int(cfg.get("queues", 6))], xs, progress)


def plot(df: pd.DataFrame, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.results import write_figure

    d = df[(df["x"] == df["x"].max()) & (df["queue"].astype(str) != "all")]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    labels = list(dict.fromkeys(d["engine_label"]))
    width = 0.8 / max(1, len(labels))
    for i, label in enumerate(labels):
        g = d[d["engine_label"] == label].sort_values("queue")
        ax.bar(g["queue"].astype(int) + i * width, 100 * g["drop_rate"], width, label=label)
    ax.set_xlabel("receive queue")
    ax.set_ylabel("drop rate (%)")
    ax.set_title("Table 1 on AF_XDP (veth): per-queue drop rates, x = 300 rate")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    write_figure(path, fig)
    plt.close(fig)


def claims(df: pd.DataFrame) -> list:
    from experiments.claims import Claim, within

    out = []
    d = mq.overall(df)
    for label in d["engine_label"].unique():
        if not str(label).startswith(("afxdp-ring", "afpacket-copy")):
            continue
        r = d[(d["engine_label"] == label) & (d["x"] == 300)]
        if len(r):
            out.append(within(NAME, f"table1.xdp.{label}", f"xdp: {label} loses 15-45% over all queues (x = 300)",
                              float(r.iloc[0]["drop_rate"]), 0.15, 0.45, None, "backend=xdp"))
    r = d[(d["engine"] == "wirecap-a") & (d["x"] == 300)]
    if len(r):
        v = float(r.iloc[0]["drop_rate"])
        out.append(Claim(NAME, "table1.xdp.wirecap_a", "xdp: WireCAP-A loses (almost) nothing (x = 300)",
                         "<= 0.1%", f"{100 * v:.3f}%", "<= 0.1%", v <= 0.001, "backend=xdp"))
    r = d[(d["engine"] == "afxdp-ring") & (d["x"] == 0)]
    if len(r):
        lost = int(r.iloc[0]["capture_drops"] + r.iloc[0]["delivery_drops"])
        out.append(Claim(NAME, "table1.xdp.x0_ring", "xdp: x = 0, the ring-only engine loses nothing",
                         "0 lost", f"{lost} lost", "exactly 0", lost == 0, "backend=xdp"))
    return out
