"""Figure 8: basic mode, no processing load (x = 0). WireCAP in various
(M, R), DNA and NETMAP capture a line-rate burst of every size without loss;
PF_RING loses packets to capture and to delivery (paper §4)."""
from __future__ import annotations

from experiments import burst_figures as bf
from experiments.claims import Claim, exactly_zero, pct

NAME = "fig8"
TITLE = "WireCAP basic mode, no processing load (x = 0)"
DEFAULT_CONFIG = {
    "x": 0,
    "P": bf.P_FULL,
    # paper §4: "We test WireCAP with various R and M values"
    "engines": ["wirecap-b:64:400", "wirecap-b:128:200", "wirecap-b:256:100", "wirecap-b:256:500",
                "wirecap-b:1024:100", "dna", "netmap", "pfring"],
    "size": 64,
    "clock_ghz": 2.4,
    "seed": 0,
}
QUICK_CONFIG = {"P": bf.P_QUICK}


def run(cfg, progress=None):
    return bf.run(cfg, progress)


def plot(df, path):
    bf.plot(df, path, "Figure 8: x = 0")


def claims(df) -> list[Claim]:
    out = []
    d = bf.main_rows(df)
    for label, g in d[d["engine"] != "pfring"].groupby("engine_label", sort=False):
        lost = int((g["capture_drops"] + g["delivery_drops"]).sum())
        worst = g.loc[g["drop_rate"].idxmax()]
        out.append(exactly_zero(NAME, f"fig8.lossless.{label}",
                                f"{label} loses nothing at every P (x = 0)", lost,
                                point=f"worst at P={int(worst['P'])}" if lost else f"every P ({len(g)} points)"))
    pf = d[d["engine"] == "pfring"].sort_values("P")
    big = pf[pf["P"] >= 100_000]
    if len(big):
        low = big.loc[big["drop_rate"].idxmin()]
        out.append(Claim(NAME, "fig8.pfring_loses", "PF_RING loses > 20% at every P >= 1e5",
                         "significant", pct(low["drop_rate"]), "> 20% at every P >= 1e5",
                         bool((big["drop_rate"] > 0.20).all()), f"lowest at P={int(low['P'])}"))
    at = pf[pf["P"] == 1_000_000]
    if len(at):
        r = at.iloc[0]
        out.append(Claim(NAME, "fig8.pfring_both", "PF_RING suffers capture and delivery drops (P = 1e6)",
                         "both > 0", f"capture {int(r['capture_drops'])}, delivery {int(r['delivery_drops'])}",
                         "capture > 0 and delivery > 0", bool(r["capture_drops"] > 0 and r["delivery_drops"] > 0),
                         "P=1000000"))
    return out
