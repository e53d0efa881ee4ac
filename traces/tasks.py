"""invoke tasks for traces: make, rewrite and inspect them.

    invoke make-trace --kind fermilab-like --seed 7 --out fermilab.pcap   # + fermilab.npz
    invoke make-trace --kind burst --packets 100000 --size 64 --out burst.pcap
    invoke rewrite-trace --trace ../shared/traces/gnutella.pcap --out gnutella-bench.pcap --speed 2
    invoke trace-info --trace fermilab-like --queues 6
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from invoke import Exit, task

KINDS = ("fermilab-like", "burst")
HEADER_SNAPLEN = 128  # enough for Ethernet + IPv6 + TCP with options; payload is zeros anyway


def _out_path(out: str, default: str) -> Path:
    """The output file, checked before any work: .pcap/.pcapng, in a folder
    that exists and takes a new file (a missing folder is refused, never
    created). Exit status 2 and one line otherwise."""
    from experiments.params import check_output_path

    try:
        return check_output_path("--out", out or default, (".pcap", ".pcapng"))
    except ValueError as exc:
        raise Exit(str(exc), code=2) from None


def _write(trace, path: Path, snaplen: int) -> None:
    from traces import pcapio

    try:
        if path.suffix == ".pcapng":
            pcapio.write_pcapng(trace, path, snaplen=snaplen)
        else:
            pcapio.write_pcap(trace, path, snaplen=snaplen)
    except ValueError as exc:
        raise Exit(f"--out {path}: {exc}") from exc
    except OSError as exc:
        raise Exit(f"--out {path}: cannot write it ({exc.strerror or exc})") from None


@task(auto_shortflags=False, help={
    "kind": "fermilab-like (the Figure 3 / Table 1 workload) or burst (Figures 8-10)",
    "seed": "fermilab-like: generator seed (default: the documented default seed)",
    "out": "output .pcap or .pcapng; the columnar form goes next to it as .npz",
    "snaplen": f"bytes kept per frame (default {HEADER_SNAPLEN}: headers; wire lengths are kept)",
    "packets": "burst: P, the number of frames",
    "size": "burst: frame size in bytes with FCS (64 .. 9018)",
    "queues": "burst: RSS queues the flows are steered for",
    "flows": "burst: number of flows",
    "pin_queue": "burst: queue every flow hashes to; -1 spreads flows round-robin over the queues",
    "no_npz": "do not write the columnar .npz",
})
def make_trace(c, kind="fermilab-like", seed=-1, out="", snaplen=HEADER_SNAPLEN, packets=100_000, size=64,
               queues=1, flows=1, pin_queue=0, no_npz=False):
    """Generate a trace and save it as pcap/pcapng and as columnar .npz."""
    from traces import cache, fermilab, linerate, load

    if kind not in KINDS:
        raise Exit(f"--kind {kind!r}: expected one of {', '.join(KINDS)}", code=2)
    if kind == "fermilab-like":
        seed = fermilab.DEFAULT_SEED if seed < 0 else seed
        path = _out_path(out, f"fermilab-like-{seed}.pcap")   # before the work: a bad path costs nothing
        trace = load.fermilab_like(seed)
    else:
        path = _out_path(out, f"burst-{packets}-{size}.pcap")
        try:
            trace = linerate.burst(packets, size=size, n_queues=queues, flows=flows,
                                   pin_queue=None if pin_queue < 0 else pin_queue)
        except ValueError as exc:
            raise Exit(f"make-trace --kind burst: {exc}", code=2) from exc
    _write(trace, path, snaplen)
    print(f"{path}: {len(trace)} packets, {trace.duration_s:.3f} s")
    if not no_npz:
        npz = cache.write_npz(trace, path.with_suffix(".npz"))
        print(f"{npz}: columnar form")


@task(auto_shortflags=False, help={
    "trace": "input: a .pcap/.pcapng path or a real trace name (gnutella, 1kxun, synscan)",
    "out": "output .pcap or .pcapng",
    "speed": "replay speed factor: 2 plays twice as fast (gaps halve)",
})
def rewrite_trace(c, trace, out, speed=1.0):
    """Rewrite every address into 198.18.0.0/15 (IPv6: 2001:2::/48) so a real capture may be replayed."""
    from traces import load, rewrite

    path = _out_path(out, "")
    try:
        tr = load.load_trace(trace, raw=True)
        tr = rewrite.rewrite_addresses(tr)
        if speed != 1.0:
            tr = tr.scaled(speed)
    except (OSError, ValueError) as exc:
        raise Exit(f"--trace {trace}: {exc}") from exc
    _write(tr, path, 262144)
    print(f"{path}: {len(tr)} packets, {tr.meta['rewritten']['ipv4']} IPv4 and "
          f"{tr.meta['rewritten']['ipv6']} IPv6 addresses rewritten, speed x{speed}")


@task(help={"trace": "fermilab-like[:SEED], a real trace name or a capture path", "queues": "RSS queues"})
def trace_info(c, trace="fermilab-like", queues=6):
    """Packets, duration, flows, and packets per RSS queue of a trace."""
    from traces import load

    try:
        tr = load.load_trace(trace)
        q = tr.rss_queues(queues)
    except (OSError, ValueError) as exc:
        raise Exit(f"--trace {trace}: {exc}") from exc
    s = tr.summary()
    print(f"{s['name']}: {s['packets']} packets, {s['duration_s']:.3f} s, {s['flows']} flows, "
          f"{s['bytes']} bytes, {s['mean_pps']:.0f} p/s")
    for i, n in enumerate(np.bincount(q, minlength=queues)):
        print(f"  queue {i}: {n} packets ({100.0 * n / max(1, len(tr)):.1f}%)")


TASKS = (make_trace, rewrite_trace, trace_info)
