"""Figure 9: basic mode under a heavy load (x = 300, 38.8 kp/s per core).
The largest burst an engine survives measures its buffering: DNA's ring
(1,023 frames plus the NIC's buffer) against WireCAP's pool of R*M cells
(paper §4)."""
from __future__ import annotations

import math

from experiments import burst_figures as bf
from experiments.backends import measured_live
from experiments.claims import Claim, exactly_zero, ordering, pct, within
from driver.sim import app_cost_ns
from driver.sim.params import HostModel, line_rate_pps
from engine.models import EngineConfig

NAME = "fig9"
TITLE = "WireCAP basic mode, heavy processing load (x = 300)"
BACKENDS = ("sim", "xdp")
DEFAULT_CONFIG = {
    "x": 300,
    "P": bf.P_FULL,
    "engines": ["wirecap-b:256:100", "wirecap-b:256:500", "dna", "netmap", "pfring"],
    "size": 64,
    "clock_ghz": 2.4,
    "seed": 0,
}
QUICK_CONFIG = {"P": bf.P_QUICK}
# read by the xdp backend only (experiments/live/fig9.py, live/remote.py)
XDP_CONFIG = {"cost_ns": None,     # per-packet time of the consumer, ns (None: from x)
              "emulate": "auto",   # burn | pace | auto: how the consumer spends it
              "sender": "auto"}    # remote runs: live-frames | afpacket | auto (by driver)


def burst_formula(spec: str, x: int, size: int = 64, clock_ghz: float = 2.4) -> float:
    """Paper §3.2.2a: basic mode absorbs Pin*(R*M)/(Pin-Pp) packets without loss."""
    e = EngineConfig.parse(spec)
    p_in = line_rate_pps(size)
    p_p = 1e9 / app_cost_ns(e, x, HostModel(clock_ghz=clock_ghz))
    return p_in * e.R * e.M / (p_in - p_p)


def formula_points(cfg: dict) -> list[dict]:
    """Bracket the formula at +-1% with the NIC's buffer off."""
    pts = []
    for spec in cfg["engines"]:
        if not spec.startswith("wirecap"):
            continue
        f = burst_formula(spec, cfg["x"], cfg.get("size", 64), cfg.get("clock_ghz", 2.4))
        for p in (math.floor(0.99 * f), math.ceil(1.01 * f)):
            pts.append({"engine": spec, "x": cfg["x"], "P": p, "size": cfg.get("size", 64),
                        "nic_buffer": False, "clock_ghz": cfg.get("clock_ghz", 2.4), "seed": cfg.get("seed", 0)})
    return pts


def run(cfg, progress=None):
    if cfg.get("backend", "sim") == "xdp":
        from experiments.live import fig9 as live

        return live.run(cfg)
    return bf.run(cfg, progress, extra_points=formula_points(cfg))



def plot(df, path):
    live = measured_live(NAME, df)
    if live:
        return live.plot(df, path)
    bf.plot(df, path, "Figure 9: x = 300")


def _drop(d, label, p):
    r = d[(d["engine_label"] == label) & (d["P"] == p)]
    return None if r.empty else float(r.iloc[0]["drop_rate"])


def claims(df) -> list[Claim]:
    live = measured_live(NAME, df)
    if live:
        return live.claims(df)
    out = []
    d = bf.main_rows(df)
    v = _drop(d, "DNA", 6000)
    if v is not None:
        out.append(within(NAME, "fig9.dna_6000", "DNA loses ~15% at P = 6,000", v, 0.12, 0.18, 0.15, "P=6000"))
    r = d[(d["engine_label"] == "WireCAP-B-(256,500)") & (d["P"] == 100_000)]
    if len(r):
        out.append(exactly_zero(NAME, "fig9.wcb500_100k", "WireCAP-B-(256,500) loses nothing at P = 100,000",
                                int(r.iloc[0]["capture_drops"] + r.iloc[0]["delivery_drops"]), "P=100000"))
    v = _drop(d, "WireCAP-B-(256,100)", 100_000)
    if v is not None:
        out.append(within(NAME, "fig9.wcb100_100k", "WireCAP-B-(256,100) loses 71% at P = 100,000",
                          v, 0.69, 0.73, 0.71, "P=100000"))
    off = df[~df["nic_buffer"].astype(bool)]
    for label, g in off.groupby("engine_label", sort=False):
        g = g.sort_values("P")
        lo, hi = g.iloc[0], g.iloc[-1]
        ok = lo["capture_drops"] + lo["delivery_drops"] == 0 and hi["capture_drops"] + hi["delivery_drops"] > 0
        spec = f"{lo['engine']}:{int(lo['M'])}:{int(lo['R'])}"
        f = burst_formula(spec, int(lo["x"]), int(lo["size"]))
        out.append(Claim(NAME, f"fig9.formula.{label}",
                         f"{label} absorbs Pin*R*M/(Pin-Pp) packets without loss (NIC buffer off)",
                         f"{f:,.0f}", f"lossless at {int(lo['P']):,}, loses at {int(hi['P']):,}",
                         "lossless burst within 1% of the formula", bool(ok), "nic_buffer=off"))
    big = d[d["P"] >= 10_000]
    wc = big[big["engine"] == "wirecap-b"]
    if len(wc):
        worst_wc = wc.groupby("P")["drop_rate"].max()
        t2 = big[big["engine"].isin(["dna", "netmap"])].groupby("P")["drop_rate"].min()
        common = worst_wc.index.intersection(t2.index)
        holds = bool((t2[common] > worst_wc[common]).all()) if len(common) else False
        out.append(ordering(NAME, "fig9.type2_lose_more", "DNA and NETMAP lose more than WireCAP at every P >= 10,000",
                            holds, f"min gap {100 * float((t2[common] - worst_wc[common]).min()):.2f} pp"))
        a = big[big["engine_label"] == "WireCAP-B-(256,100)"].set_index("P")["drop_rate"]
        b = big[big["engine_label"] == "WireCAP-B-(256,500)"].set_index("P")["drop_rate"]
        common = a.index.intersection(b.index)
        out.append(ordering(NAME, "fig9.grows_with_rm", "WireCAP buffering grows with R*M: (256,500) <= (256,100)",
                            bool((b[common] <= a[common]).all()) if len(common) else False,
                            f"at {len(common)} P values"))
    return out
