"""The AF_XDP driver: sockets on a shared UMEM, the fill ring as the
descriptor ring, XDP_STATISTICS, and the ring-buffer pool driven by real
frames (partial-chunk timeout, strict recycle validation)."""
from __future__ import annotations

import dataclasses
import struct
import time

import pytest

from driver.xdp import counters, netns, packets
from driver.xdp._native import native
from driver.xdp.generator import Generator
from driver.xdp.xdp_prog import RedirectProgram
from engine.core import ChunkMeta
from xdp_fixtures import XDP_MARKS, drain, make_testbed, testbed  # noqa: F401 (fixtures)

pytestmark = XDP_MARKS
FRAME = 2048


def _seq_frames(gen, n, length=80):
    out = []
    for k in range(n):
        f = bytearray(gen.udp(0, length))
        struct.pack_into("!I", f, packets.SEQ_OFFSET, k)
        out.append(bytes(f))
    return out


class _Sockets:
    """Raw wc_xsk sockets on queues of a testbed, one UMEM."""

    def __init__(self, tb, queues, frames=256, fill=64):
        ffi, lib = native()
        self.ffi, self.lib = ffi, lib
        uo = ffi.new("struct wc_umem_opts *", {"sz": ffi.sizeof("struct wc_umem_opts"), "frames": frames})
        up = ffi.new("struct wc_umem **")
        assert lib.wc_umem__create(up, uo) == 0
        self.umem = up[0]
        self.prog = RedirectProgram(tb.cap_ns, tb.cap_if, tb.queues)
        xo = ffi.new("struct wc_xsk_opts *", {"sz": ffi.sizeof("struct wc_xsk_opts"), "fill_size": fill,
                                              "comp_size": fill, "rx_size": fill, "mode": 1, "need_wakeup": 1})
        ifindex = netns.ifindex(tb.cap_ns, tb.cap_if)
        self.xsk = []
        with netns.entered(tb.cap_ns):
            for q in queues:
                xp = ffi.new("struct wc_xsk **")
                assert lib.wc_xsk__create(xp, self.umem, ifindex, q, xo) == 0
                self.xsk.append(xp[0])
                self.prog.set(q, lib.wc_xsk__fd(xp[0]))

    def rx(self, i, max_n=256):
        d = self.ffi.new("struct wc_desc[]", max_n)
        n = self.lib.wc_xsk__rx_burst(self.xsk[i], d, max_n)
        area = self.lib.wc_umem__area(self.umem)
        return [(int(d[j].addr), bytes(self.ffi.buffer(area + d[j].addr, d[j].len)),
                 bytes(self.ffi.buffer(area + d[j].addr - 16, 16))) for j in range(n)]

    def stats(self, i):
        st = self.ffi.new("struct wc_xsk_stats *")
        assert self.lib.wc_xsk__stats(self.xsk[i], st) == 0
        return st

    def close(self):
        for x in reversed(self.xsk):
            self.lib.wc_xsk__destroy(x)
        assert self.lib.wc_umem__destroy(self.umem) == 0
        self.prog.close()


