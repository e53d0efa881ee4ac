"""Flow affinity with a real analyser (issue 13, part 4): nDPI's ndpiReader,
unmodified, capturing through WireCAP's libpcap ABI library, one thread per
receive queue, under each offloading policy.

    python -m experiments.live.ndpi_affinity          # as root; or `invoke xdp-ndpi`
    from experiments.live import ndpi_affinity
    rows = ndpi_affinity.run({"policies": ["none", "chunk"]})

What it does:

(a) the replay: the three real captures (traces/README.md: gnutella, 1kxun,
    synscan) concatenated, every address rewritten into 198.18.0.0/15 with
    one map for all three (traces.rewrite), IPv4 frames only (IPv6, ARP and
    VLAN frames are never sent, DESIGN.md §5), ``repeat`` times, dated on
    the replay's own schedule (frame k at k / rate_pps), written as one pcap;
(b) the truth: ``ndpiReader -i replay.pcap -v 2 -C flows.csv`` offline
    (``-v 2``: the CSV then lists every flow, detected or not; without it
    only detected ones, with ``-v 1`` only undetected ones: ndpiReader.c
    4.2, printFlowsStats);
(c) the live runs: a veth testbed with ``queues`` queues, the redirect
    program pinned as ``invoke testbed-up`` pins it and the RSS steering
    program pinned (driver/xdp/pinned_rss.py) with a redirection table that
    gives queue 0 ``weights[0]`` of the buckets (queue 0 overloaded, its
    buddies nearly idle, as ``invoke xdp-offload`` sets it up). Per policy,
    ONE ndpiReader process in the capture namespace on
    ``-i wirecap:IF@0,wirecap:IF@1,...`` (nDPI 4.2 opens one reader thread,
    with its own flow table, per comma-separated device: ndpiReader.c,
    "multiple ingress interfaces"), the library configured by
    WIRECAP_PCAP_OFFLOAD = none (WireCAP-B), chunk (the paper's WireCAP-A),
    bucket, hybrid; the replay sent from the generator namespace
    (driver/xdp/shell.send: AF_PACKET, paced, bounded); after ``drain_s``,
    SIGINT: ndpiReader stops its threads and prints its report;
(d) the comparison with the truth, per policy: flows seen once, flows seen
    more than once (the same 5-tuple in two threads' tables: split), flows
    missed, flows not in the truth, flows classified as in the truth /
    differently / Unknown, packets the reader counted against packets sent.

Accounting (experiments/results.py): ``sent`` is what the generator put on
the wire, ``delivered`` what ndpiReader counted ("IP packets: x of N packets
total"), ``capture_drops`` the rest (dropped by the library, its rings or the
veth: ndpiReader prints no pcap_stats, so they are not told apart here).
``device="plain"`` runs one ndpiReader thread on the plain interface
through the system's libpcap instead (the baseline, and the way this was
developed before the library existed).
"""
from __future__ import annotations

import csv
import io
import ipaddress
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

NAME = "ndpi_affinity"
POLICIES = ("none", "chunk", "bucket", "hybrid")
POLICY_LABEL = {"none": "WireCAP-B", "chunk": "WireCAP-A chunk", "bucket": "WireCAP-A bucket",
                "hybrid": "WireCAP-A hybrid"}
DEFAULTS = {"policies": list(POLICIES), "rss_keys": ["symmetric", "default"],
            "traces": ["gnutella", "1kxun", "synscan"], "queues": 6, "repeat": 4,
            # small pools (512 x 2 KB cells per queue): the reader thread of queue 0 falls behind in the
            # bursts of a 200 kp/s replay (one thread reads ~800 kp/s of it offline, so a steady overload
            # is out of this host's reach; the paper's short-term imbalance is not)
            "rate_pps": 200000.0, "weights": [1, 0, 0, 0, 0, 0], "M": 32, "R": 16, "T": 60, "ring": 64, "runs": 1,
            "device": "wirecap", "ready_s": 20.0, "settle_s": 1.0, "drain_s": 3.0, "max_s": 120.0,
            "xdp_mode": None}
