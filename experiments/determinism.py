"""The same trace and the same simulated result at every SIMD level.

numpy picks its SIMD kernels when it starts (AVX-512, AVX2, or the
baseline), and some of them differ in the last bit (issue 10: the
Fermilab-like trace changed on CPUs with AVX-512, and with it Table 1).
This module is the check that would have caught it: in a fresh process,
with the trace cache bypassed, generate the default Fermilab-like trace and
simulate one point on it (NETMAP, 6 queues, x = 300: the point that moved),
and print both digests. Running it under each ``NPY_DISABLE_CPU_FEATURES``
setting the CPU allows and comparing the digests with the ones recorded in
``results/reference/determinism.json`` separates two failures:

* the trace digest moved: the *trace* changed (the generator, numpy's random
  streams, or CPU-dependent math crept back in);
* only the point's digest moved: the *simulator* changed with the same trace.

    python -m experiments.determinism            # prints one JSON line
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TRACE_SPEC = "fermilab-like"
# the point where issue 10 saw different numbers on an AVX-512 CPU
POINT = {"engine": "netmap", "trace": TRACE_SPEC, "queues": 6, "x": 300}
# numpy's SIMD levels, from everything the CPU has down to the build's x86-64-v2
# baseline; a level the CPU lacks is the same as the one above it
SIMD_LEVELS = ("", "X86_V4", "X86_V3 X86_V4")
RECORD = "determinism.json"
PROBE_TIMEOUT_S = 300


def rows_digest(rows: list[dict]) -> str:
    """SHA-256 of result rows as canonical JSON (sorted keys, exact floats)."""
    text = json.dumps(rows, sort_keys=True, default=str, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def probe() -> dict:
    """Generate the trace into an empty cache (never an earlier copy) and
    simulate POINT on it."""
    from experiments import provenance, workloads
    from experiments.points import sim_multi_pkt_handler
    from traces import cache

    saved = os.environ.get(cache.CACHE_ENV)
    with tempfile.TemporaryDirectory(prefix="wirecap-probe-") as empty:
        os.environ[cache.CACHE_ENV] = empty
        try:
            workloads._trace.cache_clear()
            workloads.steered.cache_clear()
            rows = sim_multi_pkt_handler(dict(POINT))
            trace = workloads._trace(TRACE_SPEC)    # the very trace the point simulated
        finally:
            if saved is None:
                os.environ.pop(cache.CACHE_ENV, None)
            else:
                os.environ[cache.CACHE_ENV] = saved
    return {"trace": TRACE_SPEC, "trace_sha256": trace.digest(), "packets": len(trace),
            "point": POINT, "point_sha256": rows_digest(rows),
            "delivered": {str(r["queue"]): int(r["delivered"]) for r in rows},
            "numpy_simd": provenance.numpy_simd()}


def probe_in_subprocess(disabled: str, timeout_s: float = PROBE_TIMEOUT_S) -> dict:
    """probe() in a fresh interpreter with NPY_DISABLE_CPU_FEATURES=disabled."""
    env = dict(os.environ, NPY_DISABLE_CPU_FEATURES=disabled)
    out = subprocess.run([sys.executable, "-m", "experiments.determinism"], capture_output=True, text=True,
                         env=env, timeout=timeout_s, cwd=Path(__file__).resolve().parent.parent)
    if out.returncode != 0:
        raise RuntimeError(f"NPY_DISABLE_CPU_FEATURES={disabled!r}: the probe failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(recorded: dict, now: dict) -> list[str]:
    """What moved between the recorded digests and a probe, in words."""
    level = f"numpy SIMD {'+'.join(now['numpy_simd']['dispatch']) or 'baseline only'}" + \
        (f" (NPY_DISABLE_CPU_FEATURES={now['numpy_simd']['disabled']!r})" if now["numpy_simd"]["disabled"] else "")
    if now["trace_sha256"] != recorded["trace_sha256"]:
        return [f"the trace changed: {now['trace']} has digest {now['trace_sha256'][:16]} at {level}, "
                f"the reference recorded {recorded['trace_sha256'][:16]} (generator, numpy's random streams, "
                f"or CPU-dependent math in the generator; see traces/detmath.py)"]
    if now["point_sha256"] != recorded["point_sha256"]:
        moved = {q: (recorded["delivered"].get(q), d) for q, d in now["delivered"].items()
                 if recorded["delivered"].get(q) != d}
        return [f"the simulator changed with the same trace: {now['point']} at {level} gives digest "
                f"{now['point_sha256'][:16]}, the reference {recorded['point_sha256'][:16]}; delivered "
                + (", ".join(f"queue {q}: {a} -> {b}" for q, (a, b) in moved.items()) or "unchanged")]
    return []


def record(out_dir: Path) -> dict:
    """Probe in a fresh process (this one may have numpy's state or caches
    warmed) and write results/reference/determinism.json."""
    from experiments import results

    now = probe_in_subprocess(os.environ.get("NPY_DISABLE_CPU_FEATURES", ""))
    results.write_json(Path(out_dir) / RECORD, now)
    return now


def recorded(ref_dir: Path) -> dict | None:
    path = Path(ref_dir) / RECORD
    return json.loads(path.read_text()) if path.exists() else None


if __name__ == "__main__":
    print(json.dumps(probe(), sort_keys=True))
