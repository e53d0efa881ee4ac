"""What table1 and fig11 on the real backend share: the trace replayed into n
queues of a veth testbed, one multi_pkt_handler run per (engine, n, x)."""
from __future__ import annotations

import pandas as pd

from experiments.live import multi_pkt_handler
from experiments.live.common import SIM_ANALOGS, EngineSpec

PAPER_COST_NS = 25744   # paper §2.2: x = 300 is 38,844 p/s on the paper's core
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


def run_points(cfg: dict, queues: list[int], xs: list[int], progress=None) -> pd.DataFrame:
    rows = []
    engines = engines_from(cfg["engines"])
    total, done = len(xs) * len(queues) * len(engines), 0
    for x in xs:
        for n in queues:
            for spec in engines:
                args = {"engine": spec, "trace": cfg.get("trace", "fermilab-like"), "queues": int(n),
                        "x": int(x), "cost_ns": PAPER_COST_NS * x / 300 if x else None,
                        "emulate": cfg.get("emulate", "auto"), "speed": float(cfg.get("speed") or SPEED),
                        "window_s": cfg.get("window_s"), "seed": int(cfg.get("seed", 0)),
                        "forward": bool(cfg.get("forward", False))}
                out = multi_pkt_handler.run(args)
                rows += out
                done += 1
                if progress:
                    progress(done, total, out[-1])  # experiments.progress: (done, total, last row)
    df = pd.DataFrame(rows)
    df["queue"] = df["queue"].astype(str)
    return df


def overall(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["queue"].astype(str) == "all"]
