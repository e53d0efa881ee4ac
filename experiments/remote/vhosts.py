"""A testbed of SSH hosts on this machine: sshd in network namespaces.

    bed = up("wcssh", Path("results/ssh-testbed.toml"))   # hosts gen and cap
    ...  invoke remote-run --inventory results/ssh-testbed.toml --name fig9 --quick
    down("wcssh")

Each host is a network namespace ``<prefix>-<host>`` with its loopback up
and Debian's sshd (openssh-server) listening on 127.0.0.1:22 inside it,
using a host key of its own and a generated client key (nothing in
/etc/ssh or ~/.ssh is read or changed). The generator and the capture host
are joined by a veth pair named test0 at both ends, created inside the
namespaces (it never exists in the host's namespace); with a receiver, a
second pair joins the capture host (fwd0) to it (test0). No address is set:
remote-run does that (198.18.0.0/15 only), as it would on real hosts.

The orchestrator reaches each sshd from inside its namespace (netns.py), so
the host's own interfaces and routes are never touched. Every process
started here is recorded with its pid in the state folder and ``down``
stops exactly those, then deletes the namespaces (and with them the veth
pairs) and the state folder. The test suite does this in a fixture
finalizer; ``invoke ssh-testbed-down`` does it by hand.

Where the state lives, and why
------------------------------
Everything a testbed writes (client and host keys, authorized_keys, sshd
configs, pid files, state.json, known_hosts and the default inventory)
controls root logins and what remote-run executes as root, so it lives in a
folder no one else can claim: ``/run/wirecap-sshbed/<prefix>/``.

* The base ``/run/wirecap-sshbed`` sits in /run, which only root can write
  (so no other user can create it first, unlike a name in /tmp), is a tmpfs
  cleared at boot (as are the namespaces and sshd processes it describes),
  and is created with mode 0700. ``down`` and ``sweep_stale`` find a
  testbed by its prefix there.
* Both the base and ``<prefix>/`` are created atomically (mkdir, mode 0700)
  and before *every* use checked without following links: a symbolic link,
  a folder owned by another uid, or one group/other can access is refused
  with an error saying what is wrong; nothing in it is read, written or
  deleted.
* Files are created with O_CREAT|O_EXCL|O_NOFOLLOW relative to the checked
  folder's descriptor (keys 0600); files that are replaced (state.json, the
  inventory) are written to a fresh, randomly named file and renamed over
  the old one, so a planted ``state.tmp`` link is never followed.
* sshd runs with ``StrictModes yes``: authorized_keys is 0600 in a 0700
  folder, all owned by root. The extra non-root test account (the tests show
  that remote-run refuses it) cannot read that folder, so sshd gets its key
  through ``AuthorizedKeysCommand /usr/bin/cat <file>`` run as root, inside a
  ``Match User`` block that only applies to it.
* The host keys are pinned: ``known_hosts-<host>`` in the state folder names
  each host's key and the inventory points at it, so remote-run verifies the
  testbed's hosts like any other (inventory.py, ``host_key_policy``).

``WIRECAP_SSHBED_ROOT`` (or the module variable ``STATE_ROOT``) moves the
base, e.g. for tests. sshd's StrictModes refuses key files below a folder
others can write (such as /tmp), so ``up`` refuses such a base too.
"""
from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from driver.xdp.procs import pid_alive
from experiments.remote import netns

DEFAULT_STATE_ROOT = Path("/run/wirecap-sshbed")
STATE_ROOT: Path | None = None  # set to move the base (tests); else $WIRECAP_SSHBED_ROOT, else the default
SSHD = "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
CAT = "/usr/bin/cat"
HOSTS = {"generator": ("gen", "198.18.0.1/24"), "capture": ("cap", "198.18.0.2/24"),
         "receiver": ("rx", "198.18.1.2/24")}
SSH_READY_TIMEOUT_S = 15
_NOFOLLOW_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeStateError(RuntimeError):
    """A testbed's state folder (or its base) is not private to the caller."""


