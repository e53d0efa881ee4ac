"""Small synthetic multi-queue workloads for simulator tests (not the paper's)."""
import numpy as np

from driver.sim import TraceInput


def poisson(rates_pps, seconds=2.0, flows_per_queue=50, seed=1, size=68):
    """Independent Poisson arrivals per queue; flows are queue-local, as RSS makes them."""
    rng = np.random.default_rng(seed)
    ts, qs, fl = [], [], []
    for q, rate in enumerate(rates_pps):
        n = rng.poisson(rate * seconds)
        ts.append(rng.uniform(0, seconds, n))
        qs.append(np.full(n, q))
        fl.append(rng.integers(0, flows_per_queue, n) * len(rates_pps) + q)
    t, q, f = (np.concatenate(a) for a in (ts, qs, fl))
    order = np.argsort(t, kind="stable")
    return TraceInput(ts_ns=(t[order] * 1e9).astype(np.int64), queue=q[order].astype(np.uint8),
                      flow=f[order].astype(np.int32), size=np.full(len(t), size, dtype=np.uint32),
                      n_queues=len(rates_pps), n_flows=flows_per_queue * len(rates_pps))
