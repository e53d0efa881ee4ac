"""What Figures 8, 9 and 10 share: single queue, P frames of 64 B at 10 GbE
line rate (14.88 Mp/s) into pkt_handler, one point per (engine, P)."""
from __future__ import annotations

import pandas as pd

from experiments import executor, plotting
from experiments.points import sim_pkt_handler

# paper §4: "P varies, ranging from 1,000 to 10,000,000"; 6,000 and 100,000
# are the points the text quotes
P_FULL = [1_000, 2_000, 4_000, 6_000, 10_000, 20_000, 40_000, 60_000, 100_000, 200_000, 400_000,
          600_000, 1_000_000, 2_000_000, 4_000_000, 6_000_000, 10_000_000]
P_QUICK = [1_000, 6_000, 10_000, 100_000, 1_000_000]


def points(cfg: dict) -> list[dict]:
    return [{"engine": e, "x": cfg["x"], "P": p, "size": cfg.get("size", 64),
             "nic_buffer": True, "clock_ghz": cfg.get("clock_ghz", 2.4), "seed": cfg.get("seed", 0)}
            for e in cfg["engines"] for p in cfg["P"]]


def run(cfg: dict, progress=None, extra_points: list[dict] | None = None) -> pd.DataFrame:
    if cfg.get("backend", "sim") != "sim":
        raise ValueError(f"backend {cfg['backend']!r}: this experiment runs on sim here")
    pts = points(cfg) + (extra_points or [])
    return executor.run_points(pts, sim_pkt_handler, jobs=int(cfg.get("jobs", 1)), progress=progress)


def main_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The figure's points (NIC buffer on), without extra check points."""
    return df[df["nic_buffer"].astype(bool)]


def plot(df: pd.DataFrame, path, title: str) -> None:
    fig, (ax,) = plotting.axes()
    plotting.drop_lines(ax, main_rows(df), "P", ms=3.5)
    ax.set_xscale("log")
    ax.set_xlabel("P (64-byte packets at 10 GbE line rate)")
    ax.set_ylim(-3, 103)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left")
    plotting.save(fig, path)
