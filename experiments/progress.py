"""Progress bars for long runs: points done, packets per second, ETA.

The executor calls ``progress(done, total, last_row)`` after every point;
:class:`ProgressBar` is such a callable. It shows

    fig9  42%|████▏     | 37/89 points [00:03<00:04, 9.8 points/s, 31.2M sim pkt/s]

where "sim pkt/s" is simulated packets (the rows' ``sent``) per wall-clock
second, or "pkt/s" real packets for rows measured on the xdp backend. Off a
terminal (CI, pipes, notebooks' logs) it stays quiet; ``WIRECAP_PROGRESS=1``
or ``=0`` forces it on or off.
"""
from __future__ import annotations

import os
import sys
import time

from tqdm import tqdm


def enabled(stream=None) -> bool:
    forced = os.environ.get("WIRECAP_PROGRESS")
    if forced in ("0", "1"):
        return forced == "1"
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


def _fmt_rate(x: float) -> str:
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{x / div:.1f}{unit}"
    return f"{x:.0f}"


class ProgressBar:
    """A ``progress(done, total, last_row)`` callable drawing a tqdm bar.

    ``last_row=None`` means "points already saved" (a resumed run): the bar
    jumps ahead without counting them in the packet rate.
    """

    def __init__(self, desc: str, total: int | None = None, unit: str = "point", stream=None,
                 show: bool | None = None):
        self.stream = stream or sys.stderr
        self.show = enabled(self.stream) if show is None else show
        self.desc = desc
        self._bar = None
        self._unit = unit
        self._total = total
        self._packets = 0
        self._t0 = time.perf_counter()
        self.done = 0
        self.backend = "sim"

    def _ensure(self, total: int, initial: int = 0):
        if self._bar is None and self.show:
            # `initial`: points saved by an earlier, interrupted run; tqdm
            # leaves them out of its rate, so the ETA stays honest
            self._bar = tqdm(total=total, initial=initial, desc=self.desc, unit=self._unit,
                             file=self.stream, dynamic_ncols=True, leave=True)
        elif self._bar is not None and self._bar.total != total:
            self._bar.total = total
            self._bar.refresh()

    def __call__(self, done: int, total: int, last_row: dict | None) -> None:
        if last_row is None:
            # resumed points: start the bar there, and the packet clock now
            self._ensure(total, initial=done)
            self.done = done
            self._t0 = time.perf_counter()
            return
        self._ensure(total)
        step = max(0, done - self.done)
        self.done = done
        self._packets += int(last_row.get("sent", 0) or 0)
        self.backend = str(last_row.get("backend", self.backend))
        if self._bar is not None:
            self._bar.update(step)
            self._bar.set_postfix_str(self.rate_text(), refresh=False)

    def packets_per_s(self) -> float:
        elapsed = time.perf_counter() - self._t0
        return self._packets / elapsed if elapsed > 0 else 0.0

    def rate_text(self) -> str:
        label = "sim pkt/s" if self.backend == "sim" else "pkt/s"
        return f"{_fmt_rate(self.packets_per_s())} {label}"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
