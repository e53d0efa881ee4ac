"""traces.detmath: exp/log/pow from IEEE basic operations only, so the same
bits on every CPU, and about as accurate as libm."""
import decimal
import os
import subprocess
import sys

import numpy as np
import pytest

from traces import detmath

decimal.getcontext().prec = 50


def ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in units in the last place (same-sign finite doubles)."""
    return np.abs(a.view(np.int64) - b.view(np.int64))


def correctly_rounded(fn: str, xs: np.ndarray) -> np.ndarray:
    return np.array([float(getattr(decimal.Decimal(float(x)), fn)()) for x in xs])


def test_exp_within_one_ulp_of_correctly_rounded():
    rng = np.random.default_rng(1)
    xs = np.concatenate([rng.uniform(-40, 40, 4000), rng.standard_normal(4000), rng.uniform(-700, 700, 1000),
                         [0.5 * np.log(2), -0.5 * np.log(2), 1e-300, -1e-300, 700.0, -700.0]])
    assert ulps(detmath.exp(xs), correctly_rounded("exp", xs)).max() <= 1


def test_log_within_one_ulp_of_correctly_rounded():
    rng = np.random.default_rng(2)
    xs = np.concatenate([rng.random(4000), rng.uniform(0, 1e6, 4000),
                         np.ldexp(rng.uniform(0.5, 1, 1000), rng.integers(-1000, 1000, 1000)),
                         [np.sqrt(0.5), np.nextafter(np.sqrt(0.5), 0), 1 + 2 ** -52, 1 - 2 ** -53, 5e-324]])
    assert ulps(detmath.log(xs), correctly_rounded("ln", xs)).max() <= 1


def test_special_values():
    assert list(detmath.exp(np.array([0.0, -0.0]))) == [1.0, 1.0]
    assert detmath.exp(np.array([800.0, np.inf]))[0] == np.inf and detmath.exp(np.inf) == np.inf
    assert list(detmath.exp(np.array([-800.0, -np.inf]))) == [0.0, 0.0]
    assert np.isnan(detmath.exp(np.nan)) and np.isnan(detmath.log(-1.0)) and np.isnan(detmath.log(np.nan))
    assert detmath.log(1.0) == 0.0 and detmath.log(0.0) == -np.inf and detmath.log(np.inf) == np.inf
    assert detmath.log(2.0) == float(decimal.Decimal(2).ln())
    # the Pareto draw at u = 0 is size_min exactly, as with libm's pow
    assert detmath.pow(np.array([1.0]), -1 / 1.2)[0] == 1.0 and detmath.pow(3.5, 0.0) == 1.0
    with pytest.raises(ValueError, match="x must be > 0"):
        detmath.pow(np.array([0.0, 1.0]), 2.0)


def test_ln2_split_is_exact_enough():
    assert detmath.LN2_HI + detmath.LN2_LO == float(decimal.Decimal(2).ln())
    # 32 significant bits in the head: k * LN2_HI is exact for |k| < 2^21
    m, _ = np.frexp(detmath.LN2_HI)
    assert np.ldexp(m, 32) == np.floor(np.ldexp(m, 32))


_DIGEST = """
import hashlib, numpy as np
from traces import detmath
rng = np.random.default_rng(3)
x = rng.uniform(-30, 30, 200_000); y = rng.uniform(1e-9, 1e9, 200_000)
h = hashlib.sha256()
for a in (detmath.exp(x), detmath.log(y), detmath.pow(y, -1 / 1.2), np.exp(x)):
    h.update(a.tobytes())
    print(h.hexdigest()[:16])
"""


def test_same_bits_at_every_simd_level_where_numpy_differs():
    """detmath's digests agree at every SIMD level; numpy's own np.exp is
    printed beside them as the control (on a CPU with AVX-512 it differs)."""
    out = {}
    for level in ("", "X86_V4", "X86_V3 X86_V4"):
        r = subprocess.run([sys.executable, "-c", _DIGEST], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, NPY_DISABLE_CPU_FEATURES=level))
        assert r.returncode == 0, r.stderr
        out[level] = r.stdout.split()
    ours = {tuple(v[:3]) for v in out.values()}
    assert len(ours) == 1, f"detmath differs between SIMD levels: {out}"
