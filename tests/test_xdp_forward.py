"""Zero-copy forwarding (paper §3.2.2b): a captured frame goes out of NIC2 by
its UMEM address, and the packet receiver behind NIC2 gets every one of
them, byte for byte."""
from __future__ import annotations

import time

from driver.xdp import packets
from driver.xdp.baselines import AfpacketCopy
from driver.xdp.generator import Generator
from engine.live.engine import LiveEngine
from engine.live.work import Work
from xdp_fixtures import XDP_MARKS, drain, make_testbed, testbed  # noqa: F401 (fixtures)

pytestmark = XDP_MARKS


def _sink_collect(sink, want, timeout_s=5.0):
    got = {}

    def keep(ts, data):
        got[packets.seq_of(data)] = data

    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        sink.dispatch(0, keep, timeout_ms=20)
    return got


def test_forwarded_frames_reach_the_sink_byte_identical(make_testbed):
    tb = make_testbed(2, forward=True)
    n = 2000
    # the frames are read after they all came in: the pools hold them all
    with LiveEngine.on_testbed(tb, M=16, R=256, ring_size=1024, timeout_us=100_000) as eng, Generator(tb) as gen, \
            AfpacketCopy(tb.sink_ns, tb.sink_if, slots=4 * n, frame_len=300) as sink:
        eng.forward_to(tb.cap_ns, tb.fwd_if, tb.queues)
        eng.start()
        templates = [gen.udp(i, length=60 + 16 * i) for i in range(16)]   # 60..300 bytes
        gen.send(templates, count=n, seq=True, rate=50_000, max_s=10)
        captured = {}
        for q in range(2):
            h = eng.handle(q)

            def forward(hdr, data, h=h):
                captured[packets.seq_of(data)] = bytes(data)
                h.inject(data)                                   # the frame's own UMEM address

            drain(h, forward)
            assert h.flush(2000) == 0                            # every send completed
        got = _sink_collect(sink, n)
        totals = eng.totals()
    assert sorted(captured) == list(range(n))
    assert got == captured                                       # all of them, byte-identical
    assert totals["forwarded"] == n and totals["tx_completed"] == n and totals["injected"] == 0
    assert totals["tx_dropped"] == 0
    # every chunk went back to its pool once its sends completed
    assert totals["free_chunks"] == 2 * (256 - 1024 // 16)


def test_forwarding_from_the_c_callback_and_inject_of_foreign_bytes(make_testbed):
    tb = make_testbed(1, forward=True)
    with LiveEngine.on_testbed(tb, M=16, R=128, ring_size=1024, timeout_us=100_000) as eng, Generator(tb) as gen, \
            AfpacketCopy(tb.sink_ns, tb.sink_if, slots=4096, frame_len=60) as sink:
        eng.forward_to(tb.cap_ns, tb.fwd_if, 1)
        eng.start()
        w = Work("null", forward=eng)
        gen.send([gen.udp(0)], count=500, seq=True, rate=50_000, max_s=5)
        h = eng.handle(0)
        drain(h, w)
        assert h.flush(2000) == 0
        foreign = gen.udp(3)                                     # not in the UMEM: copied into a TX frame
        assert h.inject(foreign) == len(foreign)
        assert h.flush(2000) == 0
        got = _sink_collect(sink, 500)
        st = eng.stats(0)
    assert sorted(got) == list(range(500))          # the foreign frame's seq field is 0 too: one key
    assert st["forwarded"] == 500 and st["injected"] == 1 and st["tx_completed"] == 501
    assert sink.stats()["delivered"] == 501 if sink.ptr is not None else True
