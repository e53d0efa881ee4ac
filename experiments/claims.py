"""Claims of the paper (ACCEPTANCE.md §2) checked against our results.

Each experiment module has ``claims(df) -> list[Claim]``; the report, the
tests and CI all read the same objects, so a claim is written once.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Claim:
    experiment: str
    key: str          # stable identifier, e.g. "fig9.dna_p6000"
    text: str         # the claim as ACCEPTANCE.md states it
    paper: str        # the paper's value ("15%", "exactly 0", "ordering")
    ours: str         # what the model produced
    tolerance: str    # ACCEPTANCE.md's tolerance
    passed: bool
    point: str = ""   # which configuration / point the value comes from
    diff: str = ""    # ours - paper, where both are numbers

    @property
    def result(self) -> str:
        return "PASS" if self.passed else "FAIL"

    def as_row(self) -> dict:
        row = asdict(self)
        row["result"] = self.result
        return row


def pct(x: float) -> str:
    """A drop rate (fraction) as percent with two decimals."""
    return f"{100.0 * x:.2f}%"


def within(experiment: str, key: str, text: str, value: float, lo: float, hi: float,
           paper: float | None = None, point: str = "", tolerance: str | None = None) -> Claim:
    """A drop-rate claim that holds when lo <= value <= hi (fractions)."""
    diff = f"{100.0 * (value - paper):+.2f} pp" if paper is not None else ""
    return Claim(experiment, key, text, pct(paper) if paper is not None else "",
                 pct(value), tolerance or f"{pct(lo)} .. {pct(hi)}", lo <= value <= hi, point, diff)


def exactly_zero(experiment: str, key: str, text: str, drops: int, point: str = "") -> Claim:
    return Claim(experiment, key, text, "0 lost", f"{drops} lost", "exactly 0", drops == 0, point)


def ordering(experiment: str, key: str, text: str, holds: bool, ours: str, point: str = "") -> Claim:
    return Claim(experiment, key, text, "ordering", ours, "ordering holds", bool(holds), point)
