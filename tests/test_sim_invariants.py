"""Invariants of the simulator under random configurations, and determinism."""
from hypothesis import given, settings
from hypothesis import strategies as st

from driver.sim import Burst, simulate
from driver.sim.params import NicModel
from engine.models import EngineConfig

ring_sizes = st.sampled_from([8, 16, 64, 1024])


@st.composite
def engines(draw, ring_size):
    name = draw(st.sampled_from(["wirecap-b", "wirecap-a", "dna", "netmap", "pfring"]))
    if not name.startswith("wirecap"):
        return EngineConfig.make(name)
    m = draw(st.sampled_from([d for d in (1, 2, 4, 8, 16, 64, 256) if ring_size % d == 0]))
    r = draw(st.integers(ring_size // m + 1, ring_size // m + 40))
    t = draw(st.integers(1, 100))
    return EngineConfig.make(name, m, r, t, ring_size=ring_size)


@settings(max_examples=120, deadline=None)
@given(data=st.data(), ring_size=ring_sizes, packets=st.integers(1, 20_000),
       x=st.sampled_from([0, 1, 30, 300]), size=st.sampled_from([64, 100, 512, 1514]),
       buffer_kb=st.sampled_from([0, 4, 64, 512]), n_queues=st.integers(1, 4))
def test_every_queue_balances(data, ring_size, packets, x, size, buffer_kb, n_queues):
    engine = data.draw(engines(ring_size))
    pattern = data.draw(st.lists(st.integers(0, n_queues - 1), min_size=1, max_size=8))
    nic = NicModel(ring_size=ring_size, ring_usable=ring_size - 1, rx_buffer_bytes=buffer_kb * 1024)
    run = simulate(engine, Burst(packets, size=size, n_queues=n_queues, pattern_queue=tuple(pattern),
                                 pattern_flow=tuple(range(len(pattern)))), x=x, nic=nic)
    assert run.total["sent"] == packets
    for q in run.queues + [run.total]:
        assert q["sent"] == q["delivered"] + q["capture_drops"] + q["delivery_drops"]
        assert q["capture_drops"] == q["drops_fifo"] + q["drops_nodesc"]
        assert 0.0 <= q["drop_rate"] <= 1.0
    assert sum(q["processed"] for q in run.queues) == run.total["delivered"]
    assert run.total["offloaded_out"] == run.total["offloaded_in"]
    if not engine.advanced:
        assert run.total["offloaded_out"] == 0


def test_same_inputs_same_numbers():
    from experiments import registry

    mod = registry.get("fig9")
    cfg = registry.config("fig9", quick=True)
    a, b = mod.run(cfg), mod.run(cfg)
    assert a.equals(b)
