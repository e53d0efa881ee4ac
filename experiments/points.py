"""One measured point = one pkt_handler run; shared by the tool and the experiments."""
from __future__ import annotations

import dataclasses

from driver.sim import Burst, simulate
from driver.sim.nics import DEFAULT_NIC, nic_model
from driver.sim.params import HostModel, NicModel
from engine.models import BalanceCosts, EngineConfig

# the columns every capture point carries (pkt_handler's JSON), in order
COLUMNS = ["engine", "engine_label", "M", "R", "T", "x", "P", "size", "queues", "nic_buffer",
           "backend", "seed", "sent", "delivered", "capture_drops", "delivery_drops", "filtered",
           "drop_rate"]


def sim_pkt_handler(point: dict) -> dict:
    """Simulate pkt_handler on one queue for a line-rate burst (paper §4).

    point: engine (spec "name[:M:R[:T]]" or name with M/R/T keys), x, P,
    size (bytes, 64), nic_buffer (True), clock_ghz (2.4), seed (recorded only:
    a burst has nothing random).
    """
    engine = (EngineConfig.parse(point["engine"]) if ":" in str(point["engine"])
              else EngineConfig.make(point["engine"], point.get("M"), point.get("R"), point.get("T")))
    size = int(point.get("size", 64))
    nic_buffer = bool(point.get("nic_buffer", True))
    host = HostModel(clock_ghz=float(point.get("clock_ghz", 2.4)))
    nic = point_nic(point)
    # the generator runs at the NIC's line rate (paper §4: 10 GbE)
    # pcie_writeback (fig9_fast): the NIC's PCIe link modelled, 0 = not
    run = simulate(engine, Burst(int(point["P"]), size=size, link_bps=nic.link_bps), x=int(point["x"]), host=host,
                   nic=nic, nic_buffer=nic_buffer, pcie_writeback=int(point.get("pcie_writeback", 0)))
    t = run.total
    row = {
        "engine": engine.name, "engine_label": engine.label, "M": engine.M, "R": engine.R,
        "T": engine.T, "x": int(point["x"]), "P": int(point["P"]), "size": size, "queues": 1,
        "nic_buffer": nic_buffer, "backend": "sim", "seed": int(point.get("seed", 0)),
        "sent": t["sent"], "delivered": t["delivered"], "capture_drops": t["capture_drops"],
        "delivery_drops": t["delivery_drops"], "filtered": t["filtered"], "drop_rate": t["drop_rate"],
        "drops_fifo": t["drops_fifo"], "drops_nodesc": t["drops_nodesc"],
        "max_buffered": t["max_buffered"], "chunks_copied": t["chunks_copied"],
        "sim_time_s": run.sim_time_s, "events": run.events,
        **nic_columns(point, nic),
    }
    return row


def point_nic(point: dict) -> NicModel:
    """The point's NIC model: point["nic"] (driver/sim/nics.py; default the
    paper's 82599), with the on-chip buffer and what happens without a
    descriptor overridden by rx_buffer_bytes and no_descriptor (fig9_fast's
    sensitivity rows)."""
    nic = nic_model(point.get("nic", DEFAULT_NIC))
    over = {k: point[k] for k in ("rx_buffer_bytes", "no_descriptor") if point.get(k) is not None}
    if "rx_buffer_bytes" in over:
        over["rx_buffer_bytes"] = int(over["rx_buffer_bytes"])
    return dataclasses.replace(nic, **over) if over else nic


def nic_columns(point: dict, nic: NicModel) -> dict:
    """The NIC's columns of a row, only for points that name a NIC: rows of
    points without the key stay as they were (results/reference/)."""
    if "nic" not in point:
        return {}
    return {"nic": nic.name, "link_gbps": nic.link_bps / 1e9, "rx_buffer_bytes": nic.rx_buffer_bytes,
            "no_descriptor": nic.no_descriptor, "pcie_writeback": int(point.get("pcie_writeback", 0))}


MULTI_COLUMNS = COLUMNS[:9] + ["queue"] + COLUMNS[9:] + ["offloaded_out", "offloaded_in", "flows_split"]


def _engine(point: dict) -> EngineConfig:
    spec = str(point["engine"])
    if ":" in spec:
        return EngineConfig.parse(spec)
    return EngineConfig.make(spec, point.get("M"), point.get("R"), point.get("T"), offload=point.get("offload"))


