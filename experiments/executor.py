"""Run an experiment's points and gather their rows into one table.

Experiments describe *what* to measure (a list of JSON-able point dicts and
a top-level function that measures one); this module decides *how*:

    in order             jobs = 1
    local processes      jobs = N > 1 (a process pool)
    a Dask cluster       scheduler = "tcp://host:8786"

and *whether*: with a :class:`~experiments.results.PointStore`, points
already saved (by an interrupted run) are read back instead of measured, and
every new point is saved the moment it is done. Rows come back in the
points' order whatever the schedule, and the simulator is deterministic, so
the table is identical either way (tests/test_sweep.py checks it).

The runner sets how to execute once, for a whole experiment, with
:func:`settings`; experiments keep calling ``run_points(points, fn, jobs,
progress)`` without knowing about processes, clusters or resumption. The
command line wins over an experiment's own ``jobs`` default.
"""
from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass

import pandas as pd

from experiments.results import PointStore, point_key

Progress = Callable[[int, int, dict | None], None]
Measure = Callable[[dict], "dict | list[dict]"]

# how long to wait for a Dask scheduler before giving up (seconds)
DASK_CONNECT_TIMEOUT_S = 15


class SchedulerError(RuntimeError):
    """The Dask scheduler at --scheduler could not be reached or used."""


@dataclass(frozen=True)
class Execution:
    jobs: int | None = None          # None: the experiment's own choice
    scheduler: str | None = None     # a Dask scheduler address
    store: PointStore | None = None  # resume journal


_CURRENT: contextvars.ContextVar[Execution] = contextvars.ContextVar("wirecap_execution", default=Execution())


@contextlib.contextmanager
def settings(jobs: int | None = None, scheduler: str | None = None,
             store: PointStore | None = None) -> Iterator[Execution]:
    """How every run_points call inside the block executes."""
    if jobs is not None and jobs < 1:
        raise ValueError(f"--jobs {jobs}: must be at least 1 (1 runs the points in order)")
    token = _CURRENT.set(Execution(jobs, scheduler or None, store))
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)


def current() -> Execution:
    return _CURRENT.get()


def _rows(result) -> list[dict]:
    return result if isinstance(result, list) else [result]


def run_points(points: Iterable[dict], fn: Measure, jobs: int = 1, progress: Progress | None = None,
               *, scheduler: str | None = None, store: PointStore | None = None) -> pd.DataFrame:
    """Measure every point with ``fn`` (a module-level function, so processes
    and Dask workers can import it) and return all rows, in point order.

    progress(done, total, last_row) is called once with last_row=None for the
    points found in the store, then after every point measured.
    """
    ctx = _CURRENT.get()
    jobs = ctx.jobs if ctx.jobs is not None else int(jobs or 1)
    scheduler = scheduler or ctx.scheduler
    store = store if store is not None else ctx.store
    points = list(points)
    total = len(points)
    results: list[list[dict] | None] = [None] * total
    keys = [point_key(fn, p) for p in points] if store is not None else [None] * total
    if store is not None:
        for i, key in enumerate(keys):
            results[i] = store.get(key)
    todo = [i for i in range(total) if results[i] is None]
    done = total - len(todo)
    if progress and done:
        progress(done, total, None)

    def finished(i: int, out) -> None:
        nonlocal done
        rows = _rows(out)
        results[i] = rows
        if store is not None:
            store.put(keys[i], points[i], rows)
        done += 1
        if progress:
            progress(done, total, rows[-1] if rows else {})

    if scheduler:
        _run_dask(scheduler, fn, points, todo, finished)
    elif jobs <= 1 or len(todo) <= 1:
        for i in todo:
            finished(i, fn(points[i]))
    else:
        _run_pool(jobs, fn, points, todo, finished)
    return pd.DataFrame([row for rows in results for row in rows])


def _run_pool(jobs: int, fn: Measure, points: list[dict], todo: list[int], finished) -> None:
    # Results are saved as they complete (not in order), so an interrupted
    # run keeps everything that finished; rows are re-ordered at the end.
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)))
    try:
        pending = {pool.submit(fn, points[i]): i for i in todo}
        while pending:
            ready, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in ready:
                finished(pending.pop(fut), fut.result())
    finally:
        # on error or Ctrl-C: drop what has not started, do not wait for it
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(address: str, fn: Measure, points: list[dict], todo: list[int], finished) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise SchedulerError(f"--scheduler needs dask.distributed ({exc}); run `make setup`") from exc
    try:
        client = Client(address, timeout=DASK_CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SchedulerError(f"--scheduler {address}: no Dask scheduler answered within "
                             f"{DASK_CONNECT_TIMEOUT_S} s ({exc}); start one with `dask scheduler` "
                             f"and workers with `dask worker {address}`") from exc
    try:
        # pure=False: a point is a measurement, never deduplicated or cached by Dask
        futures = client.map(fn, [points[i] for i in todo], pure=False)
        index = {fut.key: i for fut, i in zip(futures, todo)}
        # loop=: as_completed would otherwise look for a default client, and
        # this one is deliberately not the default (set_as_default=False)
        for fut in as_completed(futures, loop=client.loop):
            finished(index[fut.key], fut.result())
    finally:
        client.close()
