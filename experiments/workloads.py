"""Traces steered into receive queues, ready for the simulator.

A trace is named as the tools accept it: "fermilab-like" (the default
seed), "fermilab-like:SEED", or a path to a .pcap/.pcapng file. The 82599
steers each frame by RSS (traces.Trace.rss_queues); the simulator takes
the frame's length on the wire including its 4-byte FCS, which pcap
lengths leave out.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from driver.sim import BUCKET_NONE, TraceInput
from traces import rss

ETHERNET_FCS_BYTES = 4  # IEEE 802.3 frame check sequence, not in pcap's length


@functools.lru_cache(maxsize=4)
def _trace(spec: str):
    from traces import load_trace

    return load_trace(spec)


@functools.lru_cache(maxsize=16)
def steered(spec: str, n_queues: int, n_buckets: int = rss.RETA_SIZE) -> TraceInput:
    """The trace's frames with their RSS queue among n_queues, flow id, and
    redirection-table bucket (hash & (n_buckets - 1); the table starts as
    ixgbe fills it, entry j -> queue j mod n: traces/rss.py)."""
    if not 1 <= n_queues <= 16:
        raise ValueError(f"--queues {n_queues}: RSS spreads over 1..16 queues on the 82599")
    tr = _trace(spec)
    flows = np.asarray(tr.flow_ids(), dtype=np.int32)
    h, hashed = rss.key_hashes(tr.keys)
    key_bucket = np.where(hashed, h & np.uint32(n_buckets - 1), BUCKET_NONE).astype(np.uint16)
    if n_buckets == rss.RETA_SIZE:
        queue = np.asarray(tr.rss_queues(n_queues), dtype=np.uint8)
    else:  # a larger table (XL710: 512, E810: 2,048), filled the same way
        key_queue = np.where(hashed, key_bucket % n_queues, 0).astype(np.uint8)
        queue = key_queue[tr.key_idx]
    return TraceInput(
        ts_ns=np.asarray(tr.ts_ns, dtype=np.int64),
        queue=queue,
        flow=flows,
        size=np.asarray(tr.wire_len, dtype=np.uint32) + ETHERNET_FCS_BYTES,
        n_queues=n_queues,
        n_flows=int(flows.max()) + 1 if len(flows) else 0,
        bucket=key_bucket[tr.key_idx],
        n_buckets=n_buckets,
    )


def head(tr: TraceInput, packets: int) -> TraceInput:
    """The first `packets` frames; flow ids keep their numbering (n_flows as is)."""
    return dataclasses.replace(tr, ts_ns=tr.ts_ns[:packets], queue=tr.queue[:packets], flow=tr.flow[:packets],
                               size=tr.size[:packets],
                               bucket=None if tr.bucket is None else tr.bucket[:packets])
