"""The veth testbed: what it creates, that it removes all of it (also when a
run fails or is killed), and the network discipline of DESIGN.md §5."""
from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from driver.xdp import netns, packets
from driver.xdp.errors import PrerequisiteError
from xdp_fixtures import XDP_MARKS, make_testbed, testbed  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parent.parent
BENCH = ipaddress.ip_network("198.18.0.0/15")
pytestmark = XDP_MARKS


def _addresses(ns, ifname):
    with netns.iproute(ns) as ipr:
        idx = ipr.link_lookup(ifname=ifname)[0]
        return [a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=idx)]


@pytest.mark.parametrize("forward", [False, True])
def test_up_creates_the_paper_topology_and_down_removes_it(forward, make_testbed):
    tb = make_testbed(queues=3, forward=forward)
    assert tb.complete()
    for ns, ifname in tb.interfaces():
        assert netns.exists(ns)
        addrs = _addresses(ns, ifname)
        assert addrs and all(ipaddress.ip_address(a) in BENCH for a in addrs), addrs
        with netns.entered(ns):
            assert Path("/proc/sys/net/ipv6/conf/all/disable_ipv6").read_text().strip() == "1"
        with netns.iproute(ns) as ipr:
            link = ipr.get_links(ipr.link_lookup(ifname=ifname)[0])[0]
            assert link.get_attr("IFLA_NUM_RX_QUEUES") == 3
    # never in the host's namespace
    assert not [n for n in os.listdir("/sys/class/net") if n.startswith(f"wc{tb.tag}")]
    assert tb.up() is tb          # idempotent: a complete testbed is reused
    tb.down()
    tb.down()                     # and down twice is fine
    assert tb.leftovers() == []


def test_teardown_when_the_body_raises():
    from driver.xdp.testbed import Testbed
    from engine.live.engine import LiveEngine

    tb = Testbed(queues=2)
    with pytest.raises(RuntimeError, match="boom"):
        with tb:
            with LiveEngine.on_testbed(tb, M=16, R=16, ring_size=64) as eng:
                eng.start()
                assert eng.program.prog_id > 0
                raise RuntimeError("boom")
    assert tb.leftovers() == []
    assert not netns.exists(tb.cap_ns)


_CHILD = textwrap.dedent("""
    import sys, time
    from driver.xdp.testbed import Testbed
    from engine.live.engine import LiveEngine
    from experiments.live.common import terminate_as_interrupt
    tb = Testbed(queues=2)
    with terminate_as_interrupt(), tb, LiveEngine.on_testbed(tb, M=16, R=16, ring_size=64) as eng:
        eng.start()
        print(tb.tag, flush=True)
        time.sleep(60)
""")


def _child(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    tag = proc.stdout.readline().strip()
    assert len(tag) == 6, f"child did not start: {tag!r}"
    return proc, tag


def test_teardown_on_sigterm(tmp_path):
    from driver.xdp.testbed import Testbed

    proc, tag = _child(tmp_path)
    assert Testbed(tag=tag, queues=2).complete()
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    assert Testbed(tag=tag, queues=2).leftovers() == []


def test_sweep_removes_what_a_killed_run_left(tmp_path):
    from driver.xdp.testbed import Testbed, sweep

    proc, tag = _child(tmp_path)
    proc.send_signal(signal.SIGKILL)  # no chance to clean up
    proc.wait(30)
    left = Testbed(tag=tag, queues=2)
    assert left.leftovers(), "a killed run leaves its testbed behind"
    assert tag in sweep()
    assert left.leftovers() == []


def test_sweep_spares_a_live_owner(make_testbed):
    from driver.xdp.testbed import sweep

    tb = make_testbed(1)
    assert tb.tag not in sweep()
    assert tb.complete()


def test_frames_outside_the_benchmark_range_are_refused(testbed):
    from driver.xdp.generator import Generator

    dst, src = testbed.mac(testbed.cap_if), testbed.mac(testbed.gen_if)
    good = packets.udp_frame(dst, src, "198.18.1.1", "198.19.2.2", 1, 2)
    packets.check_frame(good)
    with pytest.raises(packets.NetworkDisciplineError, match="outside 198.18.0.0/15"):
        packets.udp_frame(dst, src, "10.0.0.1", "198.18.2.2", 1, 2)
    ipv6 = good[:12] + b"\x86\xdd" + good[14:]
    with Generator(testbed) as gen:
        with pytest.raises(packets.NetworkDisciplineError, match="only IPv4"):
            gen.send([ipv6], max_s=1)
        with pytest.raises(ValueError, match="bounded in time"):
            gen.send([good], count=10, max_s=0)


def test_prerequisite_errors_say_what_to_do(monkeypatch):
    from driver.xdp import prereq

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(PrerequisiteError, match="needs root"):
        prereq.require_root()


def test_testbed_find_explains_a_wrong_interface():
    from driver.xdp.testbed import Testbed

    with pytest.raises(PrerequisiteError, match="not a testbed interface"):
        Testbed.find("eth0")
    with pytest.raises(PrerequisiteError, match="invoke testbed-up"):
        Testbed.find("wcabcdefc")


def test_persistent_testbed_tasks(monkeypatch):
    """invoke testbed-up / testbed-down: a pinned program survives the process."""
    from invoke import Context

    from driver.xdp import tasks, xdp_prog
    from driver.xdp.testbed import Testbed

    tag = "e0" + os.urandom(2).hex()
    try:
        tasks.testbed_up(Context(), queues=2, tag=tag)
        tb = Testbed.load(tag)
        assert tb.persistent and tb.complete()
        assert xdp_prog.attached_prog_id(tb.cap_ns, tb.cap_if) is not None
        tasks.testbed_up(Context(), queues=2, tag=tag)   # idempotent
    finally:
        tasks.testbed_down(Context(), tag=tag)
    assert Testbed(tag=tag, forward=True).leftovers() == []
