"""The testbed inventory: hosts and their roles (paper Figure 2).

TOML (or the same structure in YAML)::

    # settings every host inherits unless it sets its own
    [defaults]
    user = "root"
    port = 22
    identity = "~/.ssh/id_ed25519"   # private key for SSH
    project_dir = "/opt/wirecap"     # where the project is installed on the host
    python = "python3"               # interpreter on the host
    install = "make"                 # make | inplace | none (see deploy.py)

    [hosts.gen]
    role = "generator"               # sends the traffic
    address = "gen.lab.example"      # SSH address (management network)
    interface = "enp1s0f0"           # the test link, towards the capture host
    test_address = "198.18.0.1/24"   # put on that interface for the run

    [hosts.cap]
    role = "capture"                 # runs the capture engine and pkt_handler
    address = "cap.lab.example"
    interface = "enp1s0f0"
    test_address = "198.18.0.2/24"

    [hosts.rx]                       # optional: forwarding experiments (Figure 13)
    role = "receiver"
    ...

Per-host keys (all optional except role and address): user, port,
identity, known_hosts, host_key_policy, netns (reach this host's sshd from inside a local network namespace: how
``invoke ssh-testbed-up`` hosts are reached), connect_timeout (s),
project_dir, python, install, interface, test_address, env (a table of
environment variables for every command on the host).

Host keys. Every command of a remote run runs as root, so every host must
prove it is the host the inventory means: its SSH host key must be known
before anything is sent to it. Known keys are read from the user's
``~/.ssh/known_hosts`` (not for ``netns`` hosts: their 127.0.0.1 is not the
127.0.0.1 that file knows) and from ``known_hosts = "FILE"`` (same format,
e.g. made with ``ssh-keyscan HOST >> FILE`` once the fingerprint is checked;
``invoke ssh-testbed-up`` writes one per host and names it in its
inventory). A key that differs from the known one is always refused. A host
whose key is not known at all is refused too, unless::

    host_key_policy = "accept-new"   # default "strict"

which trusts an unknown key unverified (the key and its fingerprint are
logged, nothing is saved). Risk: whoever can answer for that address first
(a spoofed DNS name, a hijacked address, a man in the middle) receives the
project and runs it as root with your key's access; use it only on a
network you control, then pin the key with known_hosts.

Rules checked here, each failure naming the file and the field: exactly one
generator and one capture host, at most one receiver; no unknown keys (a
typo must not silently fall back to a default); test addresses inside
198.18.0.0/15, RFC 2544's benchmarking range (DESIGN.md §5); a project_dir
that is absolute and not a system folder.
"""
from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from experiments.remote.errors import InventoryError

ROLES = ("generator", "capture", "receiver")
INSTALL_MODES = ("make", "inplace", "none")
BENCHMARK_NET = ipaddress.ip_network("198.18.0.0/15")  # RFC 2544 (DESIGN.md §5)
HOST_KEYS = {"role", "address", "user", "port", "identity", "known_hosts", "host_key_policy", "netns",
             "connect_timeout", "project_dir", "python", "install", "interface", "test_address", "env"}
HOST_KEY_POLICIES = ("strict", "accept-new")
DEFAULT_KEYS = HOST_KEYS - {"role", "address", "interface", "test_address"}
# folders a project_dir must never be: deploy.py replaces its contents
FORBIDDEN_DIRS = {"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc", "/root",
                  "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var"}


@dataclass(frozen=True)
class Host:
    name: str
    role: str
    address: str
    user: str = "root"
    port: int = 22
    identity: str | None = None
    known_hosts: str | None = None
    host_key_policy: str = "strict"
    netns: str | None = None
    connect_timeout: float = 10.0
    project_dir: str = "/opt/wirecap/project"
    python: str = "python3"
    install: str = "make"
    interface: str | None = None
    test_address: str | None = None
    env: dict = field(default_factory=dict)

    @property
    def test_ip(self) -> str | None:
        return str(ipaddress.ip_interface(self.test_address).ip) if self.test_address else None


@dataclass(frozen=True)
class Inventory:
    path: str
    hosts: tuple[Host, ...]

    def role(self, role: str) -> Host | None:
        for h in self.hosts:
            if h.role == role:
                return h
        return None

    @property
    def generator(self) -> Host:
        return self.role("generator")

    @property
    def capture(self) -> Host:
        return self.role("capture")

    @property
    def receiver(self) -> Host | None:
        return self.role("receiver")


