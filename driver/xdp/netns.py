"""Network namespaces: create, remove, and enter one on the calling thread.

setns(2) with CLONE_NEWNET changes the calling thread only, and a socket
stays in the namespace it was created in; so the pattern everywhere is
``with entered(name): create the socket / resolve the ifindex``.
"""
from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from pathlib import Path

from driver.xdp._native import native
from driver.xdp.errors import check

NETNS_DIR = Path("/run/netns")  # iproute2's and pyroute2's location for named namespaces


def path(name: str) -> Path:
    return NETNS_DIR / name


def exists(name: str) -> bool:
    return path(name).exists()


def create(name: str) -> None:
    from pyroute2 import netns as pr_netns

    pr_netns.create(name)


def remove(name: str) -> None:
    """Remove a named namespace (its interfaces go with it); missing is fine."""
    from pyroute2 import netns as pr_netns

    if exists(name):
        try:
            pr_netns.remove(name)
        except FileNotFoundError:
            pass


def names(prefix: str = "") -> list[str]:
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))


@contextmanager
def entered(name: str | None):
    """Run the block in namespace ``name`` (None: stay where we are)."""
    if name is None:
        yield
        return
    ffi, lib = native()
    saved = ffi.new("int *")
    check(lib.wc_sys__netns_enter(str(path(name)).encode(), saved), f"entering network namespace {name}",
          {errno.ENOENT: f"no namespace {name} (is the testbed up?)"})
    try:
        yield
    finally:
        check(lib.wc_sys__netns_leave(saved[0]), f"leaving network namespace {name}")


@contextmanager
def iproute(name: str | None):
    """A pyroute2 IPRoute whose netlink socket lives in namespace ``name``:
    made on this thread after setns(2), so no helper process is forked."""
    from pyroute2 import IPRoute

    with entered(name):
        ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def sysctl(name: str | None, key: str, value) -> None:
    """Write net.* sysctl ``key`` inside namespace ``name``."""
    with entered(name):
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(str(value))


def ifindex(ns: str | None, ifname: str) -> int:
    _, lib = native()
    with entered(ns):
        return check(lib.wc_sys__ifindex(ifname.encode()), f"interface {ifname} in {ns or 'this namespace'}",
                     {errno.ENODEV: "no such interface"})


def fd_of(name: str) -> int:
    """An fd of the namespace (for a child process to setns into)."""
    return os.open(path(name), os.O_RDONLY | os.O_CLOEXEC)
