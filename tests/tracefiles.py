"""Frames and capture files built byte by byte, for the traces tests.

Headers as data, in the style of dpkt: each builder returns bytes; the pcap
and pcapng writers here are independent of traces/ so they can check it.
"""
from __future__ import annotations

import ipaddress
import struct

ETH_IPV4, ETH_IPV6, ETH_ARP, ETH_VLAN, ETH_QINQ = 0x0800, 0x86DD, 0x0806, 0x8100, 0x88A8
MAC_A, MAC_B = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def eth(payload: bytes, ethertype: int = ETH_IPV4, vlans: tuple = (), dst=MAC_B, src=MAC_A) -> bytes:
    tags = b""
    types = [*(t for t, _ in vlans), ethertype]
    head = dst + src + struct.pack("!H", types[0])
    for (tpid, vid), nxt in zip(vlans, types[1:]):
        tags += struct.pack("!HH", vid, nxt)
    return head + tags + payload


def ipv4(src: str, dst: str, proto: int, payload: bytes, frag: int = 0x4000, ident: int = 1) -> bytes:
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0,
                    ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ipv6(src: str, dst: str, nh: int, payload: bytes) -> bytes:
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, 64, ipaddress.IPv6Address(src).packed,
                       ipaddress.IPv6Address(dst).packed) + payload


def tcp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x10, 65535, 0, 0) + payload


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def with_l4_checksum(ip: bytes) -> bytes:
    """Fill the TCP/UDP checksum of an IPv4 or IPv6 packet without extension headers."""
    if ip[0] >> 4 == 4:
        hl, proto, src, dst = (ip[0] & 15) * 4, ip[9], ip[12:16], ip[16:20]
        l4 = ip[hl:]
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(l4))
    else:
        hl, proto, src, dst = 40, ip[6], ip[8:24], ip[24:40]
        l4 = ip[hl:]
        pseudo = src + dst + struct.pack("!IxxxB", len(l4), proto)
    off = 16 if proto == 6 else 6
    l4 = l4[:off] + b"\0\0" + l4[off + 2:]
    c = csum(pseudo + l4) or 0xFFFF
    return ip[:hl] + l4[:off] + struct.pack("!H", c) + l4[off + 2:]


def l4_checksum_ok(ip: bytes) -> bool:
    """True if the TCP/UDP checksum of a full IPv4/IPv6 packet verifies (UDP/IPv4 0 = none)."""
    if ip[0] >> 4 == 4:
        hl, proto, src, dst = (ip[0] & 15) * 4, ip[9], ip[12:16], ip[16:20]
        l4 = ip[hl:struct.unpack("!H", ip[2:4])[0]]
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(l4))
        if proto == 17 and l4[6:8] == b"\0\0":
            return True
    else:
        hl, proto, src, dst = 40, ip[6], ip[8:24], ip[24:40]
        l4 = ip[hl:hl + struct.unpack("!H", ip[4:6])[0]]
        pseudo = src + dst + struct.pack("!IxxxB", len(l4), proto)
    return csum(pseudo + l4) == 0


# ---- capture files ----------------------------------------------------------------

def pcap(records, linktype: int = 1, big: bool = False, nsec: bool = False, snaplen: int = 65535) -> bytes:
    """records: (ts_ns, frame[, orig_len]) tuples."""
    o = ">" if big else "<"
    out = [struct.pack(o + "IHHiIII", 0xA1B23C4D if nsec else 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)]
    for rec in records:
        ts, frame = rec[0], rec[1]
        orig = rec[2] if len(rec) > 2 else len(frame)
        sec, frac = divmod(ts, 10**9)
        out.append(struct.pack(o + "IIII", sec, frac if nsec else frac // 1000, len(frame), orig) + frame)
    return b"".join(out)


def _block(btype: int, body: bytes, o: str = "<") -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(o + "II", btype, n) + body + struct.pack(o + "I", n)


def _options(opts, o: str = "<") -> bytes:
    out = b""
    for code, value in opts:
        out += struct.pack(o + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)
    return out + (struct.pack(o + "HH", 0, 0) if opts else b"")


def shb(o: str = "<") -> bytes:
    return _block(0x0A0D0D0A, struct.pack(o + "IHHq", 0x1A2B3C4D, 1, 0, -1), o)


def idb(linktype: int = 1, snaplen: int = 0, tsresol: int | None = None, tsoffset: int | None = None,
        o: str = "<") -> bytes:
    opts = []
    if tsresol is not None:
        opts.append((9, bytes([tsresol])))
    if tsoffset is not None:
        opts.append((14, struct.pack(o + "q", tsoffset)))
    return _block(1, struct.pack(o + "HHI", linktype, 0, snaplen) + _options(opts, o), o)


def epb(iface: int, ts_units: int, frame: bytes, orig: int | None = None, o: str = "<") -> bytes:
    return _block(6, struct.pack(o + "IIIII", iface, ts_units >> 32, ts_units & 0xFFFFFFFF, len(frame),
                                 len(frame) if orig is None else orig) + frame, o)


def spb(frame: bytes, orig: int | None = None, o: str = "<") -> bytes:
    return _block(3, struct.pack(o + "I", len(frame) if orig is None else orig) + frame, o)


def opb(iface: int, ts_units: int, frame: bytes, o: str = "<") -> bytes:
    return _block(2, struct.pack(o + "HHIIII", iface, 0, ts_units >> 32, ts_units & 0xFFFFFFFF, len(frame),
                                 len(frame)) + frame, o)


def unknown_block(o: str = "<") -> bytes:
    return _block(0x00000BAD, b"ignored!", o)
