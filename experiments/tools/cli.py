"""Argument parsing shared by the paper's tools: one-line errors, exit 2."""
from __future__ import annotations

import argparse
import importlib
import json
import sys


class ToolArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad argument on one line (no usage dump)."""

    def error(self, message: str):  # noqa: D401 - argparse's name
        self.exit(2, f"{self.prog}: error: {message}\n")


def fail(prog: str, message: str) -> None:
    sys.stderr.write(f"{prog}: error: {message}\n")
    sys.exit(2)


def check_load(prog: str, args) -> None:
    """The ranges pkt_handler and multi_pkt_handler share: x, the clock, T."""
    if args.x < 0:
        fail(prog, f"--x {args.x}: the number of filter runs per packet must be >= 0")
    if args.clock_ghz <= 0:
        fail(prog, f"--clock-ghz {args.clock_ghz}: must be > 0")
    if args.T is not None and not 0 < args.T <= 100:
        fail(prog, f"--T {args.T}: the offloading threshold T must be in (0, 100] percent")


def on_off(value: str) -> bool:
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"expected on or off, got {value!r}")
    return value == "on"


def live_module(prog: str, name: str):
    """experiments.live.<name> (the xdp backend), or a one-line error."""
    try:
        return importlib.import_module(f"experiments.live.{name}")
    except ImportError as exc:
        fail(prog, f"--backend xdp: the real backend is not available ({exc})")


def output(result, as_json: bool, summary) -> None:
    """One JSON document on a line, or the tool's readable summary."""
    if as_json:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(summary(result))
