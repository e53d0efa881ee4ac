"""Figure 10: R*M fixed, R and M varied: WireCAP-B-(64,400), (128,200) and
(256,100) lose about the same at every P, "WireCAP's buffering capability is
proportional to the overall ring buffer capacity R*M" (paper §4)."""
from __future__ import annotations

from experiments import burst_figures as bf
from experiments.claims import Claim

NAME = "fig10"
TITLE = "WireCAP basic mode, R*M fixed (x = 300)"
DEFAULT_CONFIG = {
    "x": 300,
    "P": bf.P_FULL,
    "engines": ["wirecap-b:64:400", "wirecap-b:128:200", "wirecap-b:256:100"],
    "size": 64,
    "clock_ghz": 2.4,
    "seed": 0,
}
QUICK_CONFIG = {"P": bf.P_QUICK}


def run(cfg, progress=None):
    return bf.run(cfg, progress)


def plot(df, path):
    bf.plot(df, path, "Figure 10: R*M = 25,600, x = 300")


def claims(df) -> list[Claim]:
    d = bf.main_rows(df)
    spread = d.groupby("P")["drop_rate"].agg(lambda s: s.max() - s.min())
    worst_p = int(spread.idxmax())
    return [Claim(NAME, "fig10.spread", "WireCAP-B-(64,400), (128,200), (256,100) lose about the same at each P",
                  "same", f"max spread {100 * spread.max():.3f} pp", "spread <= 1 pp at every P",
                  bool((spread <= 0.01).all()), f"widest at P={worst_p}" if spread.max() > 0 else "every P")]
