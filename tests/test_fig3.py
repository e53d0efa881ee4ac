"""Experiment fig3: Figure 3's statistics from the Fermilab-like trace, data and figure saved."""
import json

import pytest

from experiments import fig3, registry, runner


@pytest.fixture(scope="module")
def df():
    return fig3.run(dict(fig3.DEFAULT_CONFIG))


def test_registered():
    assert registry.get("fig3") is fig3
    assert fig3.ACCOUNTING is False


def test_claims_pass(df):
    claims = fig3.claims(df)
    assert {c.key for c in claims} == {"fig3.packets", "fig3.duration", "fig3.q0_sustained", "fig3.q3_rate",
                                       "fig3.q3_burst", "fig3.q0_over_q3"}
    failed = [(c.key, c.ours, c.tolerance) for c in claims if not c.passed]
    assert failed == []


def test_rows_and_summary(df):
    assert set(df["trace"]) == {"fermilab-like", "gnutella", "1kxun", "synscan"}
    for trace, d in df.groupby("trace"):
        assert d["packets"].sum() == d["trace_packets"].iloc[0]
    s = fig3.summary(df)
    f = s[s["trace"] == "fermilab-like"].set_index("queue")
    assert f["packets"].sum() == 5_000_000
    assert f.loc[0, "mean_pps"] > 3 * f.loc[3, "mean_pps"]
    assert fig3.window_rate(df, "fermilab-like", 0, (10, 32)) > 70_000


def test_burst_claim_needs_10_ms_bins():
    coarse = fig3.run(dict(fig3.DEFAULT_CONFIG, bin_ms=100.0, real_traces=[]))
    keys = {c.key for c in fig3.claims(coarse)}
    assert "fig3.q3_burst" not in keys and "fig3.q3_rate" in keys


def test_claims_can_fail(df):
    # scale queue 3 down: its rate and burst claims must fail
    bad = df.copy()
    sel = (bad["trace"] == "fermilab-like") & (bad["queue"] == 3)
    bad.loc[sel, "packets"] = bad.loc[sel, "packets"] // 2
    result = {c.key: c.passed for c in fig3.claims(bad)}
    assert not result["fig3.q3_rate"] and not result["fig3.q3_burst"] and result["fig3.q0_sustained"]


def test_run_experiment_saves_data_and_figure(tmp_path, monkeypatch):
    monkeypatch.setenv("WIRECAP_RESULTS", str(tmp_path))
    run_dir = runner.run_experiment("fig3", quick=True, progress=False)
    for name in ("data.parquet", "config.json", "claims.json", "fig3.png"):
        assert (run_dir / name).stat().st_size > 0
    claims = json.loads((run_dir / "claims.json").read_text())
    assert all(c["result"] == "PASS" for c in claims)
    assert (run_dir / "fig3.png").read_bytes()[:4] == b"\x89PNG"
