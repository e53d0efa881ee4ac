"""CI regression of capture performance.

For every registered experiment that runs on the simulator, its quick
configuration must (a) pass every claim it checks against ACCEPTANCE.md's
tolerances and (b) reproduce results/reference/<experiment>.csv exactly (the
simulator is deterministic). A failure names the experiment, the point and
the expected vs actual drop rate. Then the simulator's speed, as a ratio to a
bare C loop timed in the same run, must not have collapsed, and likewise the
real engine against a bare AF_XDP loop where the xdp backend's benchmark and
AF_XDP are available.

A deliberate change to the model is recorded with
``invoke update-reference --reason "..."``.
"""
import functools

import pytest

from experiments import perf, reference, registry

SIMULATED = reference.simulated()


@functools.lru_cache(maxsize=None)
def quick_run(name: str):
    """Each experiment's quick run, computed once for both checks."""
    return reference.compute(name)


@pytest.mark.parametrize("name", SIMULATED)
def test_claims_hold_at_the_quick_points(name):
    claims = registry.get(name).claims(quick_run(name))
    assert claims, f"{name} checks no claim"
    failed = [f"{name}: {c.key}: {c.text}: ours {c.ours}, paper {c.paper}, tolerance {c.tolerance}"
              + (f" ({c.point})" if c.point else "") for c in claims if not c.passed]
    assert not failed, "claims outside ACCEPTANCE.md's tolerance:\n" + "\n".join(failed)


@pytest.mark.parametrize("name", SIMULATED)
def test_matches_the_reference_exactly(name):
    diffs = reference.check(name, quick_run(name))
    assert not diffs, "the simulator's results changed:\n" + "\n".join(diffs)


def test_the_reference_check_catches_a_broken_simulator(monkeypatch):
    """Halve R inside WireCAP-B (the engine's label still says R) and the
    comparison must name fig9, the point and both drop rates."""
    import driver.sim as sim

    expected = reference.load("fig9")
    if expected is None:
        pytest.fail("results/reference/fig9.csv is missing: run `invoke update-reference --reason ...`")
    real = sim.lib

    class HalvedR:
        """The C core's entry point with WireCAP-B's pool cut to R/2 chunks:
        everything above it (labels, configs, claims) still says R."""

        def __getattr__(self, name):
            return getattr(real, name)

        def sim_run(self, p, *args):
            if p.engine == real.SIM_ENGINE_WIRECAP and not p.wc_advanced:
                p.wc_r //= 2
            return real.sim_run(p, *args)

    monkeypatch.setattr(sim, "lib", HalvedR())
    diffs = reference.compare("fig9", expected, reference.compute("fig9"))
    text = "\n".join(diffs)
    assert "fig9: point engine_label=WireCAP-B-(256,100) M=256 R=100 P=100000 nic_buffer=True: " \
           "drop rate expected 70.0480%, got 82.8480%" in text, text
    assert not any("DNA" in d for d in diffs)  # only what changed is reported


def test_compare_reports_missing_and_new_points():
    import pandas as pd

    ref = reference.normalize(pd.DataFrame([{"engine_label": "DNA", "P": 1000, "drop_rate": 0.0},
                                            {"engine_label": "DNA", "P": 6000, "drop_rate": 0.15}]))
    new = pd.DataFrame([{"engine_label": "DNA", "P": 6000, "drop_rate": 0.15},
                        {"engine_label": "DNA", "P": 10000, "drop_rate": 0.3}])
    diffs = reference.compare("demo", ref, new)
    assert "demo: point engine_label=DNA P=1000: in the reference, missing from this run" in diffs
    assert "demo: point engine_label=DNA P=10000: new in this run, not in the reference" in diffs
    assert reference.compare("demo", ref, ref) == []


def test_every_reference_belongs_to_a_registered_experiment():
    names = {p.stem for p in reference.reference_dir().glob("*.csv")}
    assert names <= set(SIMULATED), f"stale references: {sorted(names - set(SIMULATED))}"
    hist = reference.history()
    assert hist["history"] and all(h["reason"] and h["date"] and h["commit"] for h in hist["history"])


def test_simulator_speed_against_a_bare_loop():
    ref = reference.perf_reference()
    if ref is None:
        pytest.fail("results/reference/perf.json is missing: run `invoke update-reference --reason ...`")
    now = perf.measure()
    slow = perf.regressions(now, ref)
    assert not slow, "the simulator got much slower relative to a bare C loop timed in the same run:\n" + \
        "\n".join(slow)


def test_speed_cases_run_the_event_engine_on_a_trace():
    """Bursts are counted in closed form: a case on one would not show a
    slower event engine. The cases are a fixed slice of the steered trace."""
    from driver.sim import TraceInput

    tr = perf.case_workload()
    assert isinstance(tr, TraceInput) and len(tr.ts_ns) == perf.TRACE_PACKETS
    assert tr.n_queues == perf.TRACE_QUEUES and len(set(tr.queue.tolist())) == perf.TRACE_QUEUES
    assert {"wirecap-b:256:500", "dna", "pfring"} <= set(perf.CASES)
    assert all(perf.TRACE in case for case in map(perf.case_name, perf.CASES))


