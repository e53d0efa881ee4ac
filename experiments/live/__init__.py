"""The experiments' runners on the real backend (``--backend xdp``, issue 5).

    pkt_handler.run(args) -> dict            one queue, a burst (experiments/tools/pkt_handler)
    multi_pkt_handler.run(args) -> [dict]    n queues, a replayed trace, per-queue rows + "all"
    queue_profiler.run(args) -> [dict]       packets and bytes per queue per 10 ms bin
    fig9.run(cfg), table1.run(cfg), fig11.run(cfg) -> DataFrame   scaled to this host
    offload.run(args) -> [dict]              one overloaded queue once per offloading policy
                                             (beyond the paper; `invoke xdp-offload`)
    ndpi_affinity.run(args) -> [dict]        ndpiReader (nDPI) unmodified on WireCAP's libpcap library,
                                             a thread per queue, per policy, against its offline
                                             truth (issue 13; `invoke xdp-ndpi`, saved under
                                             results/ndpi_affinity/)

Each module's docstring documents its argument dict. Everything needs root
and AF_XDP (driver/xdp/prereq.py says what is missing), and creates (and
removes) its own veth testbed unless given the interface of one made by
`invoke testbed-up`.
"""
