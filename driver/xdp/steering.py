"""Which receive queue a flow lands on, learned by probing, and flows chosen
to land on a given queue.

On a real 82599 a flow's queue is the Toeplitz hash of its header fields
through a 128-entry redirection table (traces/rss.py models it). On the veth
testbed it is the kernel's flow hash of the frame (net/core/dev.c:
skb_tx_hash, keyed by a random seed drawn at boot), which no user program
can compute. So we ask the kernel: send one probe per flow through the same
qdisc path the generator uses and see where each arrives. The answer holds
until the next reboot.

``probe_queues`` does that for a list of frames; ``FlowPools`` keeps, per
(queue, protocol), flows known to land there, so that a trace whose packets
were assigned to queues by the 82599's RSS can be replayed onto the same
queues of a veth (experiments.live.workload).
"""
from __future__ import annotations

import struct
import time

import numpy as np

from driver.xdp import packets
from driver.xdp._native import native
from driver.xdp.baselines import AfxdpRing
from driver.xdp.generator import Generator
from driver.xdp.xdp_prog import RedirectProgram, redirect_for

PROBE_BATCH = 512          # probes in flight: fewer than a probe ring holds
PROBE_RING = 1024          # frames per queue's probe ring
PROBE_WAIT_S = 2.0         # a probe not seen by then is lost


def _tag(frame: bytes, i: int) -> bytes:
    """The frame with probe number i in its last 4 bytes (payload or padding:
    outside every header the flow hash reads)."""
    return frame[:-4] + struct.pack("!I", i)


def probe_queues(tb, frames: list[bytes], program: RedirectProgram | None = None) -> np.ndarray:
    """The receive queue each frame's flow reaches on tb's capture interface
    (-1 if its probe was lost). The capture interface's queues must be free:
    probing opens one ring per queue."""
    ffi, lib = native()
    n = len(frames)
    out = np.full(n, -1, dtype=np.int16)
    if not n:
        return out
    prog = program or redirect_for(tb, timestamps=False)
    rings = []
    seen = {"n": 0}

    @ffi.callback("void(void *, const struct wc_pkthdr *, const uint8_t *)")
    def got(user, h, data):
        q = int(ffi.cast("intptr_t", user))
        idx = struct.unpack("!I", bytes(ffi.buffer(data + h.caplen - 4, 4)))[0]
        if idx < n:
            out[idx] = q
            seen["n"] += 1

    try:
        for q in range(tb.queues):
            rings.append(AfxdpRing(tb.cap_ns, tb.cap_if, q, ring_size=PROBE_RING, program=prog))
        with Generator(tb) as gen:
            for lo in range(0, n, PROBE_BATCH):
                hi = min(n, lo + PROBE_BATCH)
                batch = [_tag(frames[i], i) for i in range(lo, hi)]
                start = seen["n"]
                gen.send(batch, max_s=10)
                deadline = time.monotonic() + PROBE_WAIT_S
                while seen["n"] - start < hi - lo and time.monotonic() < deadline:
                    for q, r in enumerate(rings):
                        lib.wc_xring__dispatch(r.ptr, 0, got, ffi.cast("void *", q), 1)
    finally:
        for r in rings:
            r.close()
        if program is None:
            prog.close()
    return out


class FlowPools:
    """Flows (as frame templates) known to land on each receive queue,
    ``per_pool`` of them per (queue, protocol)."""

    def __init__(self, tb, per_pool: int = 512, protocols=(packets.IPPROTO_TCP, packets.IPPROTO_UDP),
                 seed: int = 0, max_rounds: int = 20):
        self.tb, self.per_pool = tb, int(per_pool)
        self.pools: dict[tuple[int, int], list[bytes]] = {(q, p): [] for q in range(tb.queues) for p in protocols}
        rng = np.random.default_rng(seed)
        dst_mac, src_mac = tb.mac(tb.cap_if), tb.mac(tb.gen_if)
        self.probes = 0
        for _ in range(max_rounds):
            short = {k: self.per_pool - len(v) for k, v in self.pools.items() if len(v) < self.per_pool}
            if not short:
                break
            cands, keys = [], []
            for (q, proto), missing in short.items():
                # each probe lands on a random queue: ask for enough to fill the pool
                for _ in range(int(missing * tb.queues * 1.3) + 8):
                    cands.append(_candidate(rng, proto, dst_mac, src_mac))
                    keys.append(proto)
            where = probe_queues(tb, cands)
            self.probes += len(cands)
            for frame, proto, q in zip(cands, keys, where):
                pool = self.pools.get((int(q), proto))
                if pool is not None and len(pool) < self.per_pool:
                    pool.append(frame)
        missing = {k: self.per_pool - len(v) for k, v in self.pools.items() if len(v) < self.per_pool}
        if missing:
            raise RuntimeError(f"could not find flows for queues/protocols {missing} (probes lost?)")

    def frame(self, queue: int, proto: int, i: int) -> bytes:
        pool = self.pools[(int(queue), int(proto))]
        return pool[int(i) % len(pool)]


def _candidate(rng, proto: int, dst_mac, src_mac) -> bytes:
    """A flow from the outside net 198.19.0.0/16 to the inside 198.18.0.0/16
    (the Fermilab-like trace's layout, traces/fermilab.py)."""
    src = f"198.19.{rng.integers(0, 256)}.{rng.integers(1, 255)}"
    dst = f"198.18.{rng.integers(0, 256)}.{rng.integers(1, 255)}"
    sport, dport = int(rng.integers(1024, 65536)), int(rng.integers(1, 65536))
    if proto == packets.IPPROTO_TCP:
        return packets.tcp_frame(dst_mac, src_mac, src, dst, sport, dport, packets.MIN_FRAME)
    return packets.udp_frame(dst_mac, src_mac, src, dst, sport, dport, packets.MIN_FRAME)


def flows_for_queue(tb, queue: int, count: int, start: int = 0) -> list[bytes]:
    """``count`` UDP frames (distinct flows of the generator's frame family)
    that land on ``queue``: for tests that load one queue only."""
    with Generator(tb) as gen:
        found, i = [], start
        while len(found) < count:
            cands = [gen.udp(j) for j in range(i, i + max(64, 4 * count * tb.queues))]
            i += len(cands)
            where = probe_queues(tb, cands)
            found += [f for f, q in zip(cands, where) if q == queue]
            if i - start > 100000:
                raise RuntimeError(f"no flows found for queue {queue}")
    return found[:count]

