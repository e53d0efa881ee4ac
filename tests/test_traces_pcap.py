"""Capture files: pcap/pcapng reading and writing, link types, headers, and errors."""
import shutil
import struct
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import tracefiles as tf

from traces import (CaptureFormatError, TruncatedCaptureWarning, burst, load_trace, read_capture,
                    real_trace_path, write_pcap, write_pcapng)

T0 = 1_400_000_000_123_456_789  # an absolute time with nanoseconds


def _frames():
    """A mix: TCP/IPv4, UDP/IPv6, VLAN and QinQ, IPv4 fragments, IPv6 HBH + fragment, ARP, runt."""
    return [
        tf.eth(tf.ipv4("10.0.0.1", "10.0.0.2", 6, tf.tcp(1234, 80, b"x" * 10))),
        tf.eth(tf.ipv6("2001:db8::1", "2001:db8::2", 17, tf.udp(5353, 53, b"q")), tf.ETH_IPV6),
        tf.eth(tf.ipv4("10.0.0.3", "10.0.0.4", 17, tf.udp(7, 9)), vlans=((tf.ETH_VLAN, 100),)),
        tf.eth(tf.ipv4("10.0.0.5", "10.0.0.6", 6, tf.tcp(1, 2)), vlans=((tf.ETH_QINQ, 1), (tf.ETH_VLAN, 2))),
        tf.eth(tf.ipv4("10.0.0.7", "10.0.0.8", 17, tf.udp(1000, 2000, b"a" * 16), frag=0x2000)),   # first fragment
        tf.eth(tf.ipv4("10.0.0.7", "10.0.0.8", 17, b"b" * 16, frag=0x0003)),                      # later fragment
        tf.eth(tf.ipv6("2001:db8::1", "2001:db8::2", 0,                                             # HBH, then TCP
                       bytes([6, 0]) + b"\0" * 6 + tf.tcp(4444, 443)), tf.ETH_IPV6),
        tf.eth(tf.ipv6("2001:db8::3", "2001:db8::4", 44,                                            # fragment, offset 8
                       bytes([17, 0]) + struct.pack("!HI", 8 << 3, 7) + b"c" * 8), tf.ETH_IPV6),
        tf.eth(b"\0\x01\x08\0\x06\x04\0\x01" + b"\0" * 20, tf.ETH_ARP),
        bytes(10),                                                                                  # runt
    ]


def _expected_keys(tr):
    return [(int(k["l3"]), int(k["proto"]), int(k["frag"]), int(k["sport"]), int(k["dport"]))
            for k in tr.keys[tr.key_idx]]


EXPECTED = [(4, 6, 0, 1234, 80), (6, 17, 0, 5353, 53), (4, 17, 0, 7, 9), (4, 6, 0, 1, 2), (4, 17, 1, 1000, 2000),
            (4, 17, 1, 0, 0), (6, 6, 0, 4444, 443), (6, 17, 1, 0, 0), (0, 0, 0, 0, 0), (0, 0, 0, 0, 0)]


