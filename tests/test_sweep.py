"""Sweeps: the grid, and identical tables in order, in processes and on Dask."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments import executor, results, runner
from experiments import sweep as sw

ROOT = Path(__file__).resolve().parents[1]
GRID = sw.grid_from_args("wirecap-b,dna,pfring", M="64,256", R="100,500", x="0,300", P="1e3,6e3,1e5")


def test_grid_parsing():
    assert sw.parse_list("64, 128,256", "M") == [64, 128, 256]
    assert sw.parse_list("1e3,1_000_000", "P") == [1000, 1_000_000]
    assert sw.parse_list("", "M") is None
    with pytest.raises(ValueError, match="--M '6x4'"):
        sw.parse_list("6x4", "M")
    with pytest.raises(ValueError, match="whole number"):
        sw.parse_list("1.5", "x")
    with pytest.raises(ValueError, match="--engine"):
        sw.grid_from_args("")


def test_points_cross_product_without_duplicates():
    pts, skipped = sw.points(GRID)
    wc = [p for p in pts if p["engine"] == "wirecap-b"]
    others = [p for p in pts if p["engine"] != "wirecap-b"]
    assert len(wc) == 2 * 2 * 2 * 3          # M x R x x x P
    assert len(others) == 2 * 2 * 3          # DNA and PF_RING: M and R do not multiply them
    assert all(p["M"] is None and p["R"] is None for p in others) and not skipped
    assert len({json.dumps(p, sort_keys=True) for p in pts}) == len(pts)


def test_invalid_combinations_stop_or_are_skipped():
    grid = sw.grid_from_args("wirecap-b", M="64,256", R="10,100", P="1e3")
    with pytest.raises(ValueError, match=r"--R 10: R must exceed N/M = 16.*--skip-invalid"):
        sw.points(grid)
    pts, skipped = sw.points(sw.grid_from_args("wirecap-b", M="64,256", R="10,100", P="1e3", skip_invalid=True))
    # N/M = 16 for M = 64 (R = 10 invalid), 4 for M = 256 (R = 10 fine)
    assert len(pts) == 3 and len(skipped) == 1 and "M=64 R=10" in skipped[0]
    with pytest.raises(ValueError, match="--trace"):
        sw.points(sw.grid_from_args("dna", trace="nosuchtrace"))
    with pytest.raises(ValueError, match="--queues 0"):
        sw.points(sw.grid_from_args("dna", queues="0"))


def test_a_sweep_point_equals_the_figure_point():
    # the sweep measures single-queue bursts with the paper's pkt_handler
    from experiments.points import sim_pkt_handler

    row = sw.measure({"engine": "wirecap-b", "M": 256, "R": 100, "T": None, "x": 300, "P": 100_000, "queues": 1,
                      "trace": "burst", "size": 64, "nic_buffer": True, "clock_ghz": 2.4})
    ref = sim_pkt_handler({"engine": "wirecap-b:256:100", "x": 300, "P": 100_000})
    assert row["drop_rate"] == ref["drop_rate"] and row["sent"] == ref["sent"] == 100_000
    assert row["worst_queue"] == 0 and row["worst_queue_drop_rate"] == ref["drop_rate"]


def test_multi_queue_burst_accounts_every_packet():
    row = sw.measure({"engine": "dna", "M": None, "R": None, "T": None, "x": 300, "P": 60_000, "queues": 3,
                      "trace": "burst", "size": 64, "nic_buffer": True, "clock_ghz": 2.4})
    assert row["sent"] == 60_000 == row["delivered"] + row["capture_drops"] + row["delivery_drops"]
    assert row["queues"] == 3 and 0 <= row["worst_queue"] < 3


def test_serial_processes_and_dask_give_identical_tables(res):
    from distributed import LocalCluster

    pts, _ = sw.points(GRID)
    serial = executor.run_points(pts, sw.measure, jobs=1)
    local = executor.run_points(pts, sw.measure, jobs=2)
    before = _listening()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        dask = executor.run_points(pts, sw.measure, scheduler=cluster.scheduler_address)
        # and through the front doors: run_sweep and run-experiment save it like any run
        run_dir = sw.run_sweep(GRID, label="dask", scheduler=cluster.scheduler_address, progress=False)
        on_dask = runner.run_experiment("fig9", quick=True, scheduler=cluster.scheduler_address, progress=False)
        # the scheduler, the nannies, the workers and their HTTP servers: loopback only
        opened = _listening() - before
        workers = list(cluster.scheduler_info["workers"])
    assert opened and {ip for _, ip, _ in opened} == {"127.0.0.1"}, opened
    assert len(workers) == 2 and all(a.startswith("tcp://127.0.0.1:") for a in [cluster.scheduler_address, *workers])
    assert len(serial) == len(pts)
    pd.testing.assert_frame_equal(serial, local)
    pd.testing.assert_frame_equal(serial, dask)
    meta, saved = results.load_run(run_dir)
    assert meta["execution"]["scheduler"] == cluster.scheduler_address and meta["config"]["label"] == "dask"
    pd.testing.assert_frame_equal(saved[serial.columns.intersection(saved.columns)].reset_index(drop=True),
                                  sw.order_columns(serial)[serial.columns.intersection(saved.columns)])
    assert (run_dir / "sweep.png").exists()
    fig9 = results.load_run(on_dask)
    assert fig9[0]["execution"]["scheduler"] == cluster.scheduler_address
    pd.testing.assert_frame_equal(fig9[1], results.load_run(runner.run_experiment("fig9", quick=True))[1])


def test_unreachable_scheduler_says_what_to_do(monkeypatch):
    monkeypatch.setattr(executor, "DASK_CONNECT_TIMEOUT_S", 2)
    with pytest.raises(executor.SchedulerError, match="dask scheduler"):
        executor.run_points([{"i": 1}, {"i": 2}], sw.measure, scheduler="tcp://127.0.0.1:1")


def _listening() -> set[tuple[int, str, int]]:
    """(pid, ip, port) of every listening socket of this process and its children."""
    psutil = pytest.importorskip("psutil")
    me = psutil.Process()
    out = set()
    for proc in [me, *me.children(recursive=True)]:
        try:
            conns = proc.net_connections(kind="inet")
        except psutil.Error:  # a child that just ended
            continue
        out |= {(proc.pid, c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN}
    return out


def _sweep_cli(scheduler: str, results_dir, **env):
    """`invoke sweep` with --scheduler in a subprocess: (completed process, wall seconds)."""
    e = {**os.environ, "WIRECAP_PROGRESS": "0", "WIRECAP_RESULTS": str(results_dir), **env}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "invoke", "sweep", "--engine", "dna", "-P", "1e3",
                           "--scheduler", scheduler], cwd=ROOT, capture_output=True, text=True, timeout=120, env=e)
    return proc, time.perf_counter() - t0


def _idle_scheduler():
    """A real scheduler on 127.0.0.1 with no worker (in this process, over TCP)."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=0, processes=False, protocol="tcp://", host="127.0.0.1", dashboard_address=None)


