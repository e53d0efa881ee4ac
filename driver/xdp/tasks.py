"""invoke tasks of the real backend's testbed (added to the top-level
collection in tasks.py):

    invoke testbed-up --queues 6            # namespaces, veth, pinned XDP program
    invoke testbed-up --queues 6 --forward  # plus NIC2 and a sink namespace
    invoke testbed-up --queues 6 --rss      # plus RSS steering (Toeplitz, 128 buckets), pinned
    invoke testbed-up --json                # the testbed as one JSON object on stdout, for scripts
    invoke testbed-down                     # remove it (and any stale testbed)
    eval "$(invoke pcap-env --offload chunk)"   # run any libpcap program on WireCAP's library
    invoke send --interface wc7e57bdc --count 10000 --rate 20000 --flows 16   # a bounded paced burst
    invoke xdp-bench                        # packets/s of each engine on one veth
    invoke xdp-offload                      # one overloaded queue: bucket vs chunk offloading
    invoke xdp-ndpi                         # ndpiReader on WireCAP per policy: flows split, missed

A testbed made here persists until testbed-down: its redirect program is
pinned in a bpffs mounted under /run/wirecap/bpffs/<tag> so it outlives this
process, and tools given ``--interface wc<tag>c`` capture on it.
"""
from __future__ import annotations

import json as _json
import sys

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
            "tag": f"6 hex digits naming the testbed (default {DEFAULT_TAG})",
            "rss": "also attach RSS steering at the generator veth's egress (the 82599's Toeplitz hash, "
                   "128 buckets, ixgbe's table j mod n), pinned so that other processes move buckets "
                   "(WireCAP's libpcap library with --offload bucket|hybrid; default: off, the kernel's "
                   "flow hash picks the queue)",
            "rss_key": "with --rss: default (the 82599's key) or symmetric (0x6d5a repeated: both "
                       "directions of a flow on one queue) (default: default)",
            "json": "print the testbed as one JSON object on stdout, the human text on stderr (default: off)"})
def testbed_up(c, queues=6, forward=False, tag=DEFAULT_TAG, rss=False, rss_key="default", json=False):
    """Create the veth testbed (idempotent) with native XDP on its capture interface."""
    _prereq()
    from driver.xdp import pinned_rss
    from driver.xdp.shell import testbed_info
    from driver.xdp.testbed import Testbed
    from driver.xdp.xdp_prog import RedirectProgram

    out = sys.stderr if json else sys.stdout
    try:
        pinned_rss.key_bytes(rss_key)        # before anything is made
    except ValueError as exc:
        raise Exit(f"--rss-key: {exc}", code=2) from None
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
    if rss:
        try:
            pinned_rss.pin(tb, key=rss_key)
        except ValueError as exc:
            raise Exit(f"--rss-key: {exc}", code=2) from None
    print(tb.describe(), file=out)
    print(f"  XDP        redirect-by-queue program on {tb.cap_if}, pinned in {tb.bpffs}", file=out)
    if pinned_rss.is_pinned(tb):
        p = pinned_rss.paths(tb)
        print(f"  RSS        Toeplitz steering ({pinned_rss.PINNED_BUCKETS} buckets) at {tb.gen_if}'s egress; "
              f"steer map {p['steer']}", file=out)
    print(f"use: pkt_handler --backend xdp --interface {tb.cap_if} ...", file=out)
    print(f"     eval \"$(invoke pcap-env --tag {tb.tag})\"; ip netns exec {tb.cap_ns} "
          f"tcpdump -i wirecap:{tb.cap_if} ...", file=out)
    if json:
        print(_json.dumps(testbed_info(tb), sort_keys=True))


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


@task(auto_shortflags=False, help={
    "interface": "a testbed's capture interface wc<tag>c: its testbed's pins (instead of --tag; default: none)",
    "tag": f"the testbed whose pinned programs the library uses, if it exists (default {DEFAULT_TAG})",
    "M": "WIRECAP_PCAP_M: descriptor segment cells, dividing the ring (default: unset, the library's)",
    "R": "WIRECAP_PCAP_R: chunks per queue, R > ring / M (default: unset, the library's)",
    "T": "WIRECAP_PCAP_T: offloading threshold, percent 1..100 (default: unset, the library's)",
    "offload": "WIRECAP_PCAP_OFFLOAD: none (WireCAP-B), chunk (the paper's WireCAP-A), bucket, hybrid "
               "(default: unset, the library's)",
    "ring": "WIRECAP_PCAP_RING: AF_XDP ring size, a power of two 64..8192 (default: unset, the library's)",
    "cpus": "WIRECAP_PCAP_CPUS: capture threads' CPUs, a comma list (default: unset, the library's)",
    "xdp_mode": "WIRECAP_PCAP_XDP_MODE: auto, copy or zerocopy (default: unset, the library's)",
    "timeout_us": "WIRECAP_PCAP_TIMEOUT_US: partial-chunk capture timeout, 1..1000000 us "
                  "(default: unset, the library's)",
    "period_ms": "WIRECAP_PCAP_PERIOD_MS: bucket balancing period, 1..10000 ms (default: unset, the library's)"})
