"""Run an experiment's points and gather their rows into one table.

Experiments describe *what* to measure (a list of JSON-able point dicts and
a top-level function that measures one); this module decides *how*: in
order, or in parallel processes (the simulator is deterministic, so the
table is the same either way, in the points' order).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor

import pandas as pd

Progress = Callable[[int, int, dict], None]


def _rows(result) -> list[dict]:
    return result if isinstance(result, list) else [result]


def run_points(points: Iterable[dict], fn: Callable[[dict], dict | list[dict]], jobs: int = 1,
               progress: Progress | None = None) -> pd.DataFrame:
    points = list(points)
    rows: list[dict] = []
    if jobs <= 1 or len(points) <= 1:
        for i, pt in enumerate(points):
            out = _rows(fn(pt))
            rows += out
            if progress:
                progress(i + 1, len(points), out[-1])
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for i, out in enumerate(pool.map(fn, points)):
                out = _rows(out)
                rows += out
                if progress:
                    progress(i + 1, len(points), out[-1])
    return pd.DataFrame(rows)
