"""One SSH session per inventory host (Fabric), with errors that name the host.

Every failure below becomes a :class:`RemoteError` carrying the host's
inventory name and a reason a person can act on: "unreachable (connection
refused)", "authentication failed", "`python3 -m ...` exited 1: <stderr>",
"timed out after 600 s".
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shlex
import socket

import paramiko
from fabric import Connection
from invoke.exceptions import CommandTimedOut

from experiments.remote import netns
from experiments.remote.errors import RemoteError
from experiments.remote.inventory import Host

STDERR_TAIL = 1500  # characters of a failing command's stderr kept in the message
USER_KNOWN_HOSTS = "~/.ssh/known_hosts"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint, as `ssh-keygen -lf` prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


class UnknownHostKey(paramiko.SSHException):
    def __init__(self, hostname: str, key: paramiko.PKey):
        super().__init__(f"{hostname}: unknown host key {key.get_name()} {fingerprint(key)}")
        self.hostname, self.key = hostname, key


class RejectUnknown(paramiko.RejectPolicy):
    """The default: paramiko's RejectPolicy, raising an error we can word."""

    def missing_host_key(self, client, hostname, key):
        raise UnknownHostKey(hostname, key)


class AcceptNew(paramiko.MissingHostKeyPolicy):
    """host_key_policy = "accept-new": trust an unknown key (never a changed
    one), note its fingerprint, save nothing."""

    def __init__(self):
        self.accepted: str | None = None

    def missing_host_key(self, client, hostname, key):
        self.accepted = f"{hostname} {key.get_name()} {fingerprint(key)}"


class HostSession:
    def __init__(self, host: Host, step_timeout: float = 600):
        self.host = host
        self.step_timeout = step_timeout
        self.conn: Connection | None = None
        self.facts: dict = {}
        self.host_key_note: str | None = None  # set when accept-new trusted an unknown key

    @property
    def name(self) -> str:
        return self.host.name

    def connect(self) -> None:
        self._sock = None
        try:
            self._connect()
        except BaseException:
            if self._sock is not None:  # a refused host key, say: the namespace socket goes too
                self._sock.close()
            raise

    def _connect(self) -> None:
        h = self.host
        kwargs = {"look_for_keys": h.identity is None, "allow_agent": h.identity is None,
                  "banner_timeout": h.connect_timeout,
                  "auth_timeout": h.connect_timeout}
        if h.identity:
            kwargs["key_filename"] = [h.identity]
        try:
            if h.netns:
                kwargs["sock"] = self._sock = netns.connect(h.netns, h.address, h.port, h.connect_timeout)
            conn = Connection(h.address, user=h.user, port=h.port, connect_timeout=h.connect_timeout,
                              connect_kwargs=kwargs)
            sources = self._load_host_keys(conn.client)
            policy = AcceptNew() if h.host_key_policy == "accept-new" else RejectUnknown()
            conn.client.set_missing_host_key_policy(policy)  # replaces Fabric's AutoAddPolicy
            conn.open()
            if isinstance(policy, AcceptNew) and policy.accepted:
                self.host_key_note = (f"accepted the unverified host key {policy.accepted} "
                                      f"(host_key_policy = \"accept-new\")")
        except UnknownHostKey as exc:
            raise RemoteError(self.name, f"unknown host key for {h.address}:{h.port} ({exc.key.get_name()} "
                                         f"{fingerprint(exc.key)}), not in {' or '.join(sources) or 'any known_hosts'}"
                                         f": refused; check the fingerprint on the host (ssh-keygen -lf its key) and "
                                         f"add the key to ~/.ssh/known_hosts or to known_hosts = \"FILE\" in the "
                                         f"inventory (host_key_policy = \"accept-new\" trusts it unverified)",
                              "connect") from None
        except paramiko.BadHostKeyException as exc:
            raise RemoteError(self.name, f"host key mismatch for {h.address}:{h.port}: it presented "
                                         f"{exc.key.get_name()} {fingerprint(exc.key)}, known_hosts expects "
                                         f"{fingerprint(exc.expected_key)}: refused (an impostor, or the host was "
                                         f"reinstalled: then check and update its known_hosts entry)",
                              "connect") from None
        except paramiko.AuthenticationException as exc:
            raise RemoteError(self.name, f"authentication failed for {h.user}@{h.address}:{h.port} ({exc}); "
                                         f"check user and identity in the inventory", "connect") from None
        except paramiko.SSHException as exc:
            raise RemoteError(self.name, f"SSH failed with {h.address}:{h.port}: {exc}", "connect") from None
        except (OSError, socket.timeout, TimeoutError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise RemoteError(self.name, f"unreachable at {h.address}:{h.port}"
                                         f"{' in namespace ' + h.netns if h.netns else ''} ({reason})",
                              "connect") from None
        self.conn = conn

    def _load_host_keys(self, client: paramiko.SSHClient) -> list[str]:
        """The keys this host may present: ~/.ssh/known_hosts (not for a netns
        host: its loopback address is not the one that file knows) and the
        inventory's known_hosts. Read only: nothing is ever written back."""
        h = self.host
        sources = []
        user = os.path.expanduser(USER_KNOWN_HOSTS)
        if not h.netns and os.path.isfile(user):
            client.load_system_host_keys(user)
            sources.append(USER_KNOWN_HOSTS)
        if h.known_hosts:
            if not os.path.isfile(h.known_hosts):
                raise RemoteError(self.name, f"known_hosts file {h.known_hosts} (inventory) does not exist",
                                  "connect")
            try:
                client.get_host_keys().load(h.known_hosts)
            except (OSError, paramiko.SSHException, ValueError) as exc:
                raise RemoteError(self.name, f"known_hosts file {h.known_hosts} unreadable ({exc})",
                                  "connect") from None
            sources.append(h.known_hosts)
        return sources

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
