"""Parameter sweeps: any engine over lists of M, R, T, x, P, queues, trace and offload.

    invoke sweep --engine wirecap-b,dna --M 64,256 --R 100,500 --x 0,300 --P 1e3,1e5,1e6
    invoke sweep --engine wirecap-a --T 30,60,90 --queues 6 --trace fermilab --x 300 --jobs 2
    invoke sweep ... --scheduler tcp://127.0.0.1:8786     # on a Dask cluster (tls://... across machines)
    invoke sweep --engine wirecap-a -T 30,60,90 --offload chunk,bucket,hybrid --queues 4,6 --trace fermilab-like -x 300

A sweep is the cross product of its axes, one point per distinct
configuration (M, R and T only multiply WireCAP; T and offload only
WireCAP-A), measured
on the simulated testbed through the same executor as the experiments: in
order, in local processes or on Dask, with identical tables, and resumable
(an interrupted sweep started again with the same axes skips the points it
saved). Results land in ``results/sweep/<utc>-<gitsha>/`` (data.parquet,
config.json, sweep.png) where ``notebooks/explore_sweep.ipynb`` finds them.

Workloads (``trace``):

    burst                P frames of `size` bytes back to back at 10 GbE line
                         rate (paper §4); with queues > 1 frame i goes to
                         queue i mod queues
    fermilab-like[:SEED] the Fermilab-like trace (traces.fermilab) replayed as
                         recorded, Toeplitz-RSS steered into `queues` queues
                         (experiments.workloads); P does not apply
    PATH                 a pcap/pcapng file, steered the same way
"""
from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from experiments import executor, results
from experiments.progress import ProgressBar

SWEEP = "sweep"  # the folder under results/
WIRECAP = ("wirecap-b", "wirecap-a")
AXES = ("engine", "M", "R", "T", "offload", "x", "P", "queues", "trace", "nic")
# one row per point: these identify it (in this order), the rest are measured
POINT_COLUMNS = ["engine", "engine_label", "M", "R", "T", "offload", "x", "P", "queues", "trace", "nic", "size",
                 "nic_buffer", "clock_ghz", "seed", "backend"]
# WireCAP-A's policies that move redirection-table buckets: they steer a
# trace's flows, so a burst (one flow per queue, no RSS) cannot take them
BUCKET_POLICIES = ("bucket", "hybrid")


@dataclass(frozen=True)
class Grid:
    """The axes of a sweep. Lists multiply; None in M/R/T means the engine default."""

    engine: list[str]
    M: list[int | None] = field(default_factory=lambda: [None])
    R: list[int | None] = field(default_factory=lambda: [None])
    T: list[int | None] = field(default_factory=lambda: [None])
    offload: list[str | None] = field(default_factory=lambda: [None])
    x: list[int] = field(default_factory=lambda: [0])
    P: list[int | None] = field(default_factory=lambda: [100_000])
    queues: list[int] = field(default_factory=lambda: [1])
    trace: list[str] = field(default_factory=lambda: ["burst"])
    # NIC models (driver/sim/nics.py); a point names its NIC only when it is
    # not the paper's 82599, so older sweeps resume and compare as before
    nic: list[str] = field(default_factory=lambda: ["82599"])
    size: int = 64
    nic_buffer: bool = True
    clock_ghz: float = 2.4
    skip_invalid: bool = False

    def as_config(self) -> dict:
        d = asdict(self)
        if d["nic"] == ["82599"]:
            del d["nic"]  # a sweep on the paper's NIC records (and resumes) as before the nic axis
        return d


# ---- parsing the command line -------------------------------------------------

