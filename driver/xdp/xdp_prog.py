"""Our XDP programs on an interface: the redirect-by-queue program with its
XSKMAP (what every AF_XDP engine needs) and a pass-through program (what the
kernel-stack engines need on veth, see below).

Both are tiny programs written as BPF instructions in driver/csrc/xdp/wc_bpf.c
and attached in native (driver) mode through a BPF link, so they detach
by themselves when the last reference goes away: a run that crashes cannot
leave a program behind. ``pin()`` keeps the link, program and map alive in a
bpffs mounted for the purpose (``invoke testbed-up``); ``unpin_all()``
removes the pins and unmounts it.

Why native mode on veth (DESIGN.md §4): in generic (SKB) mode the queue
numbers seen by XDP shift by one and the last queue stays empty, and frames
sent by a live-frame generator (XDP_TX into the peer) are dropped unless the
receiving veth runs an XDP program. That is also why the AF_PACKET and
libpcap engines get the pass-through program: it makes veth use its NAPI
receive path, the same for every engine compared.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path

from driver.xdp import netns
from driver.xdp._native import native
from driver.xdp.errors import XdpError, check

XDP_PASS = 2  # include/uapi/linux/bpf.h: enum xdp_action
MODES = {"native": 0, "generic": 1}
VERIFIER_LOG_BYTES = 1 << 16

_ATTACH_HINTS = {
    errno.EBUSY: "the interface already has an XDP program (another engine on it? a testbed-up program "
                 "pinned in /run/wirecap/bpffs? `invoke testbed-down` removes it)",
    errno.EEXIST: "the interface already has an XDP program attached",
    errno.EOPNOTSUPP: "this driver has no native XDP: use mode='generic' (slower, queue numbers may shift)",
    errno.EINVAL: "native XDP was refused (MTU too large for XDP on this driver?)",
}


class _Attached:
    """A program attached to (ns, ifname) through a BPF link."""

    kind = "?"

    def __init__(self, ns: str | None, ifname: str, mode: str = "native"):
        if mode not in MODES:
            raise ValueError(f"mode={mode!r}: XDP attach mode must be one of {', '.join(MODES)}")
        self.ns, self.ifname, self.mode = ns, ifname, mode
        self.ifindex = netns.ifindex(ns, ifname)
        self.prog_fd = self.link_fd = self.map_fd = self.arrival_fd = -1
        self.pinned: Path | None = None

    def _link(self) -> None:
        _, lib = native()
        with netns.entered(self.ns):
            self.link_fd = check(lib.wc_bpf__xdp_link(self.prog_fd, self.ifindex, MODES[self.mode]),
                                 f"attaching XDP ({self.mode}) to {self.ifname}", _ATTACH_HINTS)

    @property
    def prog_id(self) -> int:
        ffi, lib = native()
        out = ffi.new("uint32_t *")
        check(lib.wc_bpf__prog_id(self.prog_fd, out), "reading the program id")
        return int(out[0])

    def pin(self, directory: Path) -> None:
        """Keep link, program and map after this process: pins in a bpffs at directory."""
        _, lib = native()
        mount_bpffs(directory)
        for name, fd in (("link", self.link_fd), ("prog", self.prog_fd), ("map", self.map_fd),
                         ("arrivals", self.arrival_fd)):
            if fd >= 0:
                check(lib.wc_bpf__pin(fd, str(pin_path(directory, self.ifname, name)).encode()),
                      f"pinning the XDP {name} of {self.ifname} in {directory}")
        self.pinned = directory

    def close(self) -> None:
        for fd in (self.link_fd, self.prog_fd, self.map_fd, self.arrival_fd):
            if fd >= 0:
                os.close(fd)
        self.link_fd = self.prog_fd = self.map_fd = self.arrival_fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RedirectProgram(_Attached):
    """Every frame to the AF_XDP socket of the queue it arrived on
    (ctx->rx_queue_index), XDP_PASS for queues without one; optionally
    stamped with the time at the XDP hook (struct wc_xdp_meta). It also keeps
    each queue's arrival window (``arrivals``): the rate at which a burst
    really reached the NIC, which on veth can differ from the generator's
    (a BPF_PROG_RUN burst reaches the peer when the syscall's softirq work
    runs, compressed in time)."""

    kind = "redirect"

    def __init__(self, ns: str | None, ifname: str, max_queues: int, timestamps: bool = True,
                 mode: str = "native", attach: bool = True):
        super().__init__(ns, ifname, mode)
        ffi, lib = native()
        self.max_queues = int(max_queues)
        self.map_fd = check(lib.wc_bpf__xskmap_create(self.max_queues), "creating the XSKMAP")
        self.arrival_fd = check(lib.wc_bpf__arrival_map_create(self.max_queues), "creating the arrival map")
        log = ffi.new("char[]", VERIFIER_LOG_BYTES)
        fd = lib.wc_bpf__redirect_prog(self.map_fd, self.arrival_fd, int(bool(timestamps)), log,
                                       VERIFIER_LOG_BYTES)
        if fd < 0:
            self.close()
            raise XdpError(-fd, f"loading the redirect program: {os.strerror(-fd)}\n"
                                f"verifier: {ffi.string(log).decode(errors='replace')[-2000:]}")
        self.prog_fd = fd
        if attach:
            try:
                self._link()
            except BaseException:
                self.close()
                raise

    def set(self, queue: int, xsk_fd: int) -> None:
        """Send queue's frames to the socket xsk_fd."""
        _, lib = native()
        if not 0 <= queue < self.max_queues:
            raise ValueError(f"queue {queue}: the XSKMAP of {self.ifname} has {self.max_queues} entries")
        check(lib.wc_bpf__map_set(self.map_fd, queue, xsk_fd), f"XSKMAP[{queue}] of {self.ifname}")

    def arrivals(self, queue: int) -> tuple[int, int]:
        """(first, last) CLOCK_MONOTONIC ns of frames at queue's XDP hook since
        the last reset_arrivals (0, 0: none)."""
        ffi, lib = native()
        if self.arrival_fd < 0:
            return (0, 0)
        out = ffi.new("struct wc_xdp_arrival *")
        check(lib.wc_bpf__arrival_get(self.arrival_fd, queue, out), f"arrivals of queue {queue}")
        return int(out.first_ns), int(out.last_ns)

    def reset_arrivals(self, queue: int) -> None:
        _, lib = native()
        if self.arrival_fd >= 0:
            check(lib.wc_bpf__arrival_reset(self.arrival_fd, queue), f"resetting arrivals of queue {queue}")

    def clear(self, queue: int) -> None:
        _, lib = native()
        rc = lib.wc_bpf__map_del(self.map_fd, queue)
        if rc < 0 and -rc != errno.ENOENT:
            check(rc, f"clearing XSKMAP[{queue}] of {self.ifname}")

    @classmethod
    def from_pinned(cls, directory: Path, ns: str | None, ifname: str) -> "RedirectProgram | None":
        """The redirect program testbed-up pinned for ifname, or None."""
        _, lib = native()
        map_path = pin_path(directory, ifname, "map")
        if not map_path.exists():
            return None
        self = cls.__new__(cls)
        _Attached.__init__(self, ns, ifname, "native")
        self.map_fd = check(lib.wc_bpf__get(str(map_path).encode()), f"opening {map_path}")
        self.prog_fd = check(lib.wc_bpf__get(str(pin_path(directory, ifname, "prog")).encode()),
                             f"opening the pinned program of {ifname}")
        arr = pin_path(directory, ifname, "arrivals")
        if arr.exists():
            self.arrival_fd = check(lib.wc_bpf__get(str(arr).encode()), f"opening {arr}")
        self.max_queues = 64
        self.pinned = Path(directory)
        return self


