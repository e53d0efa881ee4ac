"""What a user sees while a trace is replayed on the real backend: one line
on stderr saying how long a replay of more than a few seconds will take,
before anything is built, and, on a terminal, a bar of the replay's seconds.

The generator's send is one call into C that returns when the replay is
over, so the bar follows the replay's own clock (seconds since the send
began, and the packets due by then), drawn by a thread of its own. Off a
terminal it stays quiet, as experiments/progress.py does
(``WIRECAP_PROGRESS=0|1`` forces it).
"""
from __future__ import annotations

import sys
import threading
import time

import numpy as np

from experiments import progress

ANNOUNCE_OVER_S = 5.0      # replays shorter than this start without a word
TICK_S = 0.5               # how often the bar moves
BAR_FORMAT = "{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]"


def say_on_stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def announce(plan, say=say_on_stderr) -> None:
    """Say how long the replay takes, if long enough to wonder (say=None: quiet)."""
    if say is not None and plan.replay_s() > ANNOUNCE_OVER_S:
        say(plan.estimate())


class ReplayBar:
    """A context manager around a blocking send: a tqdm bar of its seconds
    while it runs, when ``show`` (default: stderr is a terminal and the send
    lasts more than ANNOUNCE_OVER_S). ``due_by(t)``: packets due t seconds in."""

    def __init__(self, label: str, total_s: float, packets: int, due_by, show: bool | None = None,
                 stream=None, tick_s: float = TICK_S):
        self.label, self.total_s, self.packets, self.due_by = label, float(total_s), int(packets), due_by
        self.stream, self.tick_s = stream or sys.stderr, tick_s
        if show is None:
            show = self.total_s > ANNOUNCE_OVER_S and progress.enabled(self.stream)
        self.show = show
        self._done = threading.Event()
        self._thread = None

    @classmethod
    def for_replay(cls, replay, **kw) -> "ReplayBar":
        """The bar of a workload.Replay: its due times say how many packets are out."""
        def due_by(t_s):
            return int(np.searchsorted(replay.due_ns, int(t_s * 1e9), side="right"))
        return cls(f"replay {replay.name}", replay.duration_s, len(replay), due_by, **kw)

    @classmethod
    def for_rate(cls, label: str, packets: int, rate_pps: float, **kw) -> "ReplayBar":
        """The bar of a paced send of ``packets`` frames at ``rate_pps``."""
        return cls(label, packets / rate_pps, packets, lambda t_s: min(packets, int(t_s * rate_pps) + 1), **kw)

    def __enter__(self):
        if self.show:
            self._thread = threading.Thread(target=self._draw, name="replay-bar", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        return False

    def _draw(self) -> None:
        from tqdm import tqdm

        t0 = time.monotonic()
        with tqdm(total=round(self.total_s, 1), desc=self.label, unit="s", file=self.stream,
                  dynamic_ncols=True, leave=True, bar_format=BAR_FORMAT) as bar:
            finished = False
            while not finished:
                finished = self._done.wait(self.tick_s)
                # the send's clock, never past its end (draining is not sending)
                elapsed = min(time.monotonic() - t0, self.total_s)
                bar.n = round(elapsed, 1)
                bar.set_postfix_str(f"{self.due_by(elapsed):,}/{self.packets:,} packets due", refresh=False)
                bar.refresh()
