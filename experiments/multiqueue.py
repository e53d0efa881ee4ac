"""What Table 1 and Figures 11-13 share: the Fermilab-like trace replayed as
recorded into n RSS queues of one NIC, one pkt_handler thread per queue
(paper §2.2 Experiment 2 and §4 "Packet capture in the advanced mode")."""
from __future__ import annotations

import pandas as pd

from experiments import executor, plotting
from experiments.points import sim_multi_pkt_handler


def points(cfg: dict, engines=None, queues=None, xs=None, forward=None) -> list[dict]:
    engines = engines if engines is not None else cfg["engines"]
    queues = queues if queues is not None else cfg["queues"]
    xs = xs if xs is not None else [cfg["x"]]
    fwd = cfg.get("forward", False) if forward is None else forward
    return [{"engine": e, "trace": cfg["trace"], "queues": n, "x": x, "forward": fwd,
             "clock_ghz": cfg.get("clock_ghz", 2.4), "seed": cfg.get("seed", 0)}
            for x in xs for n in (queues if isinstance(queues, list) else [queues]) for e in engines]


def run_points(cfg: dict, pts: list[dict], progress=None) -> pd.DataFrame:
    if cfg.get("backend", "sim") != "sim":
        raise ValueError(f"backend {cfg['backend']!r}: this experiment runs on sim here")
    return executor.run_points(pts, sim_multi_pkt_handler, jobs=int(cfg.get("jobs", 1)), progress=progress)


def overall(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["queue"].astype(str) == "all"]


def per_queue(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["queue"].astype(str) != "all"]


def spare_capacity(df: pd.DataFrame, engine_label: str, n: int, x: int = 300) -> float:
    """Packets the queues other than the busiest could still have processed
    while the trace was arriving, as a fraction of all packets: an upper
    bound on what offloading can rescue (used to decide where a claim
    applies)."""
    from driver.sim import app_cost_ns
    from engine.models import EngineConfig

    rows = per_queue(df[(df["engine_label"] == engine_label) & (df["queues"] == n)])
    if rows.empty:
        return 0.0
    spec = rows.iloc[0]
    engine = EngineConfig.make(spec["engine"], spec["M"], spec["R"], spec["T"])
    capacity = rows["trace_duration_s"].iloc[0] * 1e9 / app_cost_ns(engine, int(spec["x"]))
    busiest = rows["sent"].idxmax()
    others = rows.drop(index=busiest)
    return float((capacity - others["sent"]).clip(lower=0).sum() / rows["sent"].sum())


def plot_vs_queues(df: pd.DataFrame, path, title: str) -> None:
    """Overall drop rate against the number of queues (Figures 11, 13; also xdp)."""
    d = overall(df)
    fig, (ax,) = plotting.axes()
    plotting.drop_lines(ax, d, "queues")
    ax.set_xlabel("receive queues (one pkt_handler thread each)")
    ax.set_xticks(sorted(d["queues"].unique()))
    ax.set_title(title)
    ax.legend(fontsize=8)
    plotting.save(fig, path)
