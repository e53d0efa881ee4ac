"""A testbed's RSS steering program kept after the process that attached it:
pinned in the testbed's bpffs, so that other processes (WireCAP's libpcap
library and its balancer, ``invoke send``, experiments) read and write its
steer map.

``invoke testbed-up --rss`` attaches driver.xdp.xdp_prog.RssProgram (the
82599's Toeplitz hash with the default key, 128 buckets, ixgbe's default
table: bucket j -> queue j mod n) at the generator veth's egress and pins

    <bpffs>/<gen_if>_rss_link     the tcx link: keeps the program attached
    <bpffs>/<gen_if>_rss_prog     the program
    <bpffs>/<gen_if>_rss_table    the Toeplitz lookup table
    <bpffs>/<gen_if>_rss_steer    uint32_t[128]: bucket -> receive queue
    <bpffs>/<gen_if>_rss_counts   uint64_t[128 + 2 + 64]: packets per bucket, unhashed,
                                  last hash, packets steered per queue

(no dots: bpffs refuses them, xdp_prog.pin_path). ``invoke testbed-down``
removes them with every other pin (xdp_prog.unpin_all): the link's last
reference goes and the program detaches; the namespaces go too.

The bucket count is fixed (PINNED_BUCKETS, the 82599's 128) so that a
reader needs nothing but the paths.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from driver.xdp._native import native
from driver.xdp.errors import check
from driver.xdp.xdp_prog import RssProgram, mmap_map, mount_bpffs, munmap_maps, pin_path

PINNED_BUCKETS = 128          # the 82599's redirection table (datasheet §8.2.3.7.13)
PIN_NAMES = ("rss_link", "rss_prog", "rss_table", "rss_steer", "rss_counts")


def paths(tb) -> dict[str, Path]:
    """Where testbed tb's RSS objects are (or would be) pinned."""
    return {name[4:]: pin_path(tb.bpffs, tb.gen_if, name) for name in PIN_NAMES}


def is_pinned(tb) -> bool:
    p = paths(tb)
    return p["steer"].exists() and p["counts"].exists() and p["link"].exists()


RSS_KEYS = ("default", "symmetric")   # traces/rss.py: the 82599's default key; Woo & Park's 0x6d5a


def key_bytes(name: str) -> bytes:
    from traces import rss

    if name not in RSS_KEYS:
        raise ValueError(f"RSS key {name!r}: one of {', '.join(RSS_KEYS)} (default: the 82599's; "
                         "symmetric: 0x6d5a repeated, both directions of a flow on one queue)")
    return rss.DEFAULT_RSS_KEY if name == "default" else rss.SYMMETRIC_RSS_KEY


def set_key(tb, name: str) -> None:
    """Make the pinned program hash with RSS key ``name`` (its Toeplitz table
    rewritten in place; the next frame uses it)."""
    import numpy as np

    from traces import rss

    ffi, lib = native()
    table = np.ascontiguousarray(rss._tables(key_bytes(name))[:lib.WC_RSS_INPUT_BYTES], dtype=np.uint32)
    path = paths(tb)["table"]
    fd = check(lib.wc_bpf__get(str(path).encode()), f"opening {path}")
    try:
        check(lib.wc_bpf__map_update(fd, 0, ffi.from_buffer(table)), f"writing the Toeplitz table {path}")
    finally:
        os.close(fd)


def pin(tb, n_buckets: int = PINNED_BUCKETS, key: str | None = None) -> dict[str, Path]:
    """Attach the RSS steering program at tb's generator egress and pin it
    (idempotent: an existing pin is kept). ``key``: "default" or "symmetric"
    (None: the default key for a new program, the key as it is for a pinned one).
    Returns the pin paths."""
    where = paths(tb)
    if key is not None:
        key_bytes(key)
    if is_pinned(tb):
        if key is not None:
            set_key(tb, key)
        return where
    mount_bpffs(tb.bpffs)
    _, lib = native()
    prog = RssProgram(tb.gen_ns, tb.gen_if, tb.queues, n_buckets=n_buckets)
    try:
        for name, fd in (("link", prog.link_fd), ("prog", prog.prog_fd), ("table", prog.fds[0]),
                         ("steer", prog.fds[1]), ("counts", prog.fds[2])):
            check(lib.wc_bpf__pin(fd, str(where[name]).encode()), f"pinning the RSS {name} of {tb.gen_if}")
    except BaseException:
        for p in where.values():
            p.unlink(missing_ok=True)
        raise
    finally:
        prog.close()          # the pins keep it attached
    if key not in (None, "default"):
        set_key(tb, key)
    return where


