"""The libpcap-compatible API of WireCAP (paper §3.2.2e): one handle per
receive queue, with the calls a libpcap user knows.

    h = engine.handle(0)
    h.setfilter("udp")                       # pcap_setfilter, libpcap-compiled BPF
    h.dispatch(-1, callback)                 # pcap_dispatch: what is there now
    h.loop(1000, callback)                   # pcap_loop: 1000 packets
    hdr, data = h.next_ex(timeout_ms=100)    # pcap_next_ex
    h.stats()                                # pcap_stats: ps_recv, ps_drop, ps_ifdrop
    h.inject(data)                           # pcap_inject: zero copy for captured frames
    h.setnonblock(True)                      # pcap_setnonblock

A callback is either a Python callable ``callback(hdr, data)`` (data is a
read-only view into the UMEM, valid during the call: copy it with bytes() to
keep it) or an ``engine.live.work.Work`` (a C callback: the packet path
never enters Python, so a Python user elsewhere does not slow it down).
"""
from __future__ import annotations

import errno
from typing import NamedTuple

from driver.xdp import counters
from driver.xdp._native import native
from driver.xdp.errors import check

BLOCK_SLICE_MS = 100  # a blocking call waits in slices so Ctrl-C gets through


class PacketHeader(NamedTuple):
    ts_ns: int          # CLOCK_REALTIME at the XDP hook, ns (0: no stamp)
    caplen: int
    len: int
    queue: int          # receive queue it arrived on
    member: int         # application thread (handle) it was delivered to
    offloaded: bool     # arrived through buddy-group offloading
    seq: int            # position in its receive ring's stream

    @property
    def ts(self) -> float:
        return self.ts_ns / 1e9

    @classmethod
    def from_c(cls, h) -> "PacketHeader":
        return cls(int(h.ts_ns), int(h.caplen), int(h.len), int(h.queue), int(h.member),
                   bool(h.flags & 1), int(h.seq))


class PcapStat(NamedTuple):
    ps_recv: int        # packets delivered through this handle
    ps_drop: int        # dropped for lack of a buffer: the queue's fill ring was empty (XDP_STATISTICS)
    ps_ifdrop: int      # dropped by the interface before reaching the socket


class _PyCallback:
    def __init__(self, fn, handle):
        self.fn, self.handle, self.error = fn, handle, None


_ffi, _lib = native()


@_ffi.def_extern()
def wc_py_pkt_cb(user, h, data):  # noqa: D401 - C callback
    st = _ffi.from_handle(user)
    if st.error is not None:
        return
    try:
        st.fn(PacketHeader.from_c(h), memoryview(_ffi.buffer(data, h.caplen)).toreadonly())
    except BaseException as exc:  # re-raised by dispatch() once C returns
        st.error = exc
        st.handle.breakloop()


class PcapHandle:
    """pcap_t for one queue of a LiveEngine."""

    def __init__(self, engine, member: int):
        self.engine, self.member = engine, member
        self.queue = engine.queues[member]
        self._nonblock = False
        self._filter = None
        self._hdr = _ffi.new("struct wc_pkthdr *")
        self._data = _ffi.new("const uint8_t **")

    # pcap_setnonblock / pcap_getnonblock
    def setnonblock(self, nonblock: bool) -> None:
        self._nonblock = bool(nonblock)

    def getnonblock(self) -> bool:
        return self._nonblock

    def setfilter(self, expr: str | None) -> None:
        """pcap_setfilter: packets the filter rejects are counted (filtered), not delivered."""
        from engine.live.work import Filter

        self._filter = Filter(expr) if expr else None
        _lib.wc_live__setfilter(self.engine.ptr, self.member, self._filter.ptr if self._filter else _ffi.NULL)

    def breakloop(self) -> None:
        _lib.wc_live__breakloop(self.engine.ptr, self.member)

    def _call(self, cnt: int, callback, timeout_ms: int) -> int:
        from engine.live.work import Work

        if isinstance(callback, Work):
            return check(_lib.wc_live__dispatch(self.engine.ptr, self.member, cnt, callback.cb, callback.user,
                                                timeout_ms), "dispatch")
        if not callable(callback):
            raise TypeError("callback must be callable(hdr, data) or an engine.live.work.Work")
        st = _PyCallback(callback, self)
        h = _ffi.new_handle(st)
        n = check(_lib.wc_live__dispatch(self.engine.ptr, self.member, cnt, _lib.wc_py_pkt_cb, h, timeout_ms),
                  "dispatch")
        if st.error is not None:
            raise st.error
        return n

    def dispatch(self, cnt: int, callback, timeout_ms: int | None = None) -> int:
        """pcap_dispatch: up to cnt packets (cnt <= 0: all now available).
        Blocking mode waits for the first packet (up to timeout_ms if given);
        non-blocking mode returns 0 at once when there is none."""
        if self._nonblock:
            return self._call(cnt, callback, 0)
        if timeout_ms is not None:
            return self._call(cnt, callback, max(0, int(timeout_ms)))
        while True:
            n = self._call(cnt, callback, BLOCK_SLICE_MS)
            if n:
                return n

    def loop(self, cnt: int, callback, timeout_ms: int | None = None) -> int:
        """pcap_loop: cnt packets (cnt <= 0: until breakloop() or timeout_ms
        without a packet). Returns packets delivered."""
        done = 0
        while cnt <= 0 or done < cnt:
            n = self._call(cnt - done if cnt > 0 else -1, callback,
                           BLOCK_SLICE_MS if timeout_ms is None else min(BLOCK_SLICE_MS, timeout_ms))
            if n == 0 and timeout_ms is not None:
                n = self._call(cnt - done if cnt > 0 else -1, callback, timeout_ms)
                if n == 0:
                    break
            done += n
        return done

    def next_ex(self, timeout_ms: int | None = None):
        """pcap_next_ex: (header, data) or None on timeout (non-blocking: at
        once). data is valid until the next call on this handle."""
        wait = 0 if self._nonblock else (BLOCK_SLICE_MS if timeout_ms is None else int(timeout_ms))
        while True:
            rc = check(_lib.wc_live__next(self.engine.ptr, self.member, self._hdr, self._data, wait), "next_ex")
            if rc:
                h = PacketHeader.from_c(self._hdr)
                return h, memoryview(_ffi.buffer(self._data[0], h.caplen)).toreadonly()
            if self._nonblock or timeout_ms is not None:
                return None

    def stats(self) -> PcapStat:
        st = self.engine.stats(self.queue)
        ifdrop = 0
        try:
            per_q = counters.queue_counters(self.engine.ns, self.engine.ifname).rx.get(self.queue, {})
            ifdrop = max(0, per_q.get("drops", 0) - st["capture_drops"])
        except OSError:
            pass
        return PcapStat(st["consumed"], st["capture_drops"], ifdrop)

    def inject(self, data) -> int:
        """pcap_inject onto NIC2 (engine.forward_to first). A frame handed to
        a callback goes out from the UMEM by address, zero copy; other bytes
        are copied into a TX frame. Returns the bytes sent."""
        buf = _ffi.from_buffer(data)
        n = len(buf)
        check(_lib.wc_live__inject(self.engine.ptr, self.member, _ffi.cast("const uint8_t *", buf), n, 1000),
              "inject", {errno.ENOTCONN: "no TX socket: call engine.forward_to(ns, ifname) first",
                         errno.EAGAIN: "the TX ring stayed full for 1 s"})
        return n

    def flush(self, timeout_ms: int = 1000) -> int:
        """Wait for forwarded frames to complete; returns those still pending."""
        return self.engine.tx_flush(self.member, timeout_ms)
