"""Python view of the C engine core (ring-buffer pool, work queues, buddy
groups), for tests, tools and the real backend's control path.

The hot paths never go through this module: the simulator and the AF_XDP
capture threads call the C functions directly. Here every C error code is
turned into an exception that names the operation and the reason.

Both backends share what this module reads out of C: chunk metadata
(``ChunkMeta.from_c``/``to_c``: engine._core's ``struct wc_chunk_meta`` is
the same cffi type in driver._sim and engine._live, which ``ffi.include`` it),
counters (``counters()``, field names read from the C struct) and the pool
geometry rules (``check_geometry()``, written once in C).
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass, fields

from engine._core import ffi, lib

CELL_SIZE = lib.WC_CELL_SIZE

STATES = {lib.WC_CHUNK_FREE: "free", lib.WC_CHUNK_ATTACHED: "attached", lib.WC_CHUNK_CAPTURED: "captured"}

_RECYCLE_REASONS = {
    errno.EXDEV: "foreign chunk (nic_id/ring_id name another pool)",
    errno.ERANGE: "chunk_id out of range",
    errno.EALREADY: "chunk is already free (double recycle)",
    errno.EBUSY: "chunk is still attached to the receive ring",
    errno.EINVAL: "metadata do not match what capture handed out",
}


class CoreError(OSError):
    """A C core call failed; ``errno`` holds the positive error number."""


def _check(rc: int, what: str, reasons: dict[int, str] | None = None) -> int:
    if rc < 0:
        reason = (reasons or {}).get(-rc, os.strerror(-rc))
        raise CoreError(-rc, f"{what}: {reason}")
    return rc


def struct_type(what):
    """The struct ctype of: a ctype (any extension's ffi.typeof), a core
    struct's name, a struct cdata or a pointer to one."""
    t = what if isinstance(what, ffi.CType) else ffi.typeof(what)
    return t.item if t.kind == "pointer" else t


def field_names(what) -> tuple[str, ...]:
    """A C struct's field names, in declaration order (from the headers)."""
    return tuple(name for name, _ in struct_type(what).fields)


def counters(cdata, skip=("pad",)) -> dict[str, int]:
    """Every field of a counters struct under its C name; a nested struct's
    fields as ``outer_inner`` (wc_live_qstats.xsk.rx_dropped -> xsk_rx_dropped)."""
    out = {}
    for name, field in struct_type(cdata).fields:
        if name in skip:
            continue
        value = getattr(cdata, name)
        if field.type.kind == "struct":
            out.update({f"{name}_{k}": v for k, v in counters(value, skip).items()})
        else:
            out[name] = int(value)
    return out


# ---- pool geometry (paper §3.2.1), the rules live in C: wc_pool__geometry_error ----

_U32_MAX = 2**32 - 1


def geometry_error(ring_size: int, M: int, R: int) -> tuple[str, str] | None:
    """None if N, M, R form a valid pool, else (parameter, message) from the core."""
    args = [min(max(int(v), 0), _U32_MAX) for v in (ring_size, M, R)]
    msg = lib.wc_pool__geometry_error(*args)
    if msg == ffi.NULL:
        return None
    text = ffi.string(msg).decode()
    return text.split(" ", 1)[0], text


def check_geometry(ring_size: int, M: int, R: int, flag: str = "{param}={value}: ") -> None:
    """ValueError with the core's message, prefixed by flag (formatted with
    the parameter's name and value: "--{param} {value}: " on a command line)."""
    err = geometry_error(ring_size, M, R)
    if err is not None:
        param, text = err
        value = {"N": ring_size, "M": M, "R": R}[param]
        raise ValueError(flag.format(param=param, value=value) + text)


@dataclass(frozen=True)
class ChunkMeta:
    """What capture hands to user space (paper §3.2.1): metadata, not data.
    The fields are struct wc_chunk_meta's (checked below)."""

    nic_id: int
    ring_id: int
    chunk_id: int
    first_cell: int
    pkt_count: int
    seq: int
    gen: int
    flags: int = 0
    src_chunk: int = 0
    src_cell: int = 0

    @property
    def copied(self) -> bool:
        return bool(self.flags & lib.WC_META_COPIED)

    @classmethod
    def from_c(cls, m) -> "ChunkMeta":
        return cls(*(int(getattr(m, f)) for f in META_FIELDS))

    def to_c(self):
        """A new struct wc_chunk_meta * for any backend's C calls."""
        return ffi.new("struct wc_chunk_meta *", [getattr(self, f) for f in META_FIELDS])


META_FIELDS = field_names("struct wc_chunk_meta")
if META_FIELDS != tuple(f.name for f in fields(ChunkMeta)):  # pragma: no cover - a header edit
    raise ImportError(f"ChunkMeta's fields do not match struct wc_chunk_meta {META_FIELDS}: update engine/core.py")


class Pool:
    """One receive queue's ring-buffer pool: R chunks of M cells, ring of N."""

    def __init__(self, ring_size: int = lib.WC_RING_SIZE_DEFAULT,
                 segment_cells: int = lib.WC_SEGMENT_CELLS_DEFAULT, chunks: int = lib.WC_POOL_CHUNKS_DEFAULT,
                 nic_id: int = 0, ring_id: int = 0):
        check_geometry(ring_size, segment_cells, chunks)
        opts = ffi.new("struct wc_pool_opts *")
        opts.sz = ffi.sizeof("struct wc_pool_opts")
        opts.ring_size, opts.segment_cells, opts.chunks = ring_size, segment_cells, chunks
        opts.nic_id, opts.ring_id = nic_id, ring_id
        pp = ffi.new("struct wc_pool **")
        _check(lib.wc_pool__create(pp, opts), "wc_pool__create")
        self._p = ffi.gc(pp[0], lib.wc_pool__destroy)
        self.nic_id, self.ring_id = nic_id, ring_id

    # the four operations of §3.2.1
    def open(self) -> int:
        return _check(lib.wc_pool__open(self._p), "open")

    def close(self) -> int:
        return _check(lib.wc_pool__close(self._p), "close")

    def capture(self, max_chunks: int = 64, flush: bool = False) -> list[ChunkMeta]:
        out = ffi.new("struct wc_chunk_meta[]", max(1, max_chunks))
        n = _check(lib.wc_pool__capture(self._p, out, max_chunks, int(flush)), "capture")
        return [ChunkMeta.from_c(out[i]) for i in range(n)]

    def recycle(self, meta: ChunkMeta) -> None:
        _check(lib.wc_pool__recycle(self._p, meta.to_c()), f"recycle of chunk {meta.chunk_id}",
               _RECYCLE_REASONS)

    def attach(self) -> list[int]:
        out = ffi.new("uint32_t[]", self.chunks)
        n = _check(lib.wc_pool__attach(self._p, out, self.chunks), "attach")
        return list(out[0:n])

    # what the NIC does
    def rx(self, n: int = 1) -> int:
        return _check(lib.wc_pool__rx(self._p, n), f"rx of {n} frames")

    @property
    def ready(self) -> int:
        return lib.wc_pool__ready(self._p)

    @property
    def full(self) -> int:
        return lib.wc_pool__full(self._p)

    @property
    def partial(self) -> int:
        return lib.wc_pool__partial(self._p)

    # introspection
    def state(self, chunk_id: int) -> str:
        return STATES[_check(lib.wc_pool__chunk_state(self._p, chunk_id), "chunk_state")]

    @property
    def free_chunks(self) -> int:
        return lib.wc_pool__free_chunks(self._p)

    @property
    def captured_chunks(self) -> int:
        return lib.wc_pool__captured_chunks(self._p)

    @property
    def bare_segments(self) -> int:
        return lib.wc_pool__bare_segments(self._p)

    @property
    def chunks(self) -> int:
        return lib.wc_pool__chunks(self._p)

    @property
    def segment_cells(self) -> int:
        return lib.wc_pool__segment_cells(self._p)

    @property
    def ring_size(self) -> int:
        return lib.wc_pool__ring_size(self._p)

    def stats(self) -> dict[str, int]:
        st = ffi.new("struct wc_pool_stats *")
        lib.wc_pool__stats(self._p, st)
        return counters(st)

    def check(self) -> None:
        _check(lib.wc_pool__check(self._p), "pool consistency")

    def snapshot(self) -> tuple:
        """Every chunk's state plus the counters: equal snapshots, same pool."""
        return (tuple(self.state(c) for c in range(self.chunks)), self.ready, self.full,
                self.partial, self.free_chunks)


class WorkQueue:
    """A capture or recycle queue of chunk metadata (bounded, MPMC; with
    single_producer / single_consumer, the caller promises one at a time
    and that side skips its compare-and-swap; with local, one thread does
    every push and pop, as in the simulator: a plain ring that grows)."""

    def __init__(self, capacity: int, single_producer: bool = False, single_consumer: bool = False,
                 local: bool = False):
        pq = ffi.new("struct wc_workq **")
        flags = ((lib.WC_WORKQ_SP if single_producer else 0) | (lib.WC_WORKQ_SC if single_consumer else 0)
                 | (lib.WC_WORKQ_LOCAL if local else 0))
        _check(lib.wc_workq__create_flags(pq, capacity, flags), "wc_workq__create_flags")
        self._q = ffi.gc(pq[0], lib.wc_workq__destroy)

    def push(self, meta: ChunkMeta) -> bool:
        rc = lib.wc_workq__push(self._q, meta.to_c())
        if rc == -errno.ENOSPC:
            return False
        _check(rc, "push")
        return True

    def pop(self) -> ChunkMeta | None:
        m = ffi.new("struct wc_chunk_meta *")
        if lib.wc_workq__pop(self._q, m) == -errno.EAGAIN:
            return None
        return ChunkMeta.from_c(m)

    def __len__(self) -> int:
        return lib.wc_workq__len(self._q)

    @property
    def capacity(self) -> int:
        return lib.wc_workq__capacity(self._q)


class BuddyGroup:
    """The capture queues of one application; offloading stays inside."""

    def __init__(self, threshold_pct: int = lib.WC_THRESHOLD_PCT_DEFAULT):
        if not 0 < threshold_pct <= 100:
            raise ValueError(f"T={threshold_pct}: the offloading threshold must be in (0, 100] percent")
        opts = ffi.new("struct wc_group_opts *")
        opts.sz = ffi.sizeof("struct wc_group_opts")
        opts.threshold_pct = threshold_pct
        pg = ffi.new("struct wc_group **")
        _check(lib.wc_group__create(pg, opts), "wc_group__create")
        self._g = ffi.gc(pg[0], lib.wc_group__destroy)
        self._members: list[WorkQueue] = []  # keep the queues alive

    def add(self, capture_q: WorkQueue, capacity_chunks: int) -> int:
        idx = _check(lib.wc_group__add(self._g, capture_q._q, capacity_chunks), "group add")
        self._members.append(capture_q)
        return idx

    def place(self, member: int) -> int:
        return _check(lib.wc_group__place(self._g, member), f"place for member {member}")

    def __len__(self) -> int:
        return lib.wc_group__size(self._g)


@dataclass(frozen=True)
class BucketMove:
    """One redirection-table bucket moved by the balancer (wc_balance.h)."""

    bucket: int
    src: int
    dst: int
    packets: int


class Balancer:
    """Bucket offloading's decision (engine/csrc/wc_balance.h): per-bucket
    counts in, bucket moves out; the table it keeps is what the NIC's
    redirection table (or the XDP program's map) should hold."""

    def __init__(self, n_buckets: int, n_members: int, threshold_pct: int = lib.WC_THRESHOLD_PCT_DEFAULT,
                 imbalance_pct: int = 0, table=None):
        opts = ffi.new("struct wc_balance_opts *")
        opts.sz = ffi.sizeof("struct wc_balance_opts")
        opts.n_buckets, opts.n_members = n_buckets, n_members
        opts.threshold_pct, opts.imbalance_pct = threshold_pct, imbalance_pct
        keep = None
        if table is not None:
            keep = ffi.new("uint8_t[]", [int(v) for v in table])
            if len(keep) != n_buckets:
                raise ValueError(f"table: {n_buckets} entries expected, got {len(keep)}")
            opts.table = keep
        pb = ffi.new("struct wc_balance **")
        _check(lib.wc_balance__create(pb, opts), "wc_balance__create",
               {errno.EINVAL: f"n_buckets {n_buckets} must be a power of two in 1..{lib.WC_BALANCE_BUCKETS_MAX}, "
                              f"n_members {n_members} in 1..{lib.WC_BALANCE_MEMBERS_MAX}, threshold_pct "
                              f"{threshold_pct} in (0, 100], every table entry < n_members"})
        self._b = ffi.gc(pb[0], lib.wc_balance__destroy)
        self.n_buckets, self.n_members = n_buckets, n_members

    def count(self, bucket: int, n: int = 1) -> None:
        lib.wc_balance__count(self._b, bucket, n)

    def member(self, bucket: int) -> int:
        return lib.wc_balance__member(self._b, bucket)

    @property
    def table(self) -> list[int]:
        return [self.member(b) for b in range(self.n_buckets)]

    @property
    def moves(self) -> int:
        return lib.wc_balance__moves(self._b)

    def solve(self, fill_pct=None, backlog=None, locked=None) -> list[BucketMove]:
        n = self.n_members
        mem = ffi.new("struct wc_balance_member[]", n)
        for i in range(n):
            mem[i].fill_pct = int(fill_pct[i]) if fill_pct is not None else 0
            mem[i].backlog = int(backlog[i]) if backlog is not None else 0
            mem[i].locked = int(bool(locked[i])) if locked is not None else 0
        out = ffi.new("struct wc_bucket_move[]", self.n_buckets)
        k = _check(lib.wc_balance__solve(self._b, mem, out, self.n_buckets), "wc_balance__solve")
        return [BucketMove(out[i].bucket, out[i].src, out[i].dst, out[i].packets) for i in range(k)]
