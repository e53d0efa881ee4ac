"""Results that do not get lost: run folders, atomic writes, resume, cleaning."""
import json
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from experiments import executor, registry, results, runner


def square(point):
    """A module-level measure function (processes and Dask can import it)."""
    return {"i": point["i"], "sent": 10, "delivered": 10, "capture_drops": 0, "delivery_drops": 0,
            "value": point["i"] ** 2 / 3}


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "a.json"
    results.write_json(path, {"x": 1})

    def boom(tmp):
        open(tmp, "w").write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        results._atomic_write(path, boom)
    assert json.loads(path.read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary left behind
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)     # readable like any other result


def test_run_lifecycle_only_complete_runs_count(res):
    cfg = {"a": 1, "seed": 7}
    run_dir = results.start_run("demo", cfg)
    meta = json.loads((run_dir / "config.json").read_text())
    assert meta["status"] == "running" and meta["config"] == cfg and meta["environment"]["git_commit"]
    assert results.run_dirs("demo") == [] and results.latest_run("demo") is None
    assert results.incomplete_runs("demo") == [run_dir]
    df = pd.DataFrame([square({"i": 1})])
    results.save_run("demo", cfg, df, run_dir=run_dir)
    meta = json.loads((run_dir / "config.json").read_text())
    assert meta["status"] == "complete" and meta["rows"] == 1 and meta["config"]["seed"] == 7
    assert results.latest_run("demo") == run_dir and results.incomplete_runs("demo") == []


def test_two_runs_in_one_second_never_overwrite(res):
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    a, b = results.new_run_dir("demo", when), results.new_run_dir("demo", when)
    assert a != b and b.name.endswith(".2")
    assert results.run_started(a) == when


def test_accounting_is_enforced(res):
    bad = pd.DataFrame([{"sent": 10, "delivered": 5, "capture_drops": 1, "delivery_drops": 0}])
    with pytest.raises(results.AccountingError, match="break sent"):
        results.save_run("demo", {}, bad)


def test_parallel_workers_start_the_costliest_points_first_and_rows_keep_point_order(res):
    points = [{"i": i} for i in range(6)]
    cost = {0: 1.0, 1: 5.0, 2: 5.0, 3: 0.0, 4: 9.0, 5: 2.0}
    order = executor.costliest_first([0, 1, 2, 3, 4, 5], points, lambda p: cost[p["i"]])
    assert order == [4, 1, 2, 5, 0, 3]               # ties in point order
    assert executor.costliest_first([3, 1], points, None) == [3, 1]
    serial = executor.run_points(points, square)
    parallel = executor.run_points(points, square, jobs=2, cost=lambda p: cost[p["i"]])
    pd.testing.assert_frame_equal(parallel, serial)


def test_interrupted_points_resume_to_the_identical_table(res):
    points = [{"i": i} for i in range(12)]
    full = executor.run_points(points, square)
    run_dir = results.start_run("demo", {"n": 12})
    store = results.PointStore(run_dir)
    seen = []

    def stop_after_five(done, total, row):
        seen.append(done)
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        executor.run_points(points, square, progress=stop_after_five, store=store)
    assert len(store) == 5
    progress = []
    resumed = executor.run_points(points, square, store=store,
                                  progress=lambda d, t, r: progress.append((d, t, r is None)))
    pd.testing.assert_frame_equal(resumed, full)
    assert progress[0] == (5, 12, True)                      # five points read back, not measured
    assert [p for p in progress if not p[2]] == [(d, 12, False) for d in range(6, 13)]
    # the journal keys points by function *and* point: another function measures everything
    calls = []

    def counting(point):
        calls.append(point["i"])
        return square(point)

    executor.run_points(points, counting, store=store)
    assert calls == list(range(12))


def test_runner_resumes_an_interrupted_experiment(res, monkeypatch):
    fresh = results.load_run(runner.run_experiment("fig10", quick=True))[1]
    from experiments import progress as progress_mod

    class Interrupting(progress_mod.ProgressBar):
        def __call__(self, done, total, row):
            super().__call__(done, total, row)
            if row is not None and done == 6:
                raise KeyboardInterrupt

    monkeypatch.setattr(runner, "ProgressBar", Interrupting)
    with pytest.raises(KeyboardInterrupt):
        runner.run_experiment("fig10", quick=True)
    (unfinished,) = results.incomplete_runs("fig10")
    assert len(results.PointStore(unfinished)) == 6
    monkeypatch.setattr(runner, "ProgressBar", progress_mod.ProgressBar)
    run_dir = runner.run_experiment("fig10", quick=True, jobs=2)
    assert run_dir == unfinished                      # the same folder, now complete
    meta, df = results.load_run(run_dir)
    assert meta["execution"]["resumed_points"] == 6
    assert not (run_dir / "points").exists()           # the journal goes once data.parquet holds every row
    pd.testing.assert_frame_equal(df, fresh)


