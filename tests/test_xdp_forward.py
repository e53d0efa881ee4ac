"""Zero-copy forwarding (paper §3.2.2b): a captured frame goes out of NIC2 by
its UMEM address, and the packet receiver behind NIC2 gets every one of
them, byte for byte."""
from __future__ import annotations

import struct
import time
from collections import Counter

from driver.xdp import packets
from driver.xdp.baselines import AfpacketCopy
from driver.xdp.generator import Generator
from engine.live.engine import LiveEngine
from engine.live.work import Work
from xdp_fixtures import XDP_MARKS, drain, make_testbed, testbed  # noqa: F401 (fixtures)

pytestmark = XDP_MARKS


def _sink_frames(sink, want, timeout_s=5.0, settle_s=0.1):
    """Every frame the sink receives, in arrival order: until `want` came in
    (or timeout_s passed), then for settle_s more, so that a frame too many
    (a duplicate, a stray) is in the list too."""
    frames = []

    def keep(ts, data):
        frames.append(bytes(data))

    deadline = time.monotonic() + timeout_s
    while len(frames) < want and time.monotonic() < deadline:
        sink.dispatch(0, keep, timeout_ms=20)
    settle = time.monotonic() + settle_s
    while time.monotonic() < settle:
        sink.dispatch(0, keep, timeout_ms=10)
    return frames


def _with_seq(template: bytes, seq: int) -> bytes:
    """The frame the generator sends for `template` with seq=True, number seq."""
    return template[:packets.SEQ_OFFSET] + struct.pack("!I", seq) + template[packets.SEQ_OFFSET + 4:]


def _seq_problems(frames, n) -> str:
    """'' when the frames carry seq 0..n-1 once each, else what is wrong."""
    count = Counter(packets.seq_of(f) for f in frames)
    missing = [s for s in range(n) if s not in count]
    twice = sorted(s for s, c in count.items() if c > 1)
    extra = sorted(s for s in count if not 0 <= s < n)
    if not (missing or twice or extra):
        return ""
    return f"missing seq {missing[:10]}, more than once {twice[:10]}, unexpected {extra[:10]}"


def _assert_sink_counted(sink, n):
    """The sink's own counters (read while it is open): the kernel put n
    frames in its ring and dropped none, and n were handed to the test."""
    st = sink.stats()
    assert (st["queued"], st["delivery_drops"], st["delivered"]) == (n, 0, n), (
        f"sink counters {st}: want {n} frames queued by the kernel, 0 dropped, {n} delivered")


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
        frames = _sink_frames(sink, n)
        _assert_sink_counted(sink, len(frames))
        totals = eng.totals()
    got = {packets.seq_of(f): f for f in frames}
    assert sorted(captured) == list(range(n))
    assert len(frames) == n, f"the sink got {len(frames)} frames ({len(got)} distinct), {n} were forwarded"
    assert not _seq_problems(frames, n), f"the sink did not get each forwarded frame once: {_seq_problems(frames, n)}"
    assert got == captured                                       # all of them, byte-identical
    assert totals["forwarded"] == n and totals["tx_completed"] == n and totals["injected"] == 0
    assert totals["tx_dropped"] == 0
    # every chunk went back to its pool once its sends completed
    assert totals["free_chunks"] == 2 * (256 - 1024 // 16)


def test_forwarding_from_the_c_callback_and_inject_of_foreign_bytes(make_testbed):
    tb = make_testbed(1, forward=True)
    n = 500
    with LiveEngine.on_testbed(tb, M=16, R=128, ring_size=1024, timeout_us=100_000) as eng, Generator(tb) as gen, \
            AfpacketCopy(tb.sink_ns, tb.sink_if, slots=4096, frame_len=60) as sink:
        eng.forward_to(tb.cap_ns, tb.fwd_if, 1)
        eng.start()
        w = Work("null", forward=eng)
        template = gen.udp(0)
        gen.send([template], count=n, seq=True, rate=50_000, max_s=5)
        h = eng.handle(0)
        drain(h, w)
        assert h.flush(2000) == 0
        foreign = gen.udp(3)                                     # not in the UMEM: copied into a TX frame
        assert h.inject(foreign) == len(foreign)
        assert h.flush(2000) == 0
        frames = _sink_frames(sink, n + 1)
        # the sink's counters, while it is open (close() frees them)
        _assert_sink_counted(sink, len(frames))
        st = eng.stats(0)
    assert st["forwarded"] == n and st["injected"] == 1 and st["tx_completed"] == n + 1
    assert len(frames) == n + 1, f"the sink got {len(frames)} frames, want {n} forwarded + 1 injected"
    # the foreign frame's seq field is 0 too: tell it apart by its bytes
    assert frames.count(foreign) == 1, "the injected frame did not reach the sink byte for byte, once"
    forwarded = [f for f in frames if f != foreign]
    assert not _seq_problems(forwarded, n), f"the sink did not get each forwarded frame once: " \
                                            f"{_seq_problems(forwarded, n)}"
    bad = [packets.seq_of(f) for f in forwarded if f != _with_seq(template, packets.seq_of(f))]
    assert not bad, f"forwarded frames changed on the way: seq {bad[:10]}"
