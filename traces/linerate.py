"""Line-rate bursts: the workload of Figures 8-10.

"P packets of size S back to back at wire speed" (paper §4): a burst of P
frames of S bytes (S counts the 4-byte FCS, as RFC 2544 frame sizes do;
``wire_len`` = S - 4 as pcap records it), one every 8 * (S + 20) bits on
the link (preamble + SFD 8 bytes, inter-frame gap 12 bytes; IEEE 802.3).

The flows are UDP with addresses in 198.18.0.0/15: senders 198.19.x.y,
receiver 198.18.2.1 (inside the paper's filter net, "net 198.18.2.0/24 and
udp"). ``pin_queue`` picks sender addresses whose RSS hash sends every flow
to that queue (the paper's single-queue experiments); ``pin_queue=None``
spreads the flows over the queues round-robin (flow i to queue i mod n).
"""
from __future__ import annotations

import numpy as np

from traces import rss
from traces.trace import KEY_DTYPE, Trace

FCS_LEN = 4                  # IEEE 802.3 frame check sequence
WIRE_OVERHEAD = 20           # preamble + SFD (8) + minimum inter-frame gap (12), IEEE 802.3
MIN_FRAME = 64               # IEEE 802.3 minimum frame (with FCS)
MAX_FRAME = 9018             # common jumbo frame limit (with FCS)
LINK_10GBE = 10e9
BURST_DST = (198, 18, 2, 1)  # inside the paper's filter net 198.18.2.0/24 (paper §2.2, rewritten)
BURST_SRC_NET = (198, 19)
BURST_SPORT, BURST_DPORT = 1024, 9  # RFC 863 discard port
SENDERS = 65535              # 198.19.0.1 .. 198.19.255.255


def linerate_pps(size_bytes: float, link_bps: float = LINK_10GBE) -> float:
    """Frames per second at line rate: link_bps / (8 * (S + 20)); 64 B on 10 GbE: 14,880,952."""
    if size_bytes <= 0 or link_bps <= 0:
        raise ValueError("size_bytes and link_bps must be > 0")
    return float(link_bps) / (8.0 * (float(size_bytes) + WIRE_OVERHEAD))


def _candidate_keys(start: int, count: int) -> np.ndarray:
    """UDP keys from sender 198.19.0.0 + start + i to BURST_DST."""
    idx = np.arange(start, start + count, dtype=np.int64)
    k = np.zeros(count, KEY_DTYPE)
    k["l3"] = 4
    k["proto"] = rss.IPPROTO_UDP
    k["ethertype"] = 0x0800
    k["sport"] = BURST_SPORT
    k["dport"] = BURST_DPORT
    k["src"][:, 0], k["src"][:, 1] = BURST_SRC_NET
    k["src"][:, 2] = (idx >> 8) & 0xFF
    k["src"][:, 3] = idx & 0xFF
    k["dst"][:, :4] = BURST_DST
    return k


def flow_keys(flows: int, n_queues: int = 1, pin_queue: int | None = 0, key: bytes = rss.DEFAULT_RSS_KEY,
              udp_ports: bool = False) -> np.ndarray:
    """`flows` UDP flow keys steered as asked (deterministic)."""
    if flows < 1:
        raise ValueError(f"flows must be >= 1, got {flows}")
    if pin_queue is not None and not 0 <= pin_queue < n_queues:
        raise ValueError(f"pin_queue must be in 0..{n_queues - 1} or None, got {pin_queue}")
    want = (np.full(flows, pin_queue) if pin_queue is not None else np.arange(flows) % n_queues)
    cand = _candidate_keys(1, SENDERS)
    q = rss.key_queues(cand, n_queues, key, udp_ports)
    chosen = np.zeros(flows, KEY_DTYPE)
    for queue in np.unique(want):
        slots = np.flatnonzero(want == queue)
        pool = np.flatnonzero(q == queue)
        if len(pool) < len(slots):
            raise ValueError(f"only {len(pool)} sender addresses in {BURST_SRC_NET[0]}.{BURST_SRC_NET[1]}.0.0/16 "
                             f"hash to queue {queue}; {len(slots)} flows asked for")
        chosen[slots] = cand[pool[:len(slots)]]
    return chosen


def burst(P: int, size: int = MIN_FRAME, link_bps: float = LINK_10GBE, n_queues: int = 1, flows: int = 1,
          pin_queue: int | None = 0, key: bytes = rss.DEFAULT_RSS_KEY, udp_ports: bool = False) -> Trace:
    """P frames of `size` bytes back to back at line rate; packet i belongs to flow i mod flows."""
    P = int(P)
    if P < 1:
        raise ValueError(f"P must be >= 1, got {P}")
    if not MIN_FRAME <= size <= MAX_FRAME:
        raise ValueError(f"size must be {MIN_FRAME}..{MAX_FRAME} bytes (with FCS), got {size}")
    rss.redirection_table(n_queues)  # validates n_queues
    period_ns = 1e9 / linerate_pps(size, link_bps)
    ts = np.round(np.arange(P, dtype=np.float64) * period_ns).astype(np.int64)
    keys = flow_keys(flows, n_queues, pin_queue, key, udp_ports)
    wire = np.full(P, size - FCS_LEN, np.uint32)
    key_idx = (np.arange(P, dtype=np.int64) % flows).astype(np.int32)
    meta = {"generator": "burst", "P": P, "size": size, "link_bps": link_bps, "n_queues": n_queues,
            "flows": flows, "pin_queue": pin_queue, "rate_pps": linerate_pps(size, link_bps)}
    return Trace(ts_ns=ts, wire_len=wire, cap_len=wire.copy(), key_idx=key_idx, keys=keys,
                 name=f"burst:P={P}:S={size}", meta=meta)