def unpin(tb) -> None:
    """Detach the pinned RSS program (its pins go; the link's last reference with them)."""
    for p in paths(tb).values():
        p.unlink(missing_ok=True)


class PinnedRss:
    """The steer and counts maps of a pinned RSS program, mmapped:
    ``steer[bucket] = queue`` is a bucket move seen by the next packet."""

    def __init__(self, tb, n_buckets: int = PINNED_BUCKETS):
        _, lib = native()
        self.n_buckets, self.queues = int(n_buckets), tb.queues
        where = paths(tb)
        if not is_pinned(tb):
            raise FileNotFoundError(f"testbed {tb.tag} has no pinned RSS program ({where['steer']}): "
                                    "`invoke testbed-up --rss` attaches one")
        self._fds, self._maps = [], []
        try:
            for name in ("steer", "counts"):
                self._fds.append(check(lib.wc_bpf__get(str(where[name]).encode()), f"opening {where[name]}"))
            self.steer = self._mmap(self._fds[0], 4 * self.n_buckets, np.uint32, self.n_buckets)
            n_counts = self.n_buckets + 2 + lib.WC_RSS_QUEUES
            self.counts = self._mmap(self._fds[1], 8 * n_counts, np.uint64, n_counts)
        except BaseException:
            self.close()
            raise

    def _mmap(self, fd, size, dtype, count):
        return mmap_map(fd, size, dtype, count, self._maps)

    def steered(self) -> np.ndarray:
        """Packets steered to each queue so far (cumulative)."""
        return self.counts[self.n_buckets + 2:self.n_buckets + 2 + self.queues].copy()

    def bucket_counts(self) -> np.ndarray:
        return self.counts[:self.n_buckets].copy()

    def set_table(self, table) -> None:
        table = np.asarray(table, dtype=np.int64)
        if table.shape != (self.n_buckets,) or table.min() < 0 or table.max() >= self.queues:
            raise ValueError(f"a redirection table is {self.n_buckets} queue numbers in 0..{self.queues - 1}")
        self.steer[:] = table.astype(np.uint32)

    def close(self) -> None:
        self.steer = self.counts = None
        munmap_maps(self._maps)
        for fd in self._fds:
            os.close(fd)
        self._fds = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def weighted_table(weights, n_buckets: int = PINNED_BUCKETS) -> np.ndarray:
    """A redirection table giving queue q about weights[q] / sum(weights) of
    the buckets (largest remainders), interleaved as ixgbe interleaves its
    default table: ``weighted_table([1, 1])`` is ixgbe's j mod 2, and
    ``weighted_table([90, 2, 2, 2, 2, 2])`` puts 115 of 128 buckets on queue 0."""
    w = np.asarray([float(x) for x in weights], dtype=np.float64)
    if not len(w) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"queue weights {list(weights)}: non-negative numbers, at least one > 0")
    share = w / w.sum() * n_buckets
    counts = np.floor(share).astype(np.int64)
    rest = n_buckets - int(counts.sum())
    order = np.argsort(-(share - counts), kind="stable")
    counts[order[:rest]] += 1
    # deal buckets round-robin over queues that still have some left
    table, left = [], counts.copy()
    while len(table) < n_buckets:
        for q in range(len(w)):
            if left[q] > 0:
                table.append(q)
                left[q] -= 1
    return np.asarray(table, dtype=np.uint32)