MAX_REPLAY_FRAMES = 2_000_000
NDPI = "ndpiReader"
DEVICES = ("wirecap", "wirecap-all", "plain")   # a thread per queue; one thread on all queues; system libpcap
PLACEHOLDER_MACS = ("02:00:00:00:00:01", "02:00:00:00:00:02")   # the offline pcap: MACs do not matter to nDPI
PCAP_MAGIC_US = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1


# ---- (a) the replay ----------------------------------------------------------------------

def write_pcap(path: Path, frames: list[bytes], ts_ns) -> None:
    """A classic microsecond pcap of Ethernet frames (dpkt's layout)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", PCAP_MAGIC_US, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        for fr, t in zip(frames, ts_ns):
            t = int(t)
            f.write(struct.pack("<IIII", t // 1_000_000_000, (t % 1_000_000_000) // 1000, len(fr), len(fr)))
            f.write(fr)


def concatenated_capture(traces: list[str], path: Path) -> int:
    """The traces' Ethernet frames, one after the other, in one pcap (original
    addresses: this file is only read, never sent). Returns the frame count."""
    from traces import load_trace

    frames = []
    for spec in traces:
        tr = load_trace(spec, raw=True)
        if tr.raw is None:
            raise ValueError(f"trace {spec}: no packet bytes")
        for i in range(len(tr)):
            if tr.raw.linktypes[i] == LINKTYPE_ETHERNET:
                off = int(tr.raw.offsets[i])
                frames.append(bytes(tr.raw.data[off:off + int(tr.cap_len[i])]))
    write_pcap(path, frames, [1000 * k for k in range(len(frames))])
    return len(frames)


def replay_frames(traces: list[str], workdir: Path, dst_mac, src_mac) -> tuple[list[bytes], int]:
    """The replay's frames (rewritten, IPv4 only, with these MACs) and how many were skipped."""
    from driver.xdp.shell import trace_frames

    src = workdir / "original.pcap"
    if not src.exists():
        concatenated_capture(traces, src)
    return trace_frames(str(src), dst_mac, src_mac)


def schedule_ns(n: int, rate_pps: float) -> list[int]:
    return [int(k * 1e9 / rate_pps) for k in range(n)]


# ---- (b) ndpiReader's output ---------------------------------------------------------------

@dataclass(frozen=True)
class Flow:
    key: tuple                 # (proto, (addr, port), (addr, port)), endpoints sorted
    proto: str                 # ndpiReader's detected protocol, e.g. "DNS", "TLS.Google", "Unknown"
    packets: int
    bytes: int


def flow_key(proto: int, a: str, ap: int, b: str, bp: int) -> tuple:
    ends = sorted([(ipaddress.ip_address(a), int(ap)), (ipaddress.ip_address(b), int(bp))])
    return (int(proto), (str(ends[0][0]), ends[0][1]), (str(ends[1][0]), ends[1][1]))


def key_text(key: tuple) -> str:
    proto, (a, ap), (b, bp) = key
    return f"{ {6: 'tcp', 17: 'udp'}.get(proto, str(proto))} {a}:{ap} <-> {b}:{bp}"


CSV_COLUMNS = ("protocol", "src_ip", "src_port", "dst_ip", "dst_port", "ndpi_proto", "c_to_s_pkts",
               "c_to_s_bytes", "s_to_c_pkts", "s_to_c_bytes")


