"""Beyond the paper: Figure 9 at 40 and 100 GbE (issue 14).

Figure 9's experiment (basic mode, x = 300, a burst of P 64-byte frames at
line rate into one queue) on every NIC model of driver/sim/nics.py: the
paper's 82599 (10 GbE, 14.88 Mp/s), an XL710-class 40 GbE NIC (59.52 Mp/s)
and E810- and ConnectX-5-class 100 GbE NICs (148.81 Mp/s). The engines and
the application are the paper's; only the NIC changes: its line rate, the
descriptors an engine can hold (ring_usable), what happens to a frame that
finds no descriptor (the 82599 with one queue holds it in its 512 KB
buffer; the others drop it at once) and the buffer.

Four kinds of rows:

  main         engines x P x NIC (NIC buffer on), the figure
  formula      WireCAP-B with the NIC buffer off at 1% below and above
               the lossless burst Pin*R*M/(Pin-Pp) of paper §3.2.2a, with
               Pin the NIC's own line rate
  sensitivity  the faster NICs' on-chip buffer is a named assumption
               (nics.ASSUMED_RX_BUFFER_BYTES: no public figure): DNA and
               WireCAP-B at two burst sizes, buffer 0 .. 8 MB, with the
               NIC's own drop policy ("drop") and with frames held in the
               buffer instead ("hold", the 82599's single-queue behaviour)
  pcie         the NIC's PCIe link modelled (simulate(pcie_writeback=k)):
               it carries NicModel.pcie_max_pps(64, k) frames/s to memory,
               k frames per completion TLP (1: a write-back per frame; 4:
               batched, as with CQE compression), and of a faster burst
               only that share is DMA'd

The claims are the model's, checked on its own numbers (nothing expected
is written here): the formula holds at every line rate; DNA and NETMAP
lose more than WireCAP-B at every P >= 10,000 on every NIC; with the
models' drop policy the drop counts do not depend on the assumed buffer at
all (exactly equal); with frames held they can only fall as the buffer grows;
with PCIe modelled, a NIC whose link carries line rate loses exactly what it
loses without, and one whose link does not loses at least the share it
cannot carry, whatever the engine.
"""
from __future__ import annotations

import math

import pandas as pd

from driver.sim.nics import NICS, describe, nic_model
from experiments import burst_figures as bf
from experiments import executor, plotting
from experiments.claims import Claim, ordering
from experiments.points import sim_pkt_handler

NAME = "fig9_fast"
TITLE = "Beyond the paper: Figure 9 at 40 and 100 GbE (basic mode, x = 300, line-rate bursts)"
BEYOND_PAPER = True
BEYOND_SUMMARY = (
    "Figure 9 (a line-rate burst of P 64-byte frames into one queue, x = 300) on NIC models beyond the paper's "
    "82599: an XL710-class 40 GbE NIC and E810- and ConnectX-5-class 100 GbE NICs (driver/sim/nics.py, every "
    "value with its source). Only the NIC changes: line rate, usable descriptors, what happens to a frame with no "
    "descriptor, on-chip buffer. The faster NICs' buffer size has no public source: it is a named assumption, and "
    "the sensitivity rows sweep it (0 to 8 MB) under the NICs' own drop policy and under frames held instead. "
    "Models: " + "; ".join(f"{r['nic']} {r['link_gbps']} GbE ({r['line_rate_mpps_64B']} Mp/s at 64 B), ring "
                           f"{r['ring']}, RETA {r['reta']}, no descriptor: {r['no_descriptor']}, buffer "
                           f"{r['rx_buffer_kb']} KB{' (assumed)' if r['assumed'] else ''}, PCIe {r['pcie']} "
                           f"(carries {r['pcie_mpps_64B'][0]}-{r['pcie_mpps_64B'][1]} Mp/s of 64 B frames: "
                           f"modelled in the pcie rows only)"
                           for r in describe()) + ".")
