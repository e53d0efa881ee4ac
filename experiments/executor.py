"""Run an experiment's points and gather their rows into one table.

Experiments describe *what* to measure (a list of JSON-able point dicts and
a top-level function that measures one); this module decides *how*:

    in order             jobs = 1
    local processes      jobs = N > 1 (a process pool)
    a Dask cluster       scheduler = "tcp://host:8786" (or "tls://host:8786")

and *whether*: with a :class:`~experiments.results.PointStore`, points
already saved (by an interrupted run) are read back instead of measured, and
every new point is saved the moment it is done. Rows come back in the
points' order whatever the schedule, and the simulator is deterministic, so
the table is identical either way (tests/test_sweep.py checks it).

On Dask it fails fast, with one line that says what to do: an address that
is not ``tcp://HOST:PORT`` / ``tls://HOST:PORT`` is refused before anything
connects, a scheduler that does not answer within DASK_CONNECT_TIMEOUT_S
(nothing listening: at once) is reported, and so is one that has no worker
after WORKER_WAIT_S; the Dask client is closed on every path. ``tls://``
addresses use distributed's own TLS configuration (``--tls-*`` options of
``dask scheduler``/``dask worker``; ``DASK_DISTRIBUTED__COMM__TLS__CA_FILE``,
``..._TLS__CLIENT__CERT`` and ``..._TLS__CLIENT__KEY`` here).

The runner sets how to execute once, for a whole experiment, with
:func:`settings`; experiments keep calling ``run_points(points, fn, jobs,
progress)`` without knowing about processes, clusters or resumption. The
command line wins over an experiment's own ``jobs`` default.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import re
import socket
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass

import pandas as pd

from experiments.results import PointStore, point_key

Progress = Callable[[int, int, dict | None], None]
Measure = Callable[[dict], "dict | list[dict]"]

# how long to wait for a Dask scheduler to answer before giving up (seconds;
# the environment variable overrides it, e.g. in tests)
DASK_CONNECT_TIMEOUT_S = 10
CONNECT_TIMEOUT_ENV = "WIRECAP_DASK_CONNECT_TIMEOUT_S"
# how long to wait for the first worker to join the scheduler (seconds)
WORKER_WAIT_S = 60
WORKER_WAIT_ENV = "WIRECAP_DASK_WORKER_WAIT_S"
# closing the client: never the 30 s of distributed's default
CLOSE_TIMEOUT_S = 5
SCHEMES = ("tcp", "tls")
_ADDRESS = re.compile(r"^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?"
                      r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})/?$")


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
    if scheduler:
        check_scheduler_address(scheduler)
    token = _CURRENT.set(Execution(jobs, scheduler or None, store))
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)


def current() -> Execution:
    return _CURRENT.get()


def _seconds(env: str, default: float) -> float:
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SchedulerError(f"{env}={raw!r}: expected a number of seconds, e.g. {env}=30") from None
    if value <= 0:
        raise SchedulerError(f"{env}={raw!r}: must be more than 0 seconds")
    return value


def connect_timeout_s() -> float:
    """DASK_CONNECT_TIMEOUT_S, or $WIRECAP_DASK_CONNECT_TIMEOUT_S."""
    return _seconds(CONNECT_TIMEOUT_ENV, DASK_CONNECT_TIMEOUT_S)


def worker_wait_s() -> float:
    """WORKER_WAIT_S, or $WIRECAP_DASK_WORKER_WAIT_S."""
    return _seconds(WORKER_WAIT_ENV, WORKER_WAIT_S)


def _fmt(seconds: float) -> str:
    return f"{seconds:g} s"


def check_scheduler_address(address: str) -> tuple[str, str, int]:
    """'tcp://127.0.0.1:8786' -> ('tcp', '127.0.0.1', 8786); raise SchedulerError
    (one line, before anything connects) for anything else. No scheme means tcp."""
    m = _ADDRESS.match(str(address).strip())
    scheme = (m.group("scheme") or "tcp").lower() if m else None
    port = int(m.group("port")) if m else 0
    if not m or scheme not in SCHEMES or not 0 < port < 65536:
        raise SchedulerError(f"--scheduler {address!r}: not a Dask scheduler address; expected tcp://HOST:PORT "
                             f"(or tls://HOST:PORT), e.g. tcp://127.0.0.1:8786, as `dask scheduler` prints it")
    return scheme, m.group("host").strip("[]"), port


def _rows(result) -> list[dict]:
    return result if isinstance(result, list) else [result]


def run_points(points: Iterable[dict], fn: Measure, jobs: int = 1, progress: Progress | None = None,
               *, scheduler: str | None = None, store: PointStore | None = None,
               cost: Callable[[dict], float] | None = None) -> pd.DataFrame:
    """Measure every point with ``fn`` (a module-level function, so processes
    and Dask workers can import it) and return all rows, in point order.

    progress(done, total, last_row) is called once with last_row=None for the
    points found in the store, then after every point measured.

    cost(point), if given, estimates a point's relative run time: processes
    and Dask workers then start the costliest first (longest processing time
    first), so that no long point starts last while the other workers idle
    (in order, one at a time, the order changes nothing). It orders the work
    only; the rows and their order are the same.
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

    if scheduler and todo:
        _run_dask(scheduler, fn, points, costliest_first(todo, points, cost), finished)
    elif jobs <= 1 or len(todo) <= 1:
        for i in todo:
            finished(i, fn(points[i]))
    else:
        _run_pool(jobs, fn, points, costliest_first(todo, points, cost), finished)
    return pd.DataFrame([row for rows in results for row in rows])


