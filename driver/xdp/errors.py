"""Errors of the real backend: each names what failed and what to do about it."""
from __future__ import annotations

import os


class XdpError(OSError):
    """A call into the real backend's C code failed; ``errno`` is positive."""


class PrerequisiteError(RuntimeError):
    """The host cannot run the real backend (not root, no AF_XDP, a missing
    library); the message says what to install or change."""


def check(rc: int, what: str, hints: dict[int, str] | None = None) -> int:
    """Return rc, or raise XdpError for a negative errno (with a hint if one fits)."""
    if rc >= 0:
        return rc
    err = -rc
    hint = (hints or {}).get(err)
    reason = os.strerror(err) + (f": {hint}" if hint else "")
    raise XdpError(err, f"{what}: {reason}")


# The kernel unregisters a closed AF_XDP socket's buffer pool from its queue
# in a work item (net/xdp/xsk_buff_pool.c: xp_release_deferred), so binding
# the same queue again right after a close can meet EBUSY for a moment.
BUSY_RETRY_S = 2.0
BUSY_RETRY_STEP_S = 0.01


def retry_busy(call, timeout_s: float = BUSY_RETRY_S) -> int:
    """call() -> rc, repeated while it returns -EBUSY (up to timeout_s)."""
    import errno
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        rc = call()
        if rc != -errno.EBUSY or time.monotonic() >= deadline:
            return rc
        time.sleep(BUSY_RETRY_STEP_S)
