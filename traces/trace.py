"""The columnar trace: one numpy array per packet attribute.

A :class:`Trace` holds, per packet, its time (``ts_ns``, int64 nanoseconds
after the first packet), its length on the wire (``wire_len``: the frame
without FCS, as pcap records it) and captured length (``cap_len``), and an
index (``key_idx``) into a small table of distinct flow keys (``keys``,
:data:`KEY_DTYPE`). Everything about addresses and ports lives in that
table, so RSS, flow ids and address rewriting cost per distinct key, not per
packet. Captured bytes are kept only when asked for (``raw``).

Flows (``flow_ids``): packets with the same (IP version, protocol, source
address, destination address, source port, destination port) share an id;
ports are those of TCP and UDP (0 for other protocols and for non-first
fragments). Flows are directional unless ``bidirectional=True``. Frames that
are not IP share one id per (source MAC, destination MAC) pair. Ids are
dense and numbered in order of first appearance.
"""
from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field, replace

import numpy as np

from traces import groups, rss

# Mirrors struct ps_key in traces/csrc/ps_parse.h (44 bytes, native byte order).
# The padding is named so that every byte belongs to a field: numpy copies
# fields, and unnamed padding would carry garbage into byte comparisons.
KEY_DTYPE = np.dtype([("l3", "u1"), ("proto", "u1"), ("frag", "u1"), ("pad0", "u1"),
                      ("sport", "u2"), ("dport", "u2"), ("ethertype", "u2"), ("pad1", "u2"),
                      ("src", "u1", 16), ("dst", "u1", 16)])
assert KEY_DTYPE.itemsize == 44

LINKTYPE_ETHERNET = 1  # tcpdump.org/linktypes.html
ETH_P_IPV4 = 0x0800
ETH_P_IPV6 = 0x86DD


@dataclass(frozen=True)
class RawFrames:
    """Captured bytes: packet i is ``data[offsets[i] : offsets[i] + cap_len[i]]``.

    ``l3_off`` is the offset of the IP header inside the frame (0xffff: none);
    ``linktypes`` the link type per packet (pcapng files may mix them).
    ``data`` may be a read-only view of a memory-mapped file.
    """

    data: np.ndarray
    offsets: np.ndarray
    l3_off: np.ndarray
    linktypes: np.ndarray

    def take(self, idx: np.ndarray) -> "RawFrames":
        return RawFrames(self.data, self.offsets[idx], self.l3_off[idx], self.linktypes[idx])


