"""The two ways a remote run ends early, each naming what to fix."""
from __future__ import annotations


class InventoryError(ValueError):
    """The inventory file is unreadable or describes an impossible testbed."""

    def __init__(self, path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class RemoteError(RuntimeError):
    """A host failed: unreachable, a command exited non-zero, or a requirement
    (root, libxdp, Python) is missing. Always names the host and the reason."""

    def __init__(self, host: str, reason: str, step: str = ""):
        where = f" during {step}" if step else ""
        super().__init__(f"host {host!r}{where}: {reason}")
        self.host = host
        self.reason = reason
        self.step = step