DEFAULT_CONFIG = {
    "x": 300,
    "P": bf.P_FULL,
    "engines": ["wirecap-b:256:100", "wirecap-b:256:500", "dna", "netmap", "pfring", "dpdk:8192", "dpdk:128000"],
    "nic": list(NICS),
    "size": 64,
    "clock_ghz": 2.4,
    "seed": 0,
    # the sensitivity rows (NICs whose buffer is assumed)
    "rx_buffer_kb": [0, 128, 512, 2048, 8192],
    # the PCIe rows: frames per completion TLP
    "pcie_writeback": [1, 4],
}
QUICK_CONFIG = {"P": bf.P_QUICK, "rx_buffer_kb": [0, 512, 8192]}
SENSITIVITY_ENGINES = ("dna", "wirecap-b:256:100")
SENSITIVITY_P = (6_000, 100_000)
PCIE_ENGINES = ("wirecap-b:256:500", "dna")
PCIE_P = (10_000, 100_000)
POLICIES = ("drop", "hold")


def burst_formula(spec: str, x: int, nic: str, size: int = 64, clock_ghz: float = 2.4) -> float:
    """Paper §3.2.2a at the NIC's line rate: Pin*(R*M)/(Pin-Pp)."""
    from driver.sim import app_cost_ns
    from driver.sim.params import HostModel
    from engine.models import EngineConfig

    e = EngineConfig.parse(spec)
    p_in = nic_model(nic).line_rate_pps(size)
    p_p = 1e9 / app_cost_ns(e, x, HostModel(clock_ghz=clock_ghz))
    return p_in * e.R * e.M / (p_in - p_p)


def points(cfg: dict) -> list[tuple[str, dict]]:
    """(kind, point) for every row: main, formula, sensitivity."""
    base = {"x": cfg["x"], "size": cfg.get("size", 64), "clock_ghz": cfg.get("clock_ghz", 2.4),
            "seed": cfg.get("seed", 0)}
    out = [("main", {**base, "engine": e, "P": p, "nic": n, "nic_buffer": True})
           for n in cfg["nic"] for e in cfg["engines"] for p in cfg["P"]]
    for n in cfg["nic"]:
        for spec in cfg["engines"]:
            if not spec.startswith("wirecap"):
                continue
            f = burst_formula(spec, cfg["x"], n, cfg.get("size", 64), cfg.get("clock_ghz", 2.4))
            for p in (math.floor(0.99 * f), math.ceil(1.01 * f)):
                out.append(("formula", {**base, "engine": spec, "P": p, "nic": n, "nic_buffer": False}))
    for n in cfg["nic"]:
        if not nic_model(n).assumed:
            continue
        for policy in POLICIES:
            for kb in cfg["rx_buffer_kb"]:
                for e in SENSITIVITY_ENGINES:
                    for p in SENSITIVITY_P:
                        out.append(("sensitivity", {**base, "engine": e, "P": p, "nic": n, "nic_buffer": True,
                                                    "rx_buffer_bytes": int(kb) * 1024, "no_descriptor": policy}))
    for n in cfg["nic"]:
        for k in cfg.get("pcie_writeback", []):
            for e in PCIE_ENGINES:
                for p in PCIE_P:
                    out.append(("pcie", {**base, "engine": e, "P": p, "nic": n, "nic_buffer": True,
                                         "pcie_writeback": int(k)}))
    return out


def pcie_share(nic: str, size: int, writeback: int) -> float:
    """The share of a line-rate burst the NIC's PCIe link carries (<= 1)."""
    m = nic_model(nic)
    return min(1.0, m.pcie_max_pps(size, writeback) / m.line_rate_pps(size))


def run(cfg, progress=None) -> pd.DataFrame:
    if cfg.get("backend", "sim") != "sim":
        raise ValueError(f"backend {cfg['backend']!r}: {NAME} runs on sim only")
    kinds, pts = zip(*points(cfg))
    df = executor.run_points(list(pts), sim_pkt_handler, jobs=int(cfg.get("jobs", 1)), progress=progress)
    df.insert(0, "kind", list(kinds))
    return df