def test_scheduler_addresses_are_checked_before_connecting():
    assert executor.check_scheduler_address("tcp://127.0.0.1:8786") == ("tcp", "127.0.0.1", 8786)
    assert executor.check_scheduler_address("127.0.0.1:8786") == ("tcp", "127.0.0.1", 8786)
    assert executor.check_scheduler_address("tls://dask.example.org:8786") == ("tls", "dask.example.org", 8786)
    assert executor.check_scheduler_address("tcp://[::1]:8786") == ("tcp", "::1", 8786)
    for bad in ("garbage", "tcp://127.0.0.1", "tcp://127.0.0.1:0", "tcp://127.0.0.1:70000", "udp://h:1",
                "tcp://a b:1", ""):
        with pytest.raises(executor.SchedulerError, match="not a Dask scheduler address; expected tcp://HOST:PORT"):
            executor.check_scheduler_address(bad)
    with pytest.raises(executor.SchedulerError, match="not a Dask scheduler address"):
        with executor.settings(scheduler="garbage"):
            pass


def test_timeouts_can_be_set_from_the_environment(monkeypatch):
    assert executor.worker_wait_s() == executor.WORKER_WAIT_S == 60
    assert executor.connect_timeout_s() == executor.DASK_CONNECT_TIMEOUT_S
    monkeypatch.setenv(executor.WORKER_WAIT_ENV, "2.5")
    monkeypatch.setenv(executor.CONNECT_TIMEOUT_ENV, "3")
    assert executor.worker_wait_s() == 2.5 and executor.connect_timeout_s() == 3
    monkeypatch.setenv(executor.WORKER_WAIT_ENV, "soon")
    with pytest.raises(executor.SchedulerError, match="WIRECAP_DASK_WORKER_WAIT_S='soon': expected a number"):
        executor.worker_wait_s()


def test_a_scheduler_without_workers_fails_within_the_wait(monkeypatch):
    monkeypatch.delenv(executor.WORKER_WAIT_ENV, raising=False)
    monkeypatch.setattr(executor, "WORKER_WAIT_S", 2)
    with _idle_scheduler() as cluster:
        address = cluster.scheduler_address
        t0 = time.perf_counter()
        with pytest.raises(executor.SchedulerError) as err:
            executor.run_points([{"i": 1}, {"i": 2}], sw.measure, scheduler=address)
        elapsed = time.perf_counter() - t0
    assert str(err.value) == (f"--scheduler {address}: the scheduler answered but no Dask worker joined within 2 s; "
                              f"start one with `dask worker {address} --host 127.0.0.1`")
    assert 2 <= elapsed < 10