def costliest_first(todo: list[int], points: list[dict], cost: Callable[[dict], float] | None) -> list[int]:
    """The indexes in `todo` in the order to start them on parallel workers:
    by decreasing cost(point), ties (and no cost at all) in point order."""
    if cost is None:
        return todo
    return sorted(todo, key=lambda i: -cost(points[i]))


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


def _no_scheduler(address: str, why: str) -> SchedulerError:
    return SchedulerError(f"--scheduler {address}: {why}; start one with `dask scheduler --host 127.0.0.1` and "
                          f"a worker with `dask worker {address} --host 127.0.0.1`, or fix the address")


def _why(exc: BaseException) -> str:
    """An exception as a short phrase for a one-line message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text if len(text) <= 100 else text[:97] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _close(client) -> None:
    """Close a Dask client, however far it got, quickly and quietly: nothing
    left for Client.__del__ to retry (and report) at interpreter exit."""
    with contextlib.suppress(Exception):
        client.close(timeout=CLOSE_TIMEOUT_S)
    with contextlib.suppress(Exception):
        if getattr(client, "status", "closed") != "closed":
            client.status = "closed"          # __del__ would wait on it again
            client._loop_runner.stop()


TLS_ENV = ("DASK_DISTRIBUTED__COMM__TLS__CA_FILE", "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT",
           "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY")


def _need_tls_credentials(address: str) -> None:
    """A tls:// scheduler needs a CA and a client certificate from the dask config."""
    from distributed.security import Security

    try:
        ctx = Security().get_connection_args("client").get("ssl_context")
    except Exception as exc:  # noqa: BLE001 - unreadable files, a key that does not match
        raise SchedulerError(f"--scheduler {address}: the TLS configuration does not load ({_why(exc)}); "
                             f"check the files named by {', '.join(TLS_ENV)}") from None
    if ctx is None:
        raise SchedulerError(f"--scheduler {address}: no TLS credentials configured; set {', '.join(TLS_ENV)} "
                             f"to the CA file, certificate and key given to `dask scheduler` and `dask worker` "
                             f"(--tls-ca-file, --tls-cert, --tls-key)")


