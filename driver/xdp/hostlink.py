"""One host's own test interface, seen the way the engines see a testbed.

The engines, baselines and the generator take a testbed (driver/xdp/testbed.py)
and read a few of its names: the capture side ``cap_ns``/``cap_if``/
``queues``/``bpffs``, the generator side ``gen_ns``/``gen_if``/``mac()``.
On a remote run (experiments/live/remote.py) the capture host and the
generator host each have one interface of a real link and no testbed:
``HostLink`` gives that interface those names, in the namespace the
process runs in (the host's own, or the one its sshd lives in).

Nothing here creates or changes an interface: the orchestrator's agent put
the test address on it and brings it back (experiments/remote/agent.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from driver.xdp import netns

# a folder with no pinned programs: a HostLink never reuses one that
# `invoke testbed-up` pinned for a testbed of its own
NO_PINS = Path("/run/wirecap/bpffs/none")


@dataclass
class HostLink:
    interface: str
    queues: int
    macs: dict = field(default_factory=dict)
    forward: bool = False

    @classmethod
    def local(cls, interface: str, side: str) -> "HostLink":
        """The interface in this process's namespace; ``side`` is "rx" (the
        capture host: its receive queues) or "tx" (the generator: its
        transmit queues, which on veth pick the peer's receive queue)."""
        if side not in ("rx", "tx"):
            raise ValueError(f"side={side!r}: rx or tx")
        with netns.iproute(None) as ipr:
            idx = ipr.link_lookup(ifname=interface)
            if not idx:
                raise FileNotFoundError(f"no interface {interface!r} on this host")
            link = ipr.get_links(idx[0])[0]
        queues = int(link.get_attr("IFLA_NUM_RX_QUEUES" if side == "rx" else "IFLA_NUM_TX_QUEUES") or 1)
        return cls(interface, queues, {interface: link.get_attr("IFLA_ADDRESS")})

    # the testbed's names, for an interface in this namespace
    cap_ns = None
    gen_ns = None
    sink_ns = None
    bpffs = NO_PINS

    @property
    def cap_if(self) -> str:
        return self.interface

    @property
    def gen_if(self) -> str:
        return self.interface

    @property
    def fwd_if(self):
        raise ValueError("forwarding on a remote run is not supported: the capture host has one test link")

    def mac(self, ifname: str) -> str:
        return self.macs[ifname]
