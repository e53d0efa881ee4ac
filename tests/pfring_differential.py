"""Differential check of the PF_RING model against a baseline checkout.

    python tests/pfring_differential.py /path/to/baseline-checkout

Runs the same PF_RING points here and, in a subprocess, in the baseline
(its own build, cwd there) and compares every per-queue counter, the
run's end time and the run-level counters but `events` (and `bulk_steps`,
which counts how arrivals were grouped, not what happened). Not a pytest
module: it needs a second, built checkout and takes a few minutes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def points():
    """(name, thunk-spec) pairs; the spec is evaluated in either checkout."""
    out = []
    for nq in (1, 6):
        for x in (0, 100, 300, 1000):
            out.append((f"trace q{nq} x{x}", f"simulate(E, workloads.steered('fermilab-like', {nq}), x={x})"))
    out.append(("trace q6 x300 fwd", "simulate(E, workloads.steered('fermilab-like', 6), x=300, forward=True)"))
    out.append(("trace q4 x300 flows", "simulate(E, workloads.steered('fermilab-like', 4), x=300, track_flows=True)"))
    out.append(("trace q2 x0 fwdlog",
                "simulate(E, workloads.steered('fermilab-like', 2), x=0, forward=True, record_forwarding=True)"))
    out.append(("trace q6 x300 nobuf", "simulate(E, workloads.steered('fermilab-like', 6), x=300, nic_buffer=False)"))
    out.append(("trace q1 x300 slots64",
                "simulate(E, workloads.steered('fermilab-like', 1), x=300, pfring=PfRingCosts(slots=64))"))
    for P in (1, 10, 1000, 100_000, 1_000_000):
        for size in (64, 512, 1514):
            for x in (0, 300):
                out.append((f"burst {P} {size}B x{x}", f"simulate(E, Burst({P}, {size}), x={x})"))
    out.append(("trace q2 x100 app0", "simulate(E, workloads.steered('fermilab-like', 2), x=100, app_cost=0)"))
    out.append(("trace q16 x300", "simulate(E, workloads.steered('fermilab-like', 16), x=300)"))
    for x in (0, 300):
        out.append((f"burst 2nics x{x}", f"simulate(E, Burst(300_000, nics=2), x={x})"))
    out.append(("spread q6 2nics x300", "simulate(E, Burst.spread(300_000, 6, nics=2), x=300)"))
    for P in (1000, 300_000):
        out.append((f"burst {P} nobuf", f"simulate(E, Burst({P}), x=0, nic_buffer=False)"))
        out.append((f"burst {P} fwd", f"simulate(E, Burst({P}), x=0, forward=True)"))
        out.append((f"spread {P} q6", f"simulate(E, Burst.spread({P}, 6), x=100)"))
        out.append((f"spread {P} q4 2nics", f"simulate(E, Burst.spread({P}, 4, nics=2), x=0)"))
        out.append((f"spread {P} q1 2nics bus",
                    f"simulate(E, Burst.spread({P}, 1, nics=2), x=0, bus=BusModel(enabled=True))"))
        out.append((f"spread {P} q4 2nics bus fwd",
                    f"simulate(E, Burst.spread({P}, 4, nics=2), x=0, forward=True, bus=BusModel(enabled=True))"))
        out.append((f"burst {P} nobulk", f"simulate(E, Burst({P}), x=300, bulk=False)"))
        out.append((f"burst {P} runlog", f"simulate(E, Burst({P}), x=300, record_runs=True)"))
    for ac in (0, 50, 200, 1000, 5000, 25_780, 100_000):
        for slots in (2, 64, 10_240):
            out.append((f"tiny ac{ac} slots{slots}",
                        f"simulate(E, Burst(300), nic=TINY, nic_buffer=False, app_cost={ac}, "
                        f"pfring=PfRingCosts(slots={slots}))"))
            out.append((f"tiny-buf ac{ac} slots{slots}",
                        f"simulate(E, Burst.spread(3000, 3), nic=TINY, app_cost={ac}, "
                        f"pfring=PfRingCosts(slots={slots}))"))
    for itr in (0.0, 5.0, 50.0, 200.0):
        for w in (1, 4, 64):
            out.append((f"costs itr{itr} w{w}",
                        f"simulate(E, workloads.steered('fermilab-like', 3), x=100, "
                        f"pfring=PfRingCosts(itr_us={itr}, napi_weight={w}, softirq_packets=300, slice_ms=1.0))"))
    return out


RUNNER = r"""
import json, sys
import numpy as np
sys.path.insert(0, '.')
from driver.sim import Burst, simulate
from driver.sim.params import BusModel, NicModel
from engine.models import EngineConfig, PfRingCosts
from experiments import workloads
TINY = NicModel(ring_size=4, ring_usable=3, rx_buffer_bytes=0)
E = EngineConfig.parse('pfring')
out = {}
for name, spec in json.load(sys.stdin):
    r = eval(spec)
    d = {'queues': r.queues, 'sim_time_s': repr(r.sim_time_s), 'arrivals': r.arrivals,
         'flows_split': r.flows_split, 'forwarded': r.forwarded, 'tx_backlog_max': r.tx_backlog_max,
         'events': r.events}
    if r.forward_log is not None:
        d['forward_log'] = np.asarray(r.forward_log).tolist()
    if r.run_log is not None:
        d['run_log'] = np.asarray(r.run_log).tolist()
    out[name] = d
json.dump(out, sys.stdout, default=int)
"""


def run_in(checkout: str, pts) -> dict:
    res = subprocess.run([sys.executable, "-c", RUNNER], cwd=checkout, input=json.dumps(pts),
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def main(argv):
    base = argv[1] if len(argv) > 1 else "/work/wt-b15"
    pts = points()
    old, new = run_in(base, pts), run_in(ROOT, pts)
    bad = 0
    ev_old = ev_new = 0
    for name, _ in pts:
        a, b = dict(old[name]), dict(new[name])
        ev_old += a.pop("events")
        ev_new += b.pop("events")
        if a != b:
            bad += 1
            print("DIFFERS:", name)
    print(f"{len(pts)} points, {bad} differ; events {ev_old} -> {ev_new}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
