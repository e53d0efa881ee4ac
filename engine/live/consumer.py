"""Application threads that run their loop in C.

A ``Consumer`` is a Python thread whose whole body is one call into C
(wc_live__consume or a wc_drive__* loop): cffi releases the GIL for the
call, so consumers, capture threads and the control thread run in parallel,
and the per-packet path is C only. The loop ends on its bound in time, on a
packet count, or when ``stop()`` sets the shared flag.
"""
from __future__ import annotations

import os
import threading

from driver.xdp._native import native
from driver.xdp.errors import check

STOP_REASONS = {0: "count", 1: "time", 2: "stop"}
MAX_S = 24 * 3600.0   # a consume loop's longest bound (replays stop far sooner: workload.MAX_REPLAY_S)


class Consumer(threading.Thread):
    """Run ``loop(opts, result) -> rc`` (a C consume loop) in a thread."""

    def __init__(self, loop, max_s: float, max_packets: int = 0, cpu: int | None = None,
                 name: str = "consumer", poll_ms: int = 10, rt_priority: int = 0):
        super().__init__(name=name, daemon=True)
        ffi, _ = native()
        if not 0 < max_s <= MAX_S:
            raise ValueError(f"max_s={max_s:g}: a consumer is bounded in time, 0 < max_s <= {MAX_S:g} s")
        self._loop = loop
        self.cpu = cpu
        self.rt_priority = int(rt_priority)
        self.flag = ffi.new("int *")
        self.opts = ffi.new("struct wc_consume_opts *")
        self.opts.sz = ffi.sizeof("struct wc_consume_opts")
        self.opts.max_packets = int(max_packets)
        self.opts.max_ns = int(max_s * 1e9)
        self.opts.stop = self.flag
        self.opts.poll_ms = poll_ms
        self.result = ffi.new("struct wc_consume_result *")
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            if self.cpu is not None:
                os.sched_setaffinity(0, {self.cpu})
            if self.rt_priority > 0:
                # this thread only (pid 0 = the caller): SCHED_FIFO, like a capture thread
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(self.rt_priority))
            check(self._loop(self.opts, self.result), f"{self.name} loop")
        except BaseException as exc:  # reported by join_checked()
            self.error = exc

    def stop(self) -> None:
        self.flag[0] = 1

    def join_checked(self, timeout: float = 10.0) -> dict:
        self.stop()
        self.join(timeout)
        if self.is_alive():
            raise RuntimeError(f"{self.name} did not stop within {timeout} s")
        if self.error is not None:
            raise self.error
        r = self.result
        return {"packets": int(r.packets), "first_ns": int(r.first_ns), "last_ns": int(r.last_ns),
                "stopped_by": STOP_REASONS.get(r.stopped_by, str(r.stopped_by))}


def wirecap_loop(engine, member: int, work):
    _, lib = native()
    return lambda o, r: lib.wc_live__consume(engine.ptr, member, work.cb, work.user, work.idle, o, r)
