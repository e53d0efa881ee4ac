"""Device counters of the real backend's interfaces.

Two sources, both per namespace:

- ethtool statistics (SIOCETHTOOL, driver/csrc/xdp/wc_sys.c). veth keeps
  per-queue XDP counters (drivers/net/veth.c, veth_rq_stats_desc and
  veth_tq_stats_desc): ``rx_queue_N_xdp_packets`` (frames that reached the
  XDP hook of receive queue N), ``rx_queue_N_drops`` (frames the receive path
  dropped, among them every failed redirect into an AF_XDP socket whose fill
  ring was empty), ``rx_queue_N_xdp_drops`` (XDP_DROP verdicts), and on the
  sending peer ``tx_queue_N_xdp_xmit`` / ``tx_queue_N_xdp_xmit_errors``
  (frames handed to, or refused by, the peer's XDP receive ring: what a
  live-frame generator really sent). A real NIC names its counters
  differently; ``queue_counters`` knows veth, ixgbe/i40e/ice and mlx5 names.
- netlink link statistics (IFLA_STATS64): packets and drops per device.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from driver.xdp import netns
from driver.xdp._native import native
from driver.xdp.errors import check

MAX_STATS = 4096

# per-queue receive counters of common drivers: (regex, field)
_RX_PATTERNS = [
    (re.compile(r"^rx_queue_(\d+)_xdp_packets$"), "arrived"),     # veth
    (re.compile(r"^rx_queue_(\d+)_drops$"), "drops"),             # veth
    (re.compile(r"^rx_queue_(\d+)_xdp_drops$"), "xdp_drops"),     # veth
    (re.compile(r"^rx_queue_(\d+)_xdp_redirect$"), "redirected"), # veth
    (re.compile(r"^rx_queue_(\d+)_packets$"), "packets"),         # ixgbe, i40e, ice
    (re.compile(r"^rx-(\d+)\.packets$"), "packets"),              # i40e/ice (newer)
    (re.compile(r"^rx(\d+)_packets$"), "packets"),                # mlx5
    (re.compile(r"^rx(\d+)_xsk_packets$"), "packets"),            # mlx5 AF_XDP
]
_TX_PATTERNS = [
    (re.compile(r"^tx_queue_(\d+)_xdp_xmit$"), "xdp_xmit"),
    (re.compile(r"^tx_queue_(\d+)_xdp_xmit_errors$"), "xdp_xmit_errors"),
]


def ethtool(ns: str | None, ifname: str) -> dict[str, int]:
    """All ethtool statistics of ifname, by name."""
    ffi, lib = native()
    names = ffi.new("char[]", MAX_STATS * lib.WC_STAT_NAME_LEN)
    values = ffi.new("uint64_t[]", MAX_STATS)
    with netns.entered(ns):
        n = check(lib.wc_sys__ethtool_stats(ifname.encode(), names, values, MAX_STATS),
                  f"ethtool statistics of {ifname}")
    n = min(n, MAX_STATS)
    return {ffi.string(names + i * lib.WC_STAT_NAME_LEN).decode(): int(values[i]) for i in range(n)}


@dataclass
class QueueCounters:
    """Per-queue receive and transmit counters, one dict per queue."""

    rx: dict[int, dict[str, int]] = field(default_factory=dict)
    tx: dict[int, dict[str, int]] = field(default_factory=dict)

    def total(self, side: str, name: str, queues=None) -> int:
        table = self.rx if side == "rx" else self.tx
        return sum(v.get(name, 0) for q, v in table.items() if queues is None or q in queues)

    def __sub__(self, other: "QueueCounters") -> "QueueCounters":
        out = QueueCounters()
        for side in ("rx", "tx"):
            mine, theirs = getattr(self, side), getattr(other, side)
            for q, v in mine.items():
                base = theirs.get(q, {})
                getattr(out, side)[q] = {k: v[k] - base.get(k, 0) for k in v}
        return out


def queue_counters(ns: str | None, ifname: str) -> QueueCounters:
    stats = ethtool(ns, ifname)
    out = QueueCounters()
    for name, value in stats.items():
        for patterns, table in ((_RX_PATTERNS, out.rx), (_TX_PATTERNS, out.tx)):
            for rx, fld in patterns:
                m = rx.match(name)
                if m:
                    table.setdefault(int(m.group(1)), {})[fld] = value
                    break
    return out


def link_stats(ns: str | None, ifname: str) -> dict[str, int]:
    """IFLA_STATS64 of ifname (rx/tx packets, bytes, errors, dropped)."""
    with netns.iproute(ns) as ipr:
        idx = ipr.link_lookup(ifname=ifname)
        if not idx:
            raise FileNotFoundError(f"no interface {ifname} in {ns or 'this namespace'}")
        return dict(ipr.get_links(idx[0])[0].get_attr("IFLA_STATS64") or {})
