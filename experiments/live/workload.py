"""Traffic for the real backend's tools: line-rate bursts and trace replays
planned for a veth testbed.

A replay is a frame schedule for driver.xdp.generator.Generator.send:
templates, the template and length of each packet, and when it is due.

``steered``: a trace (e.g. "fermilab-like") whose packets keep the receive
    queue the 82599 would give them (traces' Toeplitz RSS over n queues) and
    their times and lengths. The veth hashes flows with a boot-random key
    instead, so every flow of the trace is replaced by a flow of the same
    protocol known (by probing, driver/xdp/steering.py) to land on that
    queue; trace flows share substitutes when there are more trace flows than
    ``per_pool`` substitutes per (queue, protocol), which coarsens flow
    counts (flows_split) but not the per-queue load. Non-IP packets are
    skipped (counted).
``raw``: a capture file's own frames, addresses rewritten into
    198.18.0.0/15 (traces.rewrite_addresses), spread by the kernel's flow
    hash; IPv6 and non-IP frames are skipped (every address on the wire must
    be in 198.18.0.0/15).

``speed`` scales time: 0.5 replays a 32 s trace in 64 s. A run scaled this
way scales its consumers' processing rate by the same factor
(experiments/live/common.py), so the load on every queue relative to its
consumer stays what the paper had, while the host does half the work per
second.

The schedule (``schedule_ns``): packets go in file order, each the recorded
gap after the one before it, divided by ``speed``. A packet dated before its
predecessor goes right after it (a negative gap counts as 0), so one bad
timestamp delays the rest at most once. ``max_gap_s`` shortens every idle
gap longer than that many seconds (trace clock) to it, as tcpreplay's
--maxsleep does: every packet is kept, bursts keep their timing, only the
silence between them goes (1kxun is two captures 5.8 years apart).

``plan`` works all this out from the trace alone, before a runner builds a
testbed, and ``ReplayPlan.check`` refuses a replay longer than MAX_REPLAY_S
with one line naming the trace, how long it would take and what shortens it.
"""
from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from driver.xdp import packets
from driver.xdp.generator import MAX_SEND_S
from experiments.params import MAX_SPEED  # the one limit on replay speed factors

# A runner bounds its send at 1.5x the replay plus its slack (max_s, 60-120 s
# by default) and the generator refuses any send over MAX_SEND_S (an hour):
# half an hour of replay keeps every runner inside that with room to spare.
MAX_REPLAY_S = 1800.0
SEND_BOUND_FACTOR = 1.5
# --max-gap-s values offered when a replay is too long, largest first
GAP_SUGGESTIONS_S = (10.0, 1.0, 0.1, 0.01, 0.001)
# How each way of running a replay spells its knobs (a knob it lacks is not offered)
CLI_KNOBS = {"speed": "--speed {}", "window_s": "--window-s {},{}", "max_gap_s": "--max-gap-s {}"}
PARAM_KNOBS = {"speed": "--param speed={}", "window_s": "--param window_s=[{},{}]", "max_gap_s": "--param max_gap_s={}"}


@dataclass
class Replay:
    name: str
    templates: list[bytes]
    tpl_idx: np.ndarray
    frame_len: np.ndarray
    due_ns: np.ndarray
    target_queue: np.ndarray          # queue each packet was meant for (-1: not steered)
    skipped: int = 0
    speed: float = 1.0
    window_s: tuple | None = None
    max_gap_s: float | None = None
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.due_ns)

    @property
    def duration_s(self) -> float:
        return float(self.due_ns[-1]) / 1e9 if len(self.due_ns) else 0.0


def _check_speed(speed: float) -> float:
    if not 0 < speed <= MAX_SPEED:
        raise ValueError(f"speed={speed}: replay speed factors are in (0, {MAX_SPEED}]")
    return float(speed)


