"""Capture throughput on one veth, in one run (DESIGN.md §7; issue 5):
a bare AF_XDP drop loop, WireCAP basic mode with a null callback (goal: at
least 90% of the bare loop), the ring-only and copy baselines, libpcap and
the tcpdump binary. Skipped in normal runs (--benchmark-skip); run with

    invoke xdp-bench                  (or: pytest --benchmark-only this file)

(`invoke bench --backend xdp` reports WireCAP / bare AF_XDP over
alternating pairs.)

Each benchmark's extra_info has packets_per_s, offered_pps and drops;
test_wirecap_vs_bare adds the ratio. Numbers from different runs (or
hosts) are not comparable: on veth the sender's CPU does the receive work.
"""
from __future__ import annotations

import pytest

from xdp_fixtures import XDP_MARKS

pytestmark = XDP_MARKS
PACKETS = 1_000_000
_results: dict[str, dict] = {}


@pytest.fixture(scope="module")
def bench_testbed():
    from driver.xdp.testbed import Testbed

    with Testbed(queues=1) as tb:
        yield tb


@pytest.mark.parametrize("engine", ["bare", "wirecap", "afxdp-ring", "afpacket", "libpcap", "tcpdump"])
def test_capture_throughput(benchmark, bench_testbed, engine):
    from driver.xdp import bench

    res = benchmark.pedantic(bench.measure, args=(bench_testbed, engine, PACKETS), rounds=1, iterations=1)
    if "skipped" in res:
        pytest.skip(res["skipped"])
    _results[engine] = res
    benchmark.extra_info.update({k: res[k] for k in ("packets_per_s", "offered_pps", "delivered", "drops")})
    assert res["delivered"] + (res["drops"] or 0) <= res["sent"]


def test_wirecap_vs_bare(benchmark):
    if not {"bare", "wirecap"} <= set(_results):
        pytest.skip("needs the bare and wirecap measurements of this run")
    ratio = _results["wirecap"]["packets_per_s"] / _results["bare"]["packets_per_s"]
    benchmark.extra_info.update({"wirecap_over_bare": ratio, "goal": 0.9,
                                 "packets_per_s": _results["wirecap"]["packets_per_s"]})
    benchmark.pedantic(lambda: ratio, rounds=1, iterations=1)