def parse_flows_csv(text: str) -> list[Flow]:
    """ndpiReader -C's flows. The header names the columns (``#flow_id,
    protocol,...``); the columns used come before any free-text field but
    server_name_sni, which holds a host name (no comma)."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("#"):
        raise ValueError("not an ndpiReader -C file: no '#flow_id,...' header")
    head = lines[0].lstrip("#").split(",")
    missing = [c for c in CSV_COLUMNS if c not in head]
    if missing:
        raise ValueError(f"ndpiReader CSV lacks the columns {missing}")
    at = {c: head.index(c) for c in CSV_COLUMNS}
    out = []
    for row in csv.reader(io.StringIO("\n".join(lines[1:]))):
        if not row:
            continue
        g = {c: row[i] for c, i in at.items()}
        out.append(Flow(flow_key(int(g["protocol"]), g["src_ip"], int(g["src_port"]), g["dst_ip"],
                                 int(g["dst_port"])),
                        g["ndpi_proto"], int(g["c_to_s_pkts"]) + int(g["s_to_c_pkts"]),
                        int(g["c_to_s_bytes"]) + int(g["s_to_c_bytes"])))
    return out


_STATS = {
    "ip_packets": re.compile(r"^\s*IP packets:\s+(\d+)\s+of\s+(\d+) packets total", re.M),
    "unique_flows": re.compile(r"^\s*Unique flows:\s+(\d+)", re.M),
    "discarded_bytes": re.compile(r"^\s*Discarded bytes:\s+(\d+)", re.M),
    "threads": re.compile(r"^Using nDPI \([^)]*\) \[(\d+) thread\(s\)\]", re.M),
}


def parse_report(text: str) -> dict:
    """The numbers of ndpiReader's report used here (its "Traffic statistics")."""
    out = {}
    m = _STATS["ip_packets"].search(text)
    if not m:
        raise ValueError("ndpiReader's report has no 'IP packets: x of N packets total' line (did it finish?)")
    out["ip_packets"], out["total_packets"] = int(m.group(1)), int(m.group(2))
    for key in ("unique_flows", "discarded_bytes", "threads"):
        m = _STATS[key].search(text)
        out[key] = int(m.group(1)) if m else None
    return out


# ---- (d) the comparison ----------------------------------------------------------------------

def compare(truth: list[Flow], live: list[Flow]) -> dict:
    """Per flow of the truth (a 5-tuple, either direction): seen once (as
    many table entries as the truth has), split (more: the same 5-tuple in
    several threads' tables), merged (fewer, but some), missed (none); live
    flows the truth lacks; and per flow seen, its classification: every
    entry as the truth's (same), some entry Unknown where the truth knows
    the protocol (unknown), else some entry another protocol (other)."""
    t_n, l_n = Counter(f.key for f in truth), Counter(f.key for f in live)
    t_proto, l_proto = defaultdict(set), defaultdict(list)
    t_pk, l_pk = Counter(), Counter()
    for f in truth:
        t_proto[f.key].add(f.proto)
        t_pk[f.key] += f.packets
    for f in live:
        l_proto[f.key].append(f.proto)
        l_pk[f.key] += f.packets
    out = Counter()
    for k, n in t_n.items():
        seen = l_n.get(k, 0)
        if seen == 0:
            out["flows_missed"] += 1
            out["packets_of_missed_flows"] += t_pk[k]
            continue
        if seen == n:
            out["flows_once"] += 1
        elif seen > n:
            out["flows_split"] += 1
            out["packets_of_split_flows"] += l_pk[k]
        else:
            out["flows_merged"] += 1
        known = t_proto[k] - {"Unknown"}
        got = set(l_proto[k])
        if got <= t_proto[k]:
            out["class_same"] += 1
        elif known and "Unknown" in got:
            out["class_unknown"] += 1
        else:
            out["class_other"] += 1
    extra = [k for k in l_n if k not in t_n]
    res = {k: int(out.get(k, 0)) for k in ("flows_once", "flows_split", "flows_merged", "flows_missed",
                                           "class_same", "class_other", "class_unknown",
                                           "packets_of_split_flows", "packets_of_missed_flows")}
    res.update(truth_flows=len(t_n), truth_entries=len(truth), live_flows=len(l_n), live_entries=len(live),
               flows_extra=len(extra), truth_flow_packets=int(sum(t_pk.values())),
               live_flow_packets=int(sum(l_pk.values())),
               truth_detected=sum(1 for k in t_n if t_proto[k] - {"Unknown"}))
    return res


