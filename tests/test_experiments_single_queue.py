"""A run lands on disk with data, config, claims and figure. (Every
experiment's claims at its quick points are checked by
tests/test_regression.py.)"""
import json

import pandas as pd

from experiments import runner


def test_run_experiment_writes_a_complete_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WIRECAP_RESULTS", str(tmp_path))
    run_dir = runner.run_experiment("fig10", quick=True)
    assert run_dir.parent == tmp_path / "fig10"
    assert {p.name for p in run_dir.iterdir()} >= {"data.parquet", "config.json", "claims.json", "fig10.png"}
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["config"]["quick"] is True and cfg["config"]["seed"] == 0
    assert cfg["environment"]["git_commit"]
    df = pd.read_parquet(run_dir / "data.parquet")
    assert (df["sent"] == df["delivered"] + df["capture_drops"] + df["delivery_drops"]).all()
    assert all(c["result"] == "PASS" for c in json.loads((run_dir / "claims.json").read_text()))
