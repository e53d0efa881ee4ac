"""The nDPI flow-affinity experiment's parsing and comparison (exact counts on
crafted ndpiReader output), its replay, and the offline truth on a tiny pcap
(ndpiReader 4.2 from Debian's libndpi-bin; no root needed)."""
from __future__ import annotations

import ipaddress
import shutil
import struct

import pytest

from experiments.live import ndpi_affinity as na
from tracefiles import eth, ipv4, tcp, udp, with_l4_checksum

HEADER = ("#flow_id,protocol,first_seen,last_seen,duration,src_ip,src_port,dst_ip,dst_port,ndpi_proto_num,"
          "ndpi_proto,server_name_sni,c_to_s_pkts,c_to_s_bytes,c_to_s_goodput_bytes,s_to_c_pkts,s_to_c_bytes,"
          "s_to_c_goodput_bytes,data_ratio,str_data_ratio")


def row(proto, src, sport, dst, dport, name, c2s, s2c, sni=""):
    return (f"1,{proto},0.000,0.001,0.001,{src},{sport},{dst},{dport},5,{name},{sni},{c2s},{60 * c2s},0,"
            f"{s2c},{60 * s2c},0,0.0,Mixed")


def test_parse_flows_csv():
    text = "\n".join([HEADER,
                      row(17, "198.18.0.1", 5353, "198.18.0.2", 53, "DNS", 1, 1, sni="example.com"),
                      row(6, "198.18.0.9", 80, "198.18.0.3", 40000, "HTTP", 3, 4),
                      row(6, "198.18.0.1", 1, "198.18.0.2", 2, "Unknown", 1, 0), ""])
    flows = na.parse_flows_csv(text)
    assert flows == [
        na.Flow((17, ("198.18.0.1", 5353), ("198.18.0.2", 53)), "DNS", 2, 120),
        # endpoints sorted: the same flow whichever direction came first
        na.Flow((6, ("198.18.0.3", 40000), ("198.18.0.9", 80)), "HTTP", 7, 420),
        na.Flow((6, ("198.18.0.1", 1), ("198.18.0.2", 2)), "Unknown", 1, 60)]
    assert na.key_text(flows[1].key) == "tcp 198.18.0.3:40000 <-> 198.18.0.9:80"
    with pytest.raises(ValueError, match="no '#flow_id"):
        na.parse_flows_csv("1,2,3\n")
    with pytest.raises(ValueError, match=r"lacks the columns \['ndpi_proto'"):
        na.parse_flows_csv(HEADER.replace("ndpi_proto,", "x,") + "\n")


REPORT = """Using nDPI (4.2.0) [6 thread(s)]
Capturing live traffic from device wirecap:wc0c@0...

Traffic statistics:
	Ethernet bytes:        164936        (includes ethernet CRC/IFC/trailer)
	Discarded bytes:       12
	IP packets:            2011          of 2013 packets total
	IP bytes:              116672        (avg pkt size 58 bytes)
	Unique flows:          1994
"""


def test_parse_report():
    assert na.parse_report(REPORT) == {"ip_packets": 2011, "total_packets": 2013, "unique_flows": 1994,
                                       "discarded_bytes": 12, "threads": 6}
    with pytest.raises(ValueError, match="did it finish"):
        na.parse_report("Using nDPI (4.2.0) [1 thread(s)]\n")


def F(a, b, proto="DNS", packets=1, ip=17):
    return na.Flow(na.flow_key(ip, "198.18.0.1", a, "198.18.0.2", b), proto, packets, 60 * packets)