def _check_max_gap(max_gap_s) -> float | None:
    if max_gap_s is None:
        return None
    if not max_gap_s > 0:
        raise ValueError(f"max_gap_s={max_gap_s}: idle gaps are shortened to a length > 0 s")
    return float(max_gap_s)


def schedule_ns(ts_ns: np.ndarray, speed: float = 1.0, max_gap_s: float | None = None) -> np.ndarray:
    """When each packet is due, from the first one: the recorded gaps in
    file order, negative ones as 0, longer ones cut to max_gap_s, / speed."""
    if not len(ts_ns):
        return np.zeros(0, np.uint64)
    gaps = np.diff(np.asarray(ts_ns, dtype=np.int64)).clip(min=0).astype(np.float64)
    if max_gap_s is not None:
        gaps = np.minimum(gaps, max_gap_s * 1e9)
    # float64 sums of integer ns are exact up to 2^53 ns (104 days): far beyond any replay
    due = np.concatenate(([0.0], np.cumsum(gaps))) / speed
    return due.astype(np.uint64)


def _window(ts_ns: np.ndarray, window_s) -> np.ndarray:
    if window_s is None:
        return np.ones(len(ts_ns), dtype=bool)
    lo, hi = window_s
    if not 0 <= lo < hi:
        raise ValueError(f"window_s={window_s}: expected (start, end) seconds with 0 <= start < end")
    t = (ts_ns - ts_ns.min()) / 1e9 if len(ts_ns) else ts_ns
    return (t >= lo) & (t < hi)


def _steerable(tr) -> np.ndarray:
    """The packets ``steered`` can send: IPv4 TCP and UDP (flows it has substitutes for)."""
    ok_key = (tr.keys["l3"] == 4) & np.isin(tr.keys["proto"], (packets.IPPROTO_TCP, packets.IPPROTO_UDP))
    return ok_key[tr.key_idx]


# ---- how long a replay takes, known before a testbed is built -----------------

def human_s(s: float) -> str:
    """A duration as people read it: 42.0 s, 10 min 2 s, 3.5 h, 12.0 days, 5.8 years."""
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        m, sec = divmod(int(round(s)), 60)
        return f"{m} min {sec} s" if sec else f"{m} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h"
    if s < 365.25 * 86400:
        return f"{s / 86400:.1f} days"
    return f"{s / (365.25 * 86400):.1f} years"


def _num(x: float) -> str:
    """A number of seconds as typed on a command line (no exponent)."""
    return f"{x:.15g}"