def _number(text: str, name: str, allow_none: bool) -> int | None:
    text = text.strip().replace("_", "")
    if allow_none and text.lower() in ("", "default", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--{name} {text!r}: expected numbers separated by commas, e.g. --{name} 64,256") from None
    if value != int(value):
        raise ValueError(f"--{name} {text!r}: must be a whole number")
    return int(value)


def parse_list(text: str | None, name: str, numeric: bool = True, allow_none: bool = False) -> list | None:
    """'64,128,256' -> [64, 128, 256]; '1e3,1e5' -> [1000, 100000]; None/'' -> None."""
    if text is None or str(text).strip() == "":
        return None
    items = [t for t in str(text).split(",")]
    if not numeric:
        return [t.strip() for t in items if t.strip()]
    return [_number(t, name, allow_none) for t in items]


def grid_from_args(engine: str, M="", R="", T="", x="0", P="", queues="1", trace="burst", size=64,
                   nic_buffer=True, clock_ghz=2.4, skip_invalid=False, offload="", nic="") -> Grid:
    engines = parse_list(engine, "engine", numeric=False)
    if not engines:
        raise ValueError("--engine: name at least one engine, e.g. --engine wirecap-b,dna")
    traces = parse_list(trace, "trace", numeric=False) or ["burst"]
    p_default = [100_000] if "burst" in traces else [None]
    return Grid(engine=engines, M=parse_list(M, "M", allow_none=True) or [None],
                R=parse_list(R, "R", allow_none=True) or [None], T=parse_list(T, "T", allow_none=True) or [None],
                offload=parse_list(offload, "offload", numeric=False) or [None],
                x=parse_list(x, "x") or [0], P=parse_list(P, "P", allow_none=True) or p_default,
                queues=parse_list(queues, "queues") or [1], trace=traces,
                nic=parse_list(nic, "nic", numeric=False) or ["82599"], size=int(size),
                nic_buffer=bool(nic_buffer), clock_ghz=float(clock_ghz), skip_invalid=bool(skip_invalid))


# ---- points -------------------------------------------------------------------

def _engine_point(spec: str, M, R, T, offload=None):
    """(name, M, R, T, offload) as EngineConfig resolves them, or raise naming the parameter."""
    from engine.models import EngineConfig

    if ":" in spec or spec not in WIRECAP:
        # a full spec fixes M, R, T (and the policy): the axes do not apply;
        # nor do they to the engines without a pool (dna, netmap, pfring) or
        # with their own (dpdk: the mempool size is in its spec)
        e = EngineConfig.parse(spec)
    else:
        a = spec == "wirecap-a"
        e = EngineConfig.make(spec, M, R, T if a else None, offload=offload if a else None)
    if e.kind == "dpdk":
        return e.spec(), None, None, None, None   # "dpdk:MBUFS": the point's engine carries its mempool
    return e.name, e.M, e.R, e.T, getattr(e, "offload", None)


def points(grid: Grid) -> tuple[list[dict], list[str]]:
    """The grid's distinct points in axis order, and the combinations skipped
    as invalid (only with skip_invalid; otherwise the first one raises)."""
    for name in ("x", "queues"):
        for v in getattr(grid, name):
            if v is None or v < (1 if name == "queues" else 0):
                raise ValueError(f"--{name} {v}: must be >= {1 if name == 'queues' else 0}")
    for q in grid.queues:
        if q > 64:
            raise ValueError(f"--queues {q}: the simulated NIC has at most 64 queues (one buddy group)")
    for tr in grid.trace:
        if tr != "burst" and not tr.startswith("fermilab-like") and not Path(tr).is_file():
            raise ValueError(f"--trace {tr!r}: use burst, fermilab-like, fermilab-like:SEED or the path "
                             f"of a pcap/pcapng file")
    from driver.sim.nics import check_queues, nic_model

    nics = [nic_model(n) for n in grid.nic]  # ValueError naming the models
    for nic in nics:
        for q in grid.queues:
            if any(tr != "burst" for tr in grid.trace):
                check_queues(nic, q)
    out, seen, skipped = [], set(), []
    for spec, M, R, T, off, x, P, q, tr, nic in itertools.product(grid.engine, grid.M, grid.R, grid.T, grid.offload,
                                                                 grid.x, grid.P, grid.queues, grid.trace, grid.nic):
        try:
            name, m, r, t, o = _engine_point(spec, M, R, T, off)
            if o in BUCKET_POLICIES and tr == "burst":
                raise ValueError(f"--offload {o}: moves RSS redirection-table buckets, so it needs a trace "
                                 f"workload (--trace fermilab-like, a real capture or a pcap), not a burst")
        except ValueError as exc:
            if not grid.skip_invalid:
                raise ValueError(f"{exc} (in the sweep point engine={spec} M={M} R={R} T={T} offload={off} "
                                 f"trace={tr}); change the axis or pass --skip-invalid") from None
            skipped.append(f"engine={spec} M={M} R={R} T={T} offload={off} trace={tr}: {exc}")
            continue
        if tr == "burst" and (P is None or P < 1):
            raise ValueError(f"-P {P}: a burst needs P >= 1 packets")
        if tr != "burst":
            P = None  # a trace is replayed whole, as recorded
        pt = {"engine": name, "M": m, "R": r, "T": t, "offload": o, "x": int(x), "P": None if P is None else int(P),
              "queues": int(q), "trace": tr, "size": grid.size, "nic_buffer": grid.nic_buffer,
              "clock_ghz": grid.clock_ghz}
        if nic != "82599":
            pt["nic"] = nic
        key = tuple(sorted(pt.items(), key=lambda kv: kv[0]))
        if key not in seen:  # DNA at M=64 and at M=256 is the same point
            seen.add(key)
            out.append(pt)
    return out, skipped


# ---- measuring one point (runs in worker processes: module level, no globals) --

def measure(point: dict) -> dict:
    """One sweep point on the simulated testbed -> one row (totals over queues).

    Single-queue bursts are the paper's pkt_handler points (Figures 8-10),
    traces the multi_pkt_handler points of Table 1 and Figures 11-13: the
    same functions the experiments use, so a sweep point and a figure point
    with the same parameters give the same numbers.
    """
    from experiments.points import sim_multi_pkt_handler, sim_pkt_handler

    q = int(point["queues"])
    common = {"engine": point["engine"], "M": point["M"], "R": point["R"], "T": point["T"], "x": point["x"],
              "clock_ghz": point["clock_ghz"], "seed": 0}
    if "nic" in point:
        common["nic"] = point["nic"]
    offload = point.get("offload")
    if point["trace"] == "burst" and q == 1:
        row = sim_pkt_handler({**common, "P": point["P"], "size": point["size"], "nic_buffer": point["nic_buffer"]})
        per_queue = [row["drop_rate"]]
    elif point["trace"] == "burst":
        row, per_queue = _multi_queue_burst(point)
    else:
        # the full spec carries the policy (wirecap-a:256:500:60:bucket), which
        # sim_multi_pkt_handler reads from the spec alone
        rows = sim_multi_pkt_handler({**common, "engine": _spec(point), "trace": point["trace"], "queues": q})
        row = dict(rows[-1])          # the totals row (queue "all")
        row.pop("queue", None)
        per_queue = [r["drop_rate"] for r in rows[:-1]]
    worst = max(range(len(per_queue)), key=lambda i: per_queue[i])
    row["offload"] = offload
    row["nic"] = point.get("nic", "82599")
    row.update({"trace": point["trace"], "queues": q, "clock_ghz": float(point["clock_ghz"]),
                "P_requested": point["P"], "worst_queue": worst, "worst_queue_drop_rate": float(per_queue[worst])})
    return row


def _spec(point: dict) -> str:
    """The point's engine as one spec string (its policy included where it is not chunk)."""
    from engine.models import EngineConfig

    if ":" in point["engine"]:
        return point["engine"]   # dpdk:MBUFS
    if point["engine"] != "wirecap-a":
        return EngineConfig.make(point["engine"], point["M"], point["R"], point["T"]).spec()
    return EngineConfig.make("wirecap-a", point["M"], point["R"], point["T"], offload=point.get("offload")).spec()


def _multi_queue_burst(point: dict) -> tuple[dict, list[float]]:
    """A line-rate burst dealt round robin over `queues` queues (one flow each)."""
    from driver.sim import Burst, simulate
    from driver.sim.params import HostModel
    from engine.models import EngineConfig
    from experiments.points import point_nic

    engine = (EngineConfig.parse(point["engine"]) if ":" in point["engine"]
              else EngineConfig.make(point["engine"], point["M"], point["R"], point["T"]))
    q = int(point["queues"])
    nic = point_nic(point)
    work = Burst(int(point["P"]), size=int(point["size"]), n_queues=q, link_bps=nic.link_bps,
                 pattern_queue=tuple(range(q)), pattern_flow=tuple(range(q)))
    run = simulate(engine, work, x=int(point["x"]), host=HostModel(clock_ghz=float(point["clock_ghz"])),
                   nic_buffer=bool(point["nic_buffer"]), nic=nic)
    t = run.total
    row = {"engine": engine.name, "engine_label": engine.label, "M": engine.M, "R": engine.R, "T": engine.T,
           "x": int(point["x"]), "P": int(t["sent"]), "size": int(point["size"]), "queues": q,
           "nic_buffer": bool(point["nic_buffer"]), "backend": "sim", "seed": 0,
           **{k: int(t[k]) for k in ("sent", "delivered", "capture_drops", "delivery_drops", "filtered")},
           "drop_rate": float(t["drop_rate"]), "sim_time_s": run.sim_time_s, "events": run.events}
    return row, [qq["drop_rate"] for qq in run.queues]


# ---- running and saving ----------------------------------------------------------

def run_sweep(grid: Grid, label: str = "", jobs: int = 1, scheduler: str | None = None, resume: bool = True,
              progress: bool | None = None, plot: bool = True) -> Path:
    """Measure every point of `grid` and save results/sweep/<run>/; returns the run folder."""
    if scheduler:
        executor.check_scheduler_address(scheduler)   # a bad address fails before any folder is made
    pts, skipped = points(grid)
    if not pts:
        raise ValueError("the sweep has no valid point; check --engine and the M/R/T axes")
    cfg = {"grid": grid.as_config(), "label": label, "skipped": skipped, "backend": "sim"}
    run_dir, store = results.open_run(SWEEP, cfg, resume, extra={"execution": {"jobs": jobs, "scheduler": scheduler}})
    saved = len(store)
    if saved:
        print(f"sweep: resuming {run_dir} ({saved} of {len(pts)} point(s) already saved)")
    t0 = time.perf_counter()
    try:
        with ProgressBar(f"sweep {label}".strip(), show=progress) as bar:
            df = executor.run_points(pts, measure, jobs=jobs, progress=bar, scheduler=scheduler, store=store)
    except Exception:
        # e.g. no scheduler there or no worker joined: leave no folder holding only config.json
        results.discard_empty_run(run_dir)
        raise
    df = order_columns(df)
    results.save_run(SWEEP, cfg, df, run_dir=run_dir,
                     extra={"execution": {"jobs": jobs, "scheduler": scheduler, "resumed_points": saved,
                                          "wall_s": round(time.perf_counter() - t0, 3)},
                            "points": len(pts)})
    if plot:
        plot_sweep(df, run_dir / "sweep.png")
    return run_dir


def order_columns(df: pd.DataFrame) -> pd.DataFrame:
    first = [c for c in POINT_COLUMNS if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]]


