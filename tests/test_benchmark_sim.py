"""Simulator speed: simulated packets per wall-clock second (DESIGN.md §7).

Run with `invoke bench` (or `pytest tests/test_benchmark_sim.py
--benchmark-only`). Target: 20 million simulated packets/s for a
single-queue WireCAP-B run of 10 million packets on one core.
"""
import time

import pytest

from driver.sim import Burst, simulate
from engine.models import EngineConfig

PACKETS = 10_000_000


@pytest.mark.parametrize("spec,x", [("wirecap-b:256:500", 0), ("wirecap-b:256:500", 300),
                                    ("dna", 0), ("dna", 300), ("pfring", 0), ("pfring", 300)])
def test_sim_packets_per_second(benchmark, spec, x):
    engine = EngineConfig.parse(spec)
    run = benchmark.pedantic(simulate, args=(engine, Burst(PACKETS)), kwargs={"x": x},
                             rounds=3, iterations=1)
    assert run.total["sent"] == PACKETS
    benchmark.extra_info["simulated_packets"] = PACKETS
    benchmark.extra_info["packets_per_s"] = PACKETS / benchmark.stats.stats.min


def test_fig8_to_10_full_scale(benchmark):
    from experiments import registry

    def all_three():
        for name in ("fig8", "fig9", "fig10"):
            registry.get(name).run(registry.config(name))

    t0 = time.perf_counter()
    benchmark.pedantic(all_three, rounds=1, iterations=1)
    benchmark.extra_info["seconds"] = time.perf_counter() - t0


def test_table1_fig11_to_14_full_scale(benchmark):
    """Target (issue 4): the whole multi-queue reproduction at full scale in
    under 5 minutes on this 2-core machine (both cores used)."""
    import os

    from experiments import registry

    jobs = os.cpu_count() or 1

    def all_multiqueue():
        for name in ("table1", "fig11", "fig12", "fig13", "fig14"):
            cfg = registry.config(name)
            cfg["jobs"] = jobs
            registry.get(name).run(cfg)

    t0 = time.perf_counter()
    benchmark.pedantic(all_multiqueue, rounds=1, iterations=1)
    benchmark.extra_info["seconds"] = time.perf_counter() - t0
    benchmark.extra_info["jobs"] = jobs
