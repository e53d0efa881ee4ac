"""The single-server queue check: how much a ring + one slow core would lose.

``fifo_loss`` replays packet arrival times into a FIFO of ``capacity`` slots
drained by one server that takes ``1 / service_pps`` seconds per packet
(finite-buffer Lindley recursion in C, ``traces/csrc/ps_fifo.h``). It is the
first-order model of the paper's Table 1 for DNA: a 1,024-descriptor ring
(1,023 usable, ixgbe keeps one empty) drained by pkt_handler at 38,844 p/s
(x = 300, paper §2.2). It is used to fit the Fermilab-like generator and by
its tests; the full engine models live in the simulator.
"""
from __future__ import annotations

import errno

import numpy as np

from traces._c import lib, ptr

# paper §2.2: "Each NIC receive ring is configured with a size of 1,024";
# ixgbe keeps one descriptor unused, so 1,023 packets fit (ACCEPTANCE.md §1)
RING_SLOTS = 1023
# paper §2.2: "With x=300, the packet-processing rate of a single 2.4 GHz CPU is 38,844 p/s"
PKT_HANDLER_X300_PPS = 38844.0


def fifo_drops(ts_ns: np.ndarray, capacity: int = RING_SLOTS, service_pps: float = PKT_HANDLER_X300_PPS,
               mask: bool = False):
    """Packets lost by the FIFO (count), or a bool mask of them with mask=True.

    ts_ns: arrival times in ns, non-decreasing (one queue's packets).
    """
    ts = np.ascontiguousarray(ts_ns, dtype=np.int64)
    if capacity < 1:
        raise ValueError(f"capacity must be >= 1, got {capacity}")
    if not service_pps > 0:
        raise ValueError(f"service_pps must be > 0, got {service_pps}")
    if len(ts) > 1 and np.any(np.diff(ts) < 0):
        raise ValueError("arrival times must be non-decreasing")
    out = np.empty(len(ts), np.uint8) if mask else None
    rc = lib.ps_fifo__drops(ptr(ts, "int64_t *"), len(ts), int(capacity), 1e9 / float(service_pps),
                            ptr(out, "uint8_t *"))
    if rc < 0:
        raise OSError(-rc, f"ps_fifo__drops: {errno.errorcode.get(-rc, rc)}")
    return out.astype(bool) if mask else int(rc)


def fifo_loss(ts_ns: np.ndarray, capacity: int = RING_SLOTS, service_pps: float = PKT_HANDLER_X300_PPS) -> float:
    """Fraction of the packets lost by the FIFO (0 for no packets)."""
    n = len(ts_ns)
    return fifo_drops(ts_ns, capacity, service_pps) / n if n else 0.0


def queue_losses(ts_ns: np.ndarray, queues: np.ndarray, n_queues: int, capacity: int = RING_SLOTS,
                 service_pps: float = PKT_HANDLER_X300_PPS) -> dict:
    """Per-queue packets and drops, and the total, for a trace already steered into queues."""
    out = {"queues": [], "packets": 0, "drops": 0}
    for q in range(n_queues):
        t = ts_ns[queues == q]
        d = fifo_drops(t, capacity, service_pps)
        out["queues"].append({"queue": q, "packets": int(len(t)), "drops": d,
                              "loss": d / len(t) if len(t) else 0.0})
        out["packets"] += int(len(t))
        out["drops"] += d
    out["loss"] = out["drops"] / out["packets"] if out["packets"] else 0.0
    return out
