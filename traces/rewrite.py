"""Move every address of a trace into the benchmark ranges before replaying it.

DESIGN.md §5: every address the project puts on a wire is in 198.18.0.0/15
(RFC 2544 §C.2.2, the IPv4 range for network benchmarking). IPv6 addresses
go to 2001:2::/48, the IPv6 benchmarking range (RFC 5180 §5.1).

The map is one-to-one and consistent: each distinct original address gets
one benchmark address, the same wherever it appears (source or
destination, IP header or ARP payload), so flows stay flows and
conversations stay conversations. Addresses already in range keep their
value; the others take the free addresses of the range in order of first
appearance in the trace. The rewrite touches the key table (what RSS and
flow ids see) and, when the trace has captured bytes, the frames too: IPv4
and IPv6 headers (IPv4 header checksum recomputed, TCP/UDP checksums
updated incrementally per RFC 1624) and Ethernet ARP sender/target
addresses. Addresses inside application payloads (DNS answers, ICMP
quotations, SSDP text) are not rewritten.

Note that RSS hashes change with the addresses: the rewritten trace spreads
over receive queues differently from the original.
"""
from __future__ import annotations

import ipaddress

import numpy as np

from traces._c import lib, ptr
from traces.trace import KEY_DTYPE, LINKTYPE_ETHERNET, RawFrames, Trace

BENCH_NET4 = ipaddress.IPv4Network("198.18.0.0/15")   # RFC 2544 §C.2.2
BENCH_NET6 = ipaddress.IPv6Network("2001:2::/48")     # RFC 5180 §5.1
ETH_P_ARP = 0x0806
ARP_IPV4_ETHERNET = bytes.fromhex("000108000604")    # htype 1, ptype 0x0800, hlen 6, plen 4 (RFC 826)
ARP_SPA_OFF, ARP_TPA_OFF = 14 + 14, 14 + 24           # sender / target protocol address in the frame


def _in_net(addrs: np.ndarray, net) -> np.ndarray:
    """Per row of (m, 4 or 16) address bytes: inside net?"""
    nbytes, rest = divmod(net.prefixlen, 8)
    prefix = np.frombuffer(net.network_address.packed, np.uint8)
    ok = np.all(addrs[:, :nbytes] == prefix[:nbytes], axis=1)
    if rest:
        mask = (0xFF << (8 - rest)) & 0xFF
        ok &= (addrs[:, nbytes] & mask) == prefix[nbytes]
    return ok


def in_benchmark_range(trace: Trace) -> bool:
    """True if every IPv4 address is in 198.18.0.0/15 and every IPv6 one in 2001:2::/48."""
    for l3, net in ((4, BENCH_NET4), (6, BENCH_NET6)):
        rows = trace.keys[trace.keys["l3"] == l3]
        alen = 4 if l3 == 4 else 16
        for side in ("src", "dst"):
            if not _in_net(rows[side][:, :alen], net).all():
                return False
    return True


def _arp_rows(trace: Trace) -> np.ndarray:
    """Packets that are untagged Ethernet ARP for IPv4 with both addresses captured."""
    if trace.raw is None:
        return np.zeros(0, np.int64)
    et = trace.keys["ethertype"][trace.key_idx]
    cand = np.flatnonzero((et == ETH_P_ARP) & (trace.raw.linktypes == LINKTYPE_ETHERNET)
                          & (trace.cap_len >= ARP_TPA_OFF + 4))
    if not len(cand):
        return cand
    d, off = trace.raw.data, trace.raw.offsets[cand]
    head = np.stack([d[off + 14 + i] for i in range(6)], axis=1)
    ok = np.all(head == np.frombuffer(ARP_IPV4_ETHERNET, np.uint8), axis=1)
    return cand[ok]


def _arp_addresses(trace: Trace, rows: np.ndarray, at: int) -> np.ndarray:
    off = trace.raw.offsets[rows]
    return np.stack([trace.raw.data[off + at + i] for i in range(4)], axis=1) if len(rows) else np.zeros((0, 4), np.uint8)


def _rows(addrs: np.ndarray) -> np.ndarray:
    """(n, alen) address bytes as n opaque values (fast np.unique)."""
    a = np.ascontiguousarray(addrs, dtype=np.uint8)
    return a.view(f"V{a.shape[1]}").reshape(-1)


def _ordered_unique(addrs: np.ndarray) -> np.ndarray:
    """Distinct rows in order of first appearance."""
    if not len(addrs):
        return addrs
    _, first = np.unique(_rows(addrs), return_index=True)
    return addrs[np.sort(first)]


