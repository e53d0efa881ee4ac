"""Shell access to a testbed for unmodified libpcap programs (issue 13):
what ``invoke pcap-env``, ``invoke testbed-up --json`` and ``invoke send``
compute, callable from Python (experiments/live/ndpi_affinity.py).

    eval "$(invoke pcap-env --offload chunk)"
    ip netns exec wcap-7e57bd-cap tcpdump -i wirecap:wc7e57bdc -w out.pcap &
    invoke send --interface wc7e57bdc --count 10000 --rate 20000 --flows 16

``pcap_env`` writes the ``export`` lines that put WireCAP's libpcap ABI
library (``build/pcap/libpcap.so.0.8``) in front of the system's and set its
WIRECAP_PCAP_* variables. ``testbed_info`` is the testbed as one JSON-able
dict. ``send`` sends a bounded, paced burst of UDP flows or a rewritten
trace from the generator namespace through AF_PACKET (the qdisc path, so the
RSS steering program, if pinned, picks each frame's receive queue): it opens
nothing on the capture side, so a capture program may hold every queue.
"""
from __future__ import annotations

import ipaddress
import math
import os
import shlex
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from driver.xdp import packets

from engine import pcapabi
from engine.core import geometry_error

LIB_SONAME = pcapabi.LIBRARY.name
ENV_PREFIX = pcapabi.PREFIX
OFFLOAD_CHOICES = ("none", "chunk", "bucket", "hybrid")   # none: WireCAP-B (the basic mode)
XDP_MODES = ("auto", "copy", "zerocopy")
RING_MIN, RING_MAX = 64, 8192       # AF_XDP rings: powers of two (engine/csrc/pcapabi/wcp_env.c)
MAX_R = 1_000_000                   # experiments/params.py MAX_R
MAX_COUNT = 10_000_000              # frames per send
MAX_RATE = 10_000_000.0             # frames/s asked of one AF_PACKET sender (it reaches ~0.5 M here)
MAX_FLOWS = 50_000
SEND_SLACK_S = 10.0                 # a send stops at 1.5x its planned duration plus this
PROTO_NAMES = {packets.IPPROTO_TCP: "tcp", packets.IPPROTO_UDP: "udp", 1: "icmp"}


class ShellError(ValueError):
    """A refused argument: the message names the option and what is allowed."""


def lib_dir(root: Path | None = None) -> Path:
    """Where the library is (engine.pcapabi; root: another checkout's)."""
    return pcapabi.LIBRARY_DIR.resolve() if root is None else Path(root).resolve() / "build" / "pcap"


def lib_path(root: Path | None = None) -> Path:
    return lib_dir(root) / LIB_SONAME


# ---- pcap-env -------------------------------------------------------------------

def _int_opt(name: str, value, lo: int, hi: int) -> int:
    name = name if len(name) > 1 else name.upper()   # invoke spells one-letter options -M, -R, -T
    dash = "--" if len(name) > 1 else "-"
    try:
        v = int(str(value), 10)
    except ValueError:
        raise ShellError(f"{dash}{name} {value!r}: expected an integer in {lo}..{hi}") from None
    if not lo <= v <= hi:
        raise ShellError(f"{dash}{name} {value}: expected an integer in {lo}..{hi}")
    return v