class PassProgram(_Attached):
    """XDP_PASS for every frame: veth's NAPI path for the kernel-stack engines."""

    kind = "pass"

    def __init__(self, ns: str | None, ifname: str, mode: str = "native"):
        super().__init__(ns, ifname, mode)
        _, lib = native()
        self.prog_fd = check(lib.wc_bpf__action_prog(XDP_PASS), "loading the XDP_PASS program")
        try:
            self._link()
        except BaseException:
            self.close()
            raise


def redirect_for(tb, timestamps: bool = True) -> RedirectProgram:
    """The redirect program of a testbed's capture interface: the one
    `invoke testbed-up` pinned, or a new one owned by the caller."""
    pinned = RedirectProgram.from_pinned(tb.bpffs, tb.cap_ns, tb.cap_if)
    return pinned or RedirectProgram(tb.cap_ns, tb.cap_if, tb.queues, timestamps=timestamps)


def pass_for(tb) -> RedirectProgram:
    """What a kernel-stack engine needs on a testbed's capture interface: an
    XDP program that passes every frame. The redirect program with no socket
    in its map does exactly that (bpf_redirect_map falls back to XDP_PASS) and
    keeps the arrival windows, so every engine is measured the same way."""
    return redirect_for(tb)


def pin_path(directory: Path, ifname: str, what: str) -> Path:
    """Where an object is pinned. No dots: bpffs refuses user names with a
    dot (kernel/bpf/inode.c, bpf_lookup: they are the kernel's own)."""
    return Path(directory) / f"{ifname}_{what}"