def _assign(originals: np.ndarray, net) -> dict[bytes, bytes]:
    """One-to-one map original -> benchmark address (bytes); in-range addresses keep theirs."""
    alen = 4 if net.version == 4 else 16
    mapping, taken, todo = {}, set(), []
    for a in originals:
        b = bytes(a[:alen])
        if ipaddress.ip_address(b) in net:
            mapping[b] = b
            taken.add(int.from_bytes(b, "big"))
        else:
            todo.append(b)
    base = int(net.network_address)
    last = int(net.broadcast_address) if net.version == 4 else base + (1 << 64)
    nxt = base + 1  # skip the network address
    for b in todo:
        while nxt in taken:
            nxt += 1
        if nxt >= last:
            raise ValueError(f"more distinct addresses than {net} can hold")
        mapping[b] = nxt.to_bytes(alen, "big")
        taken.add(nxt)
        nxt += 1
    return mapping


def address_map(trace: Trace) -> dict[str, str]:
    """The map rewrite_addresses applies, as text: {"10.0.2.15": "198.18.0.1", ...}."""
    maps = _maps(trace, _arp_rows(trace))
    return {str(ipaddress.ip_address(a)): str(ipaddress.ip_address(b)) for m in maps.values() for a, b in m.items()}


def _maps(trace: Trace, arp: np.ndarray) -> dict[int, dict[bytes, bytes]]:
    out = {}
    for l3, net in ((4, BENCH_NET4), (6, BENCH_NET6)):
        alen = 4 if l3 == 4 else 16
        rows = trace.keys[trace.keys["l3"] == l3]
        # first appearance: key tables are in first-use order; src before dst
        seen = np.empty((2 * len(rows), alen), np.uint8)
        seen[0::2], seen[1::2] = rows["src"][:, :alen], rows["dst"][:, :alen]
        if l3 == 4 and len(arp):
            extra = np.empty((2 * len(arp), 4), np.uint8)
            extra[0::2], extra[1::2] = _arp_addresses(trace, arp, ARP_SPA_OFF), _arp_addresses(trace, arp, ARP_TPA_OFF)
            seen = np.concatenate([seen, extra])
        out[l3] = _assign(_ordered_unique(seen), net)
    return out


def _map_rows(addrs: np.ndarray, m: dict[bytes, bytes]) -> np.ndarray:
    """Apply a byte map to each row of an (n, alen) array (work per distinct address)."""
    if not len(addrs):
        return addrs.copy()
    uniq, inv = np.unique(_rows(addrs), return_inverse=True)
    new = np.array([np.frombuffer(m[u.tobytes()], np.uint8) for u in uniq])
    return new[inv.reshape(-1)]


def _apply(keys: np.ndarray, maps: dict) -> np.ndarray:
    new = keys.copy()
    for l3, m in maps.items():
        alen = 4 if l3 == 4 else 16
        rows = np.flatnonzero(keys["l3"] == l3)
        for side in ("src", "dst"):
            col = new[side]
            col[rows, :alen] = _map_rows(keys[side][rows, :alen], m)
            new[side] = col
    return new


def rewrite_addresses(trace: Trace) -> Trace:
    """The same trace with every address moved into the benchmark ranges (see module doc)."""
    arp = _arp_rows(trace)
    maps = _maps(trace, arp)
    new_keys = _apply(trace.keys, maps)
    raw = None
    if trace.raw is not None:
        data = np.array(trace.raw.data, dtype=np.uint8, copy=True)
        rc = lib.ps_rewrite__addresses(ptr(data, "uint8_t *"), ptr(trace.raw.offsets, "int64_t *"),
                                       ptr(trace.cap_len, "uint32_t *"), ptr(trace.raw.l3_off, "uint16_t *"),
                                       ptr(trace.key_idx, "int32_t *"), len(trace),
                                       ptr(np.ascontiguousarray(trace.keys, KEY_DTYPE), "struct ps_key *"),
                                       ptr(new_keys, "struct ps_key *"))
        if rc < 0:
            raise ValueError(f"{trace.name}: a frame's addresses do not match its parsed key")
        for at in (ARP_SPA_OFF, ARP_TPA_OFF):
            new = _map_rows(_arp_addresses(trace, arp, at), maps[4])
            for b in range(4):
                data[trace.raw.offsets[arp] + at + b] = new[:, b]
        raw = RawFrames(data, trace.raw.offsets, trace.raw.l3_off, trace.raw.linktypes)
    out = trace.with_keys(new_keys, raw=raw, name=f"{trace.name} (rewritten)")
    out.meta["rewritten"] = {"ipv4": len(maps[4]), "ipv6": len(maps[6])}
    return out
