"""What table1 and fig11 on the real backend share: the trace replayed into n
queues of a veth testbed, one multi_pkt_handler run per (engine, n, x).

Every point replays the same part of the trace, so it is planned once, before
the first point and before root is asked for: a replay too long is refused
with one line (naming ``--param speed=``, ``--param window_s=`` and
``--param max_gap_s=``, the knobs `invoke run-experiment` has), and a long one is announced with the total."""
from __future__ import annotations

import pandas as pd

from experiments.live import multi_pkt_handler, replay_progress, workload
from experiments.live.common import SIM_ANALOGS, EngineSpec, consumer_cost_ns

# Scaling to a 2-core host (said in every row's "scaling" and in the config):
# replay at half the recorded speed with every consumer at half the paper's
# rate, so each queue's load relative to its consumer is the recorded one.
SPEED = 0.5


def engines_from(cfg_engines) -> list[str]:
    out, seen = [], set()
    for e in cfg_engines:
        name = str(e).split(":")[0]
        spec = SIM_ANALOGS.get(name, str(e))
        label = EngineSpec.parse(spec).label
        if label not in seen:
            seen.add(label)
            out.append(spec)
    return out


def replay_plan(cfg: dict) -> workload.ReplayPlan:
    """The replay every point makes, checked (before anything is built)."""
    p = workload.plan(cfg.get("trace", "fermilab-like"), _speed(cfg), cfg.get("window_s"), cfg.get("max_gap_s"))
    return p.check(slack_s=multi_pkt_handler.DEFAULTS["max_s"], knobs=workload.PARAM_KNOBS)


def _speed(cfg: dict) -> float:
    return float(cfg.get("speed") or SPEED)


def _announce(plan: workload.ReplayPlan, runs: int) -> None:
    total_s = plan.replay_s() * runs
    if total_s > replay_progress.ANNOUNCE_OVER_S:
        replay_progress.say_on_stderr(f"{runs} runs, each replaying {plan.summary()} for about "
                                      f"{workload.human_s(plan.replay_s())}: {workload.human_s(total_s)} of "
                                      f"replay in all, plus set-up and draining")


def run_points(cfg: dict, queues: list[int], xs: list[int], progress=None) -> pd.DataFrame:
    from driver.xdp.prereq import require_all

    plan = replay_plan(cfg)
    require_all()
    rows = []
    engines = engines_from(cfg["engines"])
    total, done = len(xs) * len(queues) * len(engines), 0
    _announce(plan, total)
    for x in xs:
        for n in queues:
            for spec in engines:
                args = {"engine": spec, "trace": cfg.get("trace", "fermilab-like"), "queues": int(n),
                        "x": int(x), "cost_ns": consumer_cost_ns(x),
                        "emulate": cfg.get("emulate", "auto"), "speed": _speed(cfg),
                        "window_s": cfg.get("window_s"), "max_gap_s": cfg.get("max_gap_s"),
                        "seed": int(cfg.get("seed", 0)),
                        "forward": bool(cfg.get("forward", False))}
                out = multi_pkt_handler.run(args, say=None)  # announced above, for all points
                rows += out
                done += 1
                if progress:
                    progress(done, total, out[-1])  # experiments.progress: (done, total, last row)
    df = pd.DataFrame(rows)
    df["queue"] = df["queue"].astype(str)
    return df


def overall(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["queue"].astype(str) == "all"]
