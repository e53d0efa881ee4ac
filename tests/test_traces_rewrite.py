"""Address rewrite into the benchmark ranges, and replay speed."""
import ipaddress
import shutil
import subprocess

import numpy as np
import pytest
import tracefiles as tf

from traces import (address_map, burst, in_benchmark_range, load_trace, read_capture, rewrite_addresses,
                    write_pcap)

BENCH4 = ipaddress.ip_network("198.18.0.0/15")
BENCH6 = ipaddress.ip_network("2001:2::/48")


@pytest.fixture(scope="module", params=["gnutella", "1kxun", "synscan"])
def pair(request):
    tr = load_trace(request.param, raw=True)
    return tr, rewrite_addresses(tr)


def _frame(tr, i):
    return bytes(tr.raw.data[tr.raw.offsets[i]: tr.raw.offsets[i] + tr.cap_len[i]])


def test_every_address_in_range(pair):
    tr, rw = pair
    assert not in_benchmark_range(tr) and in_benchmark_range(rw)
    for a in rw.addresses():
        ip = ipaddress.ip_address(a)
        assert ip in (BENCH4 if ip.version == 4 else BENCH6)


def test_map_is_one_to_one_and_flows_stay_flows(pair):
    tr, rw = pair
    m = address_map(tr)
    assert len(set(m.values())) == len(m)                        # injective
    assert set(tr.addresses()) <= set(m)
    assert (rw.flow_ids() == tr.flow_ids()).all()                # same partition into flows
    assert (rw.flow_ids(bidirectional=True) == tr.flow_ids(bidirectional=True)).all()
    for i in np.flatnonzero(tr.ip_version != 0)[::50]:
        k, r = tr.keys[tr.key_idx[i]], rw.keys[rw.key_idx[i]]
        alen = 4 if k["l3"] == 4 else 16
        for side in ("src", "dst"):
            old = str(ipaddress.ip_address(bytes(k[side][:alen])))
            assert str(ipaddress.ip_address(bytes(r[side][:alen]))) == m[old]
        assert (k["sport"], k["dport"], k["proto"]) == (r["sport"], r["dport"], r["proto"])


def test_frames_rewritten_with_valid_checksums(pair):
    tr, rw = pair
    checked = 0
    for i in range(len(rw)):
        k = rw.keys[rw.key_idx[i]]
        if k["l3"] == 0 or rw.raw.l3_off[i] == 0xFFFF:
            continue
        frame, l3 = _frame(rw, i), int(rw.raw.l3_off[i])
        ip = frame[l3:]
        alen = 4 if k["l3"] == 4 else 16
        src_at = 12 if k["l3"] == 4 else 8
        assert ip[src_at: src_at + alen] == bytes(k["src"][:alen])
        assert ip[src_at + alen: src_at + 2 * alen] == bytes(k["dst"][:alen])
        if k["l3"] == 4:
            assert tf.csum(ip[:(ip[0] & 15) * 4]) == 0
        complete = rw.cap_len[i] == rw.wire_len[i]
        if complete and k["proto"] in (6, 17) and not k["frag"] and (k["l3"] == 4 or ip[6] == k["proto"]):
            # valid stays valid; a checksum the capturing host left to its NIC
            # (1kxun's outgoing packets) stays invalid
            assert tf.l4_checksum_ok(ip) == tf.l4_checksum_ok(_frame(tr, i)[l3:]), f"packet {i}"
            checked += tf.l4_checksum_ok(ip)
    assert checked > 0.5 * np.count_nonzero(np.isin(rw.proto, (6, 17)))
    # the original bytes are untouched
    assert _frame(tr, 0) == bytes(read_capture(tr.meta["source"], raw=True).raw.data[
        tr.raw.offsets[0]: tr.raw.offsets[0] + tr.cap_len[0]])


def test_arp_addresses_follow_the_map():
    tr = load_trace("gnutella", raw=True)
    rw = rewrite_addresses(tr)
    m = address_map(tr)
    arp = np.flatnonzero(tr.keys["ethertype"][tr.key_idx] == tf.ETH_ARP)
    assert len(arp) == 22
    for i in arp:
        a, b = _frame(tr, i), _frame(rw, i)
        for at in (28, 38):
            assert str(ipaddress.ip_address(b[at:at + 4])) == m[str(ipaddress.ip_address(a[at:at + 4]))]
        assert a[:28] == b[:28]


def _bad_checksums(path) -> int:
    out = subprocess.run(["tcpdump", "-nn", "-vv", "-r", str(path)], capture_output=True, text=True,
                         timeout=60).stdout
    return sum(1 for ln in out.splitlines() if "(incorrect" in ln or "bad cksum" in ln or "bad udp cksum" in ln
               or "bad icmp6 cksum" in ln)


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
@pytest.mark.parametrize("name,already_bad", [("gnutella", 0), ("1kxun", 409)])
def test_tcpdump_sees_no_new_bad_checksum(tmp_path, name, already_bad):
    tr = load_trace(name, raw=True)
    assert _bad_checksums(tr.meta["source"]) == already_bad  # 1kxun: checksums offloaded at capture
    rw = rewrite_addresses(tr)
    assert _bad_checksums(write_pcap(rw, tmp_path / f"{name}.pcap")) == already_bad


def test_in_range_addresses_are_kept():
    b = burst(100, n_queues=2, flows=4, pin_queue=None)
    rw = rewrite_addresses(b)
    assert rw.keys.tobytes() == b.keys.tobytes()
    assert all(k == v for k, v in address_map(b).items())


def test_fermilab_like_needs_no_rewrite():
    tr = load_trace("fermilab-like").select(slice(0, 10_000))
    assert in_benchmark_range(tr)


def test_replay_speed():
    tr = load_trace("synscan")
    fast = tr.scaled(2.0)
    assert fast.duration_s == pytest.approx(tr.duration_s / 2, rel=1e-6)
    assert fast.meta["replay_speed"] == 2.0 and fast.scaled(2.0).meta["replay_speed"] == 4.0
    assert (np.diff(fast.ts_ns) >= 0).all() and len(fast) == len(tr)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="speed must be > 0"):
            tr.scaled(bad)
