"""Everything about traffic: capture files, RSS steering, line-rate bursts and the Fermilab-like trace.

    from traces import load_trace, Trace, DEFAULT_RSS_KEY
    tr = load_trace("fermilab-like")      # 5,000,000 packets, ~32 s (cached after the first call)
    q = tr.rss_queues(6)                  # 82599 RSS: queue per packet
    tr.flow_ids()                         # dense flow index per packet

See traces/README.md for the formats, the RSS model and the traffic model.
"""
from traces.errors import CaptureFormatError, TruncatedCaptureWarning
from traces.fifo import fifo_drops, fifo_loss, queue_losses
from traces.linerate import burst, linerate_pps
from traces.load import REAL_TRACES, load_trace, real_trace_path
from traces.pcapio import read_capture, write_pcap, write_pcapng
from traces.rewrite import address_map, in_benchmark_range, rewrite_addresses
from traces.rss import DEFAULT_RSS_KEY, SYMMETRIC_RSS_KEY, toeplitz, toeplitz_bytes
from traces.trace import KEY_DTYPE, Trace

__all__ = [
    "CaptureFormatError", "TruncatedCaptureWarning", "fifo_drops", "fifo_loss", "queue_losses", "burst",
    "linerate_pps", "REAL_TRACES", "load_trace", "real_trace_path", "read_capture", "write_pcap",
    "write_pcapng", "address_map", "in_benchmark_range", "rewrite_addresses", "DEFAULT_RSS_KEY",
    "SYMMETRIC_RSS_KEY", "toeplitz", "toeplitz_bytes", "KEY_DTYPE", "Trace",
]
