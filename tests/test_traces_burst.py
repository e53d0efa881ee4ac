"""Line-rate bursts (Figures 8-10) and the Trace container itself."""
import numpy as np
import pytest

from traces import Trace, burst, in_benchmark_range, linerate_pps
from traces.trace import KEY_DTYPE


def test_linerate_formula():
    # DESIGN.md §3: 1e10 / (8 * (S + 20)); 64 B: 14,880,952 p/s, 100 B: 10,416,667 p/s
    assert round(linerate_pps(64)) == 14_880_952
    assert round(linerate_pps(100)) == 10_416_667
    assert round(linerate_pps(64, 40e9)) == 4 * 14_880_952 + 2
    assert round(linerate_pps(1518, 100e9)) == 8_127_438
    with pytest.raises(ValueError):
        linerate_pps(0)


@pytest.mark.parametrize("size,link", [(64, 10e9), (100, 10e9), (1518, 40e9), (64, 100e9)])
def test_burst_is_back_to_back_at_line_rate(size, link):
    b = burst(100_000, size=size, link_bps=link)
    period = 1e9 / linerate_pps(size, link)
    assert len(b) == 100_000
    assert (b.wire_len == size - 4).all()                    # pcap lengths leave the FCS out
    assert b.ts_ns[-1] == round(99_999 * period)
    gaps = np.diff(b.ts_ns)
    assert gaps.min() >= np.floor(period) and gaps.max() <= np.ceil(period)
    assert b.duration_s * linerate_pps(size, link) == pytest.approx(99_999, rel=1e-6)


def test_burst_flows_and_queues():
    b = burst(1_000, n_queues=6, flows=7, pin_queue=2)
    assert (b.rss_queues(6) == 2).all() and b.n_flows() == 7
    assert b.flow_ids()[:14].tolist() == list(range(7)) * 2     # packet i belongs to flow i mod flows
    assert in_benchmark_range(b)
    assert (b.proto == 17).all() and (b.dport == 9).all()
    dst = b.keys["dst"][:, :4]
    assert (dst == [198, 18, 2, 1]).all()                     # inside "net 198.18.2.0/24 and udp"
    one = burst(10)
    assert one.n_flows() == 1 and (one.rss_queues(1) == 0).all()


@pytest.mark.parametrize("kwargs,problem", [
    ({"P": 0}, "P must be >= 1"),
    ({"P": 10, "size": 63}, "size must be 64..9018"),
    ({"P": 10, "n_queues": 17}, "n_queues must be 1..16"),
    ({"P": 10, "n_queues": 4, "pin_queue": 4}, "pin_queue must be in 0..3"),
    ({"P": 10, "flows": 0}, "flows must be >= 1"),
    ({"P": 10, "n_queues": 2, "flows": 40_000, "pin_queue": 0}, "hash to queue 0"),
])
def test_burst_rejects_bad_arguments(kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        burst(**kwargs)


def test_trace_validates_its_columns():
    keys = np.zeros(1, KEY_DTYPE)
    ok = dict(ts_ns=np.zeros(2, np.int64), wire_len=np.zeros(2, np.uint32), cap_len=np.zeros(2, np.uint32),
              key_idx=np.zeros(2, np.int32), keys=keys)
    assert len(Trace(**ok)) == 2
    with pytest.raises(ValueError, match="Trace.wire_len: expected 1-d uint32"):
        Trace(**{**ok, "wire_len": np.zeros(2, np.int64)})
    with pytest.raises(ValueError, match="key_idx points outside"):
        Trace(**{**ok, "key_idx": np.array([0, 1], np.int32)})


def test_select_and_time_order():
    b = burst(100, n_queues=2, flows=2, pin_queue=None)
    half = b.select(b.rss_queues(2) == 1)
    assert len(half) == 50 and half.ts_ns[0] == b.ts_ns[1]    # the clock keeps its origin
    rev = b.select(np.arange(99, -1, -1))
    assert not rev.is_time_ordered
    back = rev.time_ordered()
    assert back.is_time_ordered and (back.ts_ns == b.ts_ns).all()
