"""Trace ingestion speed: a generated 5-million-packet pcap into columns (DESIGN.md §7),
and the cached Fermilab-like trace loaded and steered into RSS queues (issue 15).

Run with `pytest tests/test_benchmark_traces.py --benchmark-only` (skipped in normal
runs; `invoke bench` measures the load-and-steer row itself). Targets: ingestion
under 10 s; a cache hit loaded and steered under 0.3 s. The file is the
Fermilab-like trace written as `invoke make-trace` writes it (headers,
snaplen 128: ~620 MB).
"""
import pytest

from experiments import workloads
from traces import load_trace, read_capture, write_pcap

PACKETS = 5_000_000
TARGET_S = 10.0
STEER_TARGET_S = 0.3
SNAPLEN = 128


@pytest.fixture(scope="module")
def big_pcap(tmp_path_factory):
    tr = load_trace("fermilab-like")
    assert len(tr) == PACKETS
    path = write_pcap(tr, tmp_path_factory.mktemp("bench") / "fermilab-like.pcap", snaplen=SNAPLEN)
    yield path
    path.unlink()


@pytest.mark.parametrize("raw", [False, True], ids=["columns", "columns+bytes"])
def test_ingest_5m_packet_pcap(benchmark, big_pcap, raw):
    tr = benchmark.pedantic(read_capture, args=(big_pcap,), kwargs={"raw": raw}, rounds=3, iterations=1)
    assert len(tr) == PACKETS
    best = benchmark.stats.stats.min
    benchmark.extra_info["packets"] = PACKETS
    benchmark.extra_info["file_bytes"] = big_pcap.stat().st_size
    benchmark.extra_info["packets_per_s"] = PACKETS / best
    assert best < TARGET_S


def test_flow_ids_and_rss_of_5m_packets(benchmark):
    tr = load_trace("fermilab-like")

    def steer():
        return tr.flow_ids(), tr.rss_queues(6)

    flows, queues = benchmark.pedantic(steer, rounds=3, iterations=1)
    assert len(flows) == len(queues) == PACKETS
    benchmark.extra_info["packets_per_s"] = PACKETS / benchmark.stats.stats.min


@pytest.mark.parametrize("n_queues", [1, 6])
def test_cached_load_and_steer(benchmark, n_queues):
    """workloads.steered as a fresh process meets it: the trace's cache entry on
    disk (memory-mapped) but nothing in memory, so every round clears the caches."""
    load_trace("fermilab-like")  # make sure the entry exists

    def cold_steer():
        workloads._trace.cache_clear()
        workloads.steered.cache_clear()
        return workloads.steered("fermilab-like", n_queues)

    steered = benchmark.pedantic(cold_steer, rounds=7, iterations=1, warmup_rounds=1)
    assert len(steered.queue) == PACKETS
    best = benchmark.stats.stats.min
    benchmark.extra_info["packets"] = PACKETS
    benchmark.extra_info["seconds"] = best
    benchmark.extra_info["packets_per_s"] = PACKETS / best
    assert best < STEER_TARGET_S