# ---- running ndpiReader -------------------------------------------------------------------------

def ndpi_binary() -> str:
    path = shutil.which(NDPI)
    if path is None:
        raise FileNotFoundError("ndpiReader is not installed: apt-get install libndpi-bin (`make sysdeps`)")
    return path


def ndpi_offline(pcap: Path, workdir: Path) -> tuple[list[Flow], dict]:
    """ndpiReader on a capture file: its flows and report."""
    csv_path, out_path = workdir / "truth.csv", workdir / "truth.txt"
    with open(out_path, "w") as out:
        subprocess.run([ndpi_binary(), "-i", str(pcap), "-v", "2", "-C", str(csv_path)], stdout=out,
                       stderr=subprocess.STDOUT, check=True, timeout=600)
    return parse_flows_csv(csv_path.read_text(errors="replace")), parse_report(out_path.read_text(errors="replace"))


def devices(tb, device: str) -> list[str]:
    if device == "wirecap":
        return [f"wirecap:{tb.cap_if}@{q}" for q in range(tb.queues)]
    if device == "wirecap-all":
        return [f"wirecap:{tb.cap_if}"]
    if device == "plain":
        return [tb.cap_if]
    raise ValueError(f"device={device!r}: wirecap (one thread per queue), wirecap-all or plain")


class NotStarted(RuntimeError):
    """ndpiReader exited before its threads captured (its last words in the message)."""