def _nic_label(nic: str) -> str:
    m = nic_model(nic)
    return f"{nic} ({m.link_bps // 10**9} GbE)"


def plot(df, path):
    nics = list(dict.fromkeys(df["nic"]))
    fig, axs = plotting.axes(ncols=len(nics) + 1, width=4.2, height=3.8, sharey=False)
    main = df[df["kind"] == "main"]
    for ax, nic in zip(axs, nics):
        plotting.drop_lines(ax, main[main["nic"] == nic], "P", ms=3)
        ax.set_xscale("log")
        ax.set_ylim(-3, 103)
        ax.set_xlabel("P (64-byte frames at line rate)")
        ax.set_title(_nic_label(nic), fontsize=9)
    axs[0].legend(fontsize=6, loc="upper left")
    ax = axs[-1]
    sens = df[(df["kind"] == "sensitivity") & (df["engine"] == "dna") & (df["P"] == SENSITIVITY_P[0])]
    for (nic, policy), g in sens.groupby(["nic", "no_descriptor"], sort=False):
        g = g.sort_values("rx_buffer_bytes")
        ax.plot(g["rx_buffer_bytes"] / 1024, 100 * g["drop_rate"], marker="o", ms=3,
                ls="-" if policy == "drop" else "--", label=f"{nic}, {policy}")
    ax.set_xscale("symlog", linthresh=128)
    ax.set_xlabel("on-chip buffer, KB (assumed)")
    ax.set_ylabel("packet drop rate (%)")
    ax.set_title(f"sensitivity: DNA at P = {SENSITIVITY_P[0]:,}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6)
    plotting.save(fig, path)


def _lost(r) -> int:
    return int(r["capture_drops"] + r["delivery_drops"])


def claims(df) -> list[Claim]:
    out = []
    form = df[df["kind"] == "formula"]
    for (nic, label), g in form.groupby(["nic", "engine_label"], sort=False):
        g = g.sort_values("P")
        lo, hi = g.iloc[0], g.iloc[-1]
        spec = f"{lo['engine']}:{int(lo['M'])}:{int(lo['R'])}"
        f = burst_formula(spec, int(lo["x"]), nic, int(lo["size"]))
        ok = _lost(lo) == 0 and _lost(hi) > 0
        out.append(Claim(NAME, f"{NAME}.formula.{nic}.{label}",
                         f"{label} on the {nic} absorbs Pin*R*M/(Pin-Pp) packets at its line rate (NIC buffer off)",
                         "ours", f"formula {f:,.0f}: lossless at {int(lo['P']):,}, loses at {int(hi['P']):,}",
                         "lossless burst within 1% of the formula", bool(ok), f"nic={nic}"))
    main = df[(df["kind"] == "main") & (df["P"] >= 10_000)]
    for nic, d in main.groupby("nic", sort=False):
        wc = d[d["engine"] == "wirecap-b"].groupby("P")["drop_rate"].max()
        t2 = d[d["engine"].isin(["dna", "netmap"])].groupby("P")["drop_rate"].min()
        common = wc.index.intersection(t2.index)
        if len(common):
            gap = t2[common] - wc[common]
            out.append(ordering(NAME, f"{NAME}.type2_lose_more.{nic}",
                                f"DNA and NETMAP lose more than WireCAP-B at every P >= 10,000 on the {nic}",
                                bool((gap > 0).all()), f"min gap {100 * float(gap.min()):.2f} pp", f"nic={nic}"))
    sens = df[df["kind"] == "sensitivity"]
    for (nic, policy), d in sens.groupby(["nic", "no_descriptor"], sort=False):
        lost = (d["capture_drops"] + d["delivery_drops"]).groupby([d["engine_label"], d["P"]])
        spread = lost.max() - lost.min()
        if policy == "drop":
            out.append(Claim(NAME, f"{NAME}.buffer_irrelevant.{nic}",
                             f"with the {nic}'s own policy (a frame with no descriptor is dropped) the drops do not "
                             f"depend on the assumed buffer size",
                             "ours", f"largest spread {int(spread.max()):,} packets over "
                                     f"{d['rx_buffer_bytes'].nunique()} sizes",
                             "exactly equal", bool(spread.max() == 0), f"nic={nic} policy=drop"))
        else:
            mono = all(bool((g.sort_values("rx_buffer_bytes")["capture_drops"].diff().dropna() <= 0).all())
                       for _, g in d.groupby(["engine_label", "P"]))
            out.append(ordering(NAME, f"{NAME}.buffer_held.{nic}",
                                f"if the {nic} held frames instead, a larger buffer could only lose fewer",
                                mono, f"drops move by up to {int(spread.max()):,} packets over the sizes",
                                f"nic={nic} policy=hold"))
    pc = df[df["kind"] == "pcie"]
    main_all = df[df["kind"] == "main"].set_index(["nic", "engine_label", "P"])
    for nic, d in pc.groupby("nic", sort=False):
        short = [(r, pcie_share(nic, int(r["size"]), int(r["pcie_writeback"]))) for _, r in d.iterrows()]
        if all(share >= 1.0 for _, share in short):
            same = all(_lost(r) == _lost(main_all.loc[(nic, r["engine_label"], r["P"])]) for r, _ in short)
            out.append(Claim(NAME, f"{NAME}.pcie_enough.{nic}",
                             f"the {nic}'s PCIe link carries 64-byte line rate: modelling it changes no drop count",
                             "ours", f"{len(short)} rows equal to the rows without PCIe" if same else "rows differ",
                             "exactly equal", bool(same), f"nic={nic}"))
        else:
            worst = min(_lost(r) - r["sent"] * (1 - share) for r, share in short)
            out.append(Claim(NAME, f"{NAME}.pcie_short.{nic}",
                             f"the {nic}'s PCIe link carries less than 64-byte line rate: a line-rate burst loses "
                             f"at least the share it cannot carry, whatever the engine",
                             "ours", "carries " + ", ".join(f"{100 * pcie_share(nic, 64, k):.1f}% (k={k})"
                                                            for k in sorted(set(d["pcie_writeback"]))),
                             "drops >= P x (1 - share)", bool(worst >= -1), f"nic={nic}"))
    return out


def reading(df) -> str:
    main = df[df["kind"] == "main"]
    parts = []
    for nic, d in main.groupby("nic", sort=False):
        lossless = {}
        for label, g in d.groupby("engine_label", sort=False):
            ok = g[(g["capture_drops"] + g["delivery_drops"]) == 0]["P"]
            lossless[label] = int(ok.max()) if len(ok) else 0
        parts.append(f"{nic}: largest lossless P of the grid "
                     + ", ".join(f"{k} {v:,}" for k, v in lossless.items()))
    sens = df[(df["kind"] == "sensitivity") & (df["no_descriptor"] == "hold")]
    if len(sens):
        d = sens[(sens["engine"] == "dna") & (sens["P"] == SENSITIVITY_P[0])]
        lo, hi = d["drop_rate"].max(), d["drop_rate"].min()
        parts.append(f"sensitivity: under the models' drop policy the assumed buffer changes nothing; had the NICs "
                     f"held frames, DNA at P = {SENSITIVITY_P[0]:,} would lose {100 * hi:.1f}-{100 * lo:.1f}% over "
                     f"{d['rx_buffer_bytes'].min() // 1024:,}-{d['rx_buffer_bytes'].max() // 1024:,} KB")
    pc = df[(df["kind"] == "pcie") & (df["engine"] == "wirecap-b") & (df["P"] == PCIE_P[-1])]
    if len(pc):
        parts.append("PCIe modelled, WireCAP-B-(256,500) at P = {:,}: ".format(PCIE_P[-1]) + ", ".join(
            f"{r['nic']} (k={int(r['pcie_writeback'])}) {100 * r['drop_rate']:.1f}%" for _, r in pc.iterrows()))
    return "; ".join(parts) + "."