def test_compare_exact():
    truth = [F(1, 53, "DNS", 4), F(2, 53, "DNS", 2), F(3, 80, "HTTP", 6, 6), F(4, 9, "Unknown", 1),
             F(5, 443, "TLS", 3, 6), F(6, 443, "TLS", 5, 6), F(7, 7, "Unknown", 2)]
    live = [F(1, 53, "DNS", 4),                                   # once, same
            F(2, 53, "DNS", 1), F(2, 53, "Unknown", 1),           # split, one part unknown
            F(3, 80, "HTTP", 2, 6), F(3, 80, "HTTP", 4, 6),       # split, both same
            F(4, 9, "Unknown", 1),                                # once, same (unknown in truth too)
            F(5, 443, "QUIC", 3, 6),                              # once, other
            # flow 6 missed
            F(7, 7, "DNS", 2),                                    # once, other (truth Unknown)
            F(8, 8, "DNS", 1)]                                    # extra
    assert na.compare(truth, live) == {
        "flows_once": 4, "flows_split": 2, "flows_merged": 0, "flows_missed": 1,
        "class_same": 3, "class_other": 2, "class_unknown": 1,
        "packets_of_split_flows": 8, "packets_of_missed_flows": 5,
        "truth_flows": 7, "truth_entries": 7, "live_flows": 7, "live_entries": 9, "flows_extra": 1,
        "truth_flow_packets": 23, "live_flow_packets": 19, "truth_detected": 5}


def test_compare_counts_truth_duplicates():
    """A 5-tuple the truth itself lists twice is split only when seen more than twice."""
    truth = [F(1, 53), F(1, 53), F(2, 53), F(2, 53)]
    live = [F(1, 53), F(1, 53), F(2, 53)]
    c = na.compare(truth, live)
    assert (c["flows_once"], c["flows_split"], c["flows_merged"], c["flows_missed"]) == (1, 0, 1, 0)


def test_replay_frames_stay_in_the_benchmark_range(tmp_path):
    from driver.xdp import packets

    frames, skipped = na.replay_frames(["synscan", "gnutella"], tmp_path, *na.PLACEHOLDER_MACS)
    assert len(frames) == 2011 + 3814 and skipped == 3905 - 3814
    for f in frames[::97]:
        packets.check_frame(f)
    srcs = {ipaddress.IPv4Address(f[26:30]) for f in frames}
    assert all(a in packets.BENCHMARK_NET for a in srcs)
    # one address map over both traces: synscan's scanner and gnutella's host differ
    assert ipaddress.IPv4Address(frames[0][26:30]) != ipaddress.IPv4Address(frames[2011][26:30])


def _dns_query(qid: int) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode() for p in ("www", "example", "com")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", 1, 1)


@pytest.mark.skipif(shutil.which("ndpiReader") is None, reason="ndpiReader missing: apt-get install libndpi-bin")
def test_offline_truth_on_a_small_pcap(tmp_path):
    a, b = "198.18.0.10", "198.18.0.20"
    frames = [eth(with_l4_checksum(ipv4(a, b, 17, udp(40000, 53, _dns_query(7))))),
              eth(with_l4_checksum(ipv4(a, b, 6, tcp(41000, 9999, b"\x00" * 10)))),
              eth(with_l4_checksum(ipv4(b, a, 6, tcp(9999, 41000, b"\x01" * 10)))),   # same flow, back
              eth(with_l4_checksum(ipv4(a, b, 6, tcp(41000, 9999, b"\x02" * 10))))]
    pcap = tmp_path / "small.pcap"
    na.write_pcap(pcap, frames, na.schedule_ns(len(frames), 1000.0))
    flows, report = na.ndpi_offline(pcap, tmp_path)
    assert report["total_packets"] == 4 and report["ip_packets"] == 4 and report["threads"] == 1
    by_key = {f.key: f for f in flows}
    assert set(by_key) == {(17, (a, 40000), (b, 53)), (6, (a, 41000), (b, 9999))}
    assert by_key[(17, (a, 40000), (b, 53))].proto == "DNS" and by_key[(17, (a, 40000), (b, 53))].packets == 1
    assert by_key[(6, (a, 41000), (b, 9999))].packets == 3
    assert na.compare(flows, flows)["flows_once"] == 2
