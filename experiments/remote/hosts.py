"""One SSH session per inventory host (Fabric), with errors that name the host.

Every failure below becomes a :class:`RemoteError` carrying the host's
inventory name and a reason a person can act on: "unreachable (connection
refused)", "authentication failed", "`python3 -m ...` exited 1: <stderr>",
"timed out after 600 s".
"""
from __future__ import annotations

import json
import shlex
import socket

import paramiko
from fabric import Connection
from invoke.exceptions import CommandTimedOut

from experiments.remote import netns
from experiments.remote.errors import RemoteError
from experiments.remote.inventory import Host

STDERR_TAIL = 1500  # characters of a failing command's stderr kept in the message


class HostSession:
    def __init__(self, host: Host, step_timeout: float = 600):
        self.host = host
        self.step_timeout = step_timeout
        self.conn: Connection | None = None
        self.facts: dict = {}

    @property
    def name(self) -> str:
        return self.host.name

    def connect(self) -> None:
        h = self.host
        kwargs = {"look_for_keys": h.identity is None, "allow_agent": h.identity is None,
                  "banner_timeout": h.connect_timeout,
                  "auth_timeout": h.connect_timeout}
        if h.identity:
            kwargs["key_filename"] = [h.identity]
        try:
            if h.netns:
                kwargs["sock"] = netns.connect(h.netns, h.address, h.port, h.connect_timeout)
            conn = Connection(h.address, user=h.user, port=h.port, connect_timeout=h.connect_timeout,
                              connect_kwargs=kwargs)
            if h.known_hosts:
                conn.client.load_host_keys(h.known_hosts)
                conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
            conn.open()
        except paramiko.AuthenticationException as exc:
            raise RemoteError(self.name, f"authentication failed for {h.user}@{h.address}:{h.port} ({exc}); "
                                         f"check user and identity in the inventory", "connect") from None
        except paramiko.BadHostKeyException as exc:
            raise RemoteError(self.name, f"host key mismatch ({exc})", "connect") from None
        except paramiko.SSHException as exc:
            raise RemoteError(self.name, f"SSH failed with {h.address}:{h.port}: {exc}", "connect") from None
        except (OSError, socket.timeout, TimeoutError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise RemoteError(self.name, f"unreachable at {h.address}:{h.port}"
                                         f"{' in namespace ' + h.netns if h.netns else ''} ({reason})",
                              "connect") from None
        self.conn = conn

    def _command(self, cmd: str, cwd: str | None) -> str:
        env = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in sorted(self.host.env.items()))
        cmd = f"env {env} {cmd}" if env else cmd
        return f"cd {shlex.quote(cwd)} && {cmd}" if cwd else cmd

    def run(self, cmd: str, step: str, cwd: str | None = None, timeout: float | None = None,
            check: bool = True, show: str | None = None):
        """Run a shell command; a non-zero exit raises RemoteError (check=True).
        show: how to name the command in errors (default: the command)."""
        show = show or cmd
        if self.conn is None:
            raise RemoteError(self.name, "not connected", step)
        full = self._command(cmd, cwd)
        try:
            res = self.conn.run(full, hide=True, warn=True, timeout=timeout or self.step_timeout, in_stream=False)
        except CommandTimedOut:
            raise RemoteError(self.name, f"`{show}` did not finish within {timeout or self.step_timeout:g} s",
                              step) from None
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise RemoteError(self.name, f"connection lost running `{show}` ({exc})", step) from None
        if check and res.exited != 0:
            err = (res.stderr.strip() or res.stdout.strip())[-STDERR_TAIL:]
            raise RemoteError(self.name, f"`{show}` exited {res.exited}: {err or '(no output)'}", step)
        return res

    def run_json(self, cmd: str, step: str, cwd: str | None = None, timeout: float | None = None,
                 show: str | None = None):
        """Run a command whose last stdout line is JSON (the agent's convention)."""
        show = show or cmd
        res = self.run(cmd, step, cwd=cwd, timeout=timeout, show=show)
        lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
        try:
            return json.loads(lines[-1])
        except (IndexError, json.JSONDecodeError):
            raise RemoteError(self.name, f"`{show}` printed no JSON result: {res.stdout[-STDERR_TAIL:]!r}",
                              step) from None

    def put(self, local: str, remote: str, step: str) -> None:
        try:
            self.conn.put(local, remote)
        except (OSError, paramiko.SSHException) as exc:
            raise RemoteError(self.name, f"could not upload to {remote} ({exc})", step) from None

    def get(self, remote: str, local: str, step: str) -> None:
        try:
            self.conn.get(remote, local)
        except (OSError, paramiko.SSHException) as exc:
            raise RemoteError(self.name, f"could not download {remote} ({exc})", step) from None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
