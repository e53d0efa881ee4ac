"""The real backend's testbed: network namespaces joined by multi-queue veth pairs.

    gen namespace            cap namespace                  sink namespace
    +-----------+  veth pair  +-----------------+  veth pair  +-----------+
    | wc<tag>g  |=============| wc<tag>c   (NIC1)|            |           |
    | generator |  N queues   | capture engine   |            |           |
    +-----------+             | wc<tag>f   (NIC2)|===========| wc<tag>s  |
                              +-----------------+  N queues   | receiver  |
                                                              +-----------+

The paper's Figure 2 with veth standing in for the 82599s: the generator
sends into NIC1, the capture engine reads NIC1's receive queues, and (with
``forward=True``) forwards through NIC2 to a packet receiver. Everything is
created through netlink (pyroute2), so no ``ip`` binary is needed.

Network discipline (DESIGN.md §5): the interfaces live only in namespaces the
testbed creates, never in the host's; their addresses are in RFC 2544's
198.18.0.0/15; IPv6 is disabled in every namespace so the kernel sends
nothing on its own (no DAD, no router solicitations) and every frame on the
wire is one the generator counted. Names carry a random 6-hex-digit tag, so
parallel or leftover testbeds never collide; ``down()`` removes everything
and is idempotent; ``sweep()`` removes testbeds whose owner process died.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from driver.xdp import netns
from driver.xdp.errors import PrerequisiteError
from driver.xdp.prereq import require_netns, require_root
from driver.xdp.procs import pid_alive

NS_PREFIX = "wcap-"                      # namespaces: wcap-<tag>-gen|cap|sink
IF_RE = re.compile(r"^wc[0-9a-f]{6}[gcfs]$")  # interfaces: wc<tag><role>
NS_RE = re.compile(r"^wcap-([0-9a-f]{6})-(gen|cap|sink)$")
STATE_DIR = Path("/run/wirecap/testbeds")
BPFFS_DIR = Path("/run/wirecap/bpffs")
# A namespace of ours without a state file is a testbed whose creation was
# interrupted; older than this, sweep() removes it.
ORPHAN_GRACE_S = 30.0
# veth's limit on queues (drivers/net/veth.c: dev->num_rx_queues is
# bounded by the requested count; 64 covers every multi-queue NIC of the paper)
MAX_QUEUES = 64

# Interface addresses, all inside RFC 2544's 198.18.0.0/15; the frames
# themselves carry their own 198.18.0.0/15 addresses (see packets.py).
NIC1_NET = ("198.19.255.1", "198.19.255.2", 30)   # generator side, capture side
NIC2_NET = ("198.19.254.1", "198.19.254.2", 30)   # capture host's NIC2, sink
IPV6_OFF = ("net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6")


def new_tag() -> str:
    return secrets.token_hex(3)


@dataclass
class Testbed:
    """A testbed; ``with Testbed(queues=6) as tb:`` creates it and always removes it."""

    queues: int = 1
    forward: bool = False
    tag: str = field(default_factory=new_tag)
    persistent: bool = False          # True: outlives this process (invoke testbed-up)
    owner_pid: int = 0
    macs: dict = field(default_factory=dict)
    created_at: float = 0.0

    def __post_init__(self):
        if not 1 <= int(self.queues) <= MAX_QUEUES:
            raise ValueError(f"queues={self.queues}: a veth testbed has 1..{MAX_QUEUES} queues")
        if not re.fullmatch(r"[0-9a-f]{6}", self.tag):
            raise ValueError(f"tag={self.tag!r}: expected 6 lowercase hex digits")
        self.queues = int(self.queues)

    # ---- names -----------------------------------------------------------

    @property
    def gen_ns(self) -> str:
        return f"{NS_PREFIX}{self.tag}-gen"

    @property
    def cap_ns(self) -> str:
        return f"{NS_PREFIX}{self.tag}-cap"

    @property
    def sink_ns(self) -> str:
        return f"{NS_PREFIX}{self.tag}-sink"

    @property
    def gen_if(self) -> str:
        return f"wc{self.tag}g"

    @property
    def cap_if(self) -> str:
        """NIC1: the interface the capture engine reads."""
        return f"wc{self.tag}c"

    @property
    def fwd_if(self) -> str:
        """NIC2: where the capture engine forwards to."""
        return f"wc{self.tag}f"

    @property
    def sink_if(self) -> str:
        return f"wc{self.tag}s"

    @property
    def namespaces(self) -> list[str]:
        return [self.gen_ns, self.cap_ns] + ([self.sink_ns] if self.forward else [])

    @property
    def bpffs(self) -> Path:
        return BPFFS_DIR / self.tag

    @property
    def state_file(self) -> Path:
        return STATE_DIR / f"{self.tag}.json"

    # ---- life cycle --------------------------------------------------------

    def up(self) -> "Testbed":
        """Create the namespaces and veth pairs (idempotent: an existing
        testbed with this tag is reused if complete, else rebuilt)."""
        require_root()
        require_netns()
        if self.complete():
            self._read_macs()
            return self
        self.down()
        self.owner_pid = 0 if self.persistent else os.getpid()
        self.created_at = time.time()
        try:
            # the state file first: a crash from here on leaves a sweepable record
            self._save()
            for name in self.namespaces:
                netns.create(name)
                for key in IPV6_OFF:
                    netns.sysctl(name, key, 1)
            self._veth(self.gen_ns, self.gen_if, self.cap_ns, self.cap_if, NIC1_NET)
            if self.forward:
                self._veth(self.cap_ns, self.fwd_if, self.sink_ns, self.sink_if, NIC2_NET)
            self._read_macs()
            self._save()
        except BaseException:
            self.down()
            raise
        return self

    def down(self) -> None:
        """Remove everything this testbed created; safe to call twice."""
        from driver.xdp import xdp_prog

        xdp_prog.unpin_all(self.bpffs)
        for name in (self.sink_ns, self.cap_ns, self.gen_ns):
            netns.remove(name)
        _remove_host_interfaces(self.tag)
        self.state_file.unlink(missing_ok=True)

    def complete(self) -> bool:
        if not all(netns.exists(n) for n in self.namespaces):
            return False
        try:
            for ns, ifname in self.interfaces():
                netns.ifindex(ns, ifname)
        except OSError:
            return False
        return True

    def interfaces(self) -> list[tuple[str, str]]:
        out = [(self.gen_ns, self.gen_if), (self.cap_ns, self.cap_if)]
        if self.forward:
            out += [(self.cap_ns, self.fwd_if), (self.sink_ns, self.sink_if)]
        return out

    def leftovers(self) -> list[str]:
        """What of this testbed still exists (for teardown checks)."""
        left = [f"namespace {n}" for n in (self.gen_ns, self.cap_ns, self.sink_ns) if netns.exists(n)]
        left += [f"host interface {i}" for i in _host_interfaces() if i[2:8] == self.tag]
        if self.bpffs.exists():
            left.append(f"bpffs {self.bpffs}")
        if self.state_file.exists():
            left.append(f"state file {self.state_file}")
        return left

    def __enter__(self) -> "Testbed":
        return self.up()

    def __exit__(self, *exc) -> None:
        # only the process that made it takes it down (a forked child that
        # unwinds a copy of our stack must not)
        if self.persistent or self.owner_pid in (0, os.getpid()):
            self.down()

    # ---- helpers -------------------------------------------------------------

    def _veth(self, ns_a: str, if_a: str, ns_b: str, if_b: str, net) -> None:
        q = self.queues
        with netns.iproute(ns_a) as ipr:
            ipr.link("add", ifname=if_a, kind="veth", num_tx_queues=q, num_rx_queues=q,
                     peer={"ifname": if_b, "num_tx_queues": q, "num_rx_queues": q, "net_ns_fd": ns_b})
        for ns, ifname, addr in ((ns_a, if_a, net[0]), (ns_b, if_b, net[1])):
            with netns.iproute(ns) as ipr:
                idx = ipr.link_lookup(ifname=ifname)[0]
                ipr.addr("add", index=idx, address=addr, prefixlen=net[2])
                ipr.link("set", index=idx, state="up")

    def _read_macs(self) -> None:
        for ns, ifname in self.interfaces():
            with netns.iproute(ns) as ipr:
                idx = ipr.link_lookup(ifname=ifname)[0]
                self.macs[ifname] = ipr.get_links(idx)[0].get_attr("IFLA_ADDRESS")

    def mac(self, ifname: str) -> str:
        return self.macs[ifname]

    def _save(self) -> None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.replace(tmp, self.state_file)

    # ---- lookup --------------------------------------------------------------

    @classmethod
    def load(cls, tag: str) -> "Testbed":
        path = STATE_DIR / f"{tag}.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise PrerequisiteError(f"no testbed with tag {tag!r} (invoke testbed-up creates one)") from None
        return cls(**data)

    @classmethod
    def find(cls, interface: str) -> "Testbed":
        """The testbed whose capture (or forward) interface is ``interface``."""
        m = IF_RE.match(interface or "")
        if not m:
            raise PrerequisiteError(
                f"--interface {interface!r}: not a testbed interface (wc<tag>c, made by `invoke testbed-up`); "
                "real NICs are opened with engine.live.LiveEngine directly (see driver/xdp/README.md)")
        tb = cls.load(interface[2:8])
        if not tb.complete():
            raise PrerequisiteError(f"testbed {tb.tag} is incomplete: `invoke testbed-down` and up again")
        tb._read_macs()
        return tb

    @classmethod
    def all(cls) -> list["Testbed"]:
        out = []
        if STATE_DIR.is_dir():
            for p in sorted(STATE_DIR.glob("*.json")):
                try:
                    out.append(cls(**json.loads(p.read_text())))
                except (ValueError, TypeError):
                    continue
        return out

    def describe(self) -> str:
        lines = [f"testbed {self.tag}: {self.queues} queue(s){', forwarding' if self.forward else ''}",
                 f"  generator  {self.gen_if:<10} in {self.gen_ns}  {NIC1_NET[0]}/{NIC1_NET[2]}",
                 f"  capture    {self.cap_if:<10} in {self.cap_ns}  {NIC1_NET[1]}/{NIC1_NET[2]}  (NIC1)"]
        if self.forward:
            lines += [f"  forward    {self.fwd_if:<10} in {self.cap_ns}  {NIC2_NET[0]}/{NIC2_NET[2]}  (NIC2)",
                      f"  sink       {self.sink_if:<10} in {self.sink_ns}  {NIC2_NET[1]}/{NIC2_NET[2]}"]
        return "\n".join(lines)


def _host_interfaces() -> list[str]:
    try:
        return [n for n in os.listdir("/sys/class/net") if IF_RE.match(n)]
    except FileNotFoundError:
        return []


def _remove_host_interfaces(tag: str | None = None) -> None:
    """Our interfaces never live in the host namespace; remove any that do."""
    names = [n for n in _host_interfaces() if tag is None or n[2:8] == tag]
    if not names:
        return
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        for n in names:
            idx = ipr.link_lookup(ifname=n)
            if idx:
                try:
                    ipr.link("del", index=idx[0])
                except Exception as exc:  # noqa: BLE001 - pyroute2 raises NetlinkError; the peer may be gone
                    if "No such device" not in str(exc):
                        raise


def sweep(include_persistent: bool = False) -> list[str]:
    """Remove testbeds left behind by dead processes (and, with
    include_persistent, the ones `invoke testbed-up` made). Returns the tags
    removed. Never touches a testbed whose owner is alive."""
    removed = []
    tags = {m.group(1) for m in (NS_RE.match(n) for n in netns.names(NS_PREFIX)) if m}
    tags |= {tb.tag for tb in Testbed.all()}
    if BPFFS_DIR.is_dir():
        tags |= {p.name for p in BPFFS_DIR.iterdir() if re.fullmatch(r"[0-9a-f]{6}", p.name)}
    for tag in sorted(tags):
        state = STATE_DIR / f"{tag}.json"
        if state.exists():
            try:
                tb = Testbed(**json.loads(state.read_text()))
            except (ValueError, TypeError):
                tb = Testbed(tag=tag, forward=True)
            if tb.persistent and not include_persistent:
                continue
            if not tb.persistent and pid_alive(tb.owner_pid):
                continue
        else:
            ages = [time.time() - netns.path(n).stat().st_mtime
                    for n in netns.names(f"{NS_PREFIX}{tag}-") if netns.exists(n)]
            if ages and min(ages) < ORPHAN_GRACE_S:
                continue
            tb = Testbed(tag=tag, forward=True)
        tb.forward = True  # remove the sink namespace too if it exists
        tb.down()
        removed.append(tag)
    _remove_host_interfaces()
    return removed
