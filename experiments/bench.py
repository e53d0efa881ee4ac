"""`invoke bench`: measure what the speed targets are about, and tabulate it.

One row per measurement, each with its value, unit and (where the issue sets
one) its target:

    speed        simulated packets per wall-clock second of driver.sim.simulate()
                 alone on the Fermilab-like trace (5 M packets, already steered:
                 the steering is not timed), x = 300, per engine at 1 and 6
                 queues; best of REPEATS. Bursts are no use here: the simulator
                 counts them in closed form, so they measure no event engine.
    steer        seconds for workloads.steered("fermilab-like", 6) with a warm
                 on-disk trace cache, timed in a fresh interpreter (in this one
                 its lru_cache answers at once); best of REPEATS
    experiments  each simulated experiment at its full scale, computed as `make
                 run` computes it (jobs = cores) but saved nowhere; and the sum
    xdp          WireCAP against a bare AF_XDP loop on one veth
                 (experiments/perf.py xdp_measure: alternating pairs): the
                 median pair ratio, the pairs' min and max, both packets/s

This module measures and tabulates; tasks.py only reads the flags.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from experiments.results import REPO_ROOT

TRACE = "fermilab-like"
X = 300                       # BPF filter runs per packet: the paper's loaded application
QUEUES = (1, 6)
ENGINES = ("wirecap-a:256:500:60", "wirecap-b:256:500", "dna", "netmap", "pfring")
REPEATS = 3                   # best of: the fastest run is the one least disturbed by neighbours
STEER_QUEUES = 6
SPEED_UNIT = "M packets/s"

GROUPS = ("speed", "steer", "experiments", "xdp")
BACKEND_GROUPS = {"sim": ("speed", "steer", "experiments"), "xdp": ("xdp",),
                  "all": GROUPS}

Say = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Target:
    op: str        # ">=" (at least) or "<" (under)
    value: float

    def met(self, v: float) -> bool:
        return v >= self.value if self.op == ">=" else v < self.value

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


# the targets: PF_RING's model does more per packet (a copy, interrupts, ksoftirqd)
SPEED_TARGETS = {"pfring": Target(">=", 25)}
SPEED_TARGET = Target(">=", 50)
STEER_TARGET = Target("<", 0.3)
EXPERIMENT_TARGET = Target("<", 30)
# issue 12: the offload experiment (825 points, beyond the paper) "within a
# few minutes on 2 cores"
EXPERIMENT_TARGETS = {"offload": Target("<", 180),
                      # issue 14: Figures 9 and 11 on the 40/100 GbE NIC models, "within a
                      # few minutes on 2 cores" (measured: 6 s and 19 s with --jobs 2)
                      "fig9_fast": Target("<", 180), "fig11_fast": Target("<", 180)}
XDP_TARGET = Target(">=", 0.9)


@dataclass
class Row:
    group: str
    name: str
    value: float | None
    unit: str
    target: Target | None = None
    detail: str = ""
    skipped: str = ""                        # why it was not measured ("" when it was)
    extra: dict = field(default_factory=dict)  # more numbers, for the JSON only

    @property
    def met(self) -> bool | None:
        if self.value is None or self.target is None:
            return None
        return self.target.met(self.value)

    def as_dict(self) -> dict:
        return {"group": self.group, "name": self.name, "value": self.value, "unit": self.unit,
                "target": None if self.target is None else {"op": self.target.op, "value": self.target.value},
                "met": self.met, "detail": self.detail, "skipped": self.skipped or None, **self.extra}


def skipped(group: str, name: str, unit: str, why: str, target: Target | None = None) -> Row:
    return Row(group, name, None, unit, target, skipped=why)


# ---- which rows ---------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    groups: tuple[str, ...]
    experiments: tuple[str, ...]   # the experiments whose rows are measured


def plan(backend: str = "sim", only: str = "", skip_experiments: bool = False) -> Plan:
    """The rows to measure: --backend's groups, narrowed by --only (groups or
    experiment names), less the experiments with --skip-experiments.
    ValueError names the word that is wrong and what would be right."""
    from experiments import reference

    if backend not in BACKEND_GROUPS:
        raise ValueError(f"--backend {backend!r}: choose sim, xdp or all")
    allowed = BACKEND_GROUPS[backend]
    simulated = reference.simulated()
    groups, experiments = list(allowed), list(simulated)
    words = [w.strip() for w in only.split(",") if w.strip()]
    if words:
        groups, experiments = [], []
        for w in words:
            if w not in GROUPS and w not in simulated:
                raise ValueError(f"--only {w}: choose from {', '.join(GROUPS)} or an experiment "
                                 f"({', '.join(simulated)})")
            group = w if w in GROUPS else "experiments"
            if group not in allowed:
                raise ValueError(f"--only {w}: not a row of --backend {backend}; add --backend "
                                 f"{'xdp' if group == 'xdp' else 'sim'} (or all)")
            groups.append(group)
            experiments += simulated if w == "experiments" else [w] if w in simulated else []
    if skip_experiments:
        experiments = []
    groups = [g for g in GROUPS if g in groups and (g != "experiments" or experiments)]
    if not groups:
        raise ValueError("nothing to measure: --skip-experiments leaves no row of --only " + only)
    return Plan(tuple(groups), tuple(dict.fromkeys(experiments)))


# ---- measuring ----------------------------------------------------------------------

def cores() -> int:
    """What `make run` passes as --jobs ($(nproc): the CPUs this process may use)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def best_of(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    """The shortest of `repeats` timings of fn(), in seconds."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def speed_rows(repeats: int = REPEATS, say: Say = _stderr) -> list[Row]:
    from driver.sim import simulate
    from engine.models import EngineConfig
    from experiments import workloads

    rows = []
    for n in QUEUES:
        say(f"bench: steering {TRACE} into {n} queue(s) (not timed)")
        tr = workloads.steered(TRACE, n)
        packets = len(tr.ts_ns)
        for spec in ENGINES:
            engine = EngineConfig.parse(spec)
            s = best_of(lambda: simulate(engine, tr, x=X), repeats)
            say(f"bench: simulate {spec}, {n} queue(s): {packets / s / 1e6:.1f} M packets/s")
            rows.append(Row("speed", f"simulate {spec}, {n} queue{'s' if n > 1 else ''}", packets / s / 1e6,
                            SPEED_UNIT, SPEED_TARGETS.get(engine.kind, SPEED_TARGET),
                            f"best of {repeats}, {packets:,} packets, x = {X}",
                            extra={"engine": spec, "queues": n, "packets": packets, "seconds": s}))
    return rows


# Run in a fresh interpreter: imports are not timed, the call is (trace load from
# the on-disk cache, RSS, flow ids, the arrays the simulator takes).
_STEER_CHILD = ("import sys, time\nfrom experiments import workloads\n"
                "t0 = time.perf_counter()\nworkloads.steered(sys.argv[1], int(sys.argv[2]))\n"
                "print(time.perf_counter() - t0)\n")


def _steer_once() -> float:
    r = subprocess.run([sys.executable, "-c", _STEER_CHILD, TRACE, str(STEER_QUEUES)], cwd=REPO_ROOT,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"timing workloads.steered in a fresh interpreter failed:\n{r.stderr.strip()}")
    return float(r.stdout.split()[-1])


def steer_row(repeats: int = REPEATS, say: Say = _stderr) -> Row:
    from experiments import workloads

    say(f"bench: warming the trace cache ({TRACE}; generated once if it is cold)")
    workloads.steered(TRACE, STEER_QUEUES)
    times = [_steer_once() for _ in range(repeats)]
    say(f"bench: load + steer {TRACE} into {STEER_QUEUES} queues: {min(times):.3f} s")
    return Row("steer", f"load + steer {TRACE}, {STEER_QUEUES} queues", min(times), "s", STEER_TARGET,
               f"best of {repeats}, fresh interpreter, warm trace cache", extra={"seconds_each": times})


def full_scale(name: str, jobs: int) -> float:
    """Seconds to compute one experiment at its full scale with `jobs`
    processes, as `make run` does (runner.run_experiment), saving nothing."""
    from experiments import executor, registry, runner

    cfg = registry.config(name)
    cfg["backend"] = "sim"
    t0 = time.perf_counter()
    with executor.settings(jobs=jobs):
        runner.call_run(registry.get(name), cfg)
    return time.perf_counter() - t0


def experiment_rows(names, jobs: int | None = None, say: Say = _stderr) -> list[Row]:
    jobs = jobs or cores()
    rows = []
    for name in names:
        say(f"bench: {name} at full scale, jobs = {jobs} ...")
        s = full_scale(name, jobs)
        say(f"bench: {name}: {s:.1f} s")
        rows.append(Row("experiments", f"{name}, full scale", s, "s", EXPERIMENT_TARGETS.get(name, EXPERIMENT_TARGET),
                        f"jobs = {jobs}"))
    if len(rows) > 1:
        rows.append(Row("experiments", "experiments, sum", sum(r.value for r in rows), "s", None,
                        f"{len(rows)} experiments, jobs = {jobs}"))
    return rows


def xdp_rows(say: Say = _stderr) -> list[Row]:
    """The target's ratio (against a bare loop over as much UMEM as WireCAP's
    pool), then the same against xdpsock's cache-sized UMEM: on a veth the
    kernel copies every frame into the UMEM (no zero-copy there), and into
    256 MB that copy misses the cache; the second ratio shows what that
    costs, which no engine over such a pool can win back."""
    from experiments import perf

    ratio_name = "WireCAP / bare AF_XDP, same UMEM size (median pair)"
    say(f"bench: xdp: {perf.XDP_ROUNDS} alternating pairs of {perf.XDP_PACKETS:,}-frame bursts on a veth ...")
    try:
        m = perf.xdp_measure()
    except perf.Unavailable as exc:
        say(f"bench: xdp: skipped: {exc}")
        return [skipped("xdp", ratio_name, "ratio", str(exc), XDP_TARGET)]
    say(f"bench: xdp: median ratio {m['ratio']:.3f}; now against {perf.XDP_SMALL_BASELINE!r} "
        f"({perf.XDP_SMALL_ROUNDS} pairs) ...")
    small = perf.xdp_measure(rounds=perf.XDP_SMALL_ROUNDS, baseline=perf.XDP_SMALL_BASELINE)
    return [
        _ratio_row(ratio_name, m, XDP_TARGET),
        _ratio_row("WireCAP / bare AF_XDP, 1,024-frame UMEM (median pair)", small, None,
                   "the pool's 256 MB against a UMEM that stays in cache; "),
        Row("xdp", "WireCAP on AF_XDP (median)", m["engine_pps"] / 1e6, SPEED_UNIT, None,
            f"{len(m['ratios'])} bursts", extra={"packets_per_s": m["engine_packets_per_s"]}),
        Row("xdp", f"bare AF_XDP, {m['baseline']} (median)", m["bare_pps"] / 1e6, SPEED_UNIT, None,
            f"{len(m['ratios'])} bursts", extra={"packets_per_s": m["bare_packets_per_s"]}),
    ]


def _ratio_row(name: str, m: dict, target: Target | None, why: str = "") -> Row:
    pairs = m["ratios"]
    return Row("xdp", name, m["ratio"], "ratio", target,
               f"{why}{len(pairs)} pairs (A B / B A) of {m['packets']:,} frames; pairs {min(pairs):.2f} .. "
               f"{max(pairs):.2f}",
               extra={"pair_ratios": pairs, "pair_min": min(pairs), "pair_max": max(pairs),
                      "baseline": m["baseline"]})


def measure(p: Plan, say: Say = _stderr) -> list[Row]:
    """Every row of the plan, in GROUPS order."""
    rows: list[Row] = []
    for group in p.groups:
        if group == "speed":
            rows += speed_rows(say=say)
        elif group == "steer":
            rows.append(steer_row(say=say))
        elif group == "experiments":
            rows += experiment_rows(p.experiments, say=say)
        elif group == "xdp":
            rows += xdp_rows(say=say)
    return rows


# ---- tabulating ---------------------------------------------------------------------

def _num(v: float) -> str:
    """Three significant digits, or whole numbers from 100 up (no 1.23e+03)."""
    if abs(v) >= 100:
        return f"{v:,.0f}"
    decimals = 1 if abs(v) >= 10 else 2 if abs(v) >= 1 else 3
    return f"{v:.{decimals}f}"


def _met_text(row: Row) -> str:
    return {True: "yes", False: "NO", None: ""}[row.met]


def summary(rows: list[Row]) -> dict:
    return {"met": sum(r.met is True for r in rows), "missed": sum(r.met is False for r in rows),
            "skipped": sum(bool(r.skipped) for r in rows)}


def format_table(rows: list[Row]) -> str:
    head = ("measurement", "value", "unit", "target", "met", "")
    body = [(r.name, "-" if r.value is None else _num(r.value), r.unit, str(r.target or ""), _met_text(r),
             f"skipped: {r.skipped}" if r.skipped else r.detail) for r in rows]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(5)]
    align = ("<", ">", "<", "<", "<")

    def fmt(line):
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(line, align, widths)) + ("  " + line[5] if line[5] else "")

    s = summary(rows)
    tail = f"targets: {s['met']} met, {s['missed']} missed" + (f"; {s['skipped']} skipped" if s["skipped"] else "")
    return "\n".join([fmt(head).rstrip(), *(fmt(b) for b in body), tail])


def document(rows: list[Row]) -> dict:
    """The table as --json-out saves it."""
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "rows": [r.as_dict() for r in rows], "summary": summary(rows)}
