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


def say_as(prog: str):
    """A ``say(line)`` for the live runners: their notices on stderr, under the tool's name."""
    def say(line: str) -> None:
        sys.stderr.write(f"{prog}: {line}\n")
        sys.stderr.flush()
    return say


def window(text: str) -> list[float]:
    """An argparse type: START,END seconds of a trace."""
    try:
        start, end = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START,END in seconds, got {text!r}") from None
    if not 0 <= start < end:
        raise argparse.ArgumentTypeError(f"need 0 <= START < END, got {text!r}")
    return [start, end]


MAX_GAP_HELP = ("xdp: cut every idle gap longer than S seconds of trace to S; every packet is still sent "
                "(as tcpreplay --maxsleep), for traces with long silences, e.g. 1kxun's 5.8 years")


def replay_epilog() -> str:
    """What the tools that replay a trace on the real backend say about its length."""
    from experiments.live.replay_progress import ANNOUNCE_OVER_S
    from experiments.live.workload import MAX_REPLAY_S, human_s

    return (f"With --backend xdp the trace is replayed as recorded: a replay of more than {ANNOUNCE_OVER_S:g} s "
            f"is announced on stderr (with a progress bar on a terminal), and one of more than "
            f"{human_s(MAX_REPLAY_S)} is refused before anything is built, with an error naming the trace, how "
            f"long it would take and which of --speed, --window-s and --max-gap-s would fix it.")


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
