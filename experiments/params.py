"""The one validation layer for every parameter (experiments, sweeps, tools).

A parameter is known by its name (``P``, ``x``, ``M``, ``R``, ...), and its
limits are written here once:

    check("P", 1e3)                      -> 1000
    check("P", 1e30)                     ParamError: P must be an integer in 1..10,000,000,000, got 1e+30
    check("R", 500, as_list=True)        -> [500]       (a scalar for a list parameter)
    check_overrides("fig12", cfg, {"R": 500})           every value, then the engines they build
    arg_type("P")                        an argparse ``type=`` built from the same schema

Every error is a :class:`ParamError` (a ValueError) whose message names the
parameter, the value and what is allowed. Whether a parameter of an
experiment is a list comes from the experiment's own default (fig8's P is a
list, fig14's P one number).
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

from traces.rss import MAX_QUEUES  # 82599 RETA entries are 4 bits: at most 16 queues

RING_SIZE = 1024          # N descriptors per receive ring (driver/sim/params.py ring_size)
MAX_R = 1_000_000         # chunks per queue: the pool is R*M cells; 10^6 x 256 already ~128 MB of state
MAX_P = 10_000_000_000    # packets per burst or generator (fig14 uses 10^9)
MAX_X = 1_000_000         # filter runs per packet (85.8 ms of work per packet at 2.4 GHz)
MAX_SPEED = 16.0          # replay speed factor: experiments/live/workload.py checks replays against it
MAX_SEED = 2**32 - 1
MAX_JOBS = 1024
# WireCAP-A's offloading policies (engine.models.OFFLOAD_POLICIES, which a
# test keeps equal): the paper's chunk, and bucket and hybrid, ours
OFFLOAD_POLICIES = ("chunk", "bucket", "hybrid")
MAX_BUCKETS = 2048        # redirection-table entries: 128 on the 82599, up to 2,048 on the E810
# the NIC models of driver/sim/nics.py (NICS, which a test keeps equal; not
# imported here: validation runs before the simulator is built)
NIC_NAMES = ("82599", "xl710", "e810", "cx5")


class ParamError(ValueError):
    """A parameter's value is outside its schema; the message says which and why."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