def pcap_env(c, interface="", tag=DEFAULT_TAG, M=None, R=None, T=None, offload=None, ring=None, cpus=None,
             xdp_mode=None, timeout_us=None, period_ms=None):
    """Print `export` lines that run any libpcap program on WireCAP's library:
    eval "$(invoke pcap-env)"; tcpdump -i wirecap:IF (or wirecap:IF@Q)."""
    from driver.xdp import shell
    from driver.xdp.errors import PrerequisiteError
    from driver.xdp.testbed import Testbed

    try:
        settings = shell.check_settings(M=M, R=R, T=T, offload=offload, ring=ring, cpus=cpus, xdp_mode=xdp_mode,
                                        timeout_us=timeout_us, period_ms=period_ms)
    except shell.ShellError as exc:
        raise Exit(str(exc), code=2) from None
    tb = None
    if interface:
        try:
            tb = shell.capture_testbed(interface)
        except shell.ShellError as exc:
            raise Exit(str(exc), code=2) from None
    else:
        try:
            tb = Testbed.load(tag)
        except (PrerequisiteError, ValueError, TypeError):
            tb = None      # no such testbed: the library attaches its own program
    try:
        sys.stdout.write(shell.pcap_env(settings, tb))
    except FileNotFoundError as exc:
        raise Exit(str(exc)) from None


@task(auto_shortflags=False, help={
    "interface": "the capture interface of a testbed (wc<tag>c, `invoke testbed-up`; required)",
    "count": "frames to send, 1..10,000,000 (required; with --trace, default 0 = the trace once)",
    "rate": "frames per second, paced on an absolute schedule (default 10,000)",
    "flows": "UDP flows, round-robin (default 16; ignored with --trace)",
    "size": "frame bytes without FCS, 60..1514 (default 60; ignored with --trace)",
    "trace": "replay a trace instead: gnutella, 1kxun, synscan or a capture path, every address "
             "rewritten into 198.18.0.0/15 (IPv4 frames only), at --rate in file order (default: none)",
    "src": "source network of the flows, inside 198.18.0.0/15 (default 198.18.1.0/24)",
    "dst": "destination network of the flows, inside 198.18.0.0/15 (default 198.18.2.0/24)",
    "queue_weights": "comma list, one weight per queue: rewrite the pinned RSS table so queue q gets "
                     "that share of the 128 buckets before sending (needs `invoke testbed-up --rss`; default: "
                     "the table as it is)",
    "max_s": "stop after this many seconds (default 1.5 x count / rate + 10)"})
def send(c, interface, count=0, rate=10000.0, flows=16, size=60, trace="", src="198.18.1.0/24",
         dst="198.18.2.0/24", queue_weights="", max_s=0.0):
    """Send a bounded, paced burst (or a rewritten trace) from the generator
    namespace to a testbed's capture interface; print what was sent as JSON."""
    _prereq()
    from driver.xdp import pinned_rss, shell

    try:
        tb = shell.capture_testbed(interface)
        if trace:
            plan = shell.trace_plan(tb, trace, int(count) or None)
        else:
            if not int(count):
                raise shell.ShellError("--count: how many frames to send, 1..10,000,000")
            plan = shell.flows_plan(tb, count, flows, size, src=src, dst=dst)
        if queue_weights:
            if not pinned_rss.is_pinned(tb):
                raise shell.ShellError(f"--queue-weights: testbed {tb.tag} has no pinned RSS steering: "
                                       f"`invoke testbed-up --tag {tb.tag} --rss` first")
            try:
                weights = [float(w) for w in queue_weights.split(",")]
            except ValueError:
                raise shell.ShellError(f"--queue-weights {queue_weights!r}: numbers, one per queue") from None
            if len(weights) != tb.queues:
                raise shell.ShellError(f"--queue-weights {queue_weights}: {tb.queues} weights, one per queue")
            try:
                table = pinned_rss.weighted_table(weights)
            except ValueError as exc:
                raise shell.ShellError(f"--queue-weights {queue_weights}: {exc}") from None
            with pinned_rss.PinnedRss(tb) as r:
                r.set_table(table)
        result = shell.send(tb, plan, rate, max_s=float(max_s) or None)
    except shell.ShellError as exc:
        raise Exit(str(exc), code=2) from None
    print(_json.dumps(result))


@task(auto_shortflags=False, help={
    "policies": "comma list: none (WireCAP-B), chunk (WireCAP-A), bucket, hybrid (default: all four)",
    "queues": "receive queues = ndpiReader threads (default 6)",
    "weights": "share of RSS buckets per queue, comma list (default 90,2,2,2,2,2: queue 0 overloaded)",
    "repeat": "times the three traces are replayed (default 1)",
    "rate": "replay rate, frames per second (default 20,000)",
    "M": "WIRECAP_PCAP_M (default: the library's)", "R": "WIRECAP_PCAP_R (default: the library's)",
    "T": "WIRECAP_PCAP_T (default 60)",
    "device": "wirecap (a thread per queue, wirecap:IF@Q; default), wirecap-all (one thread) or plain "
              "(system libpcap)",
    "json": "print the rows as JSON (default: a table)", "no_save": "do not save under results/ (default: save)"})
def xdp_ndpi(c, policies="none,chunk,bucket,hybrid", queues=6, weights="", repeat=1, rate=20000.0, M=None,
             R=None, T=60, device="wirecap", json=False, no_save=False):
    """ndpiReader (nDPI 4.2), unmodified, on WireCAP's libpcap library, one
    thread per queue, once per offloading policy, against its offline truth:
    flows split, missed, classified differently (experiments/live/ndpi_affinity.py)."""
    _prereq()
    from experiments.live import ndpi_affinity

    argv = ["--policies", policies, "--queues", str(int(queues)), "--repeat", str(int(repeat)),
            "--rate-pps", str(float(rate)), "--device", device, "-T", str(int(T))]
    argv += ["--weights", weights] if weights else []
    argv += ["-M", str(int(M))] if M else []
    argv += ["-R", str(int(R))] if R else []
    argv += ["--json"] if json else []
    argv += ["--no-save"] if no_save else []
    rc = ndpi_affinity.main(argv)
    if rc:
        raise Exit(code=rc)


TASKS = [testbed_up, testbed_down, xdp_bench, xdp_offload, pcap_env, send, xdp_ndpi]