@dataclass(frozen=True, eq=False)
class Trace:
    ts_ns: np.ndarray
    wire_len: np.ndarray
    cap_len: np.ndarray
    key_idx: np.ndarray
    keys: np.ndarray
    t0_ns: int = 0
    linktype: int = LINKTYPE_ETHERNET
    name: str = ""
    raw: RawFrames | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.ts_ns)
        for col, dtype in (("ts_ns", np.int64), ("wire_len", np.uint32), ("cap_len", np.uint32),
                           ("key_idx", np.int32)):
            arr = getattr(self, col)
            if arr.dtype != dtype or arr.ndim != 1 or len(arr) != n:
                raise ValueError(f"Trace.{col}: expected 1-d {np.dtype(dtype).name} of length {n}, "
                                 f"got {arr.dtype} shape {arr.shape}")
        if self.keys.dtype != KEY_DTYPE:
            if not set(self.keys.dtype.names or ()) >= {"l3", "proto", "frag", "sport", "dport", "src", "dst"}:
                raise ValueError("Trace.keys must have traces.trace.KEY_DTYPE")
            object.__setattr__(self, "keys", as_keys(self.keys))
        if n and (self.key_idx.min() < 0 or self.key_idx.max() >= len(self.keys)):
            raise ValueError("Trace.key_idx points outside the key table")

    def digest(self) -> str:
        """SHA-256 of what decides the simulated packets: times, lengths, key
        index, key table and t0 (little-endian, fixed dtypes), not the name
        or the metadata. Two machines that made the same trace agree on it."""
        h = hashlib.sha256()
        h.update(np.int64(self.t0_ns).astype("<i8").tobytes())
        for arr, dtype in ((self.ts_ns, "<i8"), (self.wire_len, "<u4"), (self.cap_len, "<u4"),
                           (self.key_idx, "<i4")):
            h.update(np.int64(len(arr)).astype("<i8").tobytes())
            h.update(np.ascontiguousarray(arr, dtype=dtype).tobytes())
        h.update(np.ascontiguousarray(self.keys, dtype=KEY_DTYPE.newbyteorder("<")).tobytes())
        return h.hexdigest()

    # ---- size and time -------------------------------------------------

    def __len__(self) -> int:
        return len(self.ts_ns)

    def __repr__(self) -> str:
        return (f"Trace({self.name!r}, {len(self)} packets, {self.duration_s:.3f} s, "
                f"{len(self.keys)} keys)")

    @property
    def duration_s(self) -> float:
        """Time from the earliest to the latest packet, in seconds."""
        if len(self) < 2:
            return 0.0
        return float(self.ts_ns.max() - self.ts_ns.min()) / 1e9

    @property
    def is_time_ordered(self) -> bool:
        return bool(len(self) < 2 or np.all(np.diff(self.ts_ns) >= 0))

    @property
    def mean_pps(self) -> float:
        return len(self) / self.duration_s if self.duration_s > 0 else float("nan")

    # ---- per-packet views of the key table -----------------------------

    def column(self, name: str) -> np.ndarray:
        """A key-table field per packet: l3, proto, frag, sport, dport, ethertype, src, dst."""
        return self.keys[name][self.key_idx]

    @property
    def ip_version(self) -> np.ndarray:
        return self.column("l3")

    @property
    def proto(self) -> np.ndarray:
        return self.column("proto")

    @property
    def sport(self) -> np.ndarray:
        return self.column("sport")

    @property
    def dport(self) -> np.ndarray:
        return self.column("dport")

    def addresses(self) -> list[str]:
        """Every distinct IP address in the trace, as text (sorted)."""
        out = []
        used = self.keys[np.bincount(self.key_idx, minlength=len(self.keys)) > 0]
        for l3, alen in ((4, 4), (6, 16)):
            rows = used[used["l3"] == l3]
            both = np.ascontiguousarray(np.concatenate([rows["src"][:, :alen], rows["dst"][:, :alen]]))
            for a in np.unique(both.view(f"V{alen}").reshape(-1)):
                out.append(format_address(l3, np.frombuffer(a.tobytes(), np.uint8)))
        return sorted(out)

    # ---- flows and RSS --------------------------------------------------

    def _key_flow_ids(self, bidirectional: bool = False, rows: np.ndarray | None = None) -> np.ndarray:
        """Flow id per key-table row (or per row of `rows`); dense, arbitrary order."""
        k = self.keys if rows is None else self.keys[rows]
        n = len(k)
        is_ip = k["l3"] != 0
        src, dst, sport, dport = k["src"], k["dst"], k["sport"], k["dport"]
        if bidirectional:  # swaps in copies: k may be the table itself, read-only when mapped
            src, dst, sport, dport = src.copy(), dst.copy(), sport.copy(), dport.copy()
            # canonical direction: the lexicographically smaller (address, port) first
            differ = src != dst
            first = np.argmax(differ, axis=1)
            rows = np.arange(n)
            swap = np.where(differ.any(axis=1), src[rows, first] > dst[rows, first], sport > dport)
            src[swap], dst[swap] = k["dst"][swap], k["src"][swap]
            sport[swap], dport[swap] = k["dport"][swap], k["sport"][swap]
        rec = np.zeros(n, dtype=[("l3", "u1"), ("proto", "u1"), ("sport", ">u2"), ("dport", ">u2"),
                                 ("src", "V16"), ("dst", "V16")])
        rec["l3"] = k["l3"]
        rec["proto"] = np.where(is_ip, k["proto"], 0)
        rec["sport"] = np.where(is_ip, sport, 0)
        rec["dport"] = np.where(is_ip, dport, 0)
        rec["src"] = np.ascontiguousarray(src).view("V16")[:, 0]
        rec["dst"] = np.ascontiguousarray(dst).view("V16")[:, 0]
        return groups.dense_ids(rec)

    def flow_ids(self, bidirectional: bool = False) -> np.ndarray:
        """Dense flow index per packet (int32), numbered by first appearance."""
        if not len(self):
            return np.zeros(0, dtype=np.int32)
        # Everything is decided per key-table row, then gathered once per packet:
        # a flow's first packet is the earliest first packet among its keys.
        first = groups.first_index(self.key_idx, len(self.keys))
        used = np.flatnonzero(first < len(self))  # a selection keeps its parent's table
        key_flow = self._key_flow_ids(bidirectional, None if len(used) == len(self.keys) else used)
        flow_first = np.full(int(key_flow.max()) + 1, len(self), dtype=np.int64)
        np.minimum.at(flow_first, key_flow, first[used])
        # first packets are distinct positions, so this order has no ties
        rank = np.empty(len(flow_first), dtype=np.int32)
        rank[np.argsort(flow_first)] = np.arange(len(flow_first), dtype=np.int32)
        per_key = np.full(len(self.keys), -1, dtype=np.int32)
        per_key[used] = rank[key_flow]
        return per_key[self.key_idx]

    def n_flows(self, bidirectional: bool = False, ip_only: bool = False) -> int:
        """Number of distinct flows (optionally only IP flows)."""
        ids = self.flow_ids(bidirectional)
        if ip_only:
            ids = ids[self.ip_version != 0]
        return int(len(np.unique(ids)))

    def rss_hashes(self, key: bytes = rss.DEFAULT_RSS_KEY, udp_ports: bool = False,
                   symmetric: bool = False) -> np.ndarray:
        """The 32-bit RSS hash per packet (0 for packets RSS does not hash)."""
        h, _ = rss.key_hashes(self.keys, key, udp_ports, symmetric)
        return h[self.key_idx]

    def rss_queues(self, n_queues: int, key: bytes = rss.DEFAULT_RSS_KEY, udp_ports: bool = False,
                   symmetric: bool = False, reta: np.ndarray | None = None) -> np.ndarray:
        """Receive queue per packet (uint8), as an 82599 with n_queues RSS queues steers it."""
        return rss.key_queues(self.keys, n_queues, key, udp_ports, symmetric, reta)[self.key_idx]

    # ---- derived traces ------------------------------------------------------

    def select(self, idx) -> "Trace":
        """The packets picked by a boolean mask, an index array or a slice.

        Times keep their origin (t = 0 is still the first packet of this trace).
        """
        if isinstance(idx, slice):
            idx = np.arange(len(self))[idx]
        idx = np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return replace(self, ts_ns=self.ts_ns[idx], wire_len=self.wire_len[idx], cap_len=self.cap_len[idx],
                       key_idx=self.key_idx[idx], raw=self.raw.take(idx) if self.raw else None,
                       meta=dict(self.meta))

    def time_ordered(self) -> "Trace":
        """Packets in time order (stable), origin moved to the earliest packet."""
        if self.is_time_ordered:
            return self
        order = np.argsort(self.ts_ns, kind="stable")
        out = self.select(order)
        first = int(out.ts_ns[0])
        return replace(out, ts_ns=out.ts_ns - first, t0_ns=self.t0_ns + first)

    def scaled(self, speed: float) -> "Trace":
        """Replay at `speed` times the recorded speed (2.0: twice as fast; gaps halve)."""
        speed = float(speed)
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        ts = np.round(self.ts_ns / speed).astype(np.int64) if speed != 1.0 else self.ts_ns
        meta = dict(self.meta, replay_speed=self.meta.get("replay_speed", 1.0) * speed)
        return replace(self, ts_ns=ts, meta=meta)

    def with_keys(self, keys: np.ndarray, raw: RawFrames | None = None, name: str | None = None) -> "Trace":
        """Same packets, another key table of the same length (used by the address rewrite)."""
        if keys.dtype != KEY_DTYPE or len(keys) != len(self.keys):
            raise ValueError("with_keys: the new table must have KEY_DTYPE and the same length")
        return replace(self, keys=keys, raw=raw if raw is not None else self.raw,
                       name=self.name if name is None else name, meta=dict(self.meta))

    def summary(self) -> dict:
        return {"name": self.name, "packets": len(self), "duration_s": self.duration_s,
                "flows": self.n_flows(), "bytes": int(self.wire_len.sum(dtype=np.int64)),
                "mean_pps": self.mean_pps}


def format_address(l3: int, addr: np.ndarray) -> str:
    b = bytes(np.asarray(addr, dtype=np.uint8))
    if l3 == 4:
        return str(ipaddress.IPv4Address(b[:4]))
    if l3 == 6:
        return str(ipaddress.IPv6Address(b[:16]))
    return ":".join(f"{x:02x}" for x in b[:6])


def as_keys(arr: np.ndarray) -> np.ndarray:
    """A key table in KEY_DTYPE (zero padding) from any array with its fields."""
    out = np.zeros(len(arr), dtype=KEY_DTYPE)
    for name in arr.dtype.names:
        if name in KEY_DTYPE.names and not name.startswith("pad"):
            out[name] = arr[name]
    return out