def show(value) -> str:
    """A value as the user typed it (JSON where it can be: 1e+30, true, [], NaN)."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _num(v) -> str:
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:g}"


@dataclass(frozen=True)
class Spec:
    kind: str                        # int | float | str | bool | choice | engine | trace | window
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False            # float: lo excluded, e.g. clock_ghz in (0, 10]
    nullable: bool = False           # None allowed (the xdp backend's "use the default")
    choices: tuple = ()
    what: str = ""                   # a few words for the help text

    def allowed(self) -> str:
        if self.kind == "int":
            return f"an integer in {_num(self.lo)}..{_num(self.hi)}"
        if self.kind == "float":
            return f"a number in {'(' if self.lo_open else '['}{_num(self.lo)}, {_num(self.hi)}]"
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "engine":
            return ("an engine spec name[:M:R[:T[:POLICY]]] or dpdk[:MBUFS] (wirecap-b, wirecap-a, dna, netmap, "
                    "pfring, dpdk; "
                    "POLICY of wirecap-a: " + ", ".join(OFFLOAD_POLICIES) + ")")
        if self.kind == "trace":
            return "fermilab-like, fermilab-like:SEED, gnutella, 1kxun, synscan or a capture path"
        if self.kind == "window":
            return "[START, END] seconds with 0 <= START < END"
        return "a non-empty string"


def _int(lo, hi, what=""):
    return Spec("int", lo, hi, what=what)


def _float(lo, hi, lo_open=False, nullable=False, what=""):
    return Spec("float", lo, hi, lo_open=lo_open, nullable=nullable, what=what)


# Every parameter of every experiment (DEFAULT_CONFIG, QUICK_CONFIG, XDP_CONFIG),
# of the sweep and of the tools, by name.
SCHEMA: dict[str, Spec] = {
    "P": _int(1, MAX_P, "packets per burst"),
    "x": _int(0, MAX_X, "BPF filter runs per packet"),
    "xs": _int(0, MAX_X, "BPF filter runs per packet"),
    "M": _int(1, RING_SIZE, "WireCAP descriptor segment size, cells (divides N=1024)"),
    "R": _int(1, MAX_R, "WireCAP ring-buffer pool size, chunks (> N/M)"),
    "T": _int(1, 100, "WireCAP-A offloading threshold, percent"),
    "mbufs": _int(RING_SIZE + 1, 64 * 2**20, "DPDK mbufs per queue's mempool (> N=1024)"),
    "size": _int(60, 1514, "frame size, bytes"),
    "sizes": _int(60, 1514, "frame size, bytes"),
    "queues": _int(1, MAX_QUEUES, "receive queues"),
    "plot_queues": _int(0, MAX_QUEUES - 1, "queues to plot"),
    "queue": _int(0, MAX_QUEUES - 1, "one receive queue"),
    "nics": _int(1, 2, "NICs"),
    "clock_ghz": _float(0, 10, lo_open=True, what="core clock, GHz"),
    "seed": _int(0, MAX_SEED, "seed"),
    "jobs": _int(1, MAX_JOBS, "worker processes"),
    "bin_ms": _float(0, 1e6, lo_open=True, what="bin width, ms"),
    "engines": Spec("engine"),
    "engine": Spec("engine"),
    "trace": Spec("trace"),
    "real_traces": Spec("trace"),
    "traces": Spec("trace"),
    "forward": Spec("bool"),
    # WireCAP-A's offloading (beyond the paper: experiments/offload.py)
    "offload": Spec("choice", choices=OFFLOAD_POLICIES, what="WireCAP-A offloading policy"),
    "policies": Spec("choice", choices=OFFLOAD_POLICIES, what="WireCAP-A offloading policies"),
    "period_ms": _float(0, 1e6, lo_open=True, nullable=True, what="bucket re-solve period, ms (RSS++: 10-1,000)"),
    "n_buckets": Spec("int", 1, MAX_BUCKETS, nullable=True, what="redirection-table entries (82599: 128)"),
    # the simulated NIC (driver/sim/nics.py; beyond the paper's 82599: issue 14)
    "nic": Spec("choice", choices=NIC_NAMES, what="NIC model"),
    "pcie_writeback": Spec("int", 0, 64, what="frames per PCIe completion TLP (fig9_fast's PCIe rows; 0: not modelled)"),
    "rx_buffer_kb": Spec("int", 0, 1 << 20, what="on-chip receive buffer, KB (sensitivity sweep)"),
    "scale_load": Spec("bool", what="fig11_fast: divide x by the replay speed-up"),
    # the xdp backend's own (XDP_CONFIG)
    "cost_ns": _float(0, 1e9, lo_open=True, nullable=True, what="per-packet work, ns"),
    "emulate": Spec("choice", choices=("auto", "burn", "pace")),
    "sender": Spec("choice", choices=("auto", "live-frames", "afpacket")),
    "speed": _float(0, MAX_SPEED, lo_open=True, nullable=True, what="replay speed factor"),
    "window_s": Spec("window", nullable=True),
    "max_gap_s": _float(0, 1e9, lo_open=True, nullable=True, what="longest idle gap, s"),
    "rate": _float(0, 1e10, lo_open=True, nullable=True, what="packets/s"),
    # the capacity planner (experiments/planner.py, plan_paper)
    "max_memory_mb": _float(0, 2**20, lo_open=True, what="pool memory bound, MB (all queues)"),
    "target_drop": _float(0, 0.999999, what="drop-rate target, fraction (0: lossless)"),
    "headroom": Spec("bool"),
    "speed_step": _float(0.001, MAX_SPEED - 1, what="replay speed-up grid step"),
    "packets": Spec("int", 1, 2**32 - 1, nullable=True, what="the trace's first packets (None: all)"),
}

LIVE_ENGINES = ("afxdp-ring", "afpacket-copy", "tcpdump")


def _fail(name: str, spec: Spec, value, prefix: str = "must be") -> None:
    raise ParamError(name, f"{name} {prefix} {spec.allowed()}, got {show(value)}")


def _check_int(name: str, spec: Spec, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(name, spec, value)
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            _fail(name, spec, value)
    if not spec.lo <= value <= spec.hi:
        _fail(name, spec, value)
    return int(value)


def _check_float(name: str, spec: Spec, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(name, spec, value)
    try:
        v = float(value)
    except OverflowError:
        _fail(name, spec, value)
    if not math.isfinite(v) or v > spec.hi or v < spec.lo or (spec.lo_open and v == spec.lo):
        _fail(name, spec, value)
    return v


def _check_engine(name: str, spec: Spec, value, live: bool) -> str:
    from engine.models import EngineConfig

    if not isinstance(value, str) or not value.strip():
        _fail(name, spec, value)
    head, *nums = value.split(":")
    if live and head in LIVE_ENGINES:
        if len(nums) > 1 or not all(n.isdigit() and int(n) > 0 for n in nums):
            raise ParamError(name, f"{name}: engine spec {value!r}: expected {head}[:SIZE] with a positive integer")
        return value
    try:
        for key, n in zip(("mbufs",) if head == "dpdk" else ("M", "R", "T"), nums):
            check(key, int(n) if n.lstrip("-").isdigit() else n)
    except ParamError as exc:
        raise ParamError(name, f"{name}: engine spec {value!r}: {exc}") from None
    try:
        EngineConfig.parse(value)
    except ParamError:
        raise
    except ValueError as exc:
        raise ParamError(name, f"{name}: engine spec {value!r}: {_engine_reason(exc)}") from None
    return value


def _engine_reason(exc: ValueError) -> str:
    """engine.models' message without its own "--engine 'foo': " head (the spec is named already)."""
    msg = str(exc)
    if msg.startswith("--engine ") and ": " in msg:
        return msg.split(": ", 1)[1]
    return msg


