"""Figures 8-10 at the quick points: every ACCEPTANCE.md claim holds, and a
run lands on disk with data, config, claims and figure."""
import json

import pandas as pd
import pytest

from experiments import registry, runner


@pytest.mark.parametrize("name", ["fig8", "fig9", "fig10"])
def test_claims_hold_at_quick_points(name):
    mod = registry.get(name)
    df = mod.run(registry.config(name, quick=True))
    claims = mod.claims(df)
    assert claims, "every figure checks at least one claim"
    failed = [f"{c.key}: ours {c.ours}, paper {c.paper}, tolerance {c.tolerance} ({c.point})"
              for c in claims if not c.passed]
    assert not failed, failed


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
