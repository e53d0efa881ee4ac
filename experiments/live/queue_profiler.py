"""queue_profiler on the real backend (paper §2.2): count the packets each
receive queue gets per 10 ms bin while a trace is replayed (Figure 3).

    from experiments.live import queue_profiler
    bins = queue_profiler.run({"queues": 6, "speed": 0.5, "window_s": [0, 8]})

WireCAP (basic mode) captures every queue; a single profiling thread takes
whole chunks (engine.live.engine.LiveEngine.chunk_get), bins their packets by
the time the XDP program stamped them at the receive queue, and recycles the
chunks. Stamps are taken at the queue, not when the profiler reads them, so
bins are right even when the profiler lags. Times are reported on the
trace's clock: a replay at speed s is binned in s x 10 ms wall bins (with
max_gap_s, on that clock with its long idle gaps cut).

As multi_pkt_handler does, the replay is planned and checked before any
testbed is made (too long: a one-line ValueError naming the trace and the
fix), announced through ``say`` when it lasts more than a few seconds, and
followed by a bar on a terminal.

Arguments (``args`` dict; defaults in brackets):

    trace     "fermilab-like", "fermilab-like:SEED" or a capture file ["fermilab-like"]
    queues    n [6]
    speed     replay speed factor [1.0]
    window_s  [start, end] seconds of the trace [whole trace]
    max_gap_s idle gaps longer than this (trace seconds) cut to it [None]
    bin_ms    bin width on the trace's clock [10]
    per_pool  steering's substitute flows per (queue, protocol) [512]
    M, R      the capturing engine's pool [256, 500]
    interface a testbed's capture interface [None: throwaway testbed]
    max_s     bound beyond the replay's duration [60]
    seed      [0]

Returns rows {queue, bin_start_s, packets, bytes}, every bin of every queue
from the first packet to the last (empty bins included), bytes without FCS.
"""
from __future__ import annotations

import threading
import time

import numpy as np

from driver.xdp._native import native
from driver.xdp.errors import check
from driver.xdp.generator import Generator
from driver.xdp.prereq import require_all
from engine.live.engine import LiveEngine
from experiments.live import replay_progress, workload
from experiments.live.common import terminate_as_interrupt
from experiments.live.pkt_handler import testbed_for

DEFAULTS = {"trace": "fermilab-like", "queues": 6, "speed": 1.0, "window_s": None, "max_gap_s": None,
            "bin_ms": 10.0, "per_pool": 512, "M": 256, "R": 500, "interface": None, "max_s": 60.0, "seed": 0}


class _Profiler(threading.Thread):
    """Takes chunks from every queue round robin and records their stamps."""

    def __init__(self, eng: LiveEngine):
        super().__init__(name="queue_profiler", daemon=True)
        self.eng = eng
        self.stop_flag = False
        self.ts = {q: [] for q in eng.queues}
        self.lens = {q: [] for q in eng.queues}
        self.error = None

    def run(self):
        ffi, lib = native()
        m = ffi.new("struct wc_chunk_meta *")
        cap = self.eng.M
        ts, ln = ffi.new("uint64_t[]", cap), ffi.new("uint32_t[]", cap)
        try:
            idle = 0
            while not (self.stop_flag and idle > len(self.eng.queues)):
                got = False
                for i, q in enumerate(self.eng.queues):
                    if not lib.wc_live__chunk_get(self.eng.ptr, i, m, 0):
                        continue
                    got = True
                    n = check(lib.wc_live__chunk_stamps(self.eng.ptr, m, ts, ln, cap), "chunk stamps")
                    self.ts[q].append(np.frombuffer(ffi.buffer(ts, 8 * n), dtype=np.uint64).copy())
                    self.lens[q].append(np.frombuffer(ffi.buffer(ln, 4 * n), dtype=np.uint32).copy())
                    check(lib.wc_live__chunk_put(self.eng.ptr, m), "recycle")
                idle = 0 if got else idle + 1
                if not got:
                    time.sleep(0.001)
        except BaseException as exc:
            self.error = exc


def run(args: dict, say=replay_progress.say_on_stderr) -> list[dict]:
    a = dict(DEFAULTS)
    a.update({k: v for k, v in args.items() if v is not None})
    n, speed, bin_ns = int(a["queues"]), float(a["speed"]), float(a["bin_ms"]) * 1e6
    if bin_ns <= 0:
        raise ValueError(f"bin_ms={a['bin_ms']}: bins must be wider than 0 ms")
    # before the testbed: a refused replay leaves nothing to clean up
    plan = workload.plan(a["trace"], speed, a["window_s"], a["max_gap_s"]).check(slack_s=float(a["max_s"]))
    require_all()
    replay_progress.announce(plan, say)
    with terminate_as_interrupt(), testbed_for(a, queues=n) as tb:
        replay = workload.steered(a["trace"], tb, n, speed=speed, window_s=a["window_s"],
                                  per_pool=int(a["per_pool"]), seed=int(a["seed"]),
                                  max_gap_s=a["max_gap_s"], trace=plan.trace)
        with LiveEngine.on_testbed(tb, queues=list(range(n)), M=int(a["M"]), R=int(a["R"])) as eng, \
                Generator(tb) as gen:
            eng.start()
            prof = _Profiler(eng)
            prof.start()
            with replay_progress.ReplayBar.for_replay(replay, show=None if say else False):
                sent = gen.send(replay.templates, count=len(replay), due_ns=replay.due_ns,
                                tpl_idx=replay.tpl_idx, frame_len=replay.frame_len,
                                max_s=replay.duration_s * workload.SEND_BOUND_FACTOR + float(a["max_s"]))
            deadline = time.monotonic() + float(a["max_s"])
            while time.monotonic() < deadline:
                if sum(eng.stats(q)["delivered"] + eng.stats(q)["capture_drops"] for q in eng.queues) >= sent.sent:
                    break
                time.sleep(0.05)
            prof.stop_flag = True
            prof.join(10)
            if prof.error:
                raise prof.error
    stamps = {q: np.concatenate(prof.ts[q]) if prof.ts[q] else np.zeros(0, np.uint64) for q in range(n)}
    lens = {q: np.concatenate(prof.lens[q]) if prof.lens[q] else np.zeros(0, np.uint32) for q in range(n)}
    valid = [s[s > 0] for s in stamps.values() if len(s)]
    if not valid or not sum(len(v) for v in valid):
        return []
    t0 = min(int(v.min()) for v in valid if len(v))
    t_end = max(int(v.max()) for v in valid if len(v))
    # wall time back to the trace's clock
    nbins = int((t_end - t0) * speed // bin_ns) + 1
    rows = []
    for q in range(n):
        s, ln = stamps[q], lens[q]
        ok = s > 0
        b = ((s[ok].astype(np.int64) - t0) * speed // bin_ns).astype(np.int64)
        pk = np.bincount(b, minlength=nbins)[:nbins]
        by = np.bincount(b, weights=ln[ok], minlength=nbins)[:nbins]
        offset = (replay.window_s[0] if replay.window_s else 0.0)
        for i in range(nbins):
            rows.append({"queue": q, "bin_start_s": offset + i * bin_ns / 1e9, "packets": int(pk[i]),
                         "bytes": int(by[i])})
    return rows