@dataclass
class ReplayPlan:
    """A trace replay worked out from the trace alone: which packets (those
    of the window that ``steered`` sends), and when."""
    name: str
    ts_ns: np.ndarray = field(repr=False)      # recorded times of the window's packets, file order
    index: np.ndarray = field(repr=False)      # their positions in the trace
    speed: float = 1.0
    window_s: tuple | None = None
    max_gap_s: float | None = None
    trace: object = field(default=None, repr=False)   # the loaded trace, for steered() to reuse

    @property
    def packets(self) -> int:
        return len(self.ts_ns)

    @property
    def recorded_s(self) -> float:
        return float(self.ts_ns.max() - self.ts_ns.min()) / 1e9 if self.packets else 0.0

    def replay_s(self, speed: float | None = None, max_gap_s: float | None = None) -> float:
        """Seconds the replay takes (with another speed or gap cap, if given)."""
        if speed is None and max_gap_s is None:
            return self._replay_s
        due = schedule_ns(self.ts_ns, speed or self.speed, max_gap_s or self.max_gap_s)
        return float(due[-1]) / 1e9 if len(due) else 0.0

    @functools.cached_property
    def _replay_s(self) -> float:
        # asked for several times per run; a 5-million-packet schedule is worth keeping
        due = schedule_ns(self.ts_ns, self.speed, self.max_gap_s)
        return float(due[-1]) / 1e9 if len(due) else 0.0

    def longest_gap(self) -> tuple[float, int]:
        """(seconds, packet number counted from 1 as Wireshark does) of the longest idle gap."""
        if self.packets < 2:
            return 0.0, 1
        gaps = np.diff(self.ts_ns.astype(np.int64))
        k = int(np.argmax(gaps)) + 1
        return max(0.0, float(gaps[k - 1]) / 1e9), int(self.index[k]) + 1

    def estimate(self) -> str:
        """The line a runner prints before a long replay."""
        return f"replaying {self.summary()} takes about {human_s(self.replay_s())}, plus set-up and draining"

    def summary(self) -> str:
        return f"trace {self.name} ({self.contents()})"

    def contents(self) -> str:
        window = f" in window {_num(self.window_s[0])}-{_num(self.window_s[1])} s" if self.window_s else ""
        gaps = f", idle gaps cut to {self.max_gap_s:g} s" if self.max_gap_s else ""
        recorded = f"{self.recorded_s:,.1f}" if self.recorded_s < 1000 else f"{self.recorded_s:,.0f}"
        return f"{self.packets:,} packets{window} over {recorded} s of trace at {self.speed:g}x{gaps}"

    def check(self, slack_s: float, knobs: dict = CLI_KNOBS, limit_s: float = MAX_REPLAY_S) -> "ReplayPlan":
        """Refuse an empty replay, one over limit_s, or one whose send bound
        (SEND_BOUND_FACTOR x the replay + slack_s) the generator would refuse."""
        if not self.packets:
            where = (f" in its {_num(self.window_s[0])}-{_num(self.window_s[1])} s window (the trace spans "
                     f"0-{self.trace_span_s():,.1f} s)" if self.window_s else "")
            raise ValueError(f"trace {self.name}: no IPv4 TCP or UDP packets to replay{where}")
        if self.replay_s() > limit_s:
            raise ReplayTooLong(too_long_message(self, limit_s, knobs))
        bound = self.send_bound_s(slack_s)
        if bound > MAX_SEND_S:
            raise ValueError(f"max_s={slack_s:g}: with a {self.replay_s():.0f} s replay of trace {self.name} the "
                             f"send would be bounded at {bound:.0f} s, over the generator's {MAX_SEND_S:g} s")
        return self

    def send_bound_s(self, slack_s: float) -> float:
        return self.replay_s() * SEND_BOUND_FACTOR + float(slack_s)

    def trace_span_s(self) -> float:
        return self.trace.duration_s if self.trace is not None else self.recorded_s

    def speed_that_fits(self, limit_s: float) -> float:
        """The smallest speed, rounded up to two digits, that brings the replay under limit_s."""
        need = self.speed * self.replay_s() / limit_s
        step = 10.0 ** (math.floor(math.log10(need)) - 1)
        return round(math.ceil(need / step) * step, 12)

    def window_before_gap(self, limit_s: float) -> tuple[float, float, int] | None:
        """(start, end, packets): the window that ends where the longest idle
        gap begins, when that gap alone is over limit_s and the window fits."""
        gap_s, _ = self.longest_gap()
        if gap_s / self.speed <= limit_s:
            return None
        k = int(np.argmax(np.diff(self.ts_ns.astype(np.int64))))     # the packet the gap follows
        origin = int(self.trace.ts_ns.min()) if self.trace is not None else int(self.ts_ns.min())
        start = self.window_s[0] if self.window_s else 0.0
        end = math.floor((int(self.ts_ns[k]) - origin) / 1e9) + 1.0
        # every packet dated inside the window, late ones included (file order kept)
        inside = np.flatnonzero((self.ts_ns - origin) < end * 1e9)
        part = ReplayPlan(self.name, self.ts_ns[inside], self.index[inside], self.speed, None, self.max_gap_s)
        return (start, end, part.packets) if part.replay_s() <= limit_s else None

    def gap_that_fits(self, limit_s: float) -> tuple[float, float] | None:
        """(max_gap_s, replay seconds) for the largest GAP_SUGGESTIONS_S cap under limit_s."""
        for gap in GAP_SUGGESTIONS_S:
            if self.max_gap_s is not None and gap >= self.max_gap_s:
                continue
            replay = self.replay_s(max_gap_s=gap)
            if replay <= limit_s:
                return gap, replay
        return None