def check_settings(M=None, R=None, T=None, offload=None, ring=None, cpus=None, xdp_mode=None,
                   timeout_us=None, period_ms=None) -> dict:
    """The WIRECAP_PCAP_* settings given (None: not set, the library's default),
    each checked; ShellError names the option and its allowed range."""
    out = {}
    ring_v = None
    if ring is not None:
        ring_v = _int_opt("ring", ring, RING_MIN, RING_MAX)
        if ring_v & (ring_v - 1):
            raise ShellError(f"--ring {ring}: AF_XDP rings are a power of two in {RING_MIN}..{RING_MAX}")
        out["RING"] = ring_v
    # the pool's geometry is the core's rule (wc_pool__geometry_error), here
    # in the command line's words: M alone against the ring (with the least R
    # it allows), R once M is known
    n = ring_v or 1024
    if M is not None:
        m = _int_opt("M", M, 1, n)
        err = geometry_error(n, m, n // m + 1)
        if err is not None and err[0] == "M":
            raise ShellError(f"-M {M}: a descriptor segment divides the ring ({n} descriptors): "
                             f"one of {', '.join(str(d) for d in range(1, n + 1) if n % d == 0)}")
        out["M"] = m
    if R is not None:
        r = _int_opt("R", R, 1, MAX_R)
        m = out.get("M")
        if m is not None and (err := geometry_error(n, m, r)) is not None and err[0] == "R":
            raise ShellError(f"-R {R}: the pool must hold more than the ring: R > N/M = {n // m} (M={m}, N={n})")
        out["R"] = r
    if T is not None:
        out["T"] = _int_opt("T", T, 1, 100)
    if offload is not None:
        if offload not in OFFLOAD_CHOICES:
            raise ShellError(f"--offload {offload!r}: one of {', '.join(OFFLOAD_CHOICES)} "
                             "(none = WireCAP-B, chunk = the paper's WireCAP-A)")
        out["OFFLOAD"] = offload
    if xdp_mode is not None:
        if xdp_mode not in XDP_MODES:
            raise ShellError(f"--xdp-mode {xdp_mode!r}: one of {', '.join(XDP_MODES)}")
        out["XDP_MODE"] = xdp_mode
    if cpus is not None:
        ncpu = os.cpu_count() or 1
        items = [c.strip() for c in str(cpus).split(",")]
        if not items or any(not (c.isdigit() or c == "-1") for c in items):
            raise ShellError(f"--cpus {cpus!r}: a comma-separated list of CPU numbers in 0..{ncpu - 1} "
                             "(-1: not pinned), one per capture thread")
        vals = [int(c) for c in items]
        if any(v >= ncpu for v in vals):
            raise ShellError(f"--cpus {cpus}: CPU numbers are 0..{ncpu - 1} on this host")
        out["CPUS"] = ",".join(str(v) for v in vals)
    if timeout_us is not None:
        out["TIMEOUT_US"] = _int_opt("timeout-us", timeout_us, 1, 1_000_000)
    if period_ms is not None:
        out["PERIOD_MS"] = _int_opt("period-ms", period_ms, 1, 10_000)
    return out


def testbed_paths(tb) -> dict:
    """The pinned objects of testbed tb a library user needs (absent ones left out)."""
    from driver.xdp import pinned_rss
    from driver.xdp.xdp_prog import pin_path

    out = {}
    if pin_path(tb.bpffs, tb.cap_if, "map").exists():
        out["bpffs"] = str(tb.bpffs)
    if pinned_rss.is_pinned(tb):
        p = pinned_rss.paths(tb)
        out.update(steer_map=str(p["steer"]), counts_map=str(p["counts"]), rss_buckets=pinned_rss.PINNED_BUCKETS)
    return out


def _testbed_settings(tb) -> dict:
    if tb is None:
        return {}
    p = testbed_paths(tb)
    out = {"BPFFS": p["bpffs"]} if "bpffs" in p else {}
    if "steer_map" in p:
        out.update(STEER_MAP=p["steer_map"], COUNTS_MAP=p["counts_map"], BUCKETS=p["rss_buckets"])
    return out


# POSIX sh: unset every WIRECAP_PCAP_* variable, so that an earlier eval's settings do not linger
UNSET_LINE = ("for v in $(env | sed -n 's/^\\(" + ENV_PREFIX + "[A-Z_]*\\)=.*/\\1/p'); "
              'do unset "$v"; done')


def pcap_env(settings: dict, tb=None, root: Path | None = None, require_lib: bool = True) -> str:
    """Shell lines for ``eval``: every WIRECAP_PCAP_* variable unset, the
    library first on LD_LIBRARY_PATH, each setting exported; with a testbed,
    its pinned redirect program and RSS maps."""
    lib = lib_path(root)
    if require_lib and not lib.is_file():
        raise FileNotFoundError(f"WireCAP's libpcap library is not built ({lib} is missing): run `make build`")
    lines = [UNSET_LINE,
             "export LD_LIBRARY_PATH=" + shlex.quote(str(lib_dir(root))) + '${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}']
    env = {k: str(v) for k, v in {**settings, **_testbed_settings(tb)}.items()}
    lines += [f"export {ENV_PREFIX}{k}={shlex.quote(v)}" for k, v in env.items()]
    return "\n".join(lines) + "\n"


def env_dict(settings: dict, tb=None, base: dict | None = None) -> dict:
    """The same as pcap_env, as an environment for subprocess (base:
    os.environ; its WIRECAP_PCAP_* variables dropped): engine.pcapabi.pcap_env."""
    return pcapabi.pcap_env(base, **{k.lower(): v for k, v in {**settings, **_testbed_settings(tb)}.items()})


# ---- testbed-up --json -----------------------------------------------------------

def testbed_info(tb) -> dict:
    from driver.xdp.testbed import NIC1_NET

    return {"tag": tb.tag, "queues": tb.queues,
            "capture": {"interface": tb.cap_if, "namespace": tb.cap_ns, "address": NIC1_NET[1]},
            "generator": {"interface": tb.gen_if, "namespace": tb.gen_ns, "address": NIC1_NET[0]},
            "forward": ({"interface": tb.fwd_if, "namespace": tb.cap_ns, "sink_interface": tb.sink_if,
                         "sink_namespace": tb.sink_ns} if tb.forward else None),
            "rss": None, "bpffs": None, "steer_map": None, "counts_map": None,
            **_rss_field(tb), **{k: v for k, v in testbed_paths(tb).items() if k != "rss_buckets"}}


def _rss_field(tb) -> dict:
    from driver.xdp import pinned_rss

    if not pinned_rss.is_pinned(tb):
        return {}
    return {"rss": {"buckets": pinned_rss.PINNED_BUCKETS, "interface": tb.gen_if, "hook": "tcx egress"}}


# ---- send ----------------------------------------------------------------------------

def capture_testbed(interface: str):
    """The testbed whose capture interface is ``interface``, or ShellError
    naming the command that makes one."""
    from driver.xdp.errors import PrerequisiteError
    from driver.xdp.testbed import Testbed

    hint = "a testbed's capture interface wc<tag>c, made by `invoke testbed-up`"
    try:
        tb = Testbed.find(interface)
    except PrerequisiteError as exc:
        why = str(exc).split(": ", 1)[-1] if (interface or "").startswith("wc") else ""
        raise ShellError(f"--interface {interface!r}: not {hint}" + (f" ({why})" if why else "")) from None
    if interface != tb.cap_if:
        raise ShellError(f"--interface {interface!r}: not {hint}; testbed {tb.tag}'s is {tb.cap_if}")
    return tb


def _bench_net(option: str, value: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ShellError(f"--{option} {value!r}: expected an IPv4 network inside 198.18.0.0/15") from None
    if net.version != 4 or not net.subnet_of(packets.BENCHMARK_NET):
        raise ShellError(f"--{option} {value}: outside 198.18.0.0/15; every address on the wire is in "
                         "RFC 2544's benchmark range (DESIGN.md §5)")
    return net


def _host(net: ipaddress.IPv4Network, i: int) -> str:
    hosts = max(1, net.num_addresses - 2) if net.prefixlen < 31 else net.num_addresses
    first = 1 if net.prefixlen < 31 else 0
    return str(net.network_address + first + (i % hosts))


def flow_key(frame: bytes) -> str:
    """The 5-tuple of an IPv4 frame as text: ``udp 198.18.1.1:10000 > 198.18.2.1:9``
    (ports 0 for non-TCP/UDP and for non-first fragments)."""
    src, dst = ipaddress.IPv4Address(frame[26:30]), ipaddress.IPv4Address(frame[30:34])
    proto = frame[23]
    frag = struct.unpack_from("!H", frame, 20)[0] & 0x1FFF
    ihl = (frame[14] & 0xF) * 4
    sport = dport = 0
    if proto in (packets.IPPROTO_TCP, packets.IPPROTO_UDP) and not frag and len(frame) >= 14 + ihl + 4:
        sport, dport = struct.unpack_from("!HH", frame, 14 + ihl)
    return f"{PROTO_NAMES.get(proto, str(proto))} {src}:{sport} > {dst}:{dport}"


@dataclass
class Plan:
    """What a send will put on the wire: templates and which one frame k is."""
    templates: list[bytes]
    tpl_idx: np.ndarray | None        # None: frame k is templates[k % len(templates)]
    count: int
    source: str
    skipped: int = 0

    def template_of(self, k: np.ndarray) -> np.ndarray:
        return self.tpl_idx[k] if self.tpl_idx is not None else k % len(self.templates)


def flows_plan(tb, count: int, flows: int, size: int, src: str = "198.18.1.0/24",
               dst: str = "198.18.2.0/24", dport: int = 9, base_port: int = 10000) -> Plan:
    """``flows`` UDP flows of ``size``-byte frames, round-robin, count frames."""
    count = _int_opt("count", count, 1, MAX_COUNT)
    flows = _int_opt("flows", flows, 1, MAX_FLOWS)
    size = _int_opt("size", size, packets.MIN_FRAME, packets.MAX_FRAME)
    snet, dnet = _bench_net("src", src), _bench_net("dst", dst)
    dmac, smac = tb.mac(tb.cap_if), tb.mac(tb.gen_if)
    tpl = [packets.udp_frame(dmac, smac, _host(snet, i), _host(dnet, i // 7), (base_port + i) % 65536 or 1,
                             dport, size) for i in range(flows)]
    return Plan(tpl, None, count, f"{flows} UDP flow(s), {size}-byte frames")


def trace_frames(spec: str, dst_mac, src_mac) -> tuple[list[bytes], int]:
    """The frames of trace ``spec`` (a traces/ name or a capture path) with
    every address rewritten into 198.18.0.0/15 (traces.rewrite) and the
    testbed's MACs: IPv4 only (IPv6, ARP, VLAN-tagged frames are skipped and
    counted), each cut to its captured bytes and 60..1514 bytes."""
    from traces import load_trace, rewrite_addresses

    tr = rewrite_addresses(load_trace(spec, raw=True))
    if tr.raw is None:
        raise ShellError(f"--trace {spec}: a replay needs a capture file with packet bytes")
    dmac, smac = packets.mac_bytes(dst_mac), packets.mac_bytes(src_mac)
    out, skipped = [], 0
    data = tr.raw.data
    for i in range(len(tr)):
        off, cap = int(tr.raw.offsets[i]), int(tr.cap_len[i])
        if tr.raw.linktypes[i] != 1 or cap < packets.ETH_HLEN + packets.IPV4_HLEN:
            skipped += 1
            continue
        frame = dmac + smac + bytes(data[off + 12:off + cap])
        try:
            packets.check_frame(frame)
        except packets.NetworkDisciplineError:
            skipped += 1
            continue
        length = min(max(int(tr.wire_len[i]), packets.MIN_FRAME), packets.MAX_FRAME)
        frame = frame[:length]
        out.append(frame + bytes(max(0, length - len(frame))) if len(frame) < packets.MIN_FRAME else frame)
    return out, skipped


def trace_plan(tb, spec: str, count: int | None = None) -> Plan:
    """A replay of trace ``spec`` in file order (count: that many frames, the
    trace repeated if it is shorter; None: the trace once)."""
    try:
        frames, skipped = trace_frames(spec, tb.mac(tb.cap_if), tb.mac(tb.gen_if))
    except (OSError, ValueError) as exc:
        raise ShellError(f"--trace {spec}: {exc}") from None
    if not frames:
        raise ShellError(f"--trace {spec}: no IPv4 frame to send ({skipped} skipped)")
    n = len(frames) if count is None or int(count) == 0 else _int_opt("count", count, 1, MAX_COUNT)
    return Plan(frames, None, n, f"trace {spec} ({len(frames)} IPv4 frames, {skipped} skipped)", skipped)


def send(tb, plan: Plan, rate: float, max_s: float | None = None, stop=None) -> dict:
    """Send plan at ``rate`` frames/s from tb's generator namespace; the
    result as one JSON-able dict (exact per-flow counts of what was sent)."""
    from driver.xdp import pinned_rss
    from driver.xdp.generator import MAX_SEND_S, Generator

    try:
        rate = float(rate)
    except ValueError:
        raise ShellError(f"--rate {rate!r}: frames per second in (0, {MAX_RATE:g}]") from None
    if not (math.isfinite(rate) and 0 < rate <= MAX_RATE):
        raise ShellError(f"--rate {rate}: frames per second in (0, {MAX_RATE:g}]")
    planned = plan.count / rate
    bound = planned * 1.5 + SEND_SLACK_S if max_s is None else float(max_s)
    if bound > MAX_SEND_S:
        raise ShellError(f"--count {plan.count} at --rate {rate:g}: {planned:.0f} s; a send lasts at most "
                         f"{MAX_SEND_S / 1.5 - SEND_SLACK_S:.0f} s (raise --rate or lower --count)")
    for f in plan.templates:
        packets.check_frame(f)
    rss_before = None
    if pinned_rss.is_pinned(tb):
        with pinned_rss.PinnedRss(tb) as r:
            rss_before = r.steered()
    with Generator(tb) as gen:
        res = gen.send(plan.templates, count=plan.count, rate=rate, max_s=bound, stop=stop,
                       tpl_idx=plan.tpl_idx)
    k = np.arange(res.sent, dtype=np.int64)
    per_tpl = np.bincount(plan.template_of(k), minlength=len(plan.templates)) if res.sent else \
        np.zeros(len(plan.templates), np.int64)
    lens = np.array([len(f) for f in plan.templates], dtype=np.int64)
    flows: Counter = Counter()
    for t in np.flatnonzero(per_tpl):
        flows[flow_key(plan.templates[t])] += int(per_tpl[t])
    out = {"interface": tb.cap_if, "testbed": tb.tag, "source": plan.source, "requested": plan.count,
           "packets": int(res.sent), "bytes": int((per_tpl * lens).sum()), "refused": int(res.refused),
           "stopped_by": res.stopped_by, "duration_s": round(res.duration_s, 6),
           "rate_pps": round(res.rate_pps, 1) if res.sent > 1 else None, "rate_asked_pps": rate,
           "skipped_frames": plan.skipped, "flows": dict(sorted(flows.items()))}
    if rss_before is not None:
        with pinned_rss.PinnedRss(tb) as r:
            out["steered_per_queue"] = [int(x) for x in r.steered() - rss_before]
    return out