def attached_prog_id(ns: str | None, ifname: str) -> int | None:
    """Id of the XDP program attached to ifname (any mode), or None."""
    with netns.iproute(ns) as ipr:
        idx = ipr.link_lookup(ifname=ifname)
        if not idx:
            return None
        xdp = ipr.get_links(idx[0])[0].get_attr("IFLA_XDP")
    if not xdp:
        return None
    for key, value in xdp.get("attrs", []):
        if key == "IFLA_XDP_PROG_ID" and value:
            return int(value)
    return None


def mount_bpffs(directory: Path) -> None:
    """Mount a BPF filesystem at directory unless one is there (DESIGN.md §4:
    none is mounted at /sys/fs/bpf on these machines)."""
    _, lib = native()
    directory = Path(directory)
    if _is_bpffs(directory):
        return
    directory.parent.mkdir(parents=True, exist_ok=True)
    check(lib.wc_sys__mount_bpffs(str(directory).encode()), f"mounting a bpffs at {directory}")


def _is_bpffs(directory: Path) -> bool:
    try:
        with open("/proc/self/mounts") as f:
            return any(line.split()[1] == str(directory) and line.split()[2] == "bpf" for line in f)
    except OSError:
        return False


def unpin_all(directory: Path) -> None:
    """Remove every pin in directory, unmount it and remove it (idempotent)."""
    directory = Path(directory)
    if not directory.exists():
        return
    if _is_bpffs(directory):
        for p in directory.iterdir():
            if "." not in p.name:      # maps.debug, progs.debug: the kernel's own
                p.unlink(missing_ok=True)
        _, lib = native()
        check(lib.wc_sys__umount(str(directory).encode()), f"unmounting the bpffs at {directory}")
    try:
        directory.rmdir()
    except OSError:
        pass


def mmap_map(fd: int, size: int, dtype, count: int, keep: list):
    """A BPF_F_MMAPABLE array's values as a numpy view; (address, size) goes
    on keep, for wc_bpf__map_munmap when its owner closes."""
    import numpy as np

    ffi, lib = native()
    p = lib.wc_bpf__map_mmap(fd, size)
    if p == ffi.NULL:
        raise XdpError(errno.EINVAL, "mmap of an RSS map failed (BPF_F_MMAPABLE needs kernel >= 5.5)")
    keep.append((p, size))
    return np.frombuffer(ffi.buffer(p, size), dtype=dtype, count=count)


def munmap_maps(keep: list) -> None:
    """Unmap what mmap_map put on keep (drop the numpy views first), and empty it."""
    _, lib = native()
    for p, size in keep:
        lib.wc_bpf__map_munmap(p, size)
    keep.clear()


