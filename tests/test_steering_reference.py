"""The fast steering path (flow ids and RSS per key-table row, a memory-mapped
cache entry) against a straightforward per-packet reference, array for array.

The reference walks the packets one by one in Python: a dict numbers flows in
order of first appearance, and each packet's RSS input is built from its own
fields and hashed. workloads.steered must give exactly the same arrays.
"""
import ipaddress

import numpy as np
import pytest

from experiments import workloads
from traces import cache, groups, load_trace, rss
from traces.trace import KEY_DTYPE, Trace

QUEUES = (1, 2, 3, 4, 5, 6, 16)


def reference_flow_ids(tr: Trace, bidirectional: bool = False) -> np.ndarray:
    ids, out = {}, []
    for i in tr.key_idx:
        k = tr.keys[i]
        src, dst, sport, dport = bytes(k["src"]), bytes(k["dst"]), int(k["sport"]), int(k["dport"])
        if bidirectional and (src > dst or (src == dst and sport > dport)):
            src, dst, sport, dport = dst, src, dport, sport
        ip = k["l3"] != 0
        flow = (int(k["l3"]), int(k["proto"]) if ip else 0, sport if ip else 0, dport if ip else 0, src, dst)
        out.append(ids.setdefault(flow, len(ids)))
    return np.array(out, dtype=np.int32)


def reference_queues(tr: Trace, n_queues: int) -> np.ndarray:
    """82599 RSS with ixgbe defaults, one packet at a time (traces/README.md, RSS)."""
    out = []
    for i in tr.key_idx:
        k = tr.keys[i]
        if k["l3"] == 0:
            out.append(0)
            continue
        alen = 4 if k["l3"] == 4 else 16
        data = bytes(k["src"][:alen]) + bytes(k["dst"][:alen])
        if k["proto"] == rss.IPPROTO_TCP and k["frag"] == 0:
            data += int(k["sport"]).to_bytes(2, "big") + int(k["dport"]).to_bytes(2, "big")
        out.append(rss.toeplitz_bytes(data) & rss.RETA_MASK)
    return (np.array(out, dtype=np.int64) % n_queues).astype(np.uint8)  # RETA entry j = j mod n


def _key(l3, proto, src, dst, sport=0, dport=0, frag=0, ethertype=0x0800):
    k = np.zeros(1, KEY_DTYPE)
    k["l3"], k["proto"], k["frag"], k["sport"], k["dport"], k["ethertype"] = l3, proto, frag, sport, dport, ethertype
    for field, a in (("src", src), ("dst", dst)):
        b = ipaddress.ip_address(a).packed if l3 else bytes.fromhex(a)
        k[field][0, :len(b)] = np.frombuffer(b, np.uint8)
    return k


def crafted_trace() -> Trace:
    """Every case the per-key shortcut must get right: rows that are one flow
    (they differ only in fields flows ignore), both directions, fragments,
    non-IP pairs, unused rows, and a table order unlike first appearance."""
    keys = np.concatenate([
        _key(4, 6, "10.0.0.1", "10.0.0.2", 1000, 80),
        _key(4, 6, "10.0.0.2", "10.0.0.1", 80, 1000),             # the reverse direction
        _key(4, 6, "10.0.0.1", "10.0.0.2", 1000, 80, frag=1),     # same flow as row 0 (frag is not in it)
        _key(4, 17, "10.0.0.1", "10.0.0.2", 53, 53),
        _key(4, 17, "10.0.0.1", "10.0.0.1", 9, 7),                # same address both ways: ports decide
        _key(6, 6, "2001:db8::1", "2001:db8::2", 443, 5555),
        _key(6, 6, "2001:db8::2", "2001:db8::1", 5555, 443),
        _key(6, 58, "2001:db8::1", "ff02::1"),
        _key(0, 0, "020000000001", "020000000002", ethertype=0x0806),
        _key(0, 0, "020000000001", "020000000002", ethertype=0x88cc),  # one non-IP flow per MAC pair
        _key(0, 0, "020000000002", "020000000001", ethertype=0x0806),
        _key(4, 6, "192.0.2.9", "198.51.100.7", 1, 2),            # never used
        _key(4, 1, "192.0.2.9", "198.51.100.7"),
    ])
    rng = np.random.default_rng(15)
    used = np.array([12, 5, 0, 3, 8, 1, 2, 6, 9, 4, 7, 10])   # first appearances out of table order
    key_idx = np.concatenate([used, rng.choice(used, 500)]).astype(np.int32)
    n = len(key_idx)
    return Trace(ts_ns=np.cumsum(rng.integers(1, 1000, n)).astype(np.int64),
                 wire_len=rng.integers(60, 1515, n).astype(np.uint32),
                 cap_len=np.full(n, 60, np.uint32), key_idx=key_idx, keys=keys, name="crafted")


def check_steered(spec: str, tr: Trace):
    flows = reference_flow_ids(tr)
    for n in QUEUES:
        s = workloads.steered(spec, n)
        assert s.flow.dtype == np.int32 and np.array_equal(s.flow, flows)
        assert s.queue.dtype == np.uint8 and np.array_equal(s.queue, reference_queues(tr, n)), n
        assert np.array_equal(s.ts_ns, tr.ts_ns) and np.array_equal(s.size, tr.wire_len + 4)
        assert s.n_flows == int(flows.max()) + 1 and s.n_queues == n


def test_crafted_trace_through_a_memory_mapped_npz(tmp_path):
    tr = crafted_trace()
    path = cache.write_npz(tr, tmp_path / "crafted.npz")
    check_steered(str(path), tr)
    assert len(np.unique(reference_flow_ids(tr))) == 10  # 12 rows used; rows 0/2 and 8/9 are one flow each
    for bidirectional in (False, True):
        assert np.array_equal(tr.flow_ids(bidirectional), reference_flow_ids(tr, bidirectional))
        sub = tr.select(slice(7, None, 3))  # keeps the parent's table, unused rows included
        assert np.array_equal(sub.flow_ids(bidirectional), reference_flow_ids(sub, bidirectional))


def test_a_hash_collision_falls_back_to_exact_grouping(monkeypatch):
    tr = crafted_trace()
    monkeypatch.setattr(groups, "_hash_words", lambda words: np.zeros(len(words), np.uint64))
    for bidirectional in (False, True):
        assert np.array_equal(tr.flow_ids(bidirectional), reference_flow_ids(tr, bidirectional))


@pytest.mark.parametrize("name", ["gnutella", "1kxun"])
def test_real_capture(name):
    tr = load_trace(name)
    check_steered(name, tr)
    assert np.array_equal(tr.flow_ids(True), reference_flow_ids(tr, True))


def test_first_index():
    idx = np.array([3, 1, 3, 0, 1, 1])
    assert groups.first_index(idx, 5).tolist() == [3, 1, 6, 0, 6]


def test_dense_ids_of_no_rows_and_equal_rows():
    rec = np.zeros(4, dtype=[("a", "u1"), ("b", "V16")])
    rec["a"] = [1, 2, 1, 3]
    ids = groups.dense_ids(rec)
    assert ids[0] == ids[2] and len({ids[0], ids[1], ids[3]}) == 3 and sorted(set(ids)) == [0, 1, 2]
    assert len(groups.dense_ids(rec[:0])) == 0
