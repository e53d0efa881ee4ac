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

from driver.sim import TraceInput

ETHERNET_FCS_BYTES = 4  # IEEE 802.3 frame check sequence, not in pcap's length


@functools.lru_cache(maxsize=4)
def _trace(spec: str):
    from traces import load_trace

    return load_trace(spec)


@functools.lru_cache(maxsize=16)
def steered(spec: str, n_queues: int) -> TraceInput:
    """The trace's frames with their RSS queue among n_queues and flow id."""
    if not 1 <= n_queues <= 16:
        raise ValueError(f"--queues {n_queues}: RSS spreads over 1..16 queues on the 82599")
    tr = _trace(spec)
    flows = np.asarray(tr.flow_ids(), dtype=np.int32)
    return TraceInput(
        ts_ns=np.asarray(tr.ts_ns, dtype=np.int64),
        queue=np.asarray(tr.rss_queues(n_queues), dtype=np.uint8),
        flow=flows,
        size=np.asarray(tr.wire_len, dtype=np.uint32) + ETHERNET_FCS_BYTES,
        n_queues=n_queues,
        n_flows=int(flows.max()) + 1 if len(flows) else 0,
    )


def head(tr: TraceInput, packets: int) -> TraceInput:
    """The first `packets` frames; flow ids keep their numbering (n_flows as is)."""
    return dataclasses.replace(tr, ts_ns=tr.ts_ns[:packets], queue=tr.queue[:packets], flow=tr.flow[:packets],
                               size=tr.size[:packets])
