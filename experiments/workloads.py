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
SIM_MAX_QUEUES = 64     # engine/csrc/wc_buddy.h WC_GROUP_MAX: queues of one NIC the simulator holds


@functools.lru_cache(maxsize=4)
def _trace(spec: str):
    from traces import load_trace

    return load_trace(spec)


def replay_times_ns(ts_ns: np.ndarray, speed: float = 1.0, max_gap_s: float | None = None) -> np.ndarray:
    """Arrival times of a replay: the recorded gaps (negative ones as 0),
    those longer than max_gap_s cut to it, all divided by speed, from the
    first packet's time. Integer ns; a plain replay keeps the trace's own."""
    ts = np.asarray(ts_ns, dtype=np.int64)
    if speed == 1.0 and max_gap_s is None:
        return ts
    if not speed > 0:
        raise ValueError(f"--speed {speed}: the replay speed-up must be > 0")
    if max_gap_s is not None and not max_gap_s > 0:
        raise ValueError(f"--max-gap-s {max_gap_s}: idle gaps are cut to a positive number of seconds")
    if not len(ts):
        return ts
    gaps = np.diff(ts).clip(min=0)
    if max_gap_s is not None:
        gaps = np.minimum(gaps, int(round(max_gap_s * 1e9)))
    due = np.concatenate(([0], np.cumsum(gaps)))
    # IEEE division is correctly rounded on every machine (no SIMD dependence)
    return ts[0] + np.floor(due / float(speed)).astype(np.int64)


@functools.lru_cache(maxsize=16)
def steered(spec: str, n_queues: int, n_buckets: int = rss.RETA_SIZE, speed: float = 1.0,
            max_gap_s: float | None = None, nic: str = "82599") -> TraceInput:
    """The trace's frames with their RSS queue among n_queues, flow id, and
    redirection-table bucket (hash & (n_buckets - 1); the table starts as
    ixgbe fills it, entry j -> queue j mod n: traces/rss.py). speed and
    max_gap_s replay it faster or with idle gaps cut (replay_times_ns): the
    real captures are hours long at a few packets per second. nic names
    the NIC model (driver/sim/nics.py) whose RSS spreads the queues; the
    caller picks n_buckets (NicModel.reta_entries)."""
    if nic == "82599":
        if not 1 <= n_queues <= 16:
            raise ValueError(f"--queues {n_queues}: RSS spreads over 1..16 queues on the 82599")
    else:
        from driver.sim.nics import check_queues, nic_model

        check_queues(nic_model(nic), n_queues)
        if n_queues > SIM_MAX_QUEUES:
            raise ValueError(f"--queues {n_queues}: the simulator holds at most {SIM_MAX_QUEUES} queues "
                             "(one buddy group, WC_GROUP_MAX)")
    tr = _trace(spec)
    flows = np.asarray(tr.flow_ids(), dtype=np.int32)
    h, hashed = rss.key_hashes(tr.keys)
    key_bucket = np.where(hashed, h & np.uint32(n_buckets - 1), BUCKET_NONE).astype(np.uint16)
    if n_buckets == rss.RETA_SIZE and n_queues <= rss.MAX_QUEUES:
        queue = np.asarray(tr.rss_queues(n_queues), dtype=np.uint8)
    else:  # another table (XL710: 512, E810: 2,048, mlx5: 256+), filled the same way (entry j -> j mod n)
        key_queue = np.where(hashed, key_bucket % n_queues, 0).astype(np.uint8)
        queue = key_queue[tr.key_idx]
    return TraceInput(
        ts_ns=replay_times_ns(tr.ts_ns, speed, max_gap_s),
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
