"""The two sides of one measured point across hosts: capture and generate.

A remote run measures each point the same way, whatever the backend:

    capture host:    capture(point, ...)   started in the background, says "ready"
    generator host:  generate(point, ...)  sends a bounded burst, returns counts
    capture host:    stopped, returns what it received
    orchestrator:    row(point, capture, generate) -> one row of the table

Two implementations:

``probe`` (here)   kernel UDP sockets across the test link: the generator
                   sends P numbered datagrams at a set rate, the capture host
                   counts the distinct ones it receives. It checks the link
                   and the choreography on every remote run, whatever the
                   backend, with the counters of both hosts.
``xdp``            the real engine on AF_XDP: experiments.live.remote,
                   provided by the xdp backend, with the same four functions
                   (points(name, cfg), capture, generate, row) and
                   drain_timeout(point): a capture side with a pool works
                   off the burst after the generator is done.
"""
from __future__ import annotations

import importlib
import signal
import socket
import struct
import threading
import time
from types import ModuleType

MAGIC = 0x57_43_50_52_4F_42_45_31  # "WCPROBE1": datagrams of this run, not strays
HEADER = struct.Struct("!QQ")      # magic, sequence number
ETH_IP_UDP = 14 + 20 + 8           # frame bytes before the UDP payload
PROBE_PORT = 47_011
MAX_DURATION_S = 120               # hard bound on either side, whatever the point says
RCVBUF = 8 << 20


class UdpProbe:
    name = "probe"

    @staticmethod
    def points(packets: int, rate: float, size: int = 64, duration_s: float = 30.0) -> list[dict]:
        return [{"packets": int(packets), "rate": float(rate), "size": int(size), "port": PROBE_PORT,
                 "duration_s": float(min(duration_s, MAX_DURATION_S))}]

    @staticmethod
    def capture(point: dict, interface: str, bind: str, ready) -> dict:
        """Count distinct probe datagrams until all arrived, SIGTERM, or the deadline."""
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        want = int(point["packets"])
        seen = bytearray(want)
        received = strays = dups = 0
        first = last = None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            s.bind((bind, int(point["port"])))
            s.settimeout(0.1)
            ready()
            deadline = time.monotonic() + min(float(point["duration_s"]), MAX_DURATION_S) + 5
            reason = "deadline"
            while time.monotonic() < deadline:
                if stop.is_set():
                    reason = "stopped"
                    break
                try:
                    data = s.recv(65535)
                except socket.timeout:
                    continue
                except InterruptedError:
                    continue
                now = time.monotonic()
                if len(data) < HEADER.size or HEADER.unpack_from(data)[0] != MAGIC:
                    strays += 1
                    continue
                seq = HEADER.unpack_from(data)[1]
                if seq >= want or seen[seq]:
                    dups += 1
                    continue
                seen[seq] = 1
                received += 1
                first = first or now
                last = now
                if received == want:
                    reason = "complete"
                    break
        return {"received": received, "duplicates": dups, "strays": strays, "end": reason,
                "receive_s": (last - first) if first and last else 0.0}

    @staticmethod
    def generate(point: dict, interface: str, bind: str, dest: str) -> dict:
        """Send `packets` numbered datagrams at `rate` per second (bounded in time)."""
        n, rate = int(point["packets"]), float(point["rate"])
        payload = max(HEADER.size, int(point["size"]) - ETH_IP_UDP)
        buf = bytearray(payload)
        sent = retries = 0
        limit = min(float(point["duration_s"]), MAX_DURATION_S)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((bind, 0))
            s.connect((dest, int(point["port"])))
            t0 = time.monotonic()
            while sent < n:
                now = time.monotonic()
                if now - t0 > limit:
                    break
                ahead = t0 + sent / rate - now
                if ahead > 0.0005:
                    time.sleep(ahead)
                HEADER.pack_into(buf, 0, MAGIC, sent)
                try:
                    s.send(buf)
                except (BlockingIOError, OSError) as exc:  # ENOBUFS: the qdisc is full; wait a little
                    if getattr(exc, "errno", None) not in (105, 11):
                        raise
                    retries += 1
                    time.sleep(0.0005)
                    continue
                sent += 1
            elapsed = time.monotonic() - t0
        return {"sent": sent, "elapsed_s": elapsed, "rate_pps": sent / elapsed if elapsed > 0 else 0.0,
                "retries": retries}

    @staticmethod
    def row(point: dict, capture: dict, generate: dict) -> dict:
        sent, got = int(generate["sent"]), int(capture["received"])
        return {"packets": point["packets"], "rate": point["rate"], "size": point["size"], "sent": sent,
                "received": got, "lost": sent - got, "loss_rate": (sent - got) / sent if sent else 0.0,
                "achieved_pps": generate["rate_pps"], "end": capture["end"]}


def drain_timeout(name: str, point: dict) -> float:
    """How long the orchestrator lets the capture side finish by itself once
    the generator is done (then it stops it)."""
    impl = implementation(name)
    return float(impl.drain_timeout(point)) if hasattr(impl, "drain_timeout") else 2.0


def implementation(name: str):
    """The object or module providing points/capture/generate/row for `name`."""
    if name == "probe":
        return UdpProbe
    if name == "xdp":
        return xdp_roles()
    raise ValueError(f"unknown measurement {name!r}: probe or xdp")


XDP_ROLES = "experiments.live.remote"


def xdp_roles() -> ModuleType:
    """The xdp backend's remote roles (experiments/live/remote.py); a copy
    of the project without them gets a message, not a traceback."""
    try:
        mod = importlib.import_module(XDP_ROLES)
    except ImportError as exc:
        raise RuntimeError(f"the xdp backend's remote roles ({XDP_ROLES}) are not in this checkout ({exc}); "
                           f"remote runs of --backend xdp need them") from None
    missing = [f for f in ("points", "capture", "generate", "row") if not hasattr(mod, f)]
    if missing:
        raise RuntimeError(f"{XDP_ROLES} lacks {', '.join(missing)} (see experiments/remote/roles.py)")
    return mod