def _check_trace(name: str, spec: Spec, value) -> str:
    from traces.load import REAL_TRACES

    if not isinstance(value, str) or not value.strip():
        _fail(name, spec, value)
    if value in REAL_TRACES or value == "fermilab-like":
        return value
    if value.startswith("fermilab-like:"):
        seed = value.split(":", 1)[1]
        if not seed.isdigit() or int(seed) > MAX_SEED:
            raise ParamError(name, f"{name} {value!r}: the seed after fermilab-like: must be an integer in "
                                   f"0..{MAX_SEED:,}")
        return value
    if not Path(value).is_file():
        raise ParamError(name, f"{name} {value!r}: no such trace; {spec.allowed()}")
    return value


def _check_window(name: str, spec: Spec, value) -> list[float]:
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)):
        _fail(name, spec, value)
    start, end = (float(v) for v in value)
    if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
        _fail(name, spec, value)
    return [start, end]


def check_one(name: str, value, live: bool = False):
    """One scalar value of parameter `name`, normalized (1e3 -> 1000)."""
    spec = SCHEMA.get(name)
    if spec is None:
        return value
    if value is None:
        if spec.nullable:
            return None
        _fail(name, spec, value)
    if spec.kind == "int":
        v = _check_int(name, spec, value)
        if name == "n_buckets" and v & (v - 1):
            raise ParamError(name, f"n_buckets must be a power of two (the redirection table's size; 82599: "
                                   f"128), got {show(value)}")
        return v
    if spec.kind == "float":
        return _check_float(name, spec, value)
    if spec.kind == "bool":
        if not isinstance(value, bool):
            _fail(name, spec, value)
        return value
    if spec.kind == "choice":
        if value not in spec.choices:
            _fail(name, spec, value)
        return value
    if spec.kind == "engine":
        return _check_engine(name, spec, value, live)
    if spec.kind == "trace":
        return _check_trace(name, spec, value)
    if spec.kind == "window":
        return _check_window(name, spec, value)
    if not isinstance(value, str) or not value:
        _fail(name, spec, value)
    return value


def check(name: str, value, as_list: bool = False, live: bool = False):
    """`value` for parameter `name`: one value, or (as_list) a non-empty list
    of them, a lone scalar becoming [scalar]. Raises ParamError."""
    spec = SCHEMA.get(name)
    if not as_list:
        if isinstance(value, (list, tuple)) and not (spec and spec.kind == "window"):
            allowed = f" ({spec.allowed()})" if spec else ""
            raise ParamError(name, f"{name} must be one value{allowed}, not a list, got {show(value)}")
        return check_one(name, value, live)
    if not isinstance(value, (list, tuple)):
        value = [value]
    if not value:
        each = f", each {spec.allowed()}" if spec else ""
        raise ParamError(name, f"{name} must be a non-empty list{each}, got []")
    return [check_one(name, v, live) for v in value]