def sim_multi_pkt_handler(point: dict) -> list[dict]:
    """Simulate multi_pkt_handler (paper §4): n pkt_handler threads on the n
    RSS queues of one NIC, fed by a trace replayed as recorded.

    point: engine, trace ("fermilab-like[:SEED]" or a path), queues, x,
    forward (False), groups (advanced mode; default one buddy group),
    clock_ghz (2.4), seed (recorded; the trace's own seed is in its name).
    Returns one row per queue and a last row with queue = "all".
    """
    from experiments.workloads import steered

    engine = _engine(point)
    n = int(point["queues"])
    x = int(point["x"])
    forward = bool(point.get("forward", False))
    nic = point_nic(point)
    # the NIC's redirection table steers the trace (82599: 128 entries)
    balance = BalanceCosts(period_ms=float(point.get("period_ms", BalanceCosts.period_ms)),
                           n_buckets=int(point.get("n_buckets", nic.reta_entries(n))))
    speed = float(point.get("speed", 1.0))
    max_gap_s = point.get("max_gap_s")
    workload = steered(str(point["trace"]), n, balance.n_buckets, speed,
                       None if max_gap_s is None else float(max_gap_s), **({"nic": nic.name} if "nic" in point else {}))
    # reordering is counted where offloading can cause it (advanced mode)
    run = simulate(engine, workload, x=x, host=HostModel(clock_ghz=float(point.get("clock_ghz", 2.4))),
                   groups=point.get("groups"), forward=forward, track_flows=engine.advanced,
                   balance=balance, track_order=engine.advanced, nic=nic)
    common = {"engine": engine.name, "engine_label": engine.label, "M": engine.M, "R": engine.R,
              "T": engine.T, "x": x, "P": len(workload.ts_ns), "size": None, "queues": n,
              "nic_buffer": True, "backend": "sim", "seed": int(point.get("seed", 0)),
              "trace": str(point["trace"]), "forward": forward, "offload": engine.offload,
              "trace_duration_s": float(workload.ts_ns[-1] - workload.ts_ns[0]) / 1e9 if len(workload.ts_ns) else 0.0,
              **nic_columns(point, nic)}
    if "nic" in point:
        common.update(speed=speed, n_buckets=balance.n_buckets)
    rows = []
    for q in run.queues + [run.total]:
        row = dict(common)
        row["queue"] = q.get("queue", "all")
        for key in ("sent", "delivered", "capture_drops", "delivery_drops", "filtered", "drop_rate",
                    "drops_fifo", "drops_nodesc", "offloaded_out", "offloaded_in", "flows_split",
                    "processed", "max_buffered", "chunks_copied", "received", "flows_migrated",
                    "packets_reordered", "bucket_moves"):
            row[key] = q[key]
        if forward:
            # paper §4: "drop rate = 1 - received/sent" at the receiver
            row["drop_rate"] = 1 - row["received"] / row["sent"] if row["sent"] else 0.0
        row["sim_time_s"] = run.sim_time_s
        rows.append(row)
    rows[-1]["tx_backlog_max"] = run.tx_backlog_max
    return rows


def sim_scalability(point: dict) -> dict:
    """Figure 14 (paper §4 "WireCAP scalability"): two NICs, each fed by a
    generator at line rate (P frames of `size` bytes, flows spread over its
    `queues` RSS queues), each NIC's traffic forwarded out of the other, x = 0,
    the shared bus modelled (driver/sim/params.py BusModel).

    point: engine, P (frames per generator), size, queues (per NIC),
    clock_ghz (2.4), seed (recorded). One row for the whole system.
    """
    from driver.sim.params import BusModel

    engine = _engine(point)
    n, size, packets = int(point["queues"]), int(point["size"]), int(point["P"])
    run = simulate(engine, Burst.spread(packets, n, size=size, nics=2), x=0, forward=True,
                   host=HostModel(clock_ghz=float(point.get("clock_ghz", 2.4))), bus=BusModel(enabled=True))
    t = run.total
    row = {"engine": engine.name, "engine_label": engine.label, "M": engine.M, "R": engine.R, "T": engine.T,
           "x": 0, "P": packets, "size": size, "queues": n, "nics": 2, "nic_buffer": True, "backend": "sim",
           "seed": int(point.get("seed", 0))}
    for key in ("sent", "delivered", "capture_drops", "delivery_drops", "filtered", "received", "drops_bus",
                "drops_nodesc", "drops_fifo", "offloaded_out", "offloaded_in"):
        row[key] = t[key]
    # paper §4: drop rate from what the generators sent and the receivers got
    row["drop_rate"] = 1 - t["received"] / t["sent"]
    row["bus_load"] = run.bus_load
    row["sim_time_s"] = run.sim_time_s
    return row