def test_frames_land_in_fill_ring_order_with_their_stamp(testbed):
    s = _Sockets(testbed, [0])
    try:
        # frames given in a scrambled order: the kernel must use them in that order
        order = [5, 17, 3, 9, 30, 1, 22, 11]
        assert s.lib.wc_xsk__fill(s.xsk[0], s.ffi.new("uint64_t[]", [f * FRAME for f in order]), 8) == 0
        with Generator(testbed) as gen:
            sent = _seq_frames(gen, 8)
            assert gen.send(sent, max_s=5).sent == 8
        time.sleep(0.05)
        got = s.rx(0)
        assert [a // FRAME for a, _, _ in got] == order
        assert [d for _, d, _ in got] == sent                     # byte-identical, in order
        for _, _, meta in got:
            ts, magic, rxq = struct.unpack("<QII", meta)
            assert magic == s.lib.WC_XDP_META_MAGIC and rxq == 0 and ts > 0
    finally:
        s.close()


def test_xdp_statistics_count_an_empty_fill_ring(testbed):
    s = _Sockets(testbed, [0])
    try:
        assert s.lib.wc_xsk__fill_range(s.xsk[0], 0, 8, FRAME) == 0
        before = counters.queue_counters(testbed.cap_ns, testbed.cap_if)
        with Generator(testbed) as gen:
            assert gen.send(_seq_frames(gen, 20), max_s=5).sent == 20
        time.sleep(0.05)
        assert len(s.rx(0)) == 8
        st = s.stats(0)
        assert st.rx_fill_ring_empty_descs == 12 and st.rx_dropped == 12
        delta = counters.queue_counters(testbed.cap_ns, testbed.cap_if) - before
        assert delta.rx[0]["arrived"] == 20 and delta.rx[0]["drops"] == 12
    finally:
        s.close()


def test_shared_umem_sockets_each_get_their_queue(make_testbed):
    from driver.xdp.steering import flows_for_queue

    tb = make_testbed(2)
    f0, f1 = flows_for_queue(tb, 0, 3), flows_for_queue(tb, 1, 3)
    s = _Sockets(tb, [0, 1])
    try:
        s.lib.wc_xsk__fill_range(s.xsk[0], 0, 16, FRAME)
        s.lib.wc_xsk__fill_range(s.xsk[1], 128 * FRAME, 16, FRAME)   # the other half of the one UMEM
        with Generator(tb) as gen:
            gen.send(f0 + f1, max_s=5)
        time.sleep(0.05)
        got0, got1 = s.rx(0), s.rx(1)
        assert [d for _, d, _ in got0] == f0 and [d for _, d, _ in got1] == f1
        assert all(a // FRAME < 128 for a, _, _ in got0) and all(a // FRAME >= 128 for a, _, _ in got1)
    finally:
        s.close()


def test_pool_capture_delivers_every_frame_and_stays_consistent(testbed):
    from engine.live.engine import LiveEngine

    with LiveEngine.on_testbed(testbed, M=16, R=24, ring_size=256) as eng, Generator(testbed) as gen:
        eng.start()
        frames = _seq_frames(gen, 40)
        r = gen.send(frames, count=300, seq=True, rate=50_000, max_s=5)
        got = []
        drain(eng.handle(0), lambda h, d: got.append((h.seq, packets.seq_of(d), len(d))))
        assert r.sent == 300
        assert [g[1] for g in got] == list(range(300))       # every frame, in order
        assert [g[0] for g in got] == list(range(300))       # the ring's own sequence numbers agree
        st = eng.stats(0)
        assert st["rx_packets"] == 300 and st["delivered"] == 300 and st["capture_drops"] == 0
        assert st["rx_misordered"] == 0 and st["driver_errors"] == 0
        eng.check(0)


def test_partial_chunk_is_copied_after_the_timeout(testbed):
    from engine.live.engine import LiveEngine

    with LiveEngine.on_testbed(testbed, M=64, R=8, ring_size=128, timeout_us=2000) as eng, \
            Generator(testbed) as gen:
        eng.start()
        frames = _seq_frames(gen, 10, length=200)
        gen.send(frames, max_s=5)                 # 10 frames: far from a full chunk of 64
        got = []
        drain(eng.handle(0), lambda h, d: got.append(bytes(d)))
        assert got == frames
        st = eng.stats(0)
        assert st["chunks_copied"] >= 1 and st["packets_copied"] == 10 and st["chunks_captured"] == 0
        gen.send(frames, max_s=5)                 # the rest of the segment still works
        got.clear()
        drain(eng.handle(0), lambda h, d: got.append(bytes(d)))
        assert got == frames
        eng.check(0)


def test_recycle_validation_rejects_bad_metadata_and_keeps_the_pool(testbed):
    from engine.live.engine import LiveEngine

    M, R, N = 16, 12, 128
    with LiveEngine.on_testbed(testbed, M=M, R=R, ring_size=N) as eng, Generator(testbed) as gen:
        eng.start()
        base = ChunkMeta(nic_id=0, ring_id=0, chunk_id=0, first_cell=0, pkt_count=M, seq=0, gen=1)
        # chunk 0 is attached to segment 0 after open: recycling it is refused
        eng.recycle_into(0, base)                                              # -EBUSY
        eng.recycle_into(0, dataclasses.replace(base, chunk_id=R + 5))        # -ERANGE
        eng.recycle_into(0, ChunkMeta(3, 0, 1, 0, M, 0, 1))                   # -EXDEV (another NIC)
        gen.send(_seq_frames(gen, M), max_s=5)
        meta = eng.chunk_get(0, timeout_ms=2000)
        assert meta is not None and meta.pkt_count == M
        assert eng.chunk_packets(meta)[3][packets.SEQ_OFFSET:packets.SEQ_OFFSET + 4] == struct.pack("!I", 3)
        forged = dataclasses.replace(meta, gen=meta.gen + 7)
        eng.recycle_into(0, forged)                                           # -EINVAL
        eng.chunk_put(meta)                                                   # accepted
        eng.chunk_put(meta)                                                   # -EALREADY
        with pytest.raises(OSError, match="no queue of this engine owns"):
            eng.chunk_put(ChunkMeta(0, 9, 1, 0, M, 0, 1))
        deadline = time.monotonic() + 5
        while eng.stats(0)["recycle_errors"] < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        st = eng.stats(0)
        assert (st["recycle_ebusy"], st["recycle_erange"], st["recycle_exdev"], st["recycle_einval"],
                st["recycle_ealready"]) == (1, 1, 1, 1, 1)
        assert st["recycle_errors"] == 5 and st["chunks_recycled"] == 1
        eng.check(0)
        # the pool still works: a burst over all R chunks comes through whole
        got = []
        gen.send(_seq_frames(gen, 100), rate=20_000, max_s=5)
        drain(eng.handle(0), lambda h, d: got.append(packets.seq_of(d)))
        assert got == list(range(100))
        eng.check(0)