@dataclass
class Testbed:
    prefix: str
    workdir: Path
    inventory: Path
    hosts: dict
    key: Path
    known_hosts: dict  # host -> its known_hosts file (the pinned host key)


def _run(args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if check and res.returncode != 0:
        raise RuntimeError(f"`{' '.join(args)}` failed: {res.stderr.strip() or res.stdout.strip()}")
    return res


def _require() -> None:
    if os.geteuid() != 0:
        raise RuntimeError("an SSH testbed needs root (network namespaces): run as root or with sudo")
    for tool, pkg in ((SSHD, "openssh-server"), (shutil.which("ip"), "iproute2")):
        if not tool or not os.path.exists(tool):
            raise RuntimeError(f"{pkg} is not installed: run `make sysdeps`")


# ---- private state ---------------------------------------------------------------

def state_root() -> Path:
    if STATE_ROOT is not None:
        return Path(STATE_ROOT)
    env = os.environ.get("WIRECAP_SSHBED_ROOT")
    return Path(env) if env else DEFAULT_STATE_ROOT


def state_dir(prefix: str) -> Path:
    return state_root() / prefix


def _owner(uid: int) -> str:
    try:
        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return f"uid {uid}"


def _check_stat(st: os.stat_result, path: Path, what: str) -> None:
    fix = "; remove it (after checking who made it) and try again"
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeStateError(f"refusing {what} {path}: it is a symbolic link, not a folder{fix}")
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeStateError(f"refusing {what} {path}: not a folder{fix}")
    if st.st_uid != os.geteuid():
        raise UnsafeStateError(f"refusing {what} {path}: owned by {_owner(st.st_uid)}, not by "
                               f"{_owner(os.geteuid())}: someone else may control the testbed's keys{fix}")
    if st.st_mode & 0o077:
        raise UnsafeStateError(f"refusing {what} {path}: mode {stat.S_IMODE(st.st_mode):04o} lets group/others "
                               f"in (must be 0700){fix}")


def _check_private(path: Path, what: str) -> None:
    """lstat: never follows a link at `path` itself. Raises FileNotFoundError if absent."""
    _check_stat(os.lstat(path), path, what)


def _open_private(path: Path, what: str) -> int:
    """A descriptor of the private folder `path`, checked on the descriptor itself (no race)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        _check_private(path, what)  # a link or a file: say so
        raise
    try:
        _check_stat(os.fstat(fd), path, what)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _make_private(path: Path, what: str) -> bool:
    """mkdir 0700 (atomic); if it exists, it must already be ours and private. True if created."""
    try:
        os.mkdir(path, 0o700)
        created = True
    except FileExistsError:
        created = False
    _check_private(path, what)
    return created


def _base() -> Path:
    base = state_root()
    _make_private(base, "the SSH testbed state base")
    return base


def _check_ancestors(base: Path) -> None:
    """sshd's StrictModes (and our own safety) needs every folder above the keys to
    be writable by root (or us) only."""
    for d in Path(os.path.abspath(base)).parents:
        st = os.stat(d)
        if st.st_uid not in (0, os.geteuid()) or st.st_mode & 0o022:
            raise UnsafeStateError(f"refusing the SSH testbed state base {base}: the folder {d} above it is "
                                   f"writable by others or owned by {_owner(st.st_uid)}; use a base below "
                                   f"root-owned folders (default {DEFAULT_STATE_ROOT})")


def _work_fd(prefix: str) -> int:
    base = state_root()
    _check_private(base, "the SSH testbed state base")
    return _open_private(base / prefix, "the SSH testbed state folder")


def _create(dir_fd: int, name: str, data: bytes, mode: int = 0o600) -> None:
    """A new file in the checked folder: fails if anything (a link too) is already there."""
    fd = os.open(name, _NOFOLLOW_CREATE, mode, dir_fd=dir_fd)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)


def _replace(dir_fd: int, name: str, data: bytes, mode: int = 0o600) -> None:
    """Write atomically: a fresh random name (O_EXCL, no link followed), renamed over `name`."""
    tmp = f".{name}.{secrets.token_hex(8)}.tmp"
    _create(dir_fd, tmp, data, mode)
    try:
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        os.unlink(tmp, dir_fd=dir_fd)
        raise


def _read_state(prefix: str) -> dict | None:
    fd = _work_fd(prefix)
    try:
        try:
            f = os.open("state.json", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        except FileNotFoundError:
            return None
        with os.fdopen(f) as fh:
            return json.load(fh)
    finally:
        os.close(fd)


def _save(bed: dict) -> None:
    fd = _work_fd(bed["prefix"])
    try:
        _replace(fd, "state.json", json.dumps(bed, indent=2).encode())
    finally:
        os.close(fd)


def _keypair(comment: str) -> tuple[bytes, bytes]:
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    priv = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.OpenSSH, ser.NoEncryption())
    pub = key.public_key().public_bytes(ser.Encoding.OpenSSH, ser.PublicFormat.OpenSSH)
    return priv, pub + f" {comment}\n".encode()


def known_hosts_line(address: str, port: int, pub: bytes | str) -> str:
    """One known_hosts line (OpenSSH's format, as paramiko reads it)."""
    name = address if port == 22 else f"[{address}]:{port}"
    kind, blob = (pub.decode() if isinstance(pub, bytes) else pub).split()[:2]
    return f"{name} {kind} {blob}\n"


SSHD_CONFIG = """\
# generated by experiments/remote/vhosts.py for a throwaway test host
Port 22
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {pid_file}
AuthorizedKeysFile {authorized_keys}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes yes
AllowUsers {users}
Subsystem sftp {sftp}
LogLevel ERROR
"""
# the non-root test accounts cannot read the root-only state folder; root
# (sshd's AuthorizedKeysCommandUser) reads their key for them
SSHD_EXTRA_USERS = """\
Match User {users}
    AuthorizedKeysFile none
    AuthorizedKeysCommand {cat} {authorized_keys}
    AuthorizedKeysCommandUser root
"""


def _start_sshd(prefix: str, work: Path, ns: str, short: str, users: list[str]) -> int:
    cfg_name = f"sshd-{short}.conf"
    text = SSHD_CONFIG.format(host_key=work / f"host_{short}_ed25519", pid_file=work / f"sshd-{short}.pid",
                              authorized_keys=work / "authorized_keys", users=" ".join(["root", *users]),
                              sftp=SFTP_SERVER)
    if users:
        text += SSHD_EXTRA_USERS.format(users=",".join(users), cat=CAT, authorized_keys=work / "authorized_keys")
    fd = _work_fd(prefix)
    try:
        _create(fd, cfg_name, text.encode())
        log_fd = os.open(f"sshd-{short}.log", _NOFOLLOW_CREATE, 0o600, dir_fd=fd)
    finally:
        os.close(fd)
    try:
        _run([SSHD, "-t", "-f", str(work / cfg_name)])
        # `ip netns exec` execs sshd: the pid we get is sshd's own
        proc = subprocess.Popen(["ip", "netns", "exec", ns, SSHD, "-D", "-e", "-f", str(work / cfg_name)],
                                stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd, start_new_session=True)
    finally:
        os.close(log_fd)
    return proc.pid


def _wait_ssh(ns: str, pid: int, log: Path) -> None:
    deadline = time.monotonic() + SSH_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            s = netns.connect(ns, "127.0.0.1", 22, 1.0)
            banner = s.recv(64)
            s.close()
            if banner.startswith(b"SSH-"):
                return
        except OSError:
            pass
        if not pid_alive(pid):
            break
        time.sleep(0.1)
    raise RuntimeError(f"sshd in {ns} did not start: {log.read_text()[-800:] if log.exists() else ''}")


def sweep_stale() -> list[str]:
    """Remove testbeds nobody can use any more: every sshd of it is gone, or
    it was ephemeral (a test's) and the process that made it is gone (a test
    run killed before its fixture could clean up). Only private state is
    read: a base or folder failing the checks is left alone."""
    done = []
    base = state_root()
    try:
        _check_private(base, "the SSH testbed state base")
    except (FileNotFoundError, UnsafeStateError):
        return done
    for entry in sorted(os.listdir(base)):
        try:
            bed = _read_state(entry)
        except (OSError, UnsafeStateError, json.JSONDecodeError):
            continue
        if not bed:
            continue
        sshd_alive = any(pid_alive(p) for p in bed.get("sshd", {}).values())
        owner_gone = bed.get("ephemeral") and not pid_alive(bed.get("owner", 0))
        if (bed.get("sshd") and not sshd_alive) or owner_gone:
            done += down(bed["prefix"])
    return done


def up(prefix: str = "wcssh", inventory: Path | None = None, roles=("generator", "capture"),
       python: str = sys.executable, users: tuple[str, ...] = (), install: str = "inplace",
       ephemeral: bool = False) -> Testbed:
    """Create the namespaces, links and sshd servers; write the inventory.

    users: extra local accounts to create for this testbed (removed by down);
    the tests use one to show that a non-root login is refused. ephemeral:
    the testbed belongs to this process (a test run); a later up() removes
    it if this process died without calling down()."""
    _require()
    if len(prefix) > 10 or not prefix.replace("-", "").isalnum():
        raise RuntimeError(f"prefix {prefix!r}: up to 10 letters, digits or dashes (namespace names derive from it)")
    base = _base()  # refuses a base someone else made or can write
    work = base / prefix
    if not _make_private(work, "the SSH testbed state folder"):
        if _read_state(prefix) is not None:
            raise RuntimeError(f"a testbed {prefix!r} is already up ({work}); stop it with "
                               f"`invoke ssh-testbed-down --prefix {prefix}`")
        # our own leftover (an up() killed before it saved anything): start afresh
        shutil.rmtree(work)
        _make_private(work, "the SSH testbed state folder")
    try:
        _check_ancestors(base)
    except UnsafeStateError:
        shutil.rmtree(work)  # the empty folder made just now
        raise
    sweep_stale()
    bed = {"prefix": prefix, "workdir": str(work), "namespaces": [], "sshd": {}, "users": [], "hosts": {},
           "owner": os.getpid(), "ephemeral": bool(ephemeral)}
    try:
        _save(bed)
        fd = _work_fd(prefix)
        try:
            priv, pub = _keypair(f"wirecap-{prefix}")
            _create(fd, "id_ed25519", priv)
            _create(fd, "id_ed25519.pub", pub)
            _create(fd, "authorized_keys", pub)  # StrictModes: 0600, root's, in a 0700 root folder
            host_pubs = {}
            for role in roles:
                short = HOSTS[role][0]
                hpriv, host_pubs[short] = _keypair(f"wirecap-{prefix}-{short}")
                _create(fd, f"host_{short}_ed25519", hpriv)
                _create(fd, f"host_{short}_ed25519.pub", host_pubs[short])
                # the pin remote-run verifies this host's key against
                _create(fd, f"known_hosts-{short}", known_hosts_line("127.0.0.1", 22, host_pubs[short]).encode())
        finally:
            os.close(fd)
        for user in users:
            _run(["useradd", "--system", "--no-create-home", "--shell", "/bin/sh", "-p", "*", user])
            bed["users"].append(user)
            _save(bed)
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation folder (Debian creates it at boot)
        for role in roles:
            short, addr = HOSTS[role]
            ns = f"{prefix}-{short}"
            _run(["ip", "netns", "add", ns])
            bed["namespaces"].append(ns)
            _save(bed)
            _run(["ip", "-n", ns, "link", "set", "lo", "up"])
            # no IPv6 in a test host: its kernel would put frames of its own
            # (DAD, router solicitations) on the test link
            _run(["ip", "netns", "exec", ns, "sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && "
                  "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6"])
            bed["hosts"][short] = {"role": role, "netns": ns, "interface": "test0", "test_address": addr,
                                   "project_dir": str(work / "hosts" / short / "wirecap"),
                                   "known_hosts": str(work / f"known_hosts-{short}")}
        gen, cap = f"{prefix}-gen", f"{prefix}-cap"
        # created inside the namespaces: the host's own namespace never sees them
        _run(["ip", "-n", gen, "link", "add", "test0", "type", "veth", "peer", "name", "test0", "netns", cap])
        if "receiver" in roles:
            _run(["ip", "-n", cap, "link", "add", "fwd0", "type", "veth", "peer", "name", "test0",
                  "netns", f"{prefix}-rx"])
        for short, h in bed["hosts"].items():
            pid = _start_sshd(prefix, work, h["netns"], short, list(users))
            bed["sshd"][short] = pid
            _save(bed)
        for short, h in bed["hosts"].items():
            _wait_ssh(h["netns"], bed["sshd"][short], work / f"sshd-{short}.log")
        inv = Path(inventory) if inventory else work / "inventory.toml"
        write_inventory(inv, bed, work / "id_ed25519", python, install)
        bed["inventory"] = str(inv)
        _save(bed)
    except BaseException:
        down(prefix)
        raise
    return Testbed(prefix, work, inv, bed["hosts"], work / "id_ed25519",
                   {short: Path(h["known_hosts"]) for short, h in bed["hosts"].items()})


def inventory_text(bed: dict, key: Path, python: str, install: str) -> str:
    lines = ["# generated by `invoke ssh-testbed-up` (experiments/remote/vhosts.py)",
             "# hosts are sshd servers in network namespaces on this machine;",
             "# each host's key is pinned in its known_hosts file", "[defaults]",
             'user = "root"', f'identity = "{key}"', f'python = "{python}"', f'install = "{install}"',
             "connect_timeout = 10", ""]
    for short, h in bed["hosts"].items():
        lines += [f"[hosts.{short}]", f'role = "{h["role"]}"', 'address = "127.0.0.1"', f'netns = "{h["netns"]}"',
                  f'known_hosts = "{h["known_hosts"]}"',
                  f'project_dir = "{h["project_dir"]}"', f'interface = "{h["interface"]}"',
                  f'test_address = "{h["test_address"]}"', ""]
    return "\n".join(lines)


def write_inventory(path: Path, bed: dict, key: Path, python: str, install: str) -> None:
    """Atomically: a fresh file (O_EXCL, mode 0644) renamed over `path` (a link there is
    replaced, never followed). Its `python` runs as root on every host."""
    data = inventory_text(bed, key, python, install).encode()
    path = Path(path)
    work = state_dir(bed["prefix"])
    if path.parent == work:
        fd = _work_fd(bed["prefix"])
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _replace(fd, path.name, data, 0o644)
    finally:
        os.close(fd)


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and pid_alive(pid):
        try:
            os.waitpid(pid, os.WNOHANG)  # our own child when up() ran in this process
        except ChildProcessError:
            pass
        time.sleep(0.05)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


def down(prefix: str = "wcssh") -> list[str]:
    """Stop what up() started, delete its namespaces, users and state. Idempotent.
    Raises UnsafeStateError (touching nothing) if the state is not private to us."""
    work = state_dir(prefix)
    try:
        bed = _read_state(prefix)
    except FileNotFoundError:
        bed = None
    if bed is None:
        return [f"no testbed {prefix!r} is up"]
    done = []
    for short, pid in bed.get("sshd", {}).items():
        _stop(pid)
        done.append(f"stopped sshd of {short} (pid {pid})")
    for ns in bed.get("namespaces", []):
        # anything still running inside (a job a failed teardown left) lives
        # only in our namespace: stop it before the namespace goes
        pids = _run(["ip", "netns", "pids", ns], check=False).stdout.split()
        for p in pids:
            _stop(int(p))
            done.append(f"stopped pid {p} left in {ns}")
        _run(["ip", "netns", "del", ns], check=False)
        done.append(f"deleted namespace {ns}")
    for user in bed.get("users", []):
        _run(["userdel", user], check=False)
        done.append(f"removed user {user}")
    inv = bed.get("inventory")
    if inv and os.path.lexists(inv) and not Path(inv).is_relative_to(work):
        Path(inv).unlink()
    _check_private(work, "the SSH testbed state folder")  # still ours: then remove it
    shutil.rmtree(work)
    done.append(f"removed {work}")
    return done
