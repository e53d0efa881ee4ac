"""invoke tasks of the real backend's testbed (added to the top-level
collection in tasks.py):

    invoke testbed-up --queues 6            # namespaces, veth, pinned XDP program
    invoke testbed-up --queues 6 --forward  # plus NIC2 and a sink namespace
    invoke testbed-down                     # remove it (and any stale testbed)
    invoke xdp-bench                        # packets/s of each engine on one veth
    invoke xdp-offload                      # one overloaded queue: bucket vs chunk offloading

A testbed made here persists until testbed-down: its redirect program is
pinned in a bpffs mounted under /run/wirecap/bpffs/<tag> so it outlives this
process, and tools given ``--interface wc<tag>c`` capture on it.
"""
from __future__ import annotations

from invoke import Exit, task

DEFAULT_TAG = "7e57bd"   # the persistent testbed's name tag ("testbed"), so up/down are idempotent


def _prereq():
    from driver.xdp.errors import PrerequisiteError
    from driver.xdp.prereq import require_all

    try:
        require_all()
    except PrerequisiteError as exc:
        raise Exit(f"xdp backend unavailable: {exc}") from exc


@task(help={"queues": "receive queues of the veth pair (default 6)",
            "forward": "also create NIC2 and a sink namespace for forwarding (default: off)",
            "tag": f"6 hex digits naming the testbed (default {DEFAULT_TAG})"})
def testbed_up(c, queues=6, forward=False, tag=DEFAULT_TAG):
    """Create the veth testbed (idempotent) with native XDP on its capture interface."""
    _prereq()
    from driver.xdp.testbed import Testbed
    from driver.xdp.xdp_prog import RedirectProgram

    tb = Testbed(queues=queues, forward=forward, tag=tag, persistent=True)
    existing = [t for t in Testbed.all() if t.tag == tag]
    if existing and (existing[0].queues != tb.queues or existing[0].forward != tb.forward) and tb.complete():
        raise Exit(f"testbed {tag} exists with {existing[0].queues} queue(s), forward={existing[0].forward}: "
                   "invoke testbed-down first")
    tb.up()
    if RedirectProgram.from_pinned(tb.bpffs, tb.cap_ns, tb.cap_if) is None:
        prog = RedirectProgram(tb.cap_ns, tb.cap_if, max_queues=64)
        try:
            prog.pin(tb.bpffs)
        finally:
            prog.close()   # the pins keep it attached
    print(tb.describe())
    print(f"  XDP        redirect-by-queue program on {tb.cap_if}, pinned in {tb.bpffs}")
    print(f"use: pkt_handler --backend xdp --interface {tb.cap_if} ...")


@task(help={"tag": f"the testbed to remove (default {DEFAULT_TAG})",
            "all": "remove every testbed of this project, persistent or stale (default: off)"})
def testbed_down(c, tag=DEFAULT_TAG, all=False):  # noqa: A002 - the option is --all
    """Remove the testbed (namespaces, veth, XDP program, bpffs) and sweep stale ones."""
    from driver.xdp.prereq import require_root
    from driver.xdp.testbed import Testbed, sweep

    require_root()
    Testbed(tag=tag, forward=True).down()
    gone = sweep(include_persistent=bool(all))
    print(f"testbed {tag} removed" + (f"; also swept {', '.join(gone)}" if gone else ""))


@task(help={"packets": "frames per engine's burst (default 1,000,000)",
            "engines": "comma-separated subset of bare,wirecap,afxdp-ring,afpacket,libpcap,tcpdump,"
                       "tcpdump-wirecap"})
def xdp_bench(c, packets=1_000_000, engines=""):
    """Capture throughput of each engine on one veth, in one run (DESIGN.md §7)."""
    _prereq()
    from driver.xdp import bench

    chosen = tuple(e for e in engines.split(",") if e) or bench.ENGINES
    rows = bench.run_all(int(packets), chosen)
    print(f"{'engine':16s} {'packets/s':>12s} {'offered/s':>12s} {'delivered':>10s} {'drops':>8s}")
    bare = None
    for r in rows:
        if "skipped" in r:
            print(f"{r['engine']:16s} skipped: {r['skipped']}")
            continue
        bare = r["packets_per_s"] if r["engine"] == "bare" else bare
        print(f"{r['engine']:16s} {r['packets_per_s']:12,.0f} {r['offered_pps']:12,.0f} {r['delivered']:10,} "
              f"{r['drops']:8,}")
    wc = next((r for r in rows if r["engine"] == "wirecap"), None)
    if bare and wc:
        print(f"WireCAP basic / bare AF_XDP = {wc['packets_per_s'] / bare:.1%} (goal >= 90%)")
    td = {r["engine"]: r for r in rows if r["engine"].startswith("tcpdump") and "skipped" not in r}
    if len(td) == 2 and td["tcpdump"]["packets_per_s"]:
        print(f"tcpdump on WireCAP / tcpdump on the system libpcap = "
              f"{td['tcpdump-wirecap']['packets_per_s'] / td['tcpdump']['packets_per_s']:.2f}")


@task(help={"policies": "comma-separated offloading policies: chunk, bucket, hybrid (default bucket,chunk)",
            "packets": "frames to send (default 120,000)",
            "rate": "frames per second at full rate (default 90,000)",
            "json": "print the rows as JSON (default: a table)"})
def xdp_offload(c, policies="bucket,chunk", packets=120000, rate=90000.0, json=False):
    """One replay with an overloaded queue, once per offloading policy
    (experiments/live/offload.py): drop rate, flows split, packets
    reordered, bucket moves, flows migrated, per queue and in total."""
    _prereq()
    from experiments.live import offload

    argv = ["--policies", policies, "--packets", str(int(packets)), "--rate-pps", str(float(rate))]
    rc = offload.main(argv + (["--json"] if json else []))
    if rc:
        raise Exit(code=rc)


TASKS = [testbed_up, testbed_down, xdp_bench, xdp_offload]