def _write(tmp_path, name, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


# ---- reading ----------------------------------------------------------------------

@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("nsec", [False, True])
def test_pcap_byte_orders_and_resolutions(tmp_path, big, nsec):
    frames = _frames()
    recs = [(T0 + 1000 * i + 7, f) for i, f in enumerate(frames)]
    tr = read_capture(_write(tmp_path, "x.pcap", tf.pcap(recs, big=big, nsec=nsec)))
    assert len(tr) == len(frames)
    step = 1000  # records are 1 us apart; the extra 7 ns survive only in nanosecond files
    assert tr.t0_ns == (T0 + 7 if nsec else T0 - T0 % 1000)
    assert tr.ts_ns.tolist() == [step * i for i in range(len(frames))]
    assert tr.cap_len.tolist() == [len(f) for f in frames]
    assert _expected_keys(tr) == EXPECTED
    assert tr.meta["big_endian"] is big and tr.meta["nsec"] is nsec


def test_addresses_and_macs_are_parsed(tmp_path):
    tr = read_capture(_write(tmp_path, "x.pcap", tf.pcap([(0, f) for f in _frames()])))
    k = tr.keys[tr.key_idx]
    assert bytes(k["src"][0][:4]) == bytes([10, 0, 0, 1]) and bytes(k["dst"][0][:4]) == bytes([10, 0, 0, 2])
    assert bytes(k["src"][1]) == bytes.fromhex("20010db8000000000000000000000001")
    assert int(k["ethertype"][8]) == tf.ETH_ARP and bytes(k["src"][8][:6]) == tf.MAC_A
    # a flow: same 5-tuple, same id; the two fragments of one datagram differ (no ports in the second)
    f = tr.flow_ids()
    assert f[4] != f[5] and len(set(f.tolist())) == 10


def test_wire_length_and_snaplen(tmp_path):
    frame = _frames()[0]
    tr = read_capture(_write(tmp_path, "x.pcap", tf.pcap([(0, frame[:40], 1514)])))
    assert tr.wire_len.tolist() == [1514] and tr.cap_len.tolist() == [40]
    assert _expected_keys(tr) == [(4, 6, 0, 1234, 80)]  # ports survive a 40-byte snaplen


@pytest.mark.parametrize("linktype,prefix", [
    (101, b""), (228, b""), (113, bytes(14) + b"\x08\x00"), (276, b"\x08\x00" + bytes(18)),
    (0, struct.pack("<I", 2)), (0, struct.pack(">I", 2)), (108, struct.pack(">I", 2)),
])
def test_other_link_types(tmp_path, linktype, prefix):
    ip = tf.ipv4("10.1.1.1", "10.2.2.2", 6, tf.tcp(10, 20))
    tr = read_capture(_write(tmp_path, "x.pcap", tf.pcap([(0, prefix + ip)], linktype=linktype)))
    assert tr.linktype == linktype
    assert _expected_keys(tr) == [(4, 6, 0, 10, 20)]


def test_pcapng_sections_interfaces_and_blocks(tmp_path):
    f = _frames()
    raw_ip = tf.ipv4("10.9.9.9", "10.8.8.8", 17, tf.udp(1, 2))
    data = b"".join([
        tf.shb(),
        tf.idb(1, tsresol=9),                          # interface 0: Ethernet, ns
        tf.idb(101, tsresol=0x80 | 20, tsoffset=100),  # interface 1: raw IP, 2^-20 s, +100 s
        tf.epb(0, T0, f[0]),
        tf.unknown_block(),
        tf.epb(1, 3 << 20, raw_ip),                   # 3 s after if_tsoffset 100 s
        tf.opb(0, T0 + 5, f[1]),                       # obsolete Packet Block
        tf.spb(f[2]),                                  # no timestamp: the previous packet's
        tf.shb(">"),                                   # a second, big-endian section
        tf.idb(1, tsresol=6, o=">"),
        tf.epb(0, 2_000_000_000_000_000, f[3], o=">"),  # us
    ])
    tr = read_capture(_write(tmp_path, "x.pcapng", data))
    assert len(tr) == 5
    absolute = (tr.ts_ns + tr.t0_ns).tolist()
    assert absolute == [T0, 103 * 10**9, T0 + 5, T0 + 5, 2_000_000_000_000_000_000]
    assert tr.raw is None and tr.linktype == -1  # mixed link types
    assert [k[:2] for k in _expected_keys(tr)] == [(4, 6), (4, 17), (6, 17), (4, 17), (4, 6)]
    tr = read_capture(tmp_path / "x.pcapng", raw=True)
    assert tr.raw.linktypes.tolist() == [1, 101, 1, 1, 1]
    with pytest.raises(ValueError, match="link types"):
        write_pcap(tr, tmp_path / "mixed.pcap")


# ---- round trips ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["gnutella", "1kxun", "synscan"])
def test_real_pcap_round_trip_is_byte_identical(tmp_path, name):
    src = real_trace_path(name)
    tr = read_capture(src, raw=True)
    out = write_pcap(tr, tmp_path / "rt.pcap", snaplen=tr.meta["snaplen"], nsec=False)
    assert out.read_bytes() == src.read_bytes()


@pytest.mark.parametrize("name", ["gnutella", "1kxun"])
def test_real_pcapng_round_trip(tmp_path, name):
    tr = read_capture(real_trace_path(name), raw=True)
    back = read_capture(write_pcapng(tr, tmp_path / "rt.pcapng"), raw=True)
    for col in ("ts_ns", "wire_len", "cap_len"):
        assert (getattr(back, col) == getattr(tr, col)).all()
    assert back.t0_ns == tr.t0_ns
    assert (back.flow_ids() == tr.flow_ids()).all()
    for i in range(0, len(tr), 97):
        a = tr.raw.data[tr.raw.offsets[i]: tr.raw.offsets[i] + tr.cap_len[i]]
        b = back.raw.data[back.raw.offsets[i]: back.raw.offsets[i] + back.cap_len[i]]
        assert bytes(a) == bytes(b)


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_synthetic_round_trip_nanoseconds(tmp_path, fmt):
    b = burst(2000, size=64, n_queues=4, flows=8, pin_queue=None)  # 67.2 ns apart: needs ns timestamps
    path = tmp_path / f"b.{fmt}"
    (write_pcap if fmt == "pcap" else write_pcapng)(b, path)
    back = read_capture(path)
    assert (back.ts_ns == b.ts_ns).all() and (back.wire_len == 60).all() and (back.cap_len == 60).all()
    assert (back.rss_queues(4) == b.rss_queues(4)).all()
    assert (back.flow_ids() == b.flow_ids()).all()


def test_microsecond_files_round_timestamps(tmp_path):
    b = burst(100, size=64)
    back = read_capture(write_pcap(b, tmp_path / "us.pcap", nsec=False))
    assert (back.ts_ns == (b.ts_ns // 1000) * 1000).all()


def test_synthesized_headers_carry_valid_checksums(tmp_path):
    tr = load_trace("fermilab-like").select(slice(0, 3000))
    back = read_capture(write_pcap(tr, tmp_path / "f.pcap"), raw=True)
    assert (back.wire_len == tr.wire_len).all()
    assert (back.flow_ids() == tr.flow_ids()).all()
    for i in range(len(back)):
        frame = bytes(back.raw.data[back.raw.offsets[i]: back.raw.offsets[i] + back.cap_len[i]])
        assert tf.csum(frame[14:34]) == 0  # IPv4 header checksum
        assert tf.l4_checksum_ok(frame[14:])


def test_snaplen_cuts_synthesized_frames(tmp_path):
    tr = load_trace("fermilab-like").select(slice(0, 1000))
    back = read_capture(write_pcap(tr, tmp_path / "f.pcap", snaplen=96))
    assert (back.cap_len == np.minimum(tr.wire_len, 96)).all() and (back.wire_len == tr.wire_len).all()
    assert (back.rss_queues(6) == tr.rss_queues(6)).all()


# ---- the real captures against tcpdump ---------------------------------------------------

# Counted once with tcpdump 4.99 (`tcpdump -nn -q -r FILE`): packets, and distinct IP flows
# (IP/IP6 lines by source, destination and protocol word; ports are part of the address).
TCPDUMP_COUNTS = {"1kxun": (1723, 297), "gnutella": (3905, 937), "synscan": (2011, 2002)}


def tcpdump_counts(path: Path) -> tuple[int, int]:
    out = subprocess.run(["tcpdump", "-nn", "-q", "-r", str(path)], capture_output=True, text=True,
                         check=True, timeout=60).stdout.splitlines()
    flows = set()
    for line in out:
        parts = line.split(" ", 2)  # time, "IP"/"IP6"/..., rest
        if len(parts) < 3 or parts[1] not in ("IP", "IP6"):
            continue
        src, _, rest = parts[2].partition(" > ")
        dst, _, what = rest.partition(": ")
        word = what.split(" ")[1 if what.startswith("HBH ") else 0].rstrip(",")
        flows.add((parts[1], src, dst, word))
    return len(out), len(flows)


@pytest.mark.parametrize("name", sorted(TCPDUMP_COUNTS))
def test_real_captures_match_tcpdump_counts(name):
    tr = load_trace(name)
    packets, flows = TCPDUMP_COUNTS[name]
    assert len(tr) == packets
    assert tr.n_flows(ip_only=True) == flows


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
@pytest.mark.parametrize("name", sorted(TCPDUMP_COUNTS))
def test_real_captures_against_running_tcpdump(name):
    path = real_trace_path(name)
    tr = load_trace(name)
    assert tcpdump_counts(path) == (len(tr), tr.n_flows(ip_only=True))


def test_missing_shared_folder_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("WIRECAP_SHARED_TRACES", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="shared traces folder"):
        real_trace_path("gnutella")


# ---- errors ---------------------------------------------------------------------------

def test_bad_magic(tmp_path):
    p = _write(tmp_path, "bad.pcap", b"\x01\x02\x03\x04" + bytes(40))
    with pytest.raises(CaptureFormatError, match=r"bad\.pcap: offset 0: bad magic number 0x01020304"):
        read_capture(p)


@pytest.mark.parametrize("data,problem", [
    (b"", "file too short"),
    (b"\xd4\xc3\xb2\xa1" + bytes(10), "truncated pcap file header: 14 of 24 bytes"),
    (b"\x1f\x8b\x08\x00" + bytes(40), "gzip-compressed"),
    (b"\x34\xcd\xb2\xa1" + bytes(40), "Kuznetzov"),
])
def test_unreadable_headers(tmp_path, data, problem):
    p = _write(tmp_path, "x.pcap", data)
    with pytest.raises(CaptureFormatError, match=problem) as e:
        read_capture(p)
    assert e.value.path == str(p) and e.value.offset == 0


def test_unsupported_link_type(tmp_path):
    p = _write(tmp_path, "x.pcap", tf.pcap([(0, b"abc")], linktype=147))
    with pytest.raises(CaptureFormatError, match=r"offset 20: unsupported link type 147"):
        read_capture(p)
    q = _write(tmp_path, "x.pcapng", tf.shb() + tf.idb(147) + tf.epb(0, 0, b"abc"))
    with pytest.raises(CaptureFormatError, match=r"offset 28: unsupported link type 147"):
        read_capture(q)


def test_truncated_last_record_keeps_earlier_packets(tmp_path):
    frames = _frames()
    data = tf.pcap([(i * 1000, f) for i, f in enumerate(frames)])
    p = _write(tmp_path, "cut.pcap", data[:-5])
    last_off = len(data) - 16 - len(frames[-1])
    with pytest.warns(TruncatedCaptureWarning, match=rf"cut\.pcap: offset {last_off}: truncated record: "
                                                     rf"header says {len(frames[-1])} bytes, only "
                                                     rf"{len(frames[-1]) - 5} remain; kept the 9 packets"):
        tr = read_capture(p)
    assert len(tr) == 9 and tr.meta["truncated"]["offset"] == last_off
    assert _expected_keys(tr) == EXPECTED[:9]
    with pytest.raises(CaptureFormatError, match=rf"offset {last_off}: truncated record"):
        read_capture(p, strict=True)
    q = _write(tmp_path, "cut2.pcap", data[:last_off + 6])
    with pytest.warns(TruncatedCaptureWarning, match="truncated record header: 6 of 16 bytes"):
        assert len(read_capture(q)) == 9


def test_corrupt_record_length(tmp_path):
    good = tf.pcap([(0, _frames()[0])])
    bad = good + struct.pack("<IIII", 0, 0, 10_000_000, 10_000_000) + bytes(64)
    p = _write(tmp_path, "x.pcap", bad)
    with pytest.raises(CaptureFormatError, match=rf"offset {len(good)}: record claims 10000000 captured bytes, "
                                                 r"more than the maximum 262144"):
        read_capture(p)


@pytest.mark.parametrize("build,problem", [
    (lambda: tf.idb(1) + tf.epb(0, 0, b"x" * 20), r"offset 0: bad magic number 0x01000000"),  # no SHB
    (lambda: tf.shb()[:8] + b"\x00\x00\x00\x00" + tf.shb()[12:], r"offset 8: bad pcapng byte-order magic"),
    (lambda: tf.shb() + struct.pack("<II", 1, 22) + bytes(14), r"offset 28: bad block length 22"),
    (lambda: tf.shb() + tf.idb(1)[:-4] + struct.pack("<I", 99), r"offset 28: block trailer length 99 does not "
                                                                r"match its header length 20"),
    (lambda: tf.shb() + tf.idb(1) + tf.epb(3, 0, b"x" * 20), r"offset 48: packet names interface 3, but the "
                                                             r"section defines 1"),
    (lambda: tf.shb() + tf.idb(1, tsresol=30), r"unsupported if_tsresol 0x1e"),
    (lambda: tf.shb() + tf.idb(1) + tf.epb(0, 0, b"x" * 20)[:20] + struct.pack("<I", 999) + tf.epb(0, 0, b"x" * 20)[24:],
     r"offset 48: packet block claims 999 captured bytes, its body holds 20"),
    (lambda: tf.shb() + tf.idb(1) + struct.pack("<II", 6, 16) + bytes(4) + struct.pack("<I", 16),
     r"offset 48: block body too short: 4 bytes where 20 are needed"),
])
def test_corrupt_pcapng(tmp_path, build, problem):
    p = _write(tmp_path, "x.pcapng", build())
    with pytest.raises(CaptureFormatError, match=problem):
        read_capture(p)


def test_truncated_pcapng_block_keeps_earlier_packets(tmp_path):
    data = tf.shb() + tf.idb(1) + tf.epb(0, 1, _frames()[0]) + tf.epb(0, 2, _frames()[1])
    p = _write(tmp_path, "x.pcapng", data[:-10])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        tr = read_capture(p)
    assert len(tr) == 1 and "truncated record" in str(w[0].message)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="no-such.pcap"):
        read_capture("no-such.pcap")
    with pytest.raises(FileNotFoundError, match="expected 'fermilab-like'"):
        load_trace("no-such.pcap")


def test_synthetic_frames_must_fit_their_headers(tmp_path):
    b = burst(10, size=64)
    short = b.select(slice(None))
    object.__setattr__(short, "wire_len", np.full(10, 30, np.uint32))
    with pytest.raises(ValueError, match="packet 0 has wire_len 30, shorter than the 42 header bytes"):
        write_pcap(short, tmp_path / "x.pcap")
