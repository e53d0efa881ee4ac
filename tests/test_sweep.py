"""Sweeps: the grid, and identical tables in order, in processes and on Dask."""
import json

import pandas as pd
import pytest

from experiments import executor, results, runner
from experiments import sweep as sw

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
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = executor.run_points(pts, sw.measure, scheduler=cluster.scheduler_address)
        # and through the front doors: run_sweep and run-experiment save it like any run
        run_dir = sw.run_sweep(GRID, label="dask", scheduler=cluster.scheduler_address, progress=False)
        on_dask = runner.run_experiment("fig9", quick=True, scheduler=cluster.scheduler_address, progress=False)
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