def _read(path: Path) -> dict:
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml  # PyYAML comes with dask

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InventoryError(path, f"not valid YAML: {exc}") from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InventoryError(path, f"not valid TOML: {exc}") from None
    if not isinstance(data, dict):
        raise InventoryError(path, "expected a table with [hosts.NAME] entries")
    return data


def _check_address(path, name: str, value: str) -> None:
    try:
        iface = ipaddress.ip_interface(value)
    except ValueError:
        raise InventoryError(path, f"hosts.{name}.test_address {value!r}: expected an address with a prefix, "
                                   f"e.g. 198.18.0.2/24") from None
    if iface.ip not in BENCHMARK_NET:
        raise InventoryError(path, f"hosts.{name}.test_address {value}: test traffic must stay inside "
                                   f"{BENCHMARK_NET} (RFC 2544, DESIGN.md §5)")


def _check_project_dir(path, name: str, value: str) -> None:
    p = os.path.normpath(value)
    if not os.path.isabs(p) or p in FORBIDDEN_DIRS or p.count("/") < 2:
        raise InventoryError(path, f"hosts.{name}.project_dir {value!r}: use an absolute folder of its own, "
                                   f"at least two levels deep (e.g. /opt/wirecap/project): remote-run "
                                   f"replaces its contents")


def load(path: str | os.PathLike) -> Inventory:
    path = Path(path)
    if not path.is_file():
        raise InventoryError(path, "no such file")
    data = _read(path)
    unknown_top = set(data) - {"defaults", "hosts"}
    if unknown_top:
        raise InventoryError(path, f"unknown section(s) {sorted(unknown_top)}; expected [defaults] and [hosts.NAME]")
    defaults = data.get("defaults", {}) or {}
    bad = set(defaults) - DEFAULT_KEYS
    if bad:
        raise InventoryError(path, f"defaults: unknown key(s) {sorted(bad)}; allowed: {sorted(DEFAULT_KEYS)}")
    hosts_raw = data.get("hosts") or {}
    if not isinstance(hosts_raw, dict) or not hosts_raw:
        raise InventoryError(path, "no hosts: add [hosts.NAME] tables with role and address")
    hosts = []
    for name, raw in hosts_raw.items():
        if not isinstance(raw, dict):
            raise InventoryError(path, f"hosts.{name}: expected a table")
        bad = set(raw) - HOST_KEYS
        if bad:
            raise InventoryError(path, f"hosts.{name}: unknown key(s) {sorted(bad)}; allowed: {sorted(HOST_KEYS)}")
        merged = {**defaults, **raw}
        for key in ("role", "address"):
            if not merged.get(key):
                raise InventoryError(path, f"hosts.{name}: missing {key}")
        if merged["role"] not in ROLES:
            raise InventoryError(path, f"hosts.{name}.role {merged['role']!r}: one of {', '.join(ROLES)}")
        if merged.get("install", "make") not in INSTALL_MODES:
            raise InventoryError(path, f"hosts.{name}.install {merged['install']!r}: one of {', '.join(INSTALL_MODES)}")
        if merged.get("host_key_policy", "strict") not in HOST_KEY_POLICIES:
            raise InventoryError(path, f"hosts.{name}.host_key_policy {merged['host_key_policy']!r}: one of "
                                       f"{', '.join(HOST_KEY_POLICIES)} (see experiments/remote/inventory.py)")
        if merged.get("test_address"):
            _check_address(path, name, merged["test_address"])
        if "project_dir" in merged:
            _check_project_dir(path, name, merged["project_dir"])
        if merged.get("env") and not isinstance(merged["env"], dict):
            raise InventoryError(path, f"hosts.{name}.env: expected a table of NAME = \"value\"")
        for key in ("identity", "known_hosts"):
            if merged.get(key):
                merged[key] = str(Path(os.path.expanduser(merged[key])))
        try:
            hosts.append(Host(name=name, **{k: v for k, v in merged.items()}))
        except TypeError as exc:
            raise InventoryError(path, f"hosts.{name}: {exc}") from None
    inv = Inventory(str(path), tuple(hosts))
    for role, (lo, hi) in {"generator": (1, 1), "capture": (1, 1), "receiver": (0, 1)}.items():
        n = sum(h.role == role for h in hosts)
        if not lo <= n <= hi:
            want = "exactly one" if lo == hi else "at most one"
            raise InventoryError(path, f"{want} {role} host expected, found {n}")
    for h in hosts:
        if h.role in ("generator", "capture") and not (h.interface and h.test_address):
            raise InventoryError(path, f"hosts.{h.name}: a {h.role} host needs interface and test_address "
                                       f"(its end of the test link)")
    return inv