def _engines_of(name: str, cfg: dict) -> list[str]:
    """The engine specs an experiment's configuration builds (fig12 builds them from M, R, T)."""
    if "engines" in cfg:
        return list(cfg["engines"])
    if {"M", "R", "T"} <= set(cfg):
        Rs = cfg["R"] if isinstance(cfg["R"], list) else [cfg["R"]]
        Ts = cfg["T"] if isinstance(cfg["T"], list) else [cfg["T"]]
        return [f"wirecap-a:{cfg['M']}:{r}:{t}" for r in Rs for t in Ts]
    return []


def check_overrides(experiment: str, cfg: dict, overrides: dict, backend: str = "sim") -> dict:
    """Validate `overrides` against the schema, shaped as `cfg` (the
    experiment's defaults: a list default makes a list parameter); return the
    normalized overrides. Then check the engines the merged configuration
    builds (R > N/M, T, ...). Raises ParamError naming the parameter."""
    live = backend == "xdp"
    out = {}
    for key, value in overrides.items():
        default = cfg.get(key)
        as_list = isinstance(default, list) and SCHEMA.get(key, Spec("str")).kind != "window"
        out[key] = check(key, value, as_list=as_list, live=live)
    merged = {**cfg, **out}
    from engine.models import EngineConfig

    for spec in _engines_of(experiment, merged):
        if live and spec.split(":")[0] in LIVE_ENGINES:
            continue
        try:
            EngineConfig.parse(spec)
        except ValueError as exc:
            culprit = next((k for k in ("engines", "M", "R", "T") if k in out), "engines")
            raise ParamError(culprit, f"{culprit}: engine {spec!r}: {_engine_reason(exc)}") from None
    return out


# ---- command-line text ----------------------------------------------------------

def parse_text(name: str, text: str):
    """A command-line word as a number where the parameter is numeric: '1e3' -> 1000.0,
    '1000000000000000000000' -> that int (exactly); anything else stays text."""
    spec = SCHEMA.get(name)
    if spec is None or spec.kind not in ("int", "float"):
        return text
    t = str(text).strip()
    if t.lower() in ("none", "") and spec.nullable:
        return None
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def check_text(name: str, text: str):
    """check() for one command-line word."""
    return check_one(name, parse_text(name, text))


def arg_type(name: str):
    """An argparse ``type=`` for parameter `name`: the schema's check on the
    option's text; argparse reports its message as ``argument --OPT: MSG``."""
    def parse(text):
        try:
            return check_text(name, text)
        except ParamError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = name
    return parse


def check_list_text(name: str, text: str) -> list | None:
    """A comma-separated list from the command line ('1e3,1e5'), every item
    checked; '' -> None (the caller's default)."""
    if text is None or str(text).strip() == "":
        return None
    return [check_text(name, t) for t in str(text).split(",")]


def describe() -> list[str]:
    """One line per parameter: name and what is allowed (for docs and --help)."""
    return [f"{k:12s} {s.allowed()}" + (" or null" if s.nullable else "") + (f"  ({s.what})" if s.what else "")
            for k, s in SCHEMA.items()]


# ---- output paths -----------------------------------------------------------------

def check_output_path(option: str, path, suffixes: tuple[str, ...] = ()) -> Path:
    """An output file the user named: its folder must exist and take a new
    file (tried, not guessed: root may write where nothing can be created, as
    in /proc). Never creates a folder. Raises ParamError naming the option."""
    import os
    import tempfile

    path = Path(path)
    if suffixes and path.suffix not in suffixes:
        raise ParamError(option, f"{option} {str(path)!r}: must end in {' or '.join(suffixes)}")
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ParamError(option, f"{option} {path}: is a folder; name a file in it")
    if not parent.is_dir():
        if parent.exists():
            raise ParamError(option, f"{option} {path}: {parent} is not a folder")
        raise ParamError(option, f"{option} {path}: the folder {parent} does not exist; create it first or "
                                 f"name another path")
    try:
        fd, probe = tempfile.mkstemp(prefix=".wirecap-probe-", dir=parent)
    except OSError as exc:
        raise ParamError(option, f"{option} {path}: cannot write in {parent} "
                                 f"({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)
    return path