def test_a_slower_event_engine_fails_the_ratio_check(monkeypatch):
    """The whole path, measure() to regressions(): every simulate() made 20x
    slower (a sleep after the real run) must fail against an honest
    measurement taken just before."""
    import time

    import driver.sim

    honest = perf.measure(repeats=1, cases=("dna",))
    real = driver.sim.simulate

    def slow(*args, **kwargs):
        t0 = time.perf_counter()
        out = real(*args, **kwargs)
        time.sleep(19 * (time.perf_counter() - t0))
        return out

    monkeypatch.setattr(driver.sim, "simulate", slow)
    (msg,) = perf.regressions(perf.measure(repeats=1, cases=("dna",)), honest)
    assert msg.startswith(perf.case_name("dna")) and "slowdown" in msg


def test_regression_check_fails_on_a_large_slowdown_only():
    ref = {"ratios": {"a": 0.1, "b": 0.1}}
    now = {"ratios": {"a": 0.06, "b": 0.04}, "sim_pps": {"a": 6e6, "b": 4e6}, "bare_pps": 1e8}
    (msg,) = perf.regressions(now, ref, factor=2.0)  # 0.06 is within 2x; 0.04 is a 2.5x slowdown
    assert msg.startswith("b: ") and "2.5x slowdown" in msg


# The real-engine check: perf.xdp_measure times WireCAP against a bare AF_XDP
# drop loop over a UMEM of WireCAP's pool size (bench.py "bare-pool"), 11
# interleaved pairs of 1M-frame bursts (22-38 s), and the median pair ratio
# must stay at or above XDP_REGRESSION_SHARE of the reference ratio recorded
# against the same baseline, capped at XDP_EXPECTED (without one: of
# XDP_EXPECTED). Spread of that median on this shared 2-core VM (2026-12-04),
# the whole measurement repeated: 10 runs min 0.890 / median 0.996 / max 1.024
# (single pairs 0.65-1.20; in the 0.890 run WireCAP dropped 20-44% of every
# burst while something else held CPU 1); 4 runs beside two CPU hogs
# 1.019 / 1.040 / 1.068; 3 runs beside a looping test_xdp_engine.py
# 0.945-1.021. So the floor, 0.85, is 4.5% under the worst run and ~15% under
# a typical one, and a 20% loss of WireCAP's packets/s (about 0.80) fails.
# Both loops are bound by the sender on a veth, so a slower capture path shows
# once it eats WireCAP's headroom: a busy-wait in the capture thread of 350
# ns/packet measured 1.10-1.12 (fewer wake-ups), 500 ns 0.87-0.89, 600 ns
# 0.64-0.69.
XDP_REGRESSION_SHARE = 0.85
XDP_EXPECTED = 1.0   # WireCAP against a bare loop over the same memory (0.99-1.02 typical here)


@pytest.mark.xdp
@pytest.mark.slow
def test_real_engine_speed_against_bare_af_xdp():
    """WireCAP on AF_XDP against a bare AF_XDP drop loop on the same veth, in
    the same run (driver/xdp/bench.py): the median of per-pair ratios over
    interleaved repeats must stay at or above XDP_REGRESSION_SHARE of the
    reference ratio (results/reference/perf.json "xdp", if recorded against
    the same bare loop; capped at XDP_EXPECTED)."""
    try:
        m = perf.xdp_measure()
    except perf.Unavailable as exc:
        pytest.skip(f"the real backend cannot run here: {exc}")
    recorded = (reference.perf_reference() or {}).get("xdp") or {}
    if recorded.get("ratio") and recorded.get("baseline") == m["baseline"]:
        ref = min(recorded["ratio"], XDP_EXPECTED)
        basis = f"reference {recorded['ratio']:.3f}" + (" capped at 1" if recorded["ratio"] > XDP_EXPECTED else "")
    else:
        ref = XDP_EXPECTED
        why = ("results/reference/perf.json has none" if not recorded.get("ratio") else
               f"the one in results/reference/perf.json was measured against "
               f"{recorded.get('baseline') or 'the 1,024-frame bare loop'}")
        basis = f"{XDP_EXPECTED:g}, no reference against {m['baseline']}: {why}"
    floor = XDP_REGRESSION_SHARE * ref
    pairs = " ".join(f"{r:.2f}" for r in m["ratios"])
    drops = f"WireCAP drops per burst {m['engine_drops']}, {m['baseline']} {m['bare_drops']}"
    assert m["ratio"] >= floor, (
        f"WireCAP on AF_XDP got slower: median WireCAP / {m['baseline']} ratio {m['ratio']:.3f} < {floor:.3f} "
        f"(= {XDP_REGRESSION_SHARE:g} x {basis}), over {m['rounds']} interleaved pairs of "
        f"{m['packets']:,} frames: pair ratios [{pairs}]; "
        f"median {m['engine_pps']:,.0f} p/s against {m['bare_pps']:,.0f} p/s; {drops}")
