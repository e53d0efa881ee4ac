"""Traffic for the real backend's tools: line-rate bursts and trace replays
planned for a veth testbed.

A replay is a frame schedule for driver.xdp.generator.Generator.send:
templates, the template and length of each packet, and when it is due.

``steered``: a trace (e.g. "fermilab-like") whose packets keep the receive
    queue the 82599 would give them (traces' Toeplitz RSS over n queues) and
    their times and lengths. The veth hashes flows with a boot-random key
    instead, so every flow of the trace is replaced by a flow of the same
    protocol known (by probing, driver/xdp/steering.py) to land on that
    queue; trace flows share substitutes when there are more trace flows than
    ``per_pool`` substitutes per (queue, protocol), which coarsens flow
    counts (flows_split) but not the per-queue load. Non-IP packets are
    skipped (counted).
``raw``: a capture file's own frames, addresses rewritten into
    198.18.0.0/15 (traces.rewrite_addresses), spread by the kernel's flow
    hash; IPv6 and non-IP frames are skipped (every address on the wire must
    be in 198.18.0.0/15).

``speed`` scales time: 0.5 replays a 32 s trace in 64 s. A run scaled this
way scales its consumers' processing rate by the same factor
(experiments/live/common.py), so the load on every queue relative to its
consumer stays what the paper had, while the host does half the work per
second.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from driver.xdp import packets

MAX_SPEED = 16.0


@dataclass
class Replay:
    name: str
    templates: list[bytes]
    tpl_idx: np.ndarray
    frame_len: np.ndarray
    due_ns: np.ndarray
    target_queue: np.ndarray          # queue each packet was meant for (-1: not steered)
    skipped: int = 0
    speed: float = 1.0
    window_s: tuple | None = None
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.due_ns)

    @property
    def duration_s(self) -> float:
        return float(self.due_ns[-1]) / 1e9 if len(self.due_ns) else 0.0


def _check_speed(speed: float) -> float:
    if not 0 < speed <= MAX_SPEED:
        raise ValueError(f"speed={speed}: replay speed factors are in (0, {MAX_SPEED}]")
    return float(speed)


def _window(ts_ns: np.ndarray, window_s) -> np.ndarray:
    if window_s is None:
        return np.ones(len(ts_ns), dtype=bool)
    lo, hi = window_s
    if not 0 <= lo < hi:
        raise ValueError(f"window_s={window_s}: expected (start, end) seconds with 0 <= start < end")
    t = (ts_ns - ts_ns.min()) / 1e9 if len(ts_ns) else ts_ns
    return (t >= lo) & (t < hi)


def steered(spec: str, tb, n_queues: int | None = None, speed: float = 1.0, window_s=None,
            per_pool: int = 512, seed: int = 0, pools=None) -> Replay:
    """Replay the trace ``spec`` keeping its 82599 RSS queues on tb's queues."""
    from driver.xdp.steering import FlowPools
    from traces import load_trace, rss

    speed = _check_speed(speed)
    n = tb.queues if n_queues is None else int(n_queues)
    if n > tb.queues:
        raise ValueError(f"n_queues={n}: the testbed has {tb.queues} queues")
    tr = load_trace(spec)
    keep = _window(tr.ts_ns, window_s)
    proto = tr.keys["proto"]
    ok_key = (tr.keys["l3"] == 4) & np.isin(proto, (packets.IPPROTO_TCP, packets.IPPROTO_UDP))
    keep &= ok_key[tr.key_idx]
    idx = np.flatnonzero(keep)
    skipped = int(_window(tr.ts_ns, window_s).sum() - len(idx))
    # the 82599's queue of every flow (Toeplitz RSS, UDP on addresses only)
    kq = np.asarray(rss.key_queues(tr.keys, n), dtype=np.int16)
    pools = pools or FlowPools(tb, per_pool=per_pool, seed=seed)
    # one template per (queue, proto, slot): slot = a stable hash of the key index
    used = np.unique(tr.key_idx[idx])
    slot = (used.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) >> np.uint64(40)) % np.uint64(pools.per_pool)
    templates, tpl_of = [], {}
    key_tpl = np.zeros(len(tr.keys), dtype=np.uint32)
    for k, s in zip(used, slot):
        ident = (int(kq[k]), int(proto[k]), int(s))
        t = tpl_of.get(ident)
        if t is None:
            t = tpl_of[ident] = len(templates)
            templates.append(pools.frame(*ident))
        key_tpl[k] = t
    ts = tr.ts_ns[idx]
    due = ((ts - ts[0]) / speed).astype(np.uint64) if len(ts) else np.zeros(0, np.uint64)
    flen = np.clip(tr.wire_len[idx], packets.MIN_FRAME, packets.MAX_FRAME).astype(np.uint16)
    return Replay(name=str(spec), templates=templates, tpl_idx=key_tpl[tr.key_idx[idx]], frame_len=flen,
                  due_ns=due, target_queue=kq[tr.key_idx[idx]], skipped=skipped, speed=speed,
                  window_s=tuple(window_s) if window_s else None,
                  meta={"substitute_flows": len(templates), "trace_flows": int(len(used)),
                        "steering_probes": pools.probes, "queues": n})


def raw(spec: str, tb, speed: float = 1.0, window_s=None) -> Replay:
    """Replay a capture file's own frames (addresses rewritten into 198.18.0.0/15)."""
    from traces import load_trace, rewrite_addresses

    speed = _check_speed(speed)
    tr = rewrite_addresses(load_trace(spec, raw=True))
    if tr.raw is None:
        raise ValueError(f"{spec}: a raw replay needs a capture file with packet bytes")
    keep = _window(tr.ts_ns, window_s)
    dst, src = packets.mac_bytes(tb.mac(tb.cap_if)), packets.mac_bytes(tb.mac(tb.gen_if))
    templates, due, skipped = [], [], 0
    data = tr.raw.data
    t0 = None
    for i in np.flatnonzero(keep):
        off, cap = int(tr.raw.offsets[i]), int(tr.cap_len[i])
        frame = bytes(data[off:off + cap])
        if tr.raw.linktypes[i] != 1 or cap < packets.ETH_HLEN + packets.IPV4_HLEN:
            skipped += 1
            continue
        frame = dst + src + frame[12:]
        try:
            packets.check_frame(frame)
        except packets.NetworkDisciplineError:
            skipped += 1      # IPv6, ARP, VLAN-tagged: not sent (DESIGN.md §5)
            continue
        length = min(max(int(tr.wire_len[i]), packets.MIN_FRAME), packets.MAX_FRAME)
        frame = frame[:length]
        templates.append(frame)
        t0 = int(tr.ts_ns[i]) if t0 is None else t0
        due.append((int(tr.ts_ns[i]) - t0) / speed)
    n = len(templates)
    return Replay(name=str(spec), templates=templates, tpl_idx=np.arange(n, dtype=np.uint32),
                  frame_len=np.array([len(f) for f in templates], dtype=np.uint16),
                  due_ns=np.asarray(due, dtype=np.uint64), target_queue=np.full(n, -1, np.int16),
                  skipped=skipped, speed=speed, window_s=tuple(window_s) if window_s else None,
                  meta={"digest": hashlib.sha1(b"".join(templates[:1000])).hexdigest()[:12]})
