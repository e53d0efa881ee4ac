/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_bpf: the few BPF objects the real backend needs, made with the bpf(2)
 * syscall directly (no libbpf, no clang at run time, so the same build runs
 * on hosts that have neither):
 *
 *   - an XSKMAP (one AF_XDP socket per receive queue index);
 *   - the redirect program: every frame goes to the socket of the queue it
 *     arrived on (ctx->rx_queue_index), "one socket per queue; XDP program
 *     redirects by rx_queue_index" (DESIGN.md §4); queues without a socket
 *     fall back to XDP_PASS (bpf_redirect_map's flags, see bpf-helpers(7)).
 *     Optionally it stamps each frame with a 16-byte metadata block in
 *     front of the packet (struct wc_xdp_meta) via bpf_xdp_adjust_meta(),
 *     which AF_XDP copies into the UMEM together with the frame;
 *   - XDP_TX and XDP_PASS programs for the live-frame generator and for
 *     engines that read the kernel stack (AF_PACKET, libpcap);
 *   - attachment through a BPF link (BPF_LINK_CREATE, kernel >= 5.9): the
 *     program is detached when the last reference to the link goes away,
 *     so a crashed run cannot leave a program on an interface. A link can
 *     be pinned in a bpffs to outlive its creator (`invoke testbed-up`);
 *   - BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES (kernel >= 5.18), the
 *     line-rate burst generator (Documentation/bpf/bpf_prog_run.rst).
 *
 * This file includes linux/bpf.h, which defines struct bpf_insn as
 * pcap/pcap.h does; libpcap code lives in wc_pcap.c, never here.
 * Functions return a file descriptor or 0 on success, a negative errno on
 * failure.
 */
#ifndef WC_BPF_H
#define WC_BPF_H

#include <stddef.h>
#include <stdint.h>

/* cffi:begin */

/* "WCAP": marks a metadata block written by our redirect program */
#define WC_XDP_META_MAGIC 0x50414357u

/* Per receive queue, what the redirect program saw arrive: the first and the
 * last arrival time (bpf_ktime_get_ns). Frames dropped afterwards (no fill
 * ring entry) are counted too, so a burst's rate at the NIC is
 * frames / (last_ns - first_ns). */
struct wc_xdp_arrival {
	uint64_t first_ns; /* 0 until the first frame */
	uint64_t last_ns;
	uint64_t frames;   /* frames seen at this queue's XDP hook since the last reset */
};

/* What the redirect program writes right before the packet (data_meta). */
struct wc_xdp_meta {
	uint64_t ts_ns;   /* bpf_ktime_get_ns(): CLOCK_MONOTONIC at the XDP hook */
	uint32_t magic;   /* WC_XDP_META_MAGIC */
	uint32_t rx_queue; /* ctx->rx_queue_index */
};

int wc_bpf__xskmap_create(uint32_t max_entries);
/* An ARRAY of max_entries struct wc_xdp_arrival (one per queue). */
int wc_bpf__arrival_map_create(uint32_t max_entries);
int wc_bpf__arrival_get(int map_fd, uint32_t queue, struct wc_xdp_arrival *out);
int wc_bpf__arrival_reset(int map_fd, uint32_t queue);
int wc_bpf__map_set(int map_fd, uint32_t key, int value_fd);
int wc_bpf__map_del(int map_fd, uint32_t key);

/* The redirect-by-rx_queue_index program over map_fd; with arrival_fd >= 0
 * it also records each queue's arrival window there. The verifier's log goes
 * to log (if not NULL) when loading fails. */
int wc_bpf__redirect_prog(int map_fd, int arrival_fd, int timestamps, char *log, size_t log_size);
/* Programs that return a constant action (XDP_TX = 3, XDP_PASS = 2, ...). */
int wc_bpf__action_prog(uint32_t action);

/* Attach prog_fd to ifindex (in the caller's network namespace) as a BPF
 * link; mode: 0 = native (driver) XDP, 1 = generic (SKB) XDP. */
int wc_bpf__xdp_link(int prog_fd, int ifindex, int mode);

int wc_bpf__pin(int fd, const char *path);
int wc_bpf__get(const char *path);

/* Kernel id of the object behind fd (for checks and messages). */
int wc_bpf__prog_id(int prog_fd, uint32_t *id);

/*
 * Run prog_fd repeat times on a copy of frame as live frames arriving at
 * ifindex queue 0 (in the caller's namespace): an XDP_TX program sends each
 * one out of ifindex. batch: frames per flush (0: kernel default, 64).
 * *elapsed_ns gets the syscall's wall time. Returns 0 or -errno (-EINTR
 * when a signal cut the run short: the number sent is then unknown, so
 * callers run bounded slices and read the device counters).
 */
int wc_bpf__live_frames(int prog_fd, int ifindex, const void *frame, uint32_t len,
			uint32_t repeat, uint32_t batch, uint64_t *elapsed_ns);

/*
 * RSS steering (beyond the paper: bucket offloading, engine/csrc/wc_balance.h).
 *
 * An 82599 picks a packet's receive queue in hardware, before any queue:
 * Toeplitz hash of the header fields (datasheet §7.1.2.8.1, default key of
 * traces/rss.py), bucket = the hash's low bits, queue = RETA[bucket]
 * (§7.1.2.8.3, register §8.2.3.7.13). On a veth pair the "hardware" is the
 * sender's transmit path: the peer's receive queue is the sender's transmit
 * queue (drivers/net/veth.c, veth_xmit: rxq = skb_get_queue_mapping(skb)).
 * So the steering program runs at the generator veth's egress (tcx, kernel
 * >= 6.6, attached with BPF_LINK_CREATE), computes the hash and sets
 * skb->queue_mapping; net/core/dev.c keeps it (skb_tx_hash uses a recorded
 * queue, queue_mapping - 1, when no XPS map is set, and veth has none).
 * It cannot be the XDP program of the capture side: AF_XDP delivers a frame
 * only to a socket bound to the queue it arrived on (net/xdp/xsk.c,
 * xsk_rcv_check; Documentation/networking/af_xdp.rst), so XDP cannot move a
 * bucket between sockets.
 *
 * Hashed fields, as traces/rss.py: IPv4 TCP (not a fragment) on source and
 * destination address and ports; every other IPv4 frame on the addresses.
 * Anything else (non-IPv4, IPv6 included, or headers not in the linear part
 * of the frame) is not hashed and goes to queue 0, the 82599's rule for
 * packets RSS does not hash (rss.py, key_queues), counted apart.
 *
 * Three maps, each an ARRAY with one value the program addresses directly
 * (BPF_PSEUDO_MAP_VALUE), two of them BPF_F_MMAPABLE so that the engine
 * reads and writes them without a syscall (Documentation/bpf/map_array.rst):
 *   table   uint32_t[WC_RSS_INPUT_BYTES][256]: the Toeplitz hash as an XOR
 *           of per-byte lookups (traces/rss.py _tables), filled by the caller;
 *   steer   uint32_t[n_buckets]: bucket -> queue, the redirection table
 *           (mmapable: a bucket move is one aligned 32-bit store);
 *   counts  uint64_t[WC_RSS_COUNTS(n_buckets)] (mmapable): per bucket the
 *           packets hashed into it, then the unhashed packets, the last
 *           hash computed (a diagnostic and the tests' exact check), and per
 *           queue the packets steered to it.
 */
#define WC_RSS_INPUT_BYTES 12u            /* IPv4 addresses + TCP ports */
#define WC_RSS_QUEUES 64u                 /* queue numbers the program writes (masked) */
#define WC_RSS_BUCKETS_MAX 2048u          /* = WC_BALANCE_BUCKETS_MAX */
/* counts' layout (outside cffi: function-like macros): WC_RSS_COUNTS(n)
 * entries; see below the cffi part */

/* fds[0..3) = table, steer, counts. -EINVAL unless n_buckets is a power of two <= max. */
int wc_bpf__rss_maps(uint32_t n_buckets, int *fds);
/* The steering program over those maps (BPF_PROG_TYPE_SCHED_CLS, tcx egress). */
int wc_bpf__rss_prog(int table_fd, int steer_fd, int counts_fd, uint32_t n_buckets, char *log,
		     size_t log_size);
/* Attach prog_fd at ifindex's egress (tcx link, kernel >= 6.6). */
int wc_bpf__tcx_egress_link(int prog_fd, int ifindex);
/* Write value (value_size bytes) at key of any map. */
int wc_bpf__map_update(int map_fd, uint32_t key, const void *value);
/* mmap a BPF_F_MMAPABLE array's values (size bytes, page rounded); NULL on failure. */
void *wc_bpf__map_mmap(int map_fd, size_t size);
void wc_bpf__map_munmap(void *addr, size_t size);
/* BPF_PROG_TEST_RUN of a tc program on one frame; *retval gets its return. */
int wc_bpf__test_run_skb(int prog_fd, const void *frame, uint32_t len, uint32_t *retval);
/* A grace period of RCU (membarrier(MEMBARRIER_CMD_GLOBAL) runs
 * synchronize_rcu, kernel/sched/membarrier.c): every BPF program run that
 * started before the call has finished. */
int wc_bpf__sync_rcu(void);

/* cffi:end */

/* the counts map's entries for n buckets */
#define WC_RSS_COUNT_UNHASHED(n) (n)
#define WC_RSS_COUNT_LAST_HASH(n) ((n) + 1)
#define WC_RSS_COUNT_STEERED(n, q) ((n) + 2 + (q))
#define WC_RSS_COUNTS(n) ((n) + 2 + WC_RSS_QUEUES)

#endif /* WC_BPF_H */
