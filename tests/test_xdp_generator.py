"""The traffic generator: bounded, paced, exact about what it sent; replays
with addresses moved into 198.18.0.0/15; flows steered to chosen queues."""
from __future__ import annotations

import time

import numpy as np
import pytest

from driver.xdp import counters, packets
from driver.xdp.generator import Generator
from driver.xdp.xdp_prog import PassProgram
from xdp_fixtures import XDP_MARKS, make_testbed, testbed  # noqa: F401 (fixtures)

pytestmark = XDP_MARKS


def _arrived(tb, before):
    return (counters.queue_counters(tb.cap_ns, tb.cap_if) - before).total("rx", "arrived")


def test_afpacket_send_counts_exactly_and_never_runs_ahead_of_its_rate(make_testbed):
    tb = make_testbed(2)
    with PassProgram(tb.cap_ns, tb.cap_if), Generator(tb) as gen:
        before = counters.queue_counters(tb.cap_ns, tb.cap_if)
        r = gen.send(gen.flows(16), count=5000, rate=50_000, max_s=10)
        time.sleep(0.05)
        assert r.sent == 5000 and r.stopped_by == "count"
        assert _arrived(tb, before) == 5000
        # an absolute schedule: frame k never leaves before k / rate
        assert r.duration_s >= (5000 - 64) / 50_000
        delta = counters.queue_counters(tb.cap_ns, tb.cap_if) - before
        assert min(v["arrived"] for v in delta.rx.values()) > 0       # flow hashing spreads them


def test_sends_are_bounded_in_time(testbed):
    with PassProgram(testbed.cap_ns, testbed.cap_if), Generator(testbed) as gen:
        r = gen.send([gen.udp(0)], count=10_000_000, rate=20_000, max_s=0.3)
        assert r.stopped_by == "time" and 0 < r.sent < 20_000
        b = gen.burst(gen.udp(0), 50_000_000, max_s=0.2)
        assert b.stopped_by == "time" and b.sent < 50_000_000


def test_live_frame_burst_reports_what_the_veth_took(testbed):
    with PassProgram(testbed.cap_ns, testbed.cap_if), Generator(testbed) as gen:
        before = counters.queue_counters(testbed.cap_ns, testbed.cap_if)
        b = gen.burst(gen.udp(0), 100_000, max_s=30)
        time.sleep(0.05)
        assert b.method == "live-frames" and b.sent + b.refused == 100_000
        assert _arrived(testbed, before) == b.sent
        assert b.rate_pps > 0


def test_burst_needs_an_xdp_program_on_the_receiver(testbed):
    with Generator(testbed) as gen:
        with pytest.raises(RuntimeError, match="vanish"):
            gen.burst(gen.udp(0), 10, max_s=1)


def test_pcap_replay_rewrites_addresses_into_the_benchmark_range(testbed):
    from experiments.live import workload

    from traces.load import real_trace_path

    path = real_trace_path("gnutella")  # a clear error if the capture is missing
    rp = workload.raw(str(path), testbed, speed=8.0, window_s=(100, 116))     # 2 s at 8x
    assert len(rp) > 100
    for f in rp.templates:
        packets.check_frame(f)                                     # every address in 198.18.0.0/15
    assert np.all(np.diff(rp.due_ns.astype(np.int64)) >= 0)
    with PassProgram(testbed.cap_ns, testbed.cap_if), Generator(testbed) as gen:
        before = counters.queue_counters(testbed.cap_ns, testbed.cap_if)
        r = gen.send(rp.templates, count=len(rp), due_ns=rp.due_ns, tpl_idx=rp.tpl_idx,
                     frame_len=rp.frame_len, max_s=30)
        time.sleep(0.05)
        assert r.sent == len(rp) and _arrived(testbed, before) == len(rp)
    # IPv6 and ARP frames are never put on the wire
    early = workload.raw(str(path), testbed, speed=8.0, window_s=(9.5, 17.5))
    assert early.skipped > 0 and len(early) > 0


def test_flows_can_be_steered_to_a_queue(make_testbed):
    from driver.xdp.steering import flows_for_queue, probe_queues

    tb = make_testbed(3)
    for q in range(3):
        fl = flows_for_queue(tb, q, 5)
        assert list(probe_queues(tb, fl)) == [q] * 5
    with Generator(tb) as gen:
        frames = gen.flows(200)
    first, second = probe_queues(tb, frames), probe_queues(tb, frames)
    assert (first == second).all() and set(first.tolist()) == {0, 1, 2}
