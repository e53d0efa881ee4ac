"""RSS as an 82599 does it: Toeplitz against Microsoft's vectors, the fields hashed, the RETA."""
import ipaddress

import numpy as np
import pytest

from traces import DEFAULT_RSS_KEY, SYMMETRIC_RSS_KEY, load_trace, rss, toeplitz_bytes
from traces.linerate import burst
from traces.trace import KEY_DTYPE

# Microsoft, "Verifying the RSS Hash Calculation" (learn.microsoft.com, windows-hardware/drivers/network):
# (destination, destination port, source, source port, hash of addresses only, hash with TCP ports)
MS_IPV4 = [
    ("161.142.100.80", 1766, "66.9.149.187", 2794, 0x323E8FC2, 0x51CCC178),
    ("65.69.140.83", 4739, "199.92.111.2", 14230, 0xD718262A, 0xC626B0EA),
    ("12.22.207.184", 38024, "24.19.198.95", 12898, 0xD2D0A5DE, 0x5C2B394A),
    ("209.142.163.6", 2217, "38.27.205.30", 48228, 0x82989176, 0xAFC7327F),
    ("202.188.127.2", 1303, "153.39.163.191", 44251, 0x5D1809C5, 0x10E828A2),
]
MS_IPV6 = [
    ("3ffe:2501:200:3::1", 1766, "3ffe:2501:200:1fff::7", 2794, 0x2CC18CD5, 0x40207D3D),
    ("ff02::1", 4739, "3ffe:501:8::260:97ff:fe40:efab", 14230, 0x0F0C461C, 0xDDE51BBF),
    ("fe80::200:f8ff:fe21:67cf", 38024, "3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251, 0x4B61E985, 0x02D1FEEF),
]


def _key(dst, dport, src, sport, proto=6, frag=0):
    k = np.zeros(1, KEY_DTYPE)
    a_src, a_dst = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    k["l3"] = a_src.version
    k["proto"], k["frag"], k["sport"], k["dport"] = proto, frag, sport, dport
    k["src"][0, :len(a_src.packed)] = np.frombuffer(a_src.packed, np.uint8)
    k["dst"][0, :len(a_dst.packed)] = np.frombuffer(a_dst.packed, np.uint8)
    return k


def naive_toeplitz(data: bytes, key: bytes) -> int:
    """The RSS specification's pseudo-code, bit by bit."""
    k = int.from_bytes(key, "big")
    nbits = len(key) * 8
    result = 0
    for i, byte in enumerate(data):
        for b in range(8):
            if byte & (0x80 >> b):
                result ^= (k >> (nbits - 32 - (8 * i + b))) & 0xFFFFFFFF
    return result


@pytest.mark.parametrize("dst,dport,src,sport,h2,h4", MS_IPV4 + MS_IPV6)
def test_microsoft_vectors_bytes(dst, dport, src, sport, h2, h4):
    s, d = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
    ports = sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
    assert toeplitz_bytes(s + d) == h2
    assert toeplitz_bytes(s + d + ports) == h4
    assert naive_toeplitz(s + d + ports, DEFAULT_RSS_KEY) == h4


@pytest.mark.parametrize("dst,dport,src,sport,h2,h4", MS_IPV4 + MS_IPV6)
def test_microsoft_vectors_through_key_table(dst, dport, src, sport, h2, h4):
    tcp = _key(dst, dport, src, sport, proto=6)
    udp = _key(dst, dport, src, sport, proto=17)
    frag = _key(dst, dport, src, sport, proto=6, frag=1)
    assert rss.key_hashes(tcp)[0][0] == h4                      # TCP: addresses + ports
    assert rss.key_hashes(udp)[0][0] == h2                      # UDP: addresses only (ixgbe default)
    assert rss.key_hashes(udp, udp_ports=True)[0][0] == h4      # ethtool rx-flow-hash udp4 sdfn
    assert rss.key_hashes(frag)[0][0] == h2                     # fragments: addresses only


def test_table_toeplitz_equals_bitwise_definition():
    rng = np.random.default_rng(0)
    for length in (8, 12, 32, 36):
        data = rng.integers(0, 256, (50, length), dtype=np.uint8)
        for key in (DEFAULT_RSS_KEY, SYMMETRIC_RSS_KEY, bytes(rng.integers(0, 256, 40, dtype=np.uint8))):
            got = rss.toeplitz(data, key)
            want = [naive_toeplitz(bytes(row), key) for row in data]
            assert got.tolist() == want


def test_redirection_table_and_queue():
    assert rss.redirection_table(6).tolist() == [j % 6 for j in range(128)]
    keys = np.concatenate([_key(d, dp, s, sp) for d, dp, s, sp, _, _ in MS_IPV4])
    q = rss.key_queues(keys, 6)
    assert q.tolist() == [(h4 & 0x7F) % 6 for *_, h4 in MS_IPV4]
    custom = np.full(128, 5, np.uint8)
    assert rss.key_queues(keys, 6, reta=custom).tolist() == [5] * len(keys)
    for bad in (0, 17):
        with pytest.raises(ValueError, match="n_queues must be 1..16"):
            rss.redirection_table(bad)
    with pytest.raises(ValueError, match="40 bytes"):
        rss.key_queues(keys, 6, key=b"short")


def test_non_ip_goes_to_queue_0():
    tr = load_trace("gnutella")
    q = tr.rss_queues(6)
    non_ip = tr.ip_version == 0
    assert non_ip.sum() == 23  # 22 ARP + 1 runt frame (tcpdump: "ARP," and "[|ether]")
    assert (q[non_ip] == 0).all()
    assert len(np.unique(q[~non_ip])) == 6


def test_tcp_ports_spread_a_single_address_pair():
    # synscan: one address pair, ~2,000 destination ports; TCP ports are hashed
    tr = load_trace("synscan")
    assert (tr.proto == 6).all()
    counts = np.bincount(tr.rss_queues(6), minlength=6)
    assert (counts > 250).all()


def test_udp_hashed_on_addresses_only_by_default():
    tr = load_trace("gnutella")
    udp = tr.proto == 17
    pairs = {}
    q = tr.rss_queues(6)
    q_ports = tr.rss_queues(6, udp_ports=True)
    src, dst = tr.column("src")[udp], tr.column("dst")[udp]
    for s, d, qq in zip(map(bytes, src), map(bytes, dst), q[udp]):
        pairs.setdefault((s, d), set()).add(int(qq))
    assert all(len(v) == 1 for v in pairs.values())
    assert (q_ports[udp] != q[udp]).any()  # with port hashing the same pairs split


def test_symmetric_key_keeps_both_directions_together():
    for name in ("gnutella", "1kxun"):
        tr = load_trace(name)
        h = rss.key_hashes(tr.keys, symmetric=True)[0]
        rev = tr.keys.copy()
        rev["src"], rev["dst"] = tr.keys["dst"], tr.keys["src"]
        rev["sport"], rev["dport"] = tr.keys["dport"], tr.keys["sport"]
        assert (rss.key_hashes(rev, symmetric=True)[0] == h).all()
        # the default key does not have that property
        assert (rss.key_hashes(rev)[0] != rss.key_hashes(tr.keys)[0]).any()
        q = tr.rss_queues(6, symmetric=True)
        flows = tr.flow_ids(bidirectional=True)
        for f in np.unique(flows)[:200]:
            assert len(np.unique(q[flows == f])) == 1


def test_symmetric_needs_a_symmetric_key():
    keys = _key("10.0.0.1", 1, "10.0.0.2", 2)
    assert rss.key_queues(keys, 4, key=SYMMETRIC_RSS_KEY, symmetric=True).shape == (1,)
    with pytest.raises(ValueError, match="not symmetric"):
        rss.key_queues(keys, 4, key=bytes(range(40)), symmetric=True)


def test_every_flow_has_one_queue():
    tr = load_trace("gnutella")
    q, f = tr.rss_queues(6), tr.flow_ids()
    per_flow = {}
    for ff, qq in zip(f.tolist(), q.tolist()):
        per_flow.setdefault(ff, set()).add(qq)
    assert all(len(s) == 1 for s in per_flow.values())


def test_burst_pinning_uses_rss():
    b = burst(600, n_queues=6, flows=30, pin_queue=4)
    assert (b.rss_queues(6) == 4).all()
    assert b.n_flows() == 30
    spread = burst(600, n_queues=6, flows=12, pin_queue=None)
    assert np.bincount(spread.rss_queues(6)).tolist() == [100] * 6