def test_sweep_on_a_scheduler_without_workers_says_so_in_one_line(res):
    with _idle_scheduler() as cluster:
        address = cluster.scheduler_address
        proc, elapsed = _sweep_cli(address, res, WIRECAP_DASK_WORKER_WAIT_S="2")
    assert proc.returncode == 2 and elapsed < 20
    assert proc.stderr.strip() == (f"--scheduler {address}: the scheduler answered but no Dask worker joined "
                                   f"within 2 s; start one with `dask worker {address} --host 127.0.0.1`")
    assert proc.stdout.strip() == (f"waiting up to 2 s for a Dask worker to join {address} "
                                   f"(start one with `dask worker {address} --host 127.0.0.1`)")
    assert not list(res.glob("sweep/*")), "a sweep that never started left a run folder"


@pytest.mark.parametrize("address, message", [
    ("garbage", "--scheduler 'garbage': not a Dask scheduler address; expected tcp://HOST:PORT (or tls://HOST:PORT), "
                "e.g. tcp://127.0.0.1:8786, as `dask scheduler` prints it"),
    ("tcp://127.0.0.1:1", "--scheduler tcp://127.0.0.1:1: no Dask scheduler there (Connection refused); start one "
                          "with `dask scheduler --host 127.0.0.1` and a worker with "
                          "`dask worker tcp://127.0.0.1:1 --host 127.0.0.1`, or fix the address"),
])
def test_a_bad_scheduler_fails_fast_without_a_traceback(res, address, message):
    proc, elapsed = _sweep_cli(address, res)
    assert proc.returncode == 2
    # one line, nothing else: no traceback, no "Exception ignored in Client.__del__" at exit
    assert proc.stderr.strip() == message and proc.stdout.strip() == ""
    assert elapsed < 8, f"took {elapsed:.1f} s"
    # and a malformed address fails before a run folder is made
    if address == "garbage":
        assert not (Path(res) / sw.SWEEP).exists()


def test_something_that_is_not_a_scheduler_fails_within_the_connect_timeout(monkeypatch):
    # a listener that accepts and never answers (an HTTP server, say): distributed
    # alone would wait for its handshake forever
    import socket

    monkeypatch.delenv(executor.CONNECT_TIMEOUT_ENV, raising=False)
    monkeypatch.setattr(executor, "DASK_CONNECT_TIMEOUT_S", 1)
    with socket.create_server(("127.0.0.1", 0)) as server:
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        t0 = time.perf_counter()
        with pytest.raises(executor.SchedulerError) as err:
            executor.run_points([{"i": 1}, {"i": 2}], sw.measure, scheduler=address)
        elapsed = time.perf_counter() - t0
    assert str(err.value).startswith(f"--scheduler {address}: what listens there did not answer as a Dask "
                                     f"scheduler within 1 s; start one with `dask scheduler --host 127.0.0.1`")
    assert elapsed < 5


def test_a_tls_scheduler_needs_tls_credentials():
    import dask

    none = {"distributed.comm.tls.ca-file": None, "distributed.comm.tls.client.cert": None,
            "distributed.comm.tls.client.key": None}
    with dask.config.set(none), pytest.raises(executor.SchedulerError) as err:
        executor.run_points([{"i": 1}, {"i": 2}], sw.measure, scheduler="tls://127.0.0.1:1")
    assert str(err.value) == (
        "--scheduler tls://127.0.0.1:1: no TLS credentials configured; set DASK_DISTRIBUTED__COMM__TLS__CA_FILE, "
        "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT, DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY to the CA file, "
        "certificate and key given to `dask scheduler` and `dask worker` (--tls-ca-file, --tls-cert, --tls-key)")


def test_interrupted_sweep_resumes(res, monkeypatch):
    grid = sw.grid_from_args("wirecap-b,dna", M="64,256", R="200", x="300", P="1e3,1e5")
    fresh = results.load_run(sw.run_sweep(grid, progress=False))[1]
    calls = []
    real = sw.measure

    def flaky(point):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(point)
        return real(point)

    # the same identity as measure, so its journal entries are measure's
    flaky.__module__, flaky.__qualname__ = real.__module__, real.__qualname__
    monkeypatch.setattr(sw, "measure", flaky)
    with pytest.raises(KeyboardInterrupt):
        sw.run_sweep(grid, progress=False)
    monkeypatch.setattr(sw, "measure", real)
    (unfinished,) = results.incomplete_runs(sw.SWEEP)
    assert len(results.PointStore(unfinished)) == 3
    run_dir = sw.run_sweep(grid, progress=False)
    meta, df = results.load_run(run_dir)
    assert run_dir == unfinished and meta["execution"]["resumed_points"] == 3
    pd.testing.assert_frame_equal(df, fresh)
