"""Python view of the clock-free capture step (engine/csrc/wc_capture.h).

For tests and tools: the simulator's WireCAP model and the live capture
threads call the same C functions directly. Here the hooks are recorded as a
list of events, so a test can assert the exact sequence of chunk moves.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.core import BuddyGroup, ChunkMeta, Pool, WorkQueue, _check, counters, ffi, lib

NEVER = lib.WC_CAPTURE_NEVER


@dataclass(frozen=True)
class Plan:
    """What one step would do (wc_capture__plan)."""

    recycles: int
    full: int
    partial: int
    flush: bool
    deadline: int  # NEVER when no partial-chunk timeout is armed

    @classmethod
    def from_c(cls, p) -> "Plan":
        return cls(p.recycles, p.full, p.partial, bool(p.flush), p.deadline)

    def to_c(self):
        p = ffi.new("struct wc_capture_plan *")
        p.recycles, p.full, p.partial, p.flush, p.deadline = (
            self.recycles, self.full, self.partial, int(self.flush), self.deadline)
        return p


class CaptureUnit:
    """One receive queue's capture thread: pool, work-queue pair, buddy group.

    ``events`` records each hook call in order: ``("copy", meta)``,
    ``("placed", dst_member, meta)`` and ``("attached", [chunk ids])``.
    """

    def __init__(self, pool: Pool, capq: WorkQueue, recq: WorkQueue, *, timeout: int,
                 group: BuddyGroup | None = None):
        self.pool, self.capq, self.recq, self.group = pool, capq, recq, group
        self.events: list[tuple] = []
        # cffi callbacks must stay alive as long as the C side may call them
        self._cbs = (
            ffi.callback("void(void *, const struct wc_chunk_meta *)",
                         lambda _u, m: self.events.append(("copy", ChunkMeta.from_c(m)))),
            ffi.callback("void(void *, uint32_t, const struct wc_chunk_meta *)",
                         lambda _u, dst, m: self.events.append(("placed", dst, ChunkMeta.from_c(m)))),
            ffi.callback("void(void *, const uint32_t *, uint32_t)",
                         lambda _u, ids, n: self.events.append(("attached", list(ids[0:n])))),
        )
        self._hooks = ffi.new("struct wc_capture_hooks *")
        self._hooks.copy, self._hooks.placed, self._hooks.attached = self._cbs
        opts = ffi.new("struct wc_capture_opts *")
        opts.sz = ffi.sizeof("struct wc_capture_opts")
        opts.pool, opts.capq, opts.recq = pool._p, capq._q, recq._q
        opts.group = group._g if group is not None else ffi.NULL
        opts.timeout = timeout
        opts.hooks = self._hooks
        pc = ffi.new("struct wc_capture **")
        _check(lib.wc_capture__create(pc, opts), "wc_capture__create")
        self._c = ffi.gc(pc[0], lib.wc_capture__destroy)
        if group is not None:
            group._members.append(capq)

    @property
    def member(self) -> int:
        return lib.wc_capture__member(self._c)

    @property
    def deadline(self) -> int:
        return lib.wc_capture__deadline(self._c)

    def plan(self, now: int) -> tuple[bool, Plan]:
        p = ffi.new("struct wc_capture_plan *")
        work = lib.wc_capture__plan(self._c, now, p)
        return bool(work), Plan.from_c(p)

    def step(self, plan: Plan, now: int) -> int:
        return _check(lib.wc_capture__step(self._c, plan.to_c(), now), "capture step")

    def run(self, now: int) -> int:
        """What a live capture thread does: plan, and step if there is work."""
        work, plan = self.plan(now)
        return self.step(plan, now) if work else 0

    def stats(self) -> dict[str, int]:
        st = ffi.new("struct wc_capture_stats *")
        lib.wc_capture__stats(self._c, st)
        return counters(st)

    def faults(self) -> int:
        """Rejected recycles, failed placements and overflows, summed."""
        return lib.wc_capture__faults(self._c)

    def recycle_push(self, meta: ChunkMeta) -> None:
        _check(lib.wc_capture__recycle_push(self._c, meta.to_c()), "recycle push")

    # zero-copy forwarding (§3.2.2b)
    def tx_hold(self, chunk_id: int) -> None:
        _check(lib.wc_capture__tx_hold(self._c, chunk_id), "tx_hold")

    def release(self, meta: ChunkMeta) -> bool:
        return bool(_check(lib.wc_capture__release(self._c, meta.to_c()), "release"))

    def tx_done(self, chunk_id: int) -> ChunkMeta | None:
        m = ffi.new("struct wc_chunk_meta *")
        return ChunkMeta.from_c(m) if _check(lib.wc_capture__tx_done(self._c, chunk_id, m), "tx_done") else None


class CaptureSet:
    """The owner table: which unit takes back a chunk, by {nic_id, ring_id}."""

    def __init__(self):
        self._s = ffi.new("struct wc_capture_set *")
        self._units: list[CaptureUnit] = []

    def add(self, nic_id: int, ring_id: int, unit: CaptureUnit) -> None:
        _check(lib.wc_capture_set__add(self._s, nic_id, ring_id, unit._c), f"owner of ring {ring_id}")
        self._units.append(unit)

    def owner(self, meta: ChunkMeta) -> CaptureUnit | None:
        c = lib.wc_capture_set__owner(self._s, meta.to_c())
        return next((u for u in self._units if u._c == c), None)
