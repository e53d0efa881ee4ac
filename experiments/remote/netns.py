"""Sockets opened inside another network namespace of this machine.

A host of ``invoke ssh-testbed-up`` is an sshd listening inside its own
network namespace. Rather than give the namespaces a route from the host's
own namespace (which would mean touching the host's routing table, against
DESIGN.md §5), the SSH client opens its TCP connection from *inside* the
namespace: a short-lived thread enters it with setns(2) (which changes only
the calling thread), connects, and exits; the connected socket stays in that
namespace and is handed to paramiko.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import socket
import threading

CLONE_NEWNET = 0x40000000  # <linux/sched.h>
NETNS_RUN_DIR = "/var/run/netns"  # where `ip netns add` bind-mounts namespaces


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def connect(netns: str, address: str, port: int, timeout: float) -> socket.socket:
    """A TCP socket connected to address:port from inside network namespace `netns`."""
    path = os.path.join(NETNS_RUN_DIR, netns)
    if not os.path.exists(path):
        raise OSError(f"network namespace {netns!r} does not exist ({path})")
    box: dict = {}

    def enter_and_connect():
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                _setns(fd)
            finally:
                os.close(fd)
            box["sock"] = socket.create_connection((address, port), timeout=timeout)
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    t = threading.Thread(target=enter_and_connect, name=f"netns-{netns}", daemon=True)
    t.start()
    t.join(timeout + 5)
    if "error" in box:
        raise box["error"]
    if "sock" not in box:
        raise TimeoutError(f"connecting to {address}:{port} in namespace {netns} timed out")
    return box["sock"]
