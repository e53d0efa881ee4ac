"""exp, log and pow for float64 arrays, identical on every CPU.

Why not numpy's: ``np.exp``, ``np.log``, ``np.log2`` and ``np.power`` are
dispatched at run time to SIMD kernels (SVML-derived ones with AVX-512,
others with AVX2, libm below that) that differ in the last bit. A last bit
is enough: the Fermilab-like generator turns these values into packet
counts, sizes and times through ``ceil`` and ``round``, and one flipped
``ceil`` is one more packet on a queue. Issue 10 saw exactly that: the same
seed made a different trace on a CPU with AVX-512.

How: only IEEE 754 basic operations (+, -, *, /), which every CPU rounds
the same way, and exact ones (``rint``, ``frexp``, ``ldexp``, compares).
numpy evaluates each ufunc separately, so nothing is fused into an FMA
behind our back. The algorithms are the textbook ones (Cody & Waite
argument reduction; Tang's reduced-interval evaluation, "Table-driven
implementation of the exponential function", ACM TOMS 1989, without the
table):

* ``exp(x) = 2^k * exp(r)``, ``k = rint(x / ln 2)``, ``r = x - k ln 2`` with
  ln 2 split into a 32-bit head (``k * LN2_HI`` is exact) and a tail;
  ``exp(r) - 1`` by its Taylor series to r^13 on |r| <= ln 2 / 2 (the
  first omitted term is below 2^-57), 1 added last.
* ``log(x) = e ln 2 + log(1 + f)`` with ``x = 2^e (1 + f)``,
  ``sqrt(1/2) <= 1 + f < sqrt(2)``; ``log(1 + f) = 2 atanh(s)``,
  ``s = f / (2 + f)``, by its odd series to s^21 (|s| <= 0.172; the first
  omitted term is below 2^-60), written so that the exact ``f`` carries
  the leading digits.
* ``pow(x, y) = exp(y log x)``.

Accuracy is about one unit in the last place for exp and log (checked
against correctly rounded values in tests/test_detmath.py); the point is
not the last bit's value but that it is the same everywhere. The constants
are computed here from exact rationals and ``decimal``'s correctly rounded
ln 2, so none is a magic number.
"""
from __future__ import annotations

import decimal
from fractions import Fraction
from math import factorial

import numpy as np

__all__ = ["exp", "log", "pow", "LN2_HI", "LN2_LO"]


def _ln2_split() -> tuple[float, float]:
    """ln 2 as head + tail: the head has 32 significant bits, so k * head is
    exact for |k| < 2^21; the tail is the rest, correctly rounded."""
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        ln2 = decimal.Decimal(2).ln()
    m, e = np.frexp(float(ln2))
    head = float(np.ldexp(np.floor(np.ldexp(m, 32)), int(e) - 32))
    return head, float(ln2 - decimal.Decimal(head))


LN2_HI, LN2_LO = _ln2_split()
INV_LN2 = float(1 / (Fraction(LN2_HI) + Fraction(LN2_LO)))
SQRT_HALF = float(np.sqrt(0.5))  # sqrt is correctly rounded by IEEE 754
EXP_TERMS = 13    # exp(r) - 1 = r + r^2/2! + ... + r^13/13!
LOG_TERMS = 10    # log(1+f) = 2s + 2s^3/3 + ... + 2s^21/21
# 1/n! for n = 2..13, and 2/(2n+1) for n = 1..10, each correctly rounded
_EXP_C = [float(Fraction(1, factorial(n))) for n in range(2, EXP_TERMS + 1)]
_LOG_C = [float(Fraction(2, 2 * n + 1)) for n in range(1, LOG_TERMS + 1)]
# outside these, exp overflows to inf or underflows to 0 (float64's range)
EXP_MAX = 709.782712893384
EXP_MIN = -745.1332191019412


def _horner(z: np.ndarray, coeffs: list[float]) -> np.ndarray:
    """coeffs[0] + z * (coeffs[1] + z * (...)), innermost last."""
    acc = np.full_like(z, coeffs[-1])
    for c in reversed(coeffs[:-1]):
        acc = c + z * acc
    return acc


def exp(x) -> np.ndarray:
    """e^x, elementwise, the same bits on every CPU."""
    x = np.asarray(x, dtype=np.float64)
    # keeps k an int (NaN and the ends are patched below)
    xs = np.where(np.isnan(x), 0.0, np.clip(x, EXP_MIN - 1, EXP_MAX + 1))
    k = np.rint(xs * INV_LN2)
    r = (xs - k * LN2_HI) - k * LN2_LO                  # |r| <= ln2/2 (plus rounding)
    em1 = r + (r * r) * _horner(r, _EXP_C)             # exp(r) - 1
    # split 2^k in two so that an intermediate 2^1024 (x near EXP_MAX) or a
    # gradual underflow rounds once, at the last ldexp
    ki = k.astype(np.int64)
    half = ki // 2
    with np.errstate(over="ignore", under="ignore"):
        out = np.ldexp(np.ldexp(1.0 + em1, half), ki - half)
    out = np.where(x > EXP_MAX, np.inf, out)
    out = np.where(x < EXP_MIN, 0.0, out)
    return np.where(np.isnan(x), np.nan, out)


def log(x) -> np.ndarray:
    """Natural logarithm, elementwise, the same bits on every CPU
    (log 1 = 0 exactly; log 0 = -inf; negative or NaN -> NaN)."""
    x = np.asarray(x, dtype=np.float64)
    pos = np.isfinite(x) & (x > 0)
    m, e = np.frexp(np.where(pos, x, 1.0))              # x = m 2^e, 0.5 <= m < 1 (exact)
    low = m < SQRT_HALF
    m = np.where(low, m * 2.0, m)                       # exact
    e = (e - low).astype(np.float64)
    f = m - 1.0                                         # exact (Sterbenz)
    s = f / (2.0 + f)
    z = s * s
    R = z * _horner(z, _LOG_C)                          # 2 s^2/3 + 2 s^4/5 + ...
    hfsq = 0.5 * f * f
    # log(1+f) = f - s (f - R) = f - (hfsq - s (hfsq + R)): f, exact, carries the leading digits
    out = e * LN2_HI - ((hfsq - (s * (hfsq + R) + e * LN2_LO)) - f)
    out = np.where(x == 0, -np.inf, out)
    out = np.where(x == np.inf, np.inf, out)
    return np.where(pos | (x == 0) | (x == np.inf), out, np.nan)


def pow(x, y) -> np.ndarray:  # noqa: A001  (the name says what it computes)
    """x ** y for x > 0 as exp(y log x), the same bits on every CPU
    (pow(1, y) = 1 and pow(x, 0) = 1 exactly)."""
    x = np.asarray(x, dtype=np.float64)
    if np.any(x <= 0):
        raise ValueError("detmath.pow: x must be > 0")
    return exp(np.asarray(y, dtype=np.float64) * log(x))