def varying_axes(df: pd.DataFrame) -> list[str]:
    """The sweep's axes that take more than one value in this table (M, R and
    T are empty for engines they do not apply to: that alone is no variation)."""
    cols = [c for c in ("P", "x", "M", "R", "T", "offload", "queues", "trace", "nic", "engine_label")
            if c in df.columns]
    return [c for c in cols if df[c].nunique(dropna=True) > 1]


def choose(df: pd.DataFrame, x: str | None, series: str) -> tuple[str, list[str]]:
    """The x axis (given, else P if it varies, else the first varying axis)
    and the other varying axes, which split the lines."""
    varying = [a for a in varying_axes(df) if a != series]
    x = x or ("P" if "P" in varying else (varying[0] if varying else "P"))
    return x, [a for a in varying if a != x]


def _labelled(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    # an axis that does not apply (M for DNA) is empty: show "-", never drop the row
    d = df.copy()
    for c in cols:
        d[c] = d[c].astype(object).where(d[c].notna(), "-")
    return d


def pivot(df: pd.DataFrame, x: str, series: str, y: str, others: list[str]) -> pd.DataFrame:
    """y by (series, other axes) x values of x."""
    index = [c for c in [series] + others if c in df.columns]
    if not index:
        return df[[x, y]].sort_values(x)
    return _labelled(df, index).pivot_table(index=index, columns=x, values=y, aggfunc="mean")


def plot_lines(df: pd.DataFrame, x: str, series: str, y: str, others: list[str], ax) -> None:
    """y (as %) against x, one line per series value and combination of the other axes."""
    cols = [c for c in [series] + others if c in df.columns]
    d = _labelled(df, cols)
    groups = d.groupby(cols, sort=False) if cols else [((y,), d)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        g = g.sort_values(x)
        ax.plot(g[x], 100 * g[y], marker="o", ms=3.5, label=", ".join(map(str, key)))
    if x == "P" and d["P"].min() > 0 and d["P"].max() >= 100 * d["P"].min():
        ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(f"{y} (%)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def plot_sweep(df: pd.DataFrame, path, x: str | None = None, series: str = "engine_label",
               y: str = "drop_rate") -> None:
    """The sweep's figure: drop rate against its first varying axis (P preferred)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, others = choose(df, x, series)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    plot_lines(df, x, series, y, others, ax)
    results.write_figure(path, fig)
    plt.close(fig)