class ReplayTooLong(ValueError):
    """A replay longer than the runners allow (too_long_message says why)."""


def too_long_message(plan: ReplayPlan, limit_s: float, knobs: dict = CLI_KNOBS) -> str:
    """One line: the trace, how long its replay would take, and what shortens it."""
    gap_s, at = plan.longest_gap()
    return (f"trace {plan.name}: replaying it would take {human_s(plan.replay_s())} "
            f"({plan.contents()}; its longest idle gap, before packet {at:,}, is {human_s(gap_s)}), over the "
            f"{human_s(limit_s)} limit on one replay; use {_or(_fixes(plan, limit_s, knobs))}")


def _fixes(plan: ReplayPlan, limit_s: float, knobs: dict) -> list[str]:
    """What would bring the replay under limit_s, with the knobs this caller has."""
    out = []
    fit = plan.gap_that_fits(limit_s) if "max_gap_s" in knobs else None
    if fit:
        out.append(f"{knobs['max_gap_s'].format(f'{fit[0]:g}')} to cut idle gaps to {fit[0]:g} s "
                   f"(replay {human_s(fit[1])}, every packet kept)")
    part = plan.window_before_gap(limit_s) if "window_s" in knobs else None
    if part:
        out.append(f"{knobs['window_s'].format(_num(part[0]), _num(part[1]))} to replay the {part[2]:,} packets "
                   f"dated before that gap")
    elif "window_s" in knobs:
        out.append(f"{knobs['window_s'].format('START', 'END')} to replay a part of it")
    speed = plan.speed_that_fits(limit_s) if "speed" in knobs else None
    if speed and speed <= MAX_SPEED:
        out.append(f"{knobs['speed'].format(f'{speed:g}')} to replay it faster")
    return out


def _or(items: list[str]) -> str:
    if len(items) < 3:
        return " or ".join(items)
    return ", ".join(items[:-1]) + ", or " + items[-1]


def plan(spec: str, speed: float = 1.0, window_s=None, max_gap_s=None, trace=None) -> ReplayPlan:
    """How replaying ``spec`` will go (``trace``: the trace already loaded)."""
    from traces import load_trace

    speed, max_gap_s = _check_speed(speed), _check_max_gap(max_gap_s)
    tr = load_trace(spec) if trace is None else trace
    index = np.flatnonzero(_window(tr.ts_ns, window_s) & _steerable(tr))
    return ReplayPlan(name=str(spec), ts_ns=tr.ts_ns[index], index=index, speed=speed,
                      window_s=tuple(window_s) if window_s else None, max_gap_s=max_gap_s, trace=tr)


