"""Frames for the testbed: Ethernet/IPv4/UDP and TCP built from fields,
checksums, sequence numbers, and the guard that keeps every address on the
wire inside RFC 2544's 198.18.0.0/15 (DESIGN.md §5).

Sizes: the paper's "64-byte packets" are 64 bytes on the wire including the
4-byte FCS, which the NIC strips and AF_XDP never shows; a frame we build
for them is 60 bytes (``frame_len(64) == 60``).
"""
from __future__ import annotations

import ipaddress
import struct

ETH_HLEN = 14
ETH_P_IP = 0x0800
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPV4_HLEN = 20
UDP_HLEN = 8
TCP_HLEN = 20
FCS_LEN = 4              # IEEE 802.3 frame check sequence, stripped by the NIC
MIN_FRAME = 60           # 64 bytes on the wire minus the FCS
MAX_FRAME = 1514         # 1500-byte MTU plus the Ethernet header
BENCHMARK_NET = ipaddress.ip_network("198.18.0.0/15")  # RFC 2544 §C.2.2
# UDP payload offset in the frames we build: where the generator writes the
# frame number (big endian, 32 bit)
SEQ_OFFSET = ETH_HLEN + IPV4_HLEN + UDP_HLEN
# the paper's sender/receiver nets, moved into 198.18.0.0/15: the receivers
# sit in 198.18.2.0/24 so that "net 198.18.2.0/24 and udp" matches (paper §2.2)
SRC_NET = "198.18.1.0"
DST_NET = "198.18.2.0"


class NetworkDisciplineError(ValueError):
    """A frame would put an address outside 198.18.0.0/15 on the wire."""


def frame_len(size_on_wire: int) -> int:
    """Bytes of a frame that is size_on_wire bytes on the wire (FCS included)."""
    n = int(size_on_wire) - FCS_LEN
    if not MIN_FRAME <= n <= MAX_FRAME:
        raise ValueError(f"size {size_on_wire}: packets are {MIN_FRAME + FCS_LEN}..{MAX_FRAME + FCS_LEN} "
                         "bytes on the wire (FCS included)")
    return n


def mac_bytes(mac: str | bytes) -> bytes:
    if isinstance(mac, bytes):
        return mac
    return bytes.fromhex(mac.replace(":", ""))


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4_header(src: str, dst: str, proto: int, payload_len: int, ident: int = 0, ttl: int = 64) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, IPV4_HLEN + payload_len, ident & 0xFFFF, 0x4000, ttl,
                      proto, 0, ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    return hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]


def udp_frame(dst_mac, src_mac, src: str, dst: str, sport: int, dport: int, length: int = MIN_FRAME,
              payload: bytes = b"") -> bytes:
    """An Ethernet/IPv4/UDP frame of ``length`` bytes (payload zero-padded).
    The UDP checksum is 0 ("no checksum", RFC 768), so the generator may
    write sequence numbers into the payload without fixing it."""
    room = length - ETH_HLEN - IPV4_HLEN - UDP_HLEN
    if room < 0 or len(payload) > room:
        raise ValueError(f"length {length}: too short for a UDP frame with a {len(payload)}-byte payload")
    payload = payload + bytes(room - len(payload))
    udp = struct.pack("!HHHH", sport, dport, UDP_HLEN + len(payload), 0)
    frame = (mac_bytes(dst_mac) + mac_bytes(src_mac) + struct.pack("!H", ETH_P_IP)
             + ipv4_header(src, dst, IPPROTO_UDP, UDP_HLEN + len(payload)) + udp + payload)
    check_frame(frame)
    return frame


def tcp_frame(dst_mac, src_mac, src: str, dst: str, sport: int, dport: int, length: int = MIN_FRAME,
              flags: int = 0x10, seq: int = 0) -> bytes:
    """An Ethernet/IPv4/TCP frame (ACK by default) of ``length`` bytes."""
    room = length - ETH_HLEN - IPV4_HLEN - TCP_HLEN
    if room < 0:
        raise ValueError(f"length {length}: too short for a TCP frame")
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, 0, (TCP_HLEN // 4) << 4, flags,
                      65535, 0, 0)
    pseudo = (ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed
              + struct.pack("!BBH", 0, IPPROTO_TCP, TCP_HLEN + room))
    csum = checksum(pseudo + tcp + bytes(room))
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    frame = (mac_bytes(dst_mac) + mac_bytes(src_mac) + struct.pack("!H", ETH_P_IP)
             + ipv4_header(src, dst, IPPROTO_TCP, TCP_HLEN + room) + tcp + bytes(room))
    check_frame(frame)
    return frame


def host(net: str, i: int) -> str:
    """Address i (1-based) of a /24 inside the benchmark range."""
    base = int(ipaddress.IPv4Address(net))
    return str(ipaddress.IPv4Address(base + 1 + (int(i) % 254)))


def flow_frames(dst_mac, src_mac, flows: int, length: int = MIN_FRAME, base_port: int = 10000) -> list[bytes]:
    """One UDP frame per flow: flows differ in source address and port, so
    the kernel's flow hash spreads them across queues like RSS would."""
    return [udp_frame(dst_mac, src_mac, host(SRC_NET, i), host(DST_NET, i // 7), base_port + i, 9, length)
            for i in range(int(flows))]


def seq_of(frame: bytes | memoryview) -> int:
    return struct.unpack_from("!I", frame, SEQ_OFFSET)[0]


def flow_of(frame: bytes | memoryview) -> tuple:
    """(src, dst, proto, sport, dport) of an IPv4 frame."""
    ihl = (frame[ETH_HLEN] & 0xF) * 4
    src, dst = bytes(frame[ETH_HLEN + 12:ETH_HLEN + 16]), bytes(frame[ETH_HLEN + 16:ETH_HLEN + 20])
    proto = frame[ETH_HLEN + 9]
    sport, dport = struct.unpack_from("!HH", frame, ETH_HLEN + ihl)
    return src, dst, proto, sport, dport


def check_frame(frame: bytes | memoryview) -> None:
    """Refuse anything but IPv4 with both addresses in 198.18.0.0/15."""
    if len(frame) < ETH_HLEN + IPV4_HLEN:
        raise NetworkDisciplineError(f"a {len(frame)}-byte frame is too short to be checked")
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    if ethertype != ETH_P_IP:
        raise NetworkDisciplineError(f"ethertype {ethertype:#06x}: only IPv4 in 198.18.0.0/15 goes on the wire")
    for off in (ETH_HLEN + 12, ETH_HLEN + 16):
        addr = ipaddress.IPv4Address(bytes(frame[off:off + 4]))
        if addr not in BENCHMARK_NET:
            raise NetworkDisciplineError(f"address {addr} is outside 198.18.0.0/15 (DESIGN.md §5)")