class RssProgram:
    """RSS with a redirection table on a veth testbed: the 82599's Toeplitz
    hash (default key, traces/rss.py) of each frame the generator sends,
    bucket = hash & (n_buckets - 1), receive queue = steer[bucket]
    (driver/csrc/xdp/wc_bpf.h explains why this runs at the generator
    veth's egress and not in the capture side's XDP program).

    ``steer`` and ``counts`` are numpy views of the maps' memory (mmap):
    ``set(bucket, queue)`` is a bucket move; ``bucket_counts()`` the packets
    hashed into each bucket so far (cumulative). ``attach=False`` loads the
    program without attaching it (``test_run`` works either way).
    """

    kind = "rss"

    def __init__(self, ns: str | None, ifname: str | None, queues: int, n_buckets: int = 128,
                 reta=None, attach: bool = True):
        import numpy as np

        from traces import rss

        ffi, lib = native()
        n = int(n_buckets)
        if n < 1 or n > lib.WC_RSS_BUCKETS_MAX or n & (n - 1):
            raise ValueError(f"n_buckets={n_buckets}: a power of two in 1..{lib.WC_RSS_BUCKETS_MAX} "
                             "(128 on the 82599, datasheet §8.2.3.7.13; 512 on XL710)")
        if not 1 <= int(queues) <= lib.WC_RSS_QUEUES:
            raise ValueError(f"queues={queues}: the steering program writes queues 0..{lib.WC_RSS_QUEUES - 1}")
        self.ns, self.ifname, self.n_buckets, self.queues = ns, ifname, n, int(queues)
        self.prog_fd = self.link_fd = -1
        self.fds = [-1, -1, -1]
        self._maps = []
        fds = ffi.new("int[3]")
        check(lib.wc_bpf__rss_maps(n, fds), "creating the RSS maps")
        self.fds = [int(fds[i]) for i in range(3)]
        try:
            table = np.ascontiguousarray(rss._tables(rss.DEFAULT_RSS_KEY)[:lib.WC_RSS_INPUT_BYTES], dtype=np.uint32)
            check(lib.wc_bpf__map_update(self.fds[0], 0, ffi.from_buffer(table)), "filling the Toeplitz table")
            self.steer = self._mmap(self.fds[1], 4 * n, np.uint32, n)
            self.n_counts = n + 2 + lib.WC_RSS_QUEUES
            self.counts = self._mmap(self.fds[2], 8 * self.n_counts, np.uint64, self.n_counts)
            # ixgbe's default RETA: entry j holds queue j mod n (rss.redirection_table)
            self.steer[:] = (np.arange(n) % self.queues) if reta is None else np.asarray(reta, dtype=np.uint32)
            log = ffi.new("char[]", VERIFIER_LOG_BYTES)
            fd = lib.wc_bpf__rss_prog(self.fds[0], self.fds[1], self.fds[2], n, log, VERIFIER_LOG_BYTES)
            if fd < 0:
                raise XdpError(-fd, f"loading the RSS steering program: {os.strerror(-fd)}\n"
                                    f"verifier: {ffi.string(log).decode(errors='replace')[-2000:]}")
            self.prog_fd = fd
            if attach:
                ifindex = netns.ifindex(ns, ifname)
                with netns.entered(ns):
                    self.link_fd = check(lib.wc_bpf__tcx_egress_link(self.prog_fd, ifindex),
                                         f"attaching RSS steering at {ifname}'s egress (tcx)",
                                         {errno.EINVAL: "tcx needs kernel >= 6.6",
                                          errno.EEXIST: "a tcx program is already attached"})
        except BaseException:
            self.close()
            raise

    def _mmap(self, fd, size, dtype, count):
        return mmap_map(fd, size, dtype, count, self._maps)

    @property
    def unhashed(self) -> int:
        return int(self.counts[self.n_buckets])

    @property
    def last_hash(self) -> int:
        return int(self.counts[self.n_buckets + 1])

    def steered(self, queue: int) -> int:
        return int(self.counts[self.n_buckets + 2 + int(queue)])

    def bucket_counts(self):
        return self.counts[:self.n_buckets].copy()

    def set(self, bucket: int, queue: int) -> None:
        if not 0 <= queue < self.queues:
            raise ValueError(f"queue {queue}: the steering program has {self.queues} queues")
        self.steer[int(bucket) & (self.n_buckets - 1)] = queue

    def test_run(self, frame: bytes) -> tuple[int, int | None]:
        """Run the program once on frame (BPF_PROG_TEST_RUN): (queue it chose,
        the Toeplitz hash it computed, or None if it did not hash)."""
        ffi, lib = native()
        before = self.counts.copy()
        ret = ffi.new("uint32_t *")
        check(lib.wc_bpf__test_run_skb(self.prog_fd, frame, len(frame), ret), "test-running the RSS program")
        diff = self.counts.astype("int64") - before.astype("int64")
        steered = diff[self.n_buckets + 2:]
        queue = int(steered.nonzero()[0][0])
        hashed = diff[:self.n_buckets].sum() == 1
        return queue, (self.last_hash if hashed else None)

    def close(self) -> None:
        # numpy views point into the mappings: drop them first
        self.steer = self.counts = None
        munmap_maps(self._maps)
        for fd in (self.link_fd, self.prog_fd, *self.fds):
            if fd >= 0:
                os.close(fd)
        self.link_fd = self.prog_fd = -1
        self.fds = [-1, -1, -1]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