class LiveReader:
    """One ndpiReader process in tb's capture namespace; ``stop()`` sends
    SIGINT and returns (flows, report). Always killed on exit."""

    def __init__(self, tb, devs: list[str], env: dict, workdir: Path, tag: str, max_s: float):
        self.csv = workdir / f"{tag}.csv"
        self.out_path = workdir / f"{tag}.txt"
        self.n = len(devs)
        self._out = open(self.out_path, "w")
        cmd = ["ip", "netns", "exec", tb.cap_ns, "stdbuf", "-oL", ndpi_binary(), "-i", ",".join(devs), "-v", "2",
               "-C", str(self.csv), "-s", str(int(max_s))]
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._out, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def text(self) -> str:
        return self.out_path.read_text(errors="replace")

    def wait_ready(self, timeout_s: float) -> None:
        """Until every reader thread has started ("Running thread N...")."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                last = [ln for ln in self.text().splitlines() if ln.strip()][-1:] or ["(no output)"]
                raise NotStarted(f"ndpiReader exited ({self.proc.returncode}) before capturing: {last[0]}")
            if len(re.findall(r"^Running thread \d+", self.text(), re.M)) >= self.n:
                return
            time.sleep(0.1)
        raise RuntimeError(f"ndpiReader did not start its {self.n} thread(s) in {timeout_s:g} s:\n"
                           f"{self.text()[-2000:]}")

    def stop(self, timeout_s: float = 60.0) -> tuple[list[Flow], dict]:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
                raise RuntimeError(f"ndpiReader did not stop within {timeout_s:g} s of SIGINT") from None
        self._out.close()
        text = self.text()
        if self.proc.returncode not in (0, -signal.SIGINT):
            raise RuntimeError(f"ndpiReader failed ({self.proc.returncode}):\n{text[-2000:]}")
        return parse_flows_csv(self.csv.read_text(errors="replace")), parse_report(text)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if not self._out.closed:
            self._out.close()


# ---- the experiment -------------------------------------------------------------------------------

def _args(args: dict) -> dict:
    from driver.xdp.shell import check_settings

    a = dict(DEFAULTS)
    a.update({k: v for k, v in (args or {}).items() if v is not None})
    bad = [p for p in a["policies"] if p not in POLICIES]
    if bad or not a["policies"]:
        raise ValueError(f"policies={a['policies']}: each one of {', '.join(POLICIES)}")
    if not 1 <= int(a["queues"]) <= 16:
        raise ValueError(f"queues={a['queues']}: 1..16 (ndpiReader runs at most 16 reader threads)")
    from driver.xdp.pinned_rss import key_bytes

    for k in a["rss_keys"]:
        key_bytes(k)
    if len(a["weights"]) != int(a["queues"]):
        raise ValueError(f"weights={a['weights']}: one per queue ({a['queues']})")
    if not 1 <= int(a["runs"]) <= 20:
        raise ValueError(f"runs={a['runs']}: 1..20 (each policy measured that many times, interleaved)")
    if not 1 <= int(a["repeat"]) <= 100:
        raise ValueError(f"repeat={a['repeat']}: 1..100")
    if not 0 < float(a["rate_pps"]) <= 1e6:
        raise ValueError(f"rate_pps={a['rate_pps']}: (0, 1e6]")
    if a["device"] not in DEVICES:
        raise ValueError(f"device={a['device']!r}: one of {', '.join(DEVICES)}")
    check_settings(M=a["M"], R=a["R"], T=a["T"], ring=a["ring"], xdp_mode=a["xdp_mode"])
    return a


def _settings(a: dict, policy: str) -> dict:
    from driver.xdp.shell import check_settings

    return check_settings(M=a["M"], R=a["R"], T=a["T"], offload=policy, ring=a["ring"], xdp_mode=a["xdp_mode"])


def run_policy(tb, a: dict, policy: str, frames: list[bytes], truth: list[Flow], workdir: Path,
               rss_key: str = "symmetric") -> dict:
    """One ndpiReader run under ``policy``; the row of its comparison with the truth."""
    from driver.xdp import counters, pinned_rss, shell

    pinned_rss.set_key(tb, rss_key)
    table0 = pinned_rss.weighted_table(a["weights"])
    with pinned_rss.PinnedRss(tb) as r:          # every policy starts from the same overloaded table
        r.set_table(table0)
    plan = shell.Plan(frames, None, len(frames) * int(a["repeat"]), f"{'+'.join(a['traces'])} x{a['repeat']}")
    devs = devices(tb, a["device"])
    env = shell.env_dict(_settings(a, policy) if a["device"] != "plain" else {}, tb)
    if a["device"] == "plain":
        env.pop("LD_LIBRARY_PATH", None)
        if os.environ.get("LD_LIBRARY_PATH"):
            env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
    before = counters.queue_counters(tb.cap_ns, tb.cap_if)
    reader = LiveReader(tb, devs, env, workdir, f"live-{rss_key}-{policy}", float(a["max_s"]))
    try:
        reader.wait_ready(float(a["ready_s"]))
        time.sleep(float(a["settle_s"]))
        sent = shell.send(tb, plan, float(a["rate_pps"]))
        time.sleep(float(a["drain_s"]))
        live, report = reader.stop()
    finally:
        reader.kill()
    with pinned_rss.PinnedRss(tb) as r:          # where the balancer left the buckets
        moved = int((r.steer != table0).sum())
        buckets_per_queue = [int((r.steer == q).sum()) for q in range(tb.queues)]
    delta = counters.queue_counters(tb.cap_ns, tb.cap_if) - before
    arrived = [delta.rx.get(q, {}).get("arrived", 0) for q in range(tb.queues)]
    cmp = compare(truth, live)
    delivered = report["total_packets"]
    label = POLICY_LABEL[policy] if a["device"] != "plain" else "system libpcap"
    row = {"rss_key": rss_key, "policy": policy, "engine_label": label,
           "device": a["device"], "threads": report["threads"] or len(devs), "queues": tb.queues,
           "sent": sent["packets"], "delivered": delivered, "capture_drops": sent["packets"] - delivered,
           "delivery_drops": 0, "filtered": 0, "rate_pps": float(a["rate_pps"]),
           "offered_pps": sent["rate_pps"], "unique_flows": report["unique_flows"],
           "queue_arrivals": json.dumps(arrived), "buckets_moved": moved,
           "buckets_per_queue": json.dumps(buckets_per_queue), "steered_per_queue": json.dumps(sent.get("steered_per_queue")),
           "M": a["M"], "R": a["R"], "T": a["T"], "ring": a["ring"], "repeat": int(a["repeat"]), **cmp}
    row["drop_rate"] = row["capture_drops"] / row["sent"] if row["sent"] else 0.0
    return row


def run(args: dict | None = None, tb=None) -> list[dict]:
    """Every policy of args (see the module doc); a throwaway testbed unless tb is given."""
    from driver.xdp.prereq import require_all
    from driver.xdp.testbed import Testbed
    from experiments.live.common import terminate_as_interrupt

    a = _args(args or {})
    require_all()
    ndpi_binary()
    if a["device"].startswith("wirecap"):
        from driver.xdp.shell import lib_path

        if not lib_path().is_file():
            raise FileNotFoundError(f"WireCAP's libpcap library is not built ({lib_path()}): run `make build`")
    workdir = Path(tempfile.mkdtemp(prefix="wc-ndpi-"))     # private (0700): root writes only here
    try:
        frames, skipped = replay_frames(a["traces"], workdir, *PLACEHOLDER_MACS)
        n = len(frames) * int(a["repeat"])
        if n > MAX_REPLAY_FRAMES:
            raise ValueError(f"repeat={a['repeat']}: {n:,} frames, more than {MAX_REPLAY_FRAMES:,}")
        replay = workdir / "replay.pcap"
        write_pcap(replay, frames * int(a["repeat"]), schedule_ns(n, float(a["rate_pps"])))
        truth, truth_report = ndpi_offline(replay, workdir)
        if truth_report["total_packets"] != n:
            raise RuntimeError(f"ndpiReader read {truth_report['total_packets']} of the replay's {n} frames")
        with terminate_as_interrupt():
            if tb is None:
                with Testbed(queues=int(a["queues"])) as own:
                    return _run_all(own, a, truth, workdir, skipped)
            if tb.queues != int(a["queues"]):
                raise ValueError(f"queues={a['queues']}: the testbed given has {tb.queues}")
            return _run_all(tb, a, truth, workdir, skipped)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run_all(tb, a: dict, truth: list[Flow], workdir: Path, skipped: int) -> list[dict]:
    from driver.xdp import pinned_rss
    from driver.xdp.xdp_prog import RedirectProgram

    frames, _ = replay_frames(a["traces"], workdir, tb.mac(tb.cap_if), tb.mac(tb.gen_if))
    if RedirectProgram.from_pinned(tb.bpffs, tb.cap_ns, tb.cap_if) is None:
        prog = RedirectProgram(tb.cap_ns, tb.cap_if, max_queues=64)
        try:
            prog.pin(tb.bpffs)            # as `invoke testbed-up` does: the library uses the pinned one
        finally:
            prog.close()
    pinned_rss.pin(tb)
    rows = []
    order = [(r, k, p) for r in range(int(a["runs"])) for k in a["rss_keys"] for p in a["policies"]]
    for run_no, key, policy in order:          # runs interleaved: drift on the host hits every policy alike
        try:
            row = run_policy(tb, a, policy, frames, truth, workdir, key)
        except NotStarted as exc:
            # the reader never captured (e.g. the library refused the device):
            # a row that says so, with nothing sent
            row = {"rss_key": key, "policy": policy, "engine_label": POLICY_LABEL[policy], "device": a["device"],
                   "queues": tb.queues, "sent": 0, "delivered": 0, "capture_drops": 0, "delivery_drops": 0,
                   "filtered": 0, "error": str(exc)}
            print(f"ndpi_affinity: run {run_no}, {key} key, {policy}: not run: {exc}", file=sys.stderr)
        else:
            row.update(skipped_frames=skipped, error="")
            print(f"ndpi_affinity: run {run_no}, {key} key, {policy}: {row['flows_split']} split, "
                  f"{row['flows_missed']} missed of {row['truth_flows']} flows; "
                  f"{row['delivered']:,}/{row['sent']:,} packets", file=sys.stderr)
        row["run"] = run_no
        rows.append(row)
    return rows


# ---- saving and printing ---------------------------------------------------------------------

def save(rows: list[dict], cfg: dict) -> Path:
    """results/ndpi_affinity/<utc>-<sha>/ like every run; refuses rows that
    break sent == delivered + capture_drops + delivery_drops."""
    import pandas as pd

    from experiments import results

    df = pd.DataFrame(rows)
    results.check_accounting(df)
    run_dir = results.start_run(NAME, cfg)
    return results.save_run(NAME, cfg, df, run_dir=run_dir)


TABLE = (("rss_key", "RSS key", 9), ("policy", "engine", 17), ("sent", "sent", 7), ("delivered", "received", 8),
         ("capture_drops", "drops", 6),
         ("truth_flows", "flows", 6), ("flows_once", "once", 6), ("flows_split", "split", 6),
         ("flows_missed", "missed", 6), ("flows_extra", "extra", 5), ("class_same", "same", 6),
         ("class_other", "other", 5), ("class_unknown", "unknwn", 6), ("buckets_moved", "moved", 5))


def summary(rows: list[dict]) -> str:
    head = " ".join(f"{h:>{w}s}" for _, h, w in TABLE)
    out = [head]
    for r in rows:
        if r.get("error"):
            out.append(f"{r['rss_key']:>9s} {r['engine_label']:>17s}  not run: {r['error']}")
            continue
        cells = []
        for key, _, w in TABLE:
            v = r["engine_label"] if key == "policy" else r[key]
            cells.append(f"{v:>{w}}" if isinstance(v, str) else f"{v:>{w},}")
        out.append(" ".join(cells))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m experiments.live.ndpi_affinity", description=__doc__.split("\n\n")[0])
    ap.add_argument("--policies", default=",".join(POLICIES), help="comma list of none, chunk, bucket, hybrid")
    ap.add_argument("--queues", type=int, default=None)
    ap.add_argument("--weights", default=None, help="comma list, one per queue (default 90,2,2,2,2,2)")
    ap.add_argument("--rss-keys", default=None, help="comma list of symmetric, default (default: both)")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--rate-pps", type=float, default=None)
    for key in ("M", "R", "T", "ring"):
        ap.add_argument(f"-{key}" if len(key) == 1 else f"--{key}", dest=key, type=int, default=None)
    ap.add_argument("--device", choices=["wirecap", "wirecap-all", "plain"], default=None)
    ap.add_argument("--drain-s", type=float, default=None)
    ap.add_argument("--no-save", action="store_true", help="print only")
    ap.add_argument("--json", action="store_true")
    ns = ap.parse_args(argv)
    args = {k: v for k, v in vars(ns).items() if k not in ("json", "policies", "weights", "no_save", "rss_keys")}
    args["policies"] = ns.policies.split(",")
    if ns.rss_keys:
        args["rss_keys"] = ns.rss_keys.split(",")
    if ns.weights:
        args["weights"] = [float(w) for w in ns.weights.split(",")]
    elif ns.queues and ns.queues != DEFAULTS["queues"]:
        args["weights"] = [90] + [2] * (ns.queues - 1)
    try:
        rows = run(args)
        cfg = {**_args(args), "backend": "xdp"}
        where = None if ns.no_save else save(rows, cfg)
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"ndpi_affinity: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(rows, indent=1, default=str) if ns.json else summary(rows))
    if where:
        print(f"saved in {where}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