def test_only_an_identical_configuration_resumes(res):
    cfg = {**registry.config("fig10", quick=True), "backend": "sim"}
    unfinished = results.start_run("fig10", cfg)
    assert results.find_resumable("fig10", cfg) == unfinished
    assert results.find_resumable("fig10", {**cfg, "x": 0}) is None
    assert runner.run_experiment("fig10", quick=True, overrides={"x": 0}) != unfinished
    assert runner.run_experiment("fig10", quick=True, resume=False) != unfinished
    assert results.incomplete_runs("fig10") == [unfinished]


def test_jobs_give_the_same_table(res):
    a = results.load_run(runner.run_experiment("fig9", quick=True, jobs=1))[1]
    b = results.load_run(runner.run_experiment("fig9", quick=True, jobs=2))[1]
    pd.testing.assert_frame_equal(a, b)


def test_plot_only_redraws_without_computing(res):
    run_dir = runner.run_experiment("fig10", quick=True)
    (run_dir / "fig10.png").unlink()
    before = (run_dir / "data.parquet").stat().st_mtime_ns
    assert runner.run_experiment("fig10", plot_only=True) == run_dir
    assert (run_dir / "fig10.png").exists() and (run_dir / "data.parquet").stat().st_mtime_ns == before


def test_plot_only_without_a_run_says_what_to_do(res):
    with pytest.raises(ValueError, match="invoke run-experiment --name fig10"):
        runner.run_experiment("fig10", plot_only=True)


def test_clean_results_by_age(res):
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    old1 = results.new_run_dir("demo", now - timedelta(days=40))
    old2 = results.new_run_dir("demo", now - timedelta(days=35))
    new = results.new_run_dir("demo", now - timedelta(days=1))
    for d in (old1, old2):
        results.save_run("demo", {}, pd.DataFrame([square({"i": 0})]), run_dir=d)
    unfinished_old = results.new_run_dir("other", now - timedelta(days=90))
    ref = res / "reference"
    ref.mkdir()
    (ref / "fig9.csv").write_text("x\n")
    foreign = res / "demo" / "my-notes"
    foreign.mkdir()
    assert results.clean_results(timedelta(days=30), dry_run=True, now=now) == sorted([old1, unfinished_old])
    assert old1.exists()
    removed = results.clean_results(timedelta(days=30), now=now)
    # old2 is the newest complete run of demo: kept so the report can be rebuilt
    assert sorted(removed) == sorted([old1, unfinished_old])
    assert old2.exists() and new.exists() and foreign.exists() and (ref / "fig9.csv").exists()
    assert results.clean_results(timedelta(days=30), keep_latest=False, now=now) == [old2]


@pytest.mark.parametrize("text,expected", [("30d", timedelta(days=30)), ("12h", timedelta(hours=12)),
                                           ("2w", timedelta(weeks=2)), ("90m", timedelta(minutes=90)),
                                           ("1.5d", timedelta(hours=36))])
def test_parse_age(text, expected):
    assert results.parse_age(text) == expected


def test_parse_age_names_the_option():
    with pytest.raises(ValueError, match="--older-than '30 days'"):
        results.parse_age("30 days")


def test_progress_bar_shows_points_rate_and_eta(monkeypatch):
    import io

    from experiments.progress import ProgressBar, enabled

    out = io.StringIO()
    with ProgressBar("fig9", stream=out, show=True) as bar:
        bar(3, 10, None)   # resumed points
        bar(4, 10, {"sent": 1_000_000, "backend": "sim"})
        bar(5, 10, {"sent": 1_000_000, "backend": "sim"})
    text = out.getvalue()
    assert "fig9" in text and "5/10" in text and "sim pkt/s" in text and "<" in text  # tqdm's ETA
    assert bar.packets_per_s() > 0
    monkeypatch.delenv("WIRECAP_PROGRESS", raising=False)
    assert enabled(io.StringIO()) is False  # not a terminal: quiet
    quiet = io.StringIO()
    with ProgressBar("x", stream=quiet) as bar:
        bar(1, 2, {"sent": 5})
    assert quiet.getvalue() == ""
    monkeypatch.setenv("WIRECAP_PROGRESS", "1")
    assert enabled(io.StringIO()) is True


def test_deployed_copy_reads_its_commit(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "REPO_ROOT", tmp_path)  # no .git here
    assert results.git_sha() == "nogit"
    (tmp_path / ".wirecap-commit").write_text("abc1234\n")
    assert results.git_sha() == "deployed-abc1234"


def test_mixed_number_and_text_columns_round_trip(tmp_path):
    # multi-queue tables: one row per queue and a totals row whose queue is "all"
    df = pd.DataFrame({"queue": [0, 1, "all"], "drop_rate": [0.5, 0.25, 1 / 3], "T": [None, 60, None]})
    results.write_parquet(tmp_path / "d.parquet", df)
    back = results.read_parquet(tmp_path / "d.parquet")
    pd.testing.assert_frame_equal(back, df)
    assert list(back["queue"]) == [0, 1, "all"]
