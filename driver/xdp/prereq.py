"""Can this host run the real backend? One check per prerequisite, each
failing with a message that names the fix; ``unavailable()`` gives the first
reason (tests skip with it) or None."""
from __future__ import annotations

import errno
import functools
import os
import socket

from driver.xdp.errors import PrerequisiteError

AF_XDP = getattr(socket, "AF_XDP", 44)  # include/linux/socket.h
XDP_PASS = 2                            # include/uapi/linux/bpf.h: enum xdp_action


def require_root() -> None:
    if os.geteuid() != 0:
        raise PrerequisiteError(
            "the xdp backend needs root (CAP_NET_ADMIN for namespaces and veth, CAP_BPF and "
            "CAP_SYS_ADMIN for XDP programs and AF_XDP): run it as root or with sudo")


def require_af_xdp() -> None:
    try:
        s = socket.socket(AF_XDP, socket.SOCK_RAW, 0)
    except OSError as exc:
        if exc.errno in (errno.EAFNOSUPPORT, errno.EINVAL):
            raise PrerequisiteError(
                "this kernel has no AF_XDP sockets: it needs CONFIG_XDP_SOCKETS=y "
                "(Linux >= 5.10 recommended; veth native XDP with AF_XDP works on 5.x and 6.x)") from exc
        if exc.errno in (errno.EPERM, errno.EACCES):
            raise PrerequisiteError("opening an AF_XDP socket was refused: run as root") from exc
        raise
    s.close()


def require_native():
    from driver.xdp._native import native

    return native()


def require_bpf() -> None:
    """Load (and drop) a two-instruction XDP program: bpf(2) works."""
    _, lib = require_native()
    fd = lib.wc_bpf__action_prog(XDP_PASS)
    if fd < 0:
        if -fd in (errno.EPERM, errno.EACCES):
            raise PrerequisiteError("loading an XDP program was refused (bpf(2) EPERM): run as root, "
                                    "and check kernel.unprivileged_bpf_disabled / lockdown")
        if -fd == errno.ENOSYS:
            raise PrerequisiteError("this kernel has no bpf(2) syscall (CONFIG_BPF_SYSCALL=y needed)")
        raise PrerequisiteError(f"loading an XDP program failed: {os.strerror(-fd)}")
    os.close(fd)


def require_netns() -> None:
    if not os.path.exists("/proc/self/ns/net"):
        raise PrerequisiteError("this kernel has no network namespaces (CONFIG_NET_NS=y needed)")
    try:
        import pyroute2  # noqa: F401
    except ImportError as exc:
        raise PrerequisiteError("pyroute2 is missing: pip install 'pyroute2>=0.7.9' "
                                "(the project's dependencies: pip install -e .)") from exc


def require_all() -> None:
    require_root()
    require_netns()
    require_native()
    require_af_xdp()
    require_bpf()


@functools.lru_cache(maxsize=1)
def unavailable() -> str | None:
    """Why the real backend cannot run here, or None if it can."""
    try:
        require_all()
    except PrerequisiteError as exc:
        return str(exc)
    return None