def steered(spec: str, tb, n_queues: int | None = None, speed: float = 1.0, window_s=None,
            per_pool: int = 512, seed: int = 0, pools=None, max_gap_s=None, trace=None) -> Replay:
    """Replay the trace ``spec`` keeping its 82599 RSS queues on tb's queues
    (``trace``: the trace already loaded, e.g. by plan())."""
    from driver.xdp.steering import FlowPools
    from traces import load_trace, rss

    speed, max_gap_s = _check_speed(speed), _check_max_gap(max_gap_s)
    n = tb.queues if n_queues is None else int(n_queues)
    if n > tb.queues:
        raise ValueError(f"n_queues={n}: the testbed has {tb.queues} queues")
    tr = load_trace(spec) if trace is None else trace
    in_window = _window(tr.ts_ns, window_s)
    idx = np.flatnonzero(in_window & _steerable(tr))
    skipped = int(in_window.sum() - len(idx))
    proto = tr.keys["proto"]
    # the 82599's queue of every flow (Toeplitz RSS, UDP on addresses only)
    kq = np.asarray(rss.key_queues(tr.keys, n), dtype=np.int16)
    pools = pools or FlowPools(tb, per_pool=per_pool, seed=seed)
    # one template per (queue, proto, slot): slot = a stable hash of the key index
    used = np.unique(tr.key_idx[idx])
    slot = (used.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) >> np.uint64(40)) % np.uint64(pools.per_pool)
    templates, tpl_of = [], {}
    key_tpl = np.zeros(len(tr.keys), dtype=np.uint32)
    for k, s in zip(used, slot):
        ident = (int(kq[k]), int(proto[k]), int(s))
        t = tpl_of.get(ident)
        if t is None:
            t = tpl_of[ident] = len(templates)
            templates.append(pools.frame(*ident))
        key_tpl[k] = t
    due = schedule_ns(tr.ts_ns[idx], speed, max_gap_s)
    flen = np.clip(tr.wire_len[idx], packets.MIN_FRAME, packets.MAX_FRAME).astype(np.uint16)
    return Replay(name=str(spec), templates=templates, tpl_idx=key_tpl[tr.key_idx[idx]], frame_len=flen,
                  due_ns=due, target_queue=kq[tr.key_idx[idx]], skipped=skipped, speed=speed,
                  window_s=tuple(window_s) if window_s else None, max_gap_s=max_gap_s,
                  meta={"substitute_flows": len(templates), "trace_flows": int(len(used)),
                        "steering_probes": pools.probes, "queues": n})


def raw(spec: str, tb, speed: float = 1.0, window_s=None, max_gap_s=None) -> Replay:
    """Replay a capture file's own frames (addresses rewritten into 198.18.0.0/15)."""
    from traces import load_trace, rewrite_addresses

    speed, max_gap_s = _check_speed(speed), _check_max_gap(max_gap_s)
    tr = rewrite_addresses(load_trace(spec, raw=True))
    if tr.raw is None:
        raise ValueError(f"{spec}: a raw replay needs a capture file with packet bytes")
    keep = _window(tr.ts_ns, window_s)
    dst, src = packets.mac_bytes(tb.mac(tb.cap_if)), packets.mac_bytes(tb.mac(tb.gen_if))
    templates, sent_ts, skipped = [], [], 0
    data = tr.raw.data
    for i in np.flatnonzero(keep):
        off, cap = int(tr.raw.offsets[i]), int(tr.cap_len[i])
        frame = bytes(data[off:off + cap])
        if tr.raw.linktypes[i] != 1 or cap < packets.ETH_HLEN + packets.IPV4_HLEN:
            skipped += 1
            continue
        frame = dst + src + frame[12:]
        try:
            packets.check_frame(frame)
        except packets.NetworkDisciplineError:
            skipped += 1      # IPv6, ARP, VLAN-tagged: not sent (DESIGN.md §5)
            continue
        length = min(max(int(tr.wire_len[i]), packets.MIN_FRAME), packets.MAX_FRAME)
        frame = frame[:length]
        templates.append(frame)
        sent_ts.append(int(tr.ts_ns[i]))
    n = len(templates)
    return Replay(name=str(spec), templates=templates, tpl_idx=np.arange(n, dtype=np.uint32),
                  frame_len=np.array([len(f) for f in templates], dtype=np.uint16),
                  due_ns=schedule_ns(np.asarray(sent_ts, dtype=np.int64), speed, max_gap_s),
                  target_queue=np.full(n, -1, np.int16), skipped=skipped, speed=speed,
                  window_s=tuple(window_s) if window_s else None, max_gap_s=max_gap_s,
                  meta={"digest": hashlib.sha1(b"".join(templates[:1000])).hexdigest()[:12]})
