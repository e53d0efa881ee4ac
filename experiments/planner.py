"""Capacity planner (beyond the paper): the smallest buffer memory that
captures a trace at or below a target drop rate, per engine and queue count.

    invoke plan --trace fermilab-like -x 300 --nic 82599 --queues 2..6 --engines wirecap-a,dpdk
    plan(PlanSpec(trace="fermilab-like", x=300, queues=(6,), engines=("dpdk",)))

What it searches. Each engine has one memory knob, an index k = 1, 2, ...:

| engine    | configuration at index k              | pool memory (pool_mb)                  |
|-----------|---------------------------------------|----------------------------------------|
| wirecap-b | M given (--M), R = N/M + k            | R x M x 2 KB per queue, x queues       |
| wirecap-a | the same, for each T of --T           | the same                               |
| dpdk      | mbufs = N + k x MBUF_STEP             | mbufs x 2 KB per queue, x queues       |
| dna, netmap, pfring | none: the ring is the buffer | N x 2 KB per queue, x queues (pfring: + its 10,240-slot pf_ring at 2 KB a slot) |

2 KB is one WireCAP cell (WC_CELL_SIZE) and one mbuf's data room
(RTE_MBUF_DEFAULT_DATAROOM); a real mbuf also carries a 128-byte headroom
and a 128-byte struct rte_mbuf, which pool_mb leaves out so that the two
engines compare cell for cell. MBUF_STEP = 256 mbufs is the memory of one
WireCAP chunk at M = 256 (512 KB), so both engines are searched at the
same granularity; k's upper end is what --max-memory-mb allows.

How. Assumption (stated, and checked where cheap): for fixed M and T the
drop rate does not increase with R (nor with mbufs): a larger pool only
adds free buffers. Then the smallest k that meets the target is found as
RFC 2544 §26.1 finds a no-drop rate and FD.io CSIT's MLRsearch refines
one: first the bound itself (if the largest configuration fails, one
simulation says so), then bracket (k = 1, 2, 4, 8, ...: the first that
meets the target and the last that does not), then bisect between them.
That is about 2 log2(K) simulations instead of K. Every simulated point is
kept; if the drop counts of the points simulated for one (engine, queues,
T) are not non-increasing in k, the row says so (monotone = False) and the
answer is then only the bisection's, not necessarily the smallest.
WireCAP-A's T is not assumed monotone: each T of --T is searched, and the
row is the T with the smallest pool (ties: the lowest drop rate, then the
larger T, which offloads less).

Headroom (--headroom): the largest replay speed-up of the trace (speed =
1, 1 + step, 1 + 2 step, ... up to experiments.params.MAX_SPEED; see
experiments/workloads.replay_times_ns) at which SOME configuration within
the bounds meets the target. With the assumption above, that is the
configuration at the memory bound (for WireCAP-A, the best T of --T), so
it is found by the same bracketing and bisection over the speed index,
assuming the drop rate does not decrease as the trace is sped up.

When nothing within the bounds meets the target, the row says so
(found = False, reason names the bound and the drop rate at it); the task
exits 0 unless --strict is given, then 1.

The NIC: `nic_model` is the one place a NIC name becomes a model (and
`_simulate` the one place the search runs the simulator). It accepts only
"82599" (the simulator's NicModel) for now.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import pandas as pd

from driver.sim.nics import NICS as _NIC_MODELS
from engine.models import DEFAULT_M, DpdkCosts, EngineConfig, PfRingCosts
from experiments.params import MAX_SPEED, RING_SIZE

NAME = "plan"
NICS = tuple(_NIC_MODELS)
CELL_BYTES = 2048          # WC_CELL_SIZE; DpdkCosts.mbuf_bytes
MB = 2**20
MBUF_STEP = 256            # mbufs per search step: 512 KB, one WireCAP chunk at M = 256
PLAN_ENGINES = ("wirecap-b", "wirecap-a", "dpdk", "dna", "netmap", "pfring")
KNOBBED = ("wirecap-b", "wirecap-a", "dpdk")  # the others have no buffer size to search
DEFAULT_T = (20, 40, 60, 80)
DEFAULT_MAX_MEMORY_MB = 4096
DEFAULT_SPEED_STEP = 0.25
# the row's columns, in order (--json prints these and more)
COLUMNS = ["engine", "nic", "queues", "M", "R", "T", "mbufs", "pool_mb", "drop_rate", "found", "reason",
           "evaluations", "monotone", "sent", "delivered", "capture_drops", "delivery_drops", "filtered"]


class PlanError(ValueError):
    """Bad planner input; the message names the parameter and its allowed range."""


@dataclass(frozen=True)
class PlanSpec:
    trace: str = "fermilab-like"
    x: int = 300
    nic: str = "82599"
    queues: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    engines: tuple[str, ...] = ("wirecap-b", "wirecap-a", "dpdk")
    max_memory_mb: float = DEFAULT_MAX_MEMORY_MB
    target_drop: float = 0.0
    M: int = DEFAULT_M
    T: tuple[int, ...] = DEFAULT_T
    headroom: bool = False
    speed_step: float = DEFAULT_SPEED_STEP
    packets: int | None = None   # plan on the trace's first packets only (None: all)

    def check(self) -> "PlanSpec":
        """Validated copy; a PlanError names the parameter and the fix."""
        from experiments import params

        try:
            nic_model(self.nic)
        except ValueError as exc:
            raise PlanError(str(exc)) from None
        try:
            params.check_one("trace", self.trace)
            params.check_one("x", self.x)
        except ValueError as exc:
            raise PlanError(f"--{exc.name if hasattr(exc, 'name') else 'trace'}: {exc}") from None
        qs = tuple(int(q) for q in self.queues)
        if not qs or any(not 1 <= q <= 16 for q in qs):
            raise PlanError(f"--queues {','.join(map(str, self.queues))}: RSS spreads over 1..16 queues "
                            "(e.g. --queues 1..6 or --queues 2,4,6)")
        bad = [e for e in self.engines if e not in PLAN_ENGINES]
        if bad or not self.engines:
            raise PlanError(f"--engines {','.join(self.engines)}: choose among {', '.join(PLAN_ENGINES)} "
                            "(the planner sets M, R, T and mbufs itself)")
        if not (isinstance(self.max_memory_mb, (int, float)) and math.isfinite(self.max_memory_mb)
                and 0 < self.max_memory_mb <= 2**20):
            raise PlanError(f"--max-memory-mb {self.max_memory_mb}: a number of MB in (0, 1,048,576]")
        if not (isinstance(self.target_drop, (int, float)) and 0 <= self.target_drop < 1):
            raise PlanError(f"--target-drop {self.target_drop}: a drop-rate fraction in [0, 1) (0: lossless)")
        if self.M < 1 or RING_SIZE % self.M:
            divisors = ", ".join(str(d) for d in range(1, RING_SIZE + 1) if RING_SIZE % d == 0)
            raise PlanError(f"-M {self.M}: M must divide the ring's N = {RING_SIZE}: one of {divisors}")
        Ts = tuple(int(t) for t in self.T)
        if not Ts or any(not 1 <= t <= 100 for t in Ts):
            raise PlanError(f"-T {','.join(map(str, self.T))}: WireCAP-A's thresholds, percent, each in 1..100")
        if not (isinstance(self.speed_step, (int, float)) and 0.001 <= self.speed_step <= MAX_SPEED - 1):
            raise PlanError(f"--speed-step {self.speed_step}: a speed-up step in [0.001, {MAX_SPEED - 1:g}]")
        if self.packets is not None and not 1 <= int(self.packets) <= 2**32 - 1:
            raise PlanError(f"--packets {self.packets}: an integer in 1..4,294,967,295 (or none: the whole trace)")
        return replace(self, queues=qs, T=Ts, engines=tuple(self.engines))


# ---- the simulator behind one function -------------------------------------------------------

def nic_model(nic: str):
    """The simulator's model of the NIC named `nic` (driver/sim/nics.py):
    the one place a NIC name becomes a model (the planner's --nic,
    plan_paper's "nic"); a ValueError names the choices otherwise."""
    from driver.sim import nics

    return nics.nic_model(nic)


def _simulate(trace: str, engine: EngineConfig, nic: str, queues: int, x: int, speed: float = 1.0,
              packets: int | None = None) -> dict:
    """One point: the trace steered into `queues` RSS queues of `nic`,
    replayed `speed` times as fast, through `engine`, pkt_handler at x.
    Returns the overall row (sent, delivered, capture_drops, delivery_drops,
    filtered, drop_rate). It reads the NIC's name through nic_model only."""
    from driver.sim import simulate
    from experiments.workloads import head, replay_times_ns, steered

    model = nic_model(nic)
    # the NIC's RSS spreads the queues through its own redirection table
    workload = steered(trace, queues, model.reta_entries(queues), nic=nic)
    if packets is not None:
        workload = head(workload, int(packets))
    if speed != 1.0:
        # the same times as steered(trace, queues, speed=speed) then head():
        # a replay keeps the first packet's time and divides the gaps from it
        workload = replace(workload, ts_ns=replay_times_ns(workload.ts_ns, float(speed)))
    run = simulate(engine, workload, x=x, nic=model, track_flows=False)
    t = run.total
    return {k: t[k] for k in ("sent", "delivered", "capture_drops", "delivery_drops", "filtered", "drop_rate")}


# ---- the search --------------------------------------------------------------------------------

def smallest_meeting(meets, k_max: int) -> tuple[int | None, dict]:
    """The smallest k in 1..k_max with meets(k), assuming meets is monotone
    (False ... False True ... True): bracket by doubling from 1, then
    bisect. Returns (k or None, {k: result of meets(k)} for every k asked)."""
    seen: dict[int, bool] = {}

    def ask(k):
        if k not in seen:
            seen[k] = bool(meets(k))
        return seen[k]

    if k_max < 1:
        return None, seen
    # the bound first, as RFC 2544 and MLRsearch start at the maximum rate:
    # when even it fails, one simulation says so
    if not ask(k_max):
        return None, seen
    lo, k = 0, 1            # lo: the largest k known to fail (0: none asked)
    while True:
        if ask(k):
            hi = k
            break
        lo = k
        if k == k_max:
            return None, seen
        k = min(2 * k, k_max)
    while hi - lo > 1:      # lo fails (or is 0), hi meets
        mid = (lo + hi) // 2
        if ask(mid):
            hi = mid
        else:
            lo = mid
    return hi, seen


def largest_meeting(meets, i_max: int) -> tuple[int | None, dict]:
    """The largest i in 0..i_max with meets(i), assuming meets is True ...
    True False ... False (None: not even i = 0): from 0, bracket upwards by
    doubling (1, 2, 4, ... up to i_max), then bisect."""
    seen: dict[int, bool] = {}

    def ask(i):
        if i not in seen:
            seen[i] = bool(meets(i))
        return seen[i]

    if i_max < 0 or not ask(0):
        return None, seen
    lo, i = 0, 1            # lo: the largest i known to meet
    while True:
        if i > i_max:
            return lo, seen
        if not ask(i):
            hi = i
            break
        lo = i
        if i == i_max:
            return i, seen
        i = min(2 * i, i_max)
    while hi - lo > 1:      # lo meets, hi fails
        mid = (lo + hi) // 2
        if ask(mid):
            lo = mid
        else:
            hi = mid
    return lo, seen


@dataclass
class Knob:
    """One engine's memory knob at one queue count."""

    engine: str
    queues: int
    M: int | None
    T: int | None
    k_max: int
    cache: dict = field(default_factory=dict)

    def config(self, k: int) -> EngineConfig:
        if self.engine in ("wirecap-b", "wirecap-a"):
            return EngineConfig.make(self.engine, self.M, RING_SIZE // self.M + k, self.T)
        if self.engine == "dpdk":
            return EngineConfig.make("dpdk", mbufs=RING_SIZE + k * MBUF_STEP)
        return EngineConfig.make(self.engine)

    def pool_bytes(self, k: int) -> int:
        e = self.config(k)
        if e.kind == "wirecap":
            per_queue = e.R * e.M * CELL_BYTES
        elif e.kind == "dpdk":
            per_queue = e.mbufs * DpdkCosts.mbuf_bytes
        else:
            per_queue = RING_SIZE * CELL_BYTES + (PfRingCosts.slots * CELL_BYTES if e.kind == "pfring" else 0)
        return per_queue * self.queues


def knob_for(engine: str, queues: int, M: int, T: int | None, max_memory_mb: float) -> Knob:
    """The engine's knob with k_max the largest index within max_memory_mb
    (0: not even the smallest configuration fits; for engines without a
    knob, 1 if the ring fits)."""
    budget = int(max_memory_mb * MB)
    if engine in ("wirecap-b", "wirecap-a"):
        k_max = budget // (M * CELL_BYTES * queues) - RING_SIZE // M
    elif engine == "dpdk":
        k_max = (budget // (DpdkCosts.mbuf_bytes * queues) - RING_SIZE) // MBUF_STEP
    else:
        k_max = 1
    knob = Knob(engine, queues, M if engine.startswith("wirecap") else None,
                T if engine == "wirecap-a" else None, max(0, k_max))
    if engine not in ("wirecap-b", "wirecap-a", "dpdk") and knob.pool_bytes(1) > budget:
        knob.k_max = 0
    return knob


class Planner:
    """Runs the searches for one PlanSpec; `evaluate` is _simulate unless a
    test gives its own. Every simulated point is counted (evaluations) and
    reported to `progress(done, total_estimate, row)`."""

    def __init__(self, spec: PlanSpec, evaluate=None, progress=None):
        self.spec = spec.check()
        self.evaluate = evaluate or _simulate
        self.progress = progress
        self.done = 0
        self.estimate = self._estimate()

    def _estimate(self) -> int:
        n = 0
        for q in self.spec.queues:
            for e in self.spec.engines:
                ts = len(self.spec.T) if e == "wirecap-a" else 1
                k = knob_for(e, q, self.spec.M, None, self.spec.max_memory_mb).k_max
                n += ts * (2 * max(1, math.ceil(math.log2(max(k, 1)))) + 1)
                if self.spec.headroom:
                    n += ts * 2 * math.ceil(math.log2(self._speed_max_index() + 2))
        return n

    def _speed_max_index(self) -> int:
        return int(math.floor((MAX_SPEED - 1.0) / self.spec.speed_step + 1e-9))

    def speed(self, i: int) -> float:
        return round(1.0 + i * self.spec.speed_step, 9)

    def run_point(self, knob: Knob, k: int, speed: float = 1.0) -> dict:
        key = (k, speed)
        if key not in knob.cache:
            s = self.spec
            knob.cache[key] = self.evaluate(s.trace, knob.config(k), s.nic, knob.queues, s.x, speed, s.packets)
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, max(self.estimate, self.done), knob.cache[key])
        return knob.cache[key]

    def meets(self, row: dict) -> bool:
        return row["capture_drops"] + row["delivery_drops"] <= self.spec.target_drop * row["sent"]

    def search(self, knob: Knob) -> dict:
        """The smallest configuration of one knob that meets the target."""
        k, seen = smallest_meeting(lambda k: self.meets(self.run_point(knob, k)), knob.k_max)
        at1 = [(kk, knob.cache[(kk, 1.0)]) for kk in sorted(seen)]
        drops = [r["capture_drops"] + r["delivery_drops"] for _, r in at1]
        monotone = all(a >= b for a, b in zip(drops, drops[1:]))
        if k is None:
            shown = knob.k_max if knob.k_max >= 1 else None
            row = self._row(knob, shown, found=False)
            lim = f"{self.spec.max_memory_mb:g} MB"
            if shown is None:
                row["reason"] = f"even the smallest configuration exceeds --max-memory-mb {lim}"
            elif knob.engine not in KNOBBED:
                row["reason"] = (f"no buffer to size: its ring ({row['pool_mb']:,.1f} MB) drops "
                                 f"{100 * row['drop_rate']:.3f}%")
            else:
                row["reason"] = (f"nothing within --max-memory-mb {lim} meets {100 * self.spec.target_drop:g}%: "
                                 f"the largest ({row['pool_mb']:,.1f} MB) drops {100 * row['drop_rate']:.3f}%")
        else:
            row = self._row(knob, k, found=True)
        row["evaluations"] = len(seen)
        row["monotone"] = monotone
        return row

    def _row(self, knob: Knob, k: int | None, found: bool) -> dict:
        s = self.spec
        row = {"engine": knob.engine, "nic": s.nic, "queues": knob.queues, "M": None, "R": None, "T": None,
               "mbufs": None, "pool_mb": None, "drop_rate": None, "found": found, "reason": "",
               "sent": 0, "delivered": 0, "capture_drops": 0, "delivery_drops": 0, "filtered": 0}
        if k is not None:
            e = knob.config(k)
            row.update({"M": e.M, "R": e.R, "T": e.T, "mbufs": e.mbufs, "engine_label": e.label,
                        "pool_mb": knob.pool_bytes(k) / MB})
            r = knob.cache[(k, 1.0)]
            row.update({c: r[c] for c in ("sent", "delivered", "capture_drops", "delivery_drops", "filtered",
                                          "drop_rate")})
        return row

    def headroom(self, knob: Knob) -> tuple[float | None, int]:
        """The largest speed on the grid at which the knob's largest
        configuration meets the target (None: not even at speed 1)."""
        if knob.k_max < 1:
            return None, 0
        i_max = self._speed_max_index()
        n0 = self.done
        i, _ = largest_meeting(lambda i: self.meets(self.run_point(knob, knob.k_max, self.speed(i))), i_max)
        return (None if i is None else self.speed(i)), self.done - n0

    def plan(self) -> pd.DataFrame:
        s = self.spec
        rows = []
        for q in s.queues:
            for e in s.engines:
                Ts = s.T if e == "wirecap-a" else (None,)
                best, head = None, (None, None)
                evaluations, monotone = 0, True
                for t in Ts:
                    knob = knob_for(e, q, s.M, t, s.max_memory_mb)
                    row = self.search(knob)
                    evaluations += row["evaluations"]
                    monotone = monotone and row["monotone"]
                    if best is None or _better(row, best):
                        best = row
                    if s.headroom:
                        h, n = self.headroom(knob)
                        evaluations += n
                        if h is not None and (head[0] is None or h > head[0]):
                            head = (h, t)
                best["evaluations"], best["monotone"] = evaluations, monotone
                if e == "wirecap-a":
                    best["T_searched"] = ",".join(map(str, s.T))
                if s.headroom:
                    best["headroom_speed"] = head[0]
                    best["headroom_T"] = head[1]
                    best["headroom_pool_mb"] = knob.pool_bytes(knob.k_max) / MB if knob.k_max >= 1 else None
                best.update({"trace": s.trace, "x": s.x, "target_drop": s.target_drop,
                             "max_memory_mb": float(s.max_memory_mb), "packets": s.packets})
                rows.append(best)
        return pd.DataFrame(rows)


def _better(row: dict, best: dict) -> bool:
    """WireCAP-A's T: found first, then the smallest pool, the lowest drop
    rate, the larger T (fewer offloads)."""
    if row["found"] != best["found"]:
        return row["found"]
    if not row["found"]:
        return (row["drop_rate"] or 1.0) < (best["drop_rate"] or 1.0)
    key = (row["pool_mb"], row["drop_rate"], -(row["T"] or 0))
    return key < (best["pool_mb"], best["drop_rate"], -(best["T"] or 0))


def plan(spec: PlanSpec, evaluate=None, progress=None) -> pd.DataFrame:
    return Planner(spec, evaluate, progress).plan()


# ---- input parsing and output ------------------------------------------------------------------

def parse_queues(text: str) -> tuple[int, ...]:
    """'6', '2,4,6' or '1..16' (inclusive)."""
    out = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if ".." in part:
                a, b = part.split("..", 1)
                a, b = int(a), int(b)
                if a > b:
                    raise ValueError
                out += list(range(a, b + 1))
            elif part:
                out.append(int(part))
    except ValueError:
        raise PlanError(f"--queues {text!r}: a count, a list (2,4,6) or a range (1..16) of 1..16 queues") from None
    if not out:
        raise PlanError(f"--queues {text!r}: a count, a list (2,4,6) or a range (1..16) of 1..16 queues")
    return tuple(out)


def table_text(df: pd.DataFrame) -> str:
    """The plan as a fixed-width table; rows without a plan within the
    bounds show the largest configuration tried and its drop rate, and
    their reasons follow the table."""
    heads = df.to_dict("records")
    headroom = any("headroom_speed" in r for r in heads)
    head = (f"{'engine':<10} {'q':>2} {'M':>4} {'R':>6} {'T':>4} {'mbufs':>9} {'pool MB':>10} {'drop %':>8} "
            f"{'plan':>5} {'sims':>5}" + (f" {'headroom':>9}" if headroom else "") + "  monotone")
    lines = [head, "-" * len(head)]
    notes = []

    def n(v, w):
        return f"{'-' if v is None or (isinstance(v, float) and math.isnan(v)) else f'{int(v):,}':>{w}}"

    for r in heads:
        pool = "-" if r["pool_mb"] is None or pd.isna(r["pool_mb"]) else f"{r['pool_mb']:,.1f}"
        drop = "-" if r["drop_rate"] is None or pd.isna(r["drop_rate"]) else f"{100 * r['drop_rate']:.3f}"
        line = (f"{r['engine']:<10} {r['queues']:>2} {n(r['M'], 4)} {n(r['R'], 6)} {n(r['T'], 4)} "
                f"{n(r['mbufs'], 9)} {pool:>10} {drop:>8} {'yes' if r['found'] else 'NONE':>5} "
                f"{r['evaluations']:>5}")
        if headroom:
            hs = r.get("headroom_speed")
            line += f" {'-' if hs is None or pd.isna(hs) else f'x{hs:g}':>9}"
        line += "  " + ("yes" if r["monotone"] else "NO")
        lines.append(line)
        if not r["found"]:
            notes.append(f"{r['engine']} at {r['queues']} queues: {r['reason']}")
    if notes:
        lines += [""] + notes
    if not all(r["monotone"] for r in heads):
        lines.append("monotone NO: drop counts rose with the pool between simulated points; the plan meets the "
                     "target but may not be the smallest that does (experiments/planner.py)")
    if headroom:
        lines.append("headroom: the largest replay speed-up at which the largest configuration within the bounds "
                     "meets the target ('-': none, not even x1)")
    return "\n".join(lines)