def _handshake(address: str, timeout: float) -> None:
    """Open and close one Dask comm to ``address`` (TLS from the dask config),
    within ``timeout`` seconds all told; in a thread of its own, so it works
    where an event loop is already running (a notebook)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from distributed.comm import connect as comm_connect
    from distributed.security import Security

    async def probe() -> None:
        args = Security().get_connection_args("client")
        comm = await asyncio.wait_for(comm_connect(address, timeout=timeout, **args), timeout)
        await comm.close()

    with ThreadPoolExecutor(1, thread_name_prefix="wirecap-dask-probe") as pool:
        pool.submit(asyncio.run, probe()).result()


def connect(address: str, connect_timeout: float | None = None, worker_timeout: float | None = None):
    """A Dask client of the scheduler at ``address`` with at least one worker,
    or SchedulerError saying what to do. The caller closes it (``_close``)."""
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise SchedulerError(f"--scheduler needs dask.distributed ({exc}); run `make setup`") from exc
    address = str(address).strip()
    scheme, host, port = check_scheduler_address(address)
    if scheme == "tls":
        _need_tls_credentials(address)
    connect_timeout = connect_timeout_s() if connect_timeout is None else connect_timeout
    worker_timeout = worker_wait_s() if worker_timeout is None else worker_timeout
    # is anything listening? A refused connection or an unknown host fails
    # here at once; distributed itself would keep retrying until its timeout
    try:
        socket.create_connection((host, port), timeout=connect_timeout).close()
    except TimeoutError:
        raise _no_scheduler(address, f"no Dask scheduler answered within {_fmt(connect_timeout)}") from None
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        raise _no_scheduler(address, f"no Dask scheduler there ({why})") from None
    # does it speak Dask? distributed waits for the handshake's reply without
    # a timeout, forever if what listens is (say) an HTTP server
    try:
        _handshake(address, connect_timeout)
    except TimeoutError:
        raise _no_scheduler(address, f"what listens there did not answer as a Dask scheduler within "
                                     f"{_fmt(connect_timeout)}") from None
    except Exception as exc:  # noqa: BLE001 - something listens there, but it does not speak Dask
        raise _no_scheduler(address, f"what listens there is not a Dask scheduler ({_why(exc)})") from None
    client = Client.__new__(Client)   # so it can be closed even if __init__ fails
    try:
        try:
            client.__init__(address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise _no_scheduler(address, f"no Dask scheduler answered within {_fmt(connect_timeout)} "
                                         f"({_why(exc)})") from None
        except Exception as exc:  # noqa: BLE001 - something listens there, but it does not speak Dask
            raise _no_scheduler(address, f"what listens there is not a Dask scheduler ({_why(exc)})") from None
        if not client.scheduler_info().get("workers"):
            print(f"waiting up to {_fmt(worker_timeout)} for a Dask worker to join {address} "
                  f"(start one with `dask worker {address} --host 127.0.0.1`)", flush=True)
        try:
            client.wait_for_workers(n_workers=1, timeout=worker_timeout)
        except (TimeoutError, OSError):
            raise SchedulerError(f"--scheduler {address}: the scheduler answered but no Dask worker joined "
                                 f"within {_fmt(worker_timeout)}; start one with "
                                 f"`dask worker {address} --host 127.0.0.1`") from None
    except BaseException:
        _close(client)
        raise
    return client


def _run_dask(address: str, fn: Measure, points: list[dict], todo: list[int], finished) -> None:
    from distributed import as_completed

    client = connect(address)
    try:
        # pure=False: a point is a measurement, never deduplicated or cached by Dask
        futures = client.map(fn, [points[i] for i in todo], pure=False)
        index = {fut.key: i for fut, i in zip(futures, todo)}
        # loop=: as_completed would otherwise look for a default client, and
        # this one is deliberately not the default (set_as_default=False)
        for fut in as_completed(futures, loop=client.loop):
            finished(index[fut.key], fut.result())
    finally:
        _close(client)
