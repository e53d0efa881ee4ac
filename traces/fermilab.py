"""A Fermilab-like border-router trace: the workload of Figure 3, Table 1 and Figures 11-13.

The paper replays "5 million packets ... approximately 32 seconds" captured
at the Fermilab border router (§2.2) into an 82599 with six RSS queues. We
do not have those packets, so this module generates a trace from a
flow-level model of border traffic and fits the model's free parameters to
what the paper publishes (see traces/README.md for the table of fitted
parameter -> published statistic). No per-queue rate is scripted: every
packet's queue comes from the Toeplitz hash of its own 5-tuple.

The model
---------
* **Flows arrive** as a Poisson process (``flow_rate`` per second) from
  ``warmup_s`` before the capture starts, so flows are already in progress
  at t = 0; the capture stops after ``packets`` packets (like ``tcpdump -c``),
  which is how the paper's data set is defined ("5 million packets").
* **Flow sizes** (data packets) are Pareto (``size_alpha``, ``size_min``),
  truncated at ``size_max``: mostly mice, a heavy tail of large transfers.
  Senders fall in classes (desktop / server / storage) that set their access
  link rate and largest window.
* **Science transfers**: data-transfer nodes (DTNs, 10 GbE, multi-MB
  windows) move files to and from distant science sites (``dtn_flow_rate``
  per second, lognormal sizes). Each window crosses the tap spread at the
  transfer's share of its path's bottleneck (``dtn_path_bps``), not at the
  DTN's line rate: a TCP flow is ACK-clocked at its bottleneck rate, and
  data entering the lab was spread by that bottleneck upstream. A window of
  2,500-3,000 packets in ~15 ms still overruns a 1,023-slot ring drained at
  38.8 kp/s (what makes a ~20 kp/s queue lose ~9% behind DNA, Table 1 queue
  3), but never outruns a NAPI loop copying ~600k full frames/s, so PF_RING
  defers no softirq work (no capture drops on queue 0).
* **The burst**: the exception, one transfer between two 10 GbE hosts on a
  clear path, whose windows cross the tap back to back at line rate (~812k
  full frames/s, faster than NAPI copies them): the 2,724-packet burst to
  queue 3 at 3.86-3.97 s (§2.2) and PF_RING's "small capture drops at
  queue 3". Its data port is chosen so that both directions hash to
  ``burst_queue``, and it starts so that its slow start reaches the full
  window at 3.86 s: the second deliberate placement (see Elephants).
* **TCP flows** (all but ``udp_fraction``) send like TCP: round k carries a
  window of min(IW * 2^k, W_max) packets (slow start, then the receive or
  congestion window limit), rounds start one RTT apart, and the packets of a
  round leave back to back at the flow's rate: the sender's access link for
  ordinary hosts (at most 1 Gb/s, their own bottleneck), the path's
  bottleneck share for science transfers (ACK-clocked window bursts: the
  source of short-term burstiness at the 10 ms scale). IW, W_max, RTT and
  the rate are drawn per flow. The receiver returns one
  delayed ACK per two data packets (RFC 1122 §4.2.3.2), seen at the tap
  after ``ack_lag`` (a host delay for transfers into Fermilab, a WAN RTT for
  transfers out of it).
* **UDP flows** (DNS, NTP, streaming) send their packets at a constant rate
  drawn per flow; UDP is hashed on addresses only by the 82599.
* **Elephants**: a bulk transfer (GridFTP-style: several parallel TCP
  streams between one Fermilab storage node and one remote site) that
  starts at ``elephant_start_s``. Its streams are long-lived, so each is
  ACK-clocked at its share of the WAN bottleneck (evenly spaced packets),
  and their ports are chosen, as GridFTP picks data-channel ports from a range,
  so that both directions of every stream hash to ``elephant_queue`` under
  the default key and six queues. This and the burst are the model's only
  deliberate placements; it stands for the published fact that queue 0
  carries a sustained ~80 kp/s from ~10 s on.
* **The wire**: all packets share one 10 GbE link and cannot overlap on it
  (each holds the link for (wire_len + 4 FCS + 20) * 8 bits).

Addresses: Fermilab hosts in 198.18.0.0/16 (standing in for Fermilab's own
/16, so the paper's §2.2 filter on one of its /24s becomes "net 198.18.2.0/24 and
udp"), Internet hosts in 198.19.0.0/16: every address is in RFC 2544's
198.18.0.0/15.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from traces import detmath, rss
from traces.fifo import fifo_loss  # noqa: F401  (the fit's queue check, re-exported: fermilab.fifo_loss)
from traces.trace import KEY_DTYPE, Trace, as_keys

GENERATOR_VERSION = 2  # bump when the model changes meaning (the cache also hashes this file)

# Same packets on every machine (issue 10): every value that decides a packet
# comes from numpy's Generator (scalar C, not SIMD-dispatched, pinned by
# requirements.lock), IEEE basic arithmetic, integer arithmetic, or
# traces.detmath's exp/log/pow; never from np.exp/np.log/np.log2/np.power,
# whose last bit depends on the CPU's SIMD level (tests/test_determinism.py).

# ---- constants with their sources -------------------------------------------------

LINK_BPS = 10e9                  # the paper's 82599 10 GbE link
ETH_OVERHEAD = 4 + 20            # FCS + preamble/SFD/IFG bytes per frame on the wire (IEEE 802.3)
MSS_FRAME = 1514                 # 1460-byte MSS + TCP/IP 40 + Ethernet 14 (no FCS)
ACK_FRAME = 66                   # TCP ACK with the timestamp option: 14 + 20 + 32 (RFC 7323)
MIN_FRAME = 60                   # 64-byte minimum frame without FCS (IEEE 802.3)
ACK_EVERY = 2                    # delayed ACK: one per two full segments (RFC 1122 §4.2.3.2)
INSIDE_NET = (198, 18)           # Fermilab side (the site's public /16 in the paper)
OUTSIDE_NET = (198, 19)          # the Internet side
PAPER_FILTER_NET = (198, 18, 2)  # paper §2.2 filter (one Fermilab /24 and UDP) -> 198.18.2.0/24
EPHEMERAL_PORTS = (32768, 60999)  # Linux net.ipv4.ip_local_port_range default
GRIDFTP_DATA_PORTS = (20000, 25000)  # GLOBUS_TCP_PORT_RANGE commonly used by sites
ELEPHANT_IW = 10                 # RFC 6928 initial window of the bulk transfer's streams
IPPROTO_TCP, IPPROTO_UDP = 6, 17

# TCP server ports of the background (service mix of a lab border, assumed)
SERVER_PORTS = np.array([443, 80, 22, 1094, 2811, 8443, 3306, 25])
SERVER_PORT_P = np.array([0.34, 0.30, 0.05, 0.06, 0.02, 0.03, 0.02, 0.03])  # rest: random high port
UDP_PORTS = np.array([53, 123, 514, 2055, 5004])  # DNS, NTP, syslog, NetFlow, RTP
UDP_PORT_P = np.array([0.55, 0.10, 0.10, 0.10, 0.15])


@dataclass(frozen=True)
class FermilabParams:
    """Every knob of the model; traces/README.md says which were fitted to what."""

    packets: int = 5_000_000         # paper §2.2: "5 million packets"; the capture stops there
    horizon_s: float = 40.0          # traffic is generated this long; the capture lasts ~32 s of it
    warmup_s: float = 20.0           # flows arriving before the capture starts are in progress at t = 0
    n_inside: int = 4096             # Fermilab hosts seen at the border (assumed)
    n_outside: int = 60000           # remote hosts (assumed)
    zipf_s: float = 1.0              # host popularity exponent (assumed)
    # regular flows: web, ssh, mail, DNS, ... from ordinary hosts
    flow_rate: float = 5400.0        # flows/s; fitted: 5,000,000 packets last ~32 s
    udp_fraction: float = 0.25       # share of regular flows that are UDP (assumed)
    size_alpha: float = 1.2          # Pareto shape of flow sizes (heavy tail, 1.1-1.3 is typical)
    size_min: float = 2.0            # Pareto scale (data packets)
    size_max: int = 10_000           # truncation (data packets, ~15 MB)
    iw_choices: tuple = (3, 10)      # RFC 3390 / RFC 6928 initial windows
    iw_p: tuple = (0.4, 0.6)
    # regular senders: (name, share of TCP flows, access link bps, largest window in MSS)
    sender_classes: tuple = (
        ("desktop", 0.45, 100e6, 44),    # 64 KB window, Fast Ethernet
        ("server", 0.40, 1e9, 180),      # 256 KB window, GbE
        ("storage", 0.15, 1e9, 700),     # 1 MB window, GbE
    )
    rtt_median_s: float = 0.030      # WAN RTT, lognormal (assumed)
    rtt_sigma: float = 1.0
    rtt_min_s: float = 0.0005
    rtt_max_s: float = 0.5
    host_lag_s: tuple = (0.0001, 0.001)  # receiver ACK delay inside Fermilab, uniform
    udp_rate_median_pps: float = 50.0    # UDP constant-rate senders, lognormal (assumed)
    udp_rate_sigma: float = 1.5
    # science transfers: data-transfer nodes (DTNs, 10 GbE, tuned multi-MB TCP
    # buffers) moving files to and from distant science sites. A transfer's
    # windows cross the tap spread at its path's bottleneck share, not at the
    # DTN's line rate (see dtn_path_bps)
    dtn_hosts: int = 32              # DTNs inside (assumed)
    dtn_flow_rate: float = 3.5       # transfers/s; fitted: queue-3 FIFO loss (Table 1, DNA 9.3%)
    dtn_size_median: float = 5500.0  # data packets per transfer (8 MB), lognormal; fitted with dtn_flow_rate
    dtn_size_sigma: float = 0.3
    dtn_size_max: int = 8000         # truncation (12 MB); fitted: no transfer alone fills a 10,240-slot pf_ring
    dtn_window: int = 3000           # packets (4.4 MB), a tuned DTN's TCP buffer (assumed)
    dtn_path_bps: float = 2.5e9      # a transfer's share of its shared 10 GbE WAN path; fitted (see README)
    dtn_rtt_median_s: float = 0.150  # science partners' RTT, lognormal (assumed): across the Atlantic and farther
    dtn_rtt_sigma: float = 0.3
    dtn_access_bps: float = 10e9
    # the burst: one transfer between two 10 GbE hosts on a clear path, so its
    # windows cross the tap back to back at line rate: the 2,724-packet burst
    # to queue 3 at 3.86-3.97 s (paper §2.2). Its port is chosen so that both
    # directions hash to burst_queue (as for the elephant); it starts so that
    # its slow start reaches full windows at ~3.9 s
    burst_queue: int = 3
    burst_start_s: float = 2.66      # slow start from IW 10 reaches the full window at 2.66 + 8 RTT = 3.86 s
    burst_size: int = 12_000         # data packets (17.5 MB); fitted: PF_RING's small capture drops on queue 3
    burst_window: int = 2200         # packets (3.2 MB); fitted: queue 3's largest 10 ms bin (2,724)
    burst_rtt_s: float = 0.150       # as the science transfers' median (assumed)
    # the elephant (queue 0's sustained load from ~10 s on)
    elephant_queue: int = 0
    elephant_n_queues: int = 6
    elephant_start_s: float = 10.0   # fitted: "sustains ~80,000 p/s from 10 s on"
    elephant_streams: int = 4        # GridFTP parallel streams (assumed)
    elephant_window: int = 1150      # packets per stream window (1.7 MB), above rate x RTT
    elephant_rtt_s: float = 0.100    # transatlantic-class RTT (assumed)
    # each stream's share of its WAN bottleneck: a long-lived stream is
    # ACK-clocked at this rate: 10,400 frames/s, evenly spaced (128 Mb/s);
    # fitted: queue 0 ~80 kp/s from 10 s on and ~48-50% FIFO loss (Table 1,
    # DNA 50.1%), without pushing NETMAP's queue 3 past its tolerance
    elephant_bottleneck_bps: float = 128e6

    def as_dict(self) -> dict:
        return asdict(self)

    def check(self) -> None:
        """Refuse parameter sets the model cannot honour, naming the parameter."""
        if not 0 < self.elephant_start_s < self.horizon_s:
            raise ValueError(f"elephant_start_s={self.elephant_start_s} must lie in (0, horizon_s={self.horizon_s})")
        if self.packets < 1 or self.horizon_s <= 0 or self.warmup_s < 0:
            raise ValueError("packets must be >= 1, horizon_s > 0 and warmup_s >= 0")
        if not 0 <= self.elephant_queue < self.elephant_n_queues:
            raise ValueError(f"elephant_queue={self.elephant_queue} must be < elephant_n_queues")
        if not 0 < self.dtn_hosts < self.n_inside:
            raise ValueError(f"dtn_hosts={self.dtn_hosts} must be in 1..n_inside-1")
        if not 0 <= self.burst_queue < self.elephant_n_queues:
            raise ValueError(f"burst_queue={self.burst_queue} must be < elephant_n_queues")
        if self.burst_size > 0 and not 0 <= self.burst_start_s < self.horizon_s:
            raise ValueError(f"burst_start_s={self.burst_start_s} must lie in [0, horizon_s={self.horizon_s})")
        if not (self.dtn_path_bps > 0 and self.dtn_access_bps > 0 and self.dtn_window > 0 and self.burst_window > 0):
            raise ValueError("dtn_path_bps, dtn_access_bps, dtn_window and burst_window must be > 0")
        for name in ("iw_p",):
            if abs(sum(getattr(self, name)) - 1) > 1e-9:
                raise ValueError(f"{name} must sum to 1")
        if abs(sum(c[1] for c in self.sender_classes) - 1) > 1e-9:
            raise ValueError("sender_classes shares must sum to 1")


DEFAULT_PARAMS = FermilabParams()
DEFAULT_SEED = 7  # the seed whose queue statistics README.md reports


# ---- addresses and ports ------------------------------------------------------

def _zipf_pick(rng: np.random.Generator, n_hosts: int, s: float, size: int) -> np.ndarray:
    rank = np.arange(1, n_hosts + 1, dtype=np.float64)
    w = 1.0 / rank if s == 1.0 else detmath.pow(rank, -s)
    return rng.choice(n_hosts, size=size, p=w / w.sum())


def _host_addresses(net: tuple, n: int) -> np.ndarray:
    """n addresses net.x.y, skipping .0 and .255 host bytes; (n, 4) uint8."""
    idx = np.arange(n)
    third, fourth = idx // 254, idx % 254 + 1
    if third.max(initial=0) > 255:
        raise ValueError(f"too many hosts for {net[0]}.{net[1]}.0.0/16: {n}")
    out = np.zeros((n, 4), np.uint8)
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = net[0], net[1], third, fourth
    return out


def _pick_ports(rng, size, ports, p):
    """Service ports by share; the remaining probability picks a random high port."""
    idx = np.searchsorted(np.cumsum(p), rng.random(size), side="right")
    out = rng.integers(1024, 65536, size)
    known = idx < len(ports)
    out[known] = ports[idx[known]]
    return out


def _keys(src, dst, sport, dport, proto) -> np.ndarray:
    k = np.zeros(len(sport), KEY_DTYPE)
    k["l3"] = 4
    k["proto"] = proto
    k["sport"] = sport
    k["dport"] = dport
    k["ethertype"] = 0x0800
    k["src"][:, :4] = src
    k["dst"][:, :4] = dst
    return k


def _reverse(k: np.ndarray) -> np.ndarray:
    r = k.copy()
    r["src"], r["dst"] = k["dst"], k["src"]
    r["sport"], r["dport"] = k["dport"], k["sport"]
    return r


# ---- flow sets ------------------------------------------------------------------

@dataclass
class FlowSet:
    """Per-flow draws. ``key`` is the data direction; ACKs use its reverse."""

    t0: np.ndarray        # first data packet, s
    size: np.ndarray      # data packets
    key: np.ndarray       # KEY_DTYPE
    udp: np.ndarray       # bool: constant-rate UDP instead of TCP
    iw: np.ndarray        # initial window (packets)
    wmax: np.ndarray      # largest window (packets)
    rate_pps: np.ndarray  # access rate in full-size frames per second (TCP), or UDP send rate
    rtt: np.ndarray       # s
    ack_lag: np.ndarray   # s from a data packet at the tap to its ACK at the tap

    @staticmethod
    def concat(sets: list["FlowSet"]) -> "FlowSet":
        return FlowSet(**{f: np.concatenate([getattr(s, f) for s in sets])
                          for f in FlowSet.__dataclass_fields__})

    def __len__(self) -> int:
        return len(self.t0)


def _frame_rate(bps: np.ndarray | float) -> np.ndarray | float:
    """Full-size frames per second on a link of bps."""
    return bps / (8.0 * (MSS_FRAME + ETH_OVERHEAD))


def _rtt(p: FermilabParams, rng, n, median=None, sigma=None) -> np.ndarray:
    median = p.rtt_median_s if median is None else median
    sigma = p.rtt_sigma if sigma is None else sigma
    return np.clip(median * detmath.exp(sigma * rng.standard_normal(n)), p.rtt_min_s, p.rtt_max_s)


def _ack_lag(p: FermilabParams, rng, sender_inside, rtt) -> np.ndarray:
    # data leaving Fermilab: its ACK comes back one WAN RTT later; data
    # entering Fermilab: the local receiver answers within a host delay
    return np.where(sender_inside, rtt, rng.uniform(*p.host_lag_s, len(rtt)))


def _regular_flows(p: FermilabParams, rng, inside, outside) -> FlowSet:
    n = rng.poisson(p.flow_rate * (p.horizon_s + p.warmup_s))
    t0 = rng.uniform(-p.warmup_s, p.horizon_s, n)
    size = np.minimum(np.ceil(p.size_min * detmath.pow(1.0 - rng.random(n), -1.0 / p.size_alpha)), p.size_max)
    udp = rng.random(n) < p.udp_fraction
    h_in = inside[_zipf_pick(rng, len(inside), p.zipf_s, n)]
    h_out = outside[_zipf_pick(rng, len(outside), p.zipf_s, n)]
    sender_inside = rng.random(n) < 0.5
    # the data sender is the server; its port is the service port
    server_port = np.where(udp, _pick_ports(rng, n, UDP_PORTS, UDP_PORT_P),
                           _pick_ports(rng, n, SERVER_PORTS, SERVER_PORT_P))
    client_port = rng.integers(EPHEMERAL_PORTS[0], EPHEMERAL_PORTS[1] + 1, n)
    src = np.where(sender_inside[:, None], h_in, h_out)
    dst = np.where(sender_inside[:, None], h_out, h_in)
    key = _keys(src, dst, server_port, client_port, np.where(udp, IPPROTO_UDP, IPPROTO_TCP))
    iw = np.asarray(p.iw_choices)[rng.choice(len(p.iw_choices), n, p=p.iw_p)]
    cls = rng.choice(len(p.sender_classes), n, p=[c[1] for c in p.sender_classes])
    access = np.array([c[2] for c in p.sender_classes], dtype=float)[cls]
    wmax = np.array([c[3] for c in p.sender_classes], dtype=np.int64)[cls]
    rtt = _rtt(p, rng, n)
    udp_pps = p.udp_rate_median_pps * detmath.exp(p.udp_rate_sigma * rng.standard_normal(n))
    rate = np.where(udp, udp_pps, _frame_rate(access))
    return FlowSet(t0, size.astype(np.int64), key, udp, iw, wmax, rate, rtt, _ack_lag(p, rng, sender_inside, rtt))


def _dtn_flows(p: FermilabParams, rng, dtns, outside) -> FlowSet:
    """Science transfers: TCP from slow start up to dtn_window, one window per
    RTT, each window spread at the path's bottleneck share (the ACK clock of a
    flow through a shared bottleneck; data entering the lab was already spread
    by it upstream)."""
    n = rng.poisson(p.dtn_flow_rate * (p.horizon_s + p.warmup_s))
    t0 = rng.uniform(-p.warmup_s, p.horizon_s, n)
    size = np.ceil(np.minimum(p.dtn_size_median * detmath.exp(p.dtn_size_sigma * rng.standard_normal(n)),
                              p.dtn_size_max)).astype(np.int64)
    h_in = dtns[rng.integers(0, len(dtns), n)]
    h_out = outside[_zipf_pick(rng, len(outside), p.zipf_s, n)]
    sender_inside = rng.random(n) < 0.5
    data_port = rng.integers(*GRIDFTP_DATA_PORTS, n)
    client_port = rng.integers(EPHEMERAL_PORTS[0], EPHEMERAL_PORTS[1] + 1, n)
    src = np.where(sender_inside[:, None], h_in, h_out)
    dst = np.where(sender_inside[:, None], h_out, h_in)
    key = _keys(src, dst, data_port, client_port, IPPROTO_TCP)
    iw = np.asarray(p.iw_choices)[rng.choice(len(p.iw_choices), n, p=p.iw_p)]
    rtt = _rtt(p, rng, n, p.dtn_rtt_median_s, p.dtn_rtt_sigma)
    rate = np.full(n, _frame_rate(min(p.dtn_path_bps, p.dtn_access_bps)))
    return FlowSet(t0, size, key, np.zeros(n, bool), iw, np.full(n, p.dtn_window, np.int64), rate, rtt,
                   _ack_lag(p, rng, sender_inside, rtt))


def _ports_on_queue(p: FermilabParams, rng, src, dst, queue, count, what) -> np.ndarray:
    """count TCP keys src -> dst (GridFTP data port, ephemeral client port)
    whose both directions hash to queue under the default key and
    elephant_n_queues queues."""
    ports = np.arange(*GRIDFTP_DATA_PORTS, dtype=np.int64)
    client = rng.integers(EPHEMERAL_PORTS[0], EPHEMERAL_PORTS[1] + 1, len(ports))
    cand = _keys(np.tile(src, (len(ports), 1)), np.tile(dst, (len(ports), 1)), ports, client, IPPROTO_TCP)
    qf = rss.key_queues(cand, p.elephant_n_queues)
    qr = rss.key_queues(_reverse(cand), p.elephant_n_queues)
    ok = np.flatnonzero((qf == queue) & (qr == queue))
    if len(ok) < count:
        raise ValueError(f"only {len(ok)} GridFTP data ports of the {what} hash to queue {queue} both ways")
    return cand[rng.choice(ok, count, replace=False)]


def _elephant_flows(p: FermilabParams, rng, dtns, outside) -> FlowSet:
    """GridFTP streams from one DTN to one remote site, both directions on elephant_queue."""
    src = dtns[rng.integers(0, len(dtns))]
    dst = outside[rng.integers(0, min(64, len(outside)))]
    key = _ports_on_queue(p, rng, src, dst, p.elephant_queue, p.elephant_streams, "elephant")
    E = p.elephant_streams
    # long enough to outlast the capture; slow start from IW 10, then paced at the bottleneck share
    rounds = int(np.ceil((p.horizon_s - p.elephant_start_s) / p.elephant_rtt_s)) + 2
    rtt = np.full(E, p.elephant_rtt_s)
    return FlowSet(t0=p.elephant_start_s + rng.uniform(0, p.elephant_rtt_s, E),
                   size=np.full(E, rounds * p.elephant_window, np.int64), key=key, udp=np.zeros(E, bool),
                   iw=np.full(E, ELEPHANT_IW), wmax=np.full(E, p.elephant_window, np.int64),
                   rate_pps=np.full(E, _frame_rate(p.elephant_bottleneck_bps)), rtt=rtt,
                   ack_lag=_ack_lag(p, rng, np.ones(E, bool), rtt))  # data leaves Fermilab


def _burst_flow(p: FermilabParams, rng, dtns, outside) -> FlowSet:
    """One transfer from a 10 GbE DTN to a 10 GbE remote host on a clear
    path: its windows leave back to back at line rate; both directions on
    burst_queue."""
    src = dtns[rng.integers(0, len(dtns))]
    dst = outside[rng.integers(0, min(64, len(outside)))]
    key = _ports_on_queue(p, rng, src, dst, p.burst_queue, 1, "burst")
    rtt = np.full(1, p.burst_rtt_s)
    return FlowSet(t0=np.full(1, p.burst_start_s), size=np.full(1, p.burst_size, np.int64), key=key,
                   udp=np.zeros(1, bool), iw=np.full(1, ELEPHANT_IW), wmax=np.full(1, p.burst_window, np.int64),
                   rate_pps=np.full(1, _frame_rate(p.dtn_access_bps)), rtt=rtt,
                   ack_lag=_ack_lag(p, rng, np.ones(1, bool), rtt))  # data leaves Fermilab


# ---- packets --------------------------------------------------------------------

def _bit_length(q: np.ndarray) -> np.ndarray:
    """int.bit_length elementwise for 0 <= q < 2^53 (frexp's exponent is exact)."""
    return np.frexp(np.asarray(q, dtype=np.float64))[1].astype(np.int64)


def _ceil_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return -(-np.asarray(a, dtype=np.int64) // np.asarray(b, dtype=np.int64))


def _tcp_rounds(size, iw, wmax):
    """Flat arrays over every round of every flow: (flow, round k, window, packets before).

    Round counts in integers: a float log2 whose last bit depends on the CPU
    would move a ceil at exact powers of two."""
    size, iw, wmax = (np.asarray(a, dtype=np.int64) for a in (size, iw, wmax))
    # slow start reaches wmax after kc rounds: the least kc with iw 2^kc >= wmax,
    # i.e. 2^kc >= ceil(wmax / iw): kc = bit_length(ceil(wmax / iw) - 1)
    kc = np.where(wmax > iw, _bit_length(_ceil_div(wmax, iw) - 1), 0)
    ss_total = iw * ((1 << kc) - 1)                 # packets sent while still in slow start
    # a flow that ends in slow start needs the least r with iw (2^r - 1) >= size,
    # i.e. 2^r - 1 >= ceil(size / iw): r = bit_length(ceil(size / iw))
    r_ss = _bit_length(_ceil_div(size, iw))
    r_ca = kc + _ceil_div(np.maximum(size - ss_total, 0), wmax)
    rounds = np.maximum(np.where(size <= ss_total, r_ss, r_ca), 1)
    flow = np.repeat(np.arange(len(size)), rounds)
    first = np.cumsum(rounds) - rounds
    k = np.arange(len(flow)) - np.repeat(first, rounds)
    w = np.minimum(iw[flow] << np.minimum(k, 40), wmax[flow])
    cum = np.cumsum(w)
    before = cum - w - np.repeat(cum[first] - w[first], rounds)
    w = np.minimum(w, size[flow] - before)
    return flow, k, w, before


def _tcp_packets(f: FlowSet, idx: np.ndarray):
    """Data packets of TCP flows idx: (flow, time s, sequence number within the flow)."""
    flow, k, w, before = _tcp_rounds(f.size[idx], f.iw[idx], f.wmax[idx])
    fi = idx[flow]
    # round k starts k RTTs after the first (ACK clock), but not before the
    # earlier rounds have left at the access rate
    start = f.t0[fi] + np.maximum(k * f.rtt[fi], before / f.rate_pps[fi])
    pflow = np.repeat(fi, w)
    j = np.arange(len(pflow)) - np.repeat(np.cumsum(w) - w, w)
    t = np.repeat(start, w) + j / f.rate_pps[pflow]
    return pflow, t, np.repeat(before, w) + j


def _packets(f: FlowSet, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(time s, key index into [f.key; reverse(f.key)], wire length) of every packet."""
    nf = len(f)
    tcp = np.flatnonzero(~f.udp)
    pf, pt, seq = _tcp_packets(f, tcp)
    last = seq == f.size[pf] - 1
    data_len = np.where(last, rng.integers(ACK_FRAME, MSS_FRAME + 1, len(pf)), MSS_FRAME)
    acked = ((seq + 1) % ACK_EVERY == 0) | last
    af = pf[acked]
    at = pt[acked] + f.ack_lag[af]
    udp = np.flatnonzero(f.udp)
    uf = np.repeat(udp, f.size[udp])
    uj = np.arange(len(uf)) - np.repeat(np.cumsum(f.size[udp]) - f.size[udp], f.size[udp])
    ut = f.t0[uf] + uj / f.rate_pps[uf]
    ulen = rng.integers(MIN_FRAME + 20, MSS_FRAME + 1, len(uf))
    t = np.concatenate([pt, at, ut])
    k = np.concatenate([pf, af + nf, uf])
    wl = np.concatenate([data_len, np.full(len(af), ACK_FRAME), ulen]).astype(np.uint32)
    return t, k, wl


def generate(seed: int = DEFAULT_SEED, params: FermilabParams = DEFAULT_PARAMS) -> Trace:
    """The Fermilab-like trace for a seed (deterministic: same seed and params, same packets)."""
    p = params
    p.check()
    rng = np.random.default_rng(seed)
    inside = _host_addresses(INSIDE_NET, p.n_inside)
    outside = _host_addresses(OUTSIDE_NET, p.n_outside)
    dtns = inside[-p.dtn_hosts:]
    flows = FlowSet.concat([_regular_flows(p, rng, inside[:-p.dtn_hosts], outside),
                            _dtn_flows(p, rng, dtns, outside),
                            _elephant_flows(p, rng, dtns, outside)]
                           + ([_burst_flow(p, rng, dtns, outside)] if p.burst_size > 0 else []))
    t, k, wl = _packets(flows, rng)
    keys = as_keys(np.concatenate([flows.key, _reverse(flows.key)]))

    # one 10 GbE wire on which frames cannot overlap; the capture starts at
    # t = 0 and stops after `packets` packets (like tcpdump -c)
    keep = (t >= 0) & (t < p.horizon_s)
    t, k, wl = t[keep], k[keep], wl[keep]
    order = np.lexsort((k, t))
    ts = serialize(np.round(t[order] * 1e9).astype(np.int64), wl[order])
    if len(ts) < p.packets:
        raise ValueError(f"the model made only {len(ts)} packets in horizon_s={p.horizon_s} s; "
                         f"{p.packets} were asked for: raise horizon_s")
    ts, k, wl = ts[:p.packets], k[order][:p.packets], wl[order][:p.packets]

    # one row per distinct key (two flows may draw the same 5-tuple), keep
    # only the keys in use, numbered in order of first use
    _, first_row, same = np.unique(keys.view(f"V{KEY_DTYPE.itemsize}"), return_index=True, return_inverse=True)
    k = first_row[same.reshape(-1)][k]
    used, first_use = np.unique(k, return_index=True)
    used = used[np.argsort(first_use, kind="stable")]
    remap = np.full(len(keys), -1, np.int64)
    remap[used] = np.arange(len(used))
    # JSON-shaped (lists, not tuples), so a cached copy compares equal
    meta = json.loads(json.dumps({"generator": "fermilab-like", "generator_version": GENERATOR_VERSION,
                                  "seed": int(seed), "params": p.as_dict()}))
    return Trace(ts_ns=ts - ts[0], wire_len=wl, cap_len=wl.copy(), key_idx=remap[k].astype(np.int32),
                 keys=keys[used], t0_ns=0, name=f"fermilab-like:{seed}", meta=meta)


def serialize(ts_ns: np.ndarray, wire_len: np.ndarray, link_bps: float = LINK_BPS) -> np.ndarray:
    """Push packets later where they would overlap on one link (time-sorted input).

    t'_i = max(t_i, t'_{i-1} + tx_{i-1}), with tx the frame's time on the wire
    including FCS, preamble and gap: computed in closed form with a running max.
    """
    if not len(ts_ns):
        return ts_ns
    bits = (wire_len.astype(np.int64) + ETH_OVERHEAD) * 8
    c = np.round(np.concatenate([[0], np.cumsum(bits[:-1])]) * (1e9 / link_bps)).astype(np.int64)
    return c + np.maximum.accumulate(ts_ns - c)
