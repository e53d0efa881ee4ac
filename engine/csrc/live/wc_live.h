/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_live: WireCAP on real threads over AF_XDP (paper §3.2.2, Figure 7).
 *
 * One wc_live is one application: the receive queues it reads form one
 * buddy group and share one UMEM, so offloading a chunk moves metadata
 * only. Per receive queue ("member") it has
 *
 *   - a ring-buffer pool (driver/csrc/wc_pool.h, the same code the
 *     simulator drives) of R chunks of M frames, laid out in the UMEM at
 *     frames [i*R*M, (i+1)*R*M); chunk c's cells are frames c*M .. c*M+M-1;
 *   - an AF_XDP socket whose fill ring (N entries) plays the descriptor
 *     ring: attaching a chunk puts its M frame addresses on the fill ring,
 *     and the kernel fills them in that order (copy mode: xsk_rcv() takes
 *     fill-ring entries in order), so RX descriptors map one to one onto
 *     the pool's cells in ring order;
 *   - a capture thread (pinnable) that owns the pool and the socket's fill
 *     and RX rings: it reads RX descriptors, captures full chunks, copies a
 *     partial chunk when the capture timeout expires (§3.2.1 case 3),
 *     places each captured chunk in a capture queue (its own, or in
 *     advanced mode the least busy buddy's once its own is above T,
 *     engine/csrc/wc_buddy.h), re-attaches free chunks, and recycles used
 *     chunks from its recycle queue after strict validation;
 *   - a work-queue pair (engine/csrc/wc_workq.h): the capture queue, read
 *     by this member's application thread through the pcap-like calls
 *     below, and the recycle queue, fed by whichever application thread
 *     processed one of this pool's chunks.
 *
 * Threads and ownership:
 *
 *   capture thread i   pool i, RX socket i (fill + RX rings); pushes to
 *                      capture queues of the group; pops recycle queue i
 *   application i      pops capture queue i (dispatch/next/chunk_get),
 *                      pushes recycle queues of the group, owns TX socket i
 *   control thread     create/start/stop/destroy, stats (any time)
 *   balancer           bucket offloading only (offload BUCKET or HYBRID,
 *                      wc_live_balance.c): every period reads the steering
 *                      program's bucket counts, runs wc_balance__solve,
 *                      writes the moves into the steer map and raises the
 *                      ordering barrier of each destination, which that
 *                      member's application thread honours when it takes a
 *                      chunk (dispatch/next/chunk_get)
 *
 * The pcap-like calls of member i must come from one thread at a time, and
 * every application thread must have returned before wc_live__destroy().
 * Functions return 0 (or a count) or a negative errno; destroy accepts NULL.
 */
#ifndef WC_LIVE_H
#define WC_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "wc_balance.h"
#include "wc_drive.h"
#include "wc_flows.h"
#include "wc_pcap.h"
#include "wc_pkt.h"
#include "wc_pool.h"
#include "wc_xsk.h"

/* cffi:begin */

/* assumed (ACCEPTANCE.md §1): one jiffy at HZ=1000; §3.2.1 gives no value */
#define WC_LIVE_TIMEOUT_US_DEFAULT 1000u
/* RX descriptors read per burst: one 256-cell segment (paper §4's M) */
#define WC_LIVE_RX_BATCH_DEFAULT 256u
/* busy-poll this long before sleeping in poll(2). 0: sleep as soon as
 * there is nothing to do, so that (real-time) capture threads leave the CPU
 * to each other, the application threads and the generator on hosts with
 * fewer cores than threads; give a few tens of µs where capture threads
 * have cores of their own (paper §3.2.2: "the system can dedicate one or
 * several cores to run all capture threads") */
#define WC_LIVE_SPIN_US_DEFAULT 0u
/* frames per TX socket for inject() of data that is not in the UMEM */
#define WC_LIVE_TX_FRAMES_DEFAULT 256u
#define WC_LIVE_MEMBERS_MAX 64u
/* bucket offloading (beyond the paper, engine/csrc/wc_balance.h): how often
 * the balancer re-solves (RSS++, Barbette et al. CoNEXT 2019, uses 10 to
 * 1,000 ms), and how long a destination holds a moved bucket's packets at
 * most while the source drains the packets it received before the move */
#define WC_LIVE_PERIOD_US_DEFAULT 10000u
#define WC_LIVE_BARRIER_MAX_US_DEFAULT 2000000u
/* after a move: how long the balancer waits for frames steered under the
 * old table to reach the source's XDP hook. On veth they wait in the
 * peer's ring for a NAPI poll, which a host busy with real-time threads
 * can defer to ksoftirqd for tens of ms (seen: a 20 ms bound ran out and
 * the late frames reordered thousands of packets) */
#define WC_LIVE_INFLIGHT_MAX_US 500000u

struct wc_live_opts {
	size_t sz;               /* sizeof(struct wc_live_opts) */
	uint32_t ring_size;      /* N: fill and RX ring entries (power of two); 0 = 1024 */
	uint32_t segment_cells;  /* M; 0 = 256; must divide N */
	uint32_t chunks;         /* R per queue; 0 = 500; must exceed N/M */
	int advanced;            /* 1: buddy-group offloading (WireCAP-A) */
	uint32_t threshold_pct;  /* T for advanced mode; 0 = 60 */
	uint16_t nic_id;
	uint32_t timeout_us;     /* partial-chunk timeout; 0 = default */
	int mode;                /* WC_XSK_MODE_* */
	int need_wakeup;
	uint32_t rx_batch;       /* 0 = default */
	uint32_t spin_us;        /* capture threads busy-poll this long before sleeping (0: not at all) */
	uint32_t tx_frames;      /* 0 = default */
	uint32_t tx_size;        /* TX and completion ring entries; 0 = 1024 */
	int timestamps;          /* read the XDP program's stamps into headers */
	int rt_priority;         /* > 0: capture threads run SCHED_FIFO at this priority */
	/* advanced mode's offloading policy, WC_OFFLOAD_* (wc_balance.h):
	 * CHUNK is the paper's; BUCKET and HYBRID need the RSS steering maps */
	int offload;
	uint32_t n_buckets;      /* redirection-table size; 0 = 128 (82599) */
	uint32_t period_us;      /* balancing period; 0 = WC_LIVE_PERIOD_US_DEFAULT */
	uint32_t imbalance_pct;  /* wc_balance_opts.imbalance_pct; 0 = its default */
	uint32_t barrier_max_us; /* 0 = WC_LIVE_BARRIER_MAX_US_DEFAULT */
	int steer_fd;            /* > 0: the RSS program's steer map (wc_bpf.h), bucket -> queue */
	int counts_fd;           /* > 0: its counts map */
	int arrival_fd;          /* > 0: the redirect program's arrival map (in-flight frames) */
	/* RX sockets get a TX ring too (tx_size entries), so that
	 * wc_live__tx_attach() on a member's own (ifindex, queue) sends from
	 * that socket: AF_XDP binds one socket per queue of a shared UMEM, so
	 * a second one there cannot have rings of its own (pcap_inject on the
	 * capture interface, engine/csrc/pcapabi) */
	int tx_on_rx;
};

/* Counters of one member. "queue" counters are about packets that arrived
 * on this member's receive queue, wherever they were processed; "app"
 * counters are about this member's application thread. */
struct wc_live_qstats {
	/* queue: capture thread */
	uint64_t rx_packets;         /* RX descriptors read (frames captured into the pool) */
	uint64_t chunks_captured;    /* full chunks */
	uint64_t chunks_copied;      /* partial chunks copied on timeout */
	uint64_t packets_copied;
	uint64_t chunks_recycled;
	uint64_t recycle_errors;     /* metadata rejected by wc_pool__recycle() */
	uint64_t recycle_exdev;      /* ... foreign chunk */
	uint64_t recycle_erange;     /* ... chunk id out of range */
	uint64_t recycle_ealready;   /* ... double recycle */
	uint64_t recycle_ebusy;      /* ... chunk still attached */
	uint64_t recycle_einval;     /* ... metadata do not match capture */
	uint64_t offloaded_out;      /* chunks placed in a buddy's capture queue */
	uint64_t offloaded_out_packets;
	uint64_t rx_misordered;      /* descriptors not at the expected cell (should stay 0) */
	uint64_t driver_errors;      /* ring accounting that cannot happen, counted not hidden */
	uint64_t fill_waits;         /* re-arms that waited for the kernel to publish freed fill slots */
	/* queue: whoever processed them */
	uint64_t delivered;          /* handed to an application callback */
	uint64_t filtered;           /* rejected by an application's filter */
	/* app */
	uint64_t consumed;           /* packets this application thread handled */
	uint64_t offloaded_in;       /* chunks placed here by a buddy */
	uint64_t offloaded_in_packets;
	uint64_t forwarded;          /* frames put on the TX ring, zero copy */
	uint64_t injected;           /* frames copied into a TX frame and sent */
	uint64_t tx_completed;
	uint64_t tx_dropped;         /* forward/inject that found no room in time */
	/* pool and queues, snapshots */
	uint32_t free_chunks;
	uint32_t capture_queue_len;
	uint32_t recycle_queue_len;
	uint32_t max_capture_queue_len;
	uint64_t max_rx_gap_ns;      /* longest wait of a frame for the capture thread (XDP stamp to RX read) */
	uint64_t capture_sleeps;     /* times the capture thread slept in poll(2) */
	uint32_t realtime;           /* 1 if the capture thread got its SCHED_FIFO priority */
	uint32_t pad;
	/* bucket offloading */
	uint64_t barrier_active;     /* 1 while this queue holds a moved bucket's new packets */
	uint64_t bucket_moves_out;   /* buckets moved away from this queue */
	uint64_t bucket_moves_in;    /* buckets moved to this queue */
	uint64_t moved_packets;      /* packets of moved buckets in the period before their move */
	uint64_t barrier_holds;      /* chunks held at the ordering barrier */
	uint64_t barrier_hold_ns;    /* time barriers of this queue were up */
	uint64_t barrier_timeouts;   /* barriers lifted by barrier_max_us, not by the source */
	uint64_t inflight_timeouts;  /* moves whose old-table frames did not all arrive in time */
	uint64_t handed;             /* packets of this queue's pool handed back (chunks released) */
	/* XDP_STATISTICS of the RX socket: the kernel's capture drops */
	struct wc_xsk_stats xsk;
};


struct wc_live;

/*
 * Create the UMEM (nqueues*R*M + nqueues*tx_frames frames), the pools, the
 * RX sockets on ifindex (in the calling thread's namespace), the work-queue
 * pairs and, in advanced mode, the buddy group; open every pool (attach
 * N/M chunks each, i.e. fill the fill rings). No thread runs yet; traffic
 * flows once the caller has put wc_live__xsk_fd() of each member into the
 * interface's XSKMAP at its queue id.
 */
int wc_live__create(struct wc_live **live, int ifindex, const uint32_t *queues, uint32_t nqueues,
		    const struct wc_live_opts *opts);
void wc_live__destroy(struct wc_live *live);
uint32_t wc_live__members(const struct wc_live *live);
int wc_live__xsk_fd(const struct wc_live *live, uint32_t member);
int wc_live__zerocopy(const struct wc_live *live);
uint8_t *wc_live__area(const struct wc_live *live);

/* Start the capture threads, member i pinned to cpus[i] (cpus may be NULL;
 * -1 = not pinned). Stop them (joins). */
int wc_live__start(struct wc_live *live, const int *cpus);
int wc_live__stop(struct wc_live *live);

/* --- the pcap-compatible API (paper §3.2.2e), per member --- */

/* pcap_dispatch(): deliver up to cnt packets (cnt <= 0: every packet now
 * in the capture queue) to cb. timeout_ms: 0 non-blocking, > 0 wait at
 * most that long for the first packet, < 0 wait until a packet or
 * wc_live__breakloop(). Returns packets delivered. */
int wc_live__dispatch(struct wc_live *live, uint32_t member, int cnt, wc_pkt_cb cb, void *user,
		      int timeout_ms);
/* pcap_next_ex(): 1 and the next packet (valid until the next call on this
 * member), 0 on timeout, -errno. */
int wc_live__next(struct wc_live *live, uint32_t member, struct wc_pkthdr *h,
		  const uint8_t **data, int timeout_ms);
/* pcap_get_selectable_fd(): member's consumer eventfd, from now on
 * signalled on every chunk placed in its capture queue (not only while its
 * application thread sleeps in dispatch/next), so that a caller can wait
 * on it itself; it reads the fd empty before each wait. */
int wc_live__consumer_fd(struct wc_live *live, uint32_t member);
/* 1 if member's application thread has packets to take now: the rest of
 * the chunk it is handing out, or chunks in its capture queue (not those
 * held at a bucket move's ordering barrier) */
int wc_live__pending(const struct wc_live *live, uint32_t member);
/* pcap_breakloop() */
void wc_live__breakloop(struct wc_live *live, uint32_t member);
/* pcap_setfilter(): packets the filter rejects are counted as filtered and
 * not delivered; NULL removes it. The filter must outlive its use. */
int wc_live__setfilter(struct wc_live *live, uint32_t member, const struct wc_filter *f);
/* pcap_loop() with bounds, with the GIL-free hot path for C callbacks:
 * dispatch until max_packets, max_ns or *stop; idle (may be NULL) is
 * called whenever the capture queue is found empty. */
int wc_live__consume(struct wc_live *live, uint32_t member, wc_pkt_cb cb, void *user,
		     wc_idle_cb idle, const struct wc_consume_opts *opts,
		     struct wc_consume_result *result);

/* --- chunk-level access (the capture/recycle operations themselves) --- */

/* Take the next captured chunk's metadata from member's capture queue
 * without delivering its packets: 1, 0 on timeout. Its packets count as
 * delivered. */
int wc_live__chunk_get(struct wc_live *live, uint32_t member, struct wc_chunk_meta *m,
		       int timeout_ms);
/* Packet i of a captured chunk, zero copy (NULL if i is out of range). */
const uint8_t *wc_live__chunk_packet(const struct wc_live *live, const struct wc_chunk_meta *m,
				     uint32_t i, uint32_t *len);
/* Per packet of a captured chunk: XDP stamp (CLOCK_REALTIME ns, 0 if none)
 * and length. Returns the packets written (at most max). */
int wc_live__chunk_stamps(const struct wc_live *live, const struct wc_chunk_meta *m, uint64_t *ts,
			  uint32_t *len, uint32_t max);
/* Recycle: route m to its owner's recycle queue by {nic_id, ring_id}
 * (-EXDEV if no member of this group owns it, -ENOSPC if that queue is
 * full); with zero-copy sends from it in flight, once the last completes.
 * The capture thread validates it (wc_pool__recycle) and counts rejections. */
int wc_live__chunk_put(struct wc_live *live, const struct wc_chunk_meta *m);
/* Push m into member's recycle queue as is (what a misbehaving
 * application could do; tests use it). */
int wc_live__recycle_into(struct wc_live *live, uint32_t member, const struct wc_chunk_meta *m);
/* wc_pool__check() of member's pool, run by its capture thread. */
int wc_live__check(struct wc_live *live, uint32_t member);

/* --- forwarding (paper §3.2.2b) --- */

/* Give member's application a TX socket on (ifindex, queue) in the calling
 * thread's namespace, sharing the UMEM; with tx_on_rx, on the member's own
 * interface and queue, its RX socket's TX ring. */
int wc_live__tx_attach(struct wc_live *live, uint32_t member, int ifindex, uint32_t queue);
/* pcap_inject(): data inside the UMEM (a packet this member is being handed)
 * goes out by its frame address, zero copy, and its chunk is recycled only
 * once the kernel completed every send from it; other data is copied into
 * one of the member's TX frames. Waits up to timeout_ms for ring room:
 * 0, -EAGAIN (no room in time: counted in tx_dropped), -ENOTCONN (no TX
 * socket), -EMSGSIZE. */
int wc_live__inject(struct wc_live *live, uint32_t member, const uint8_t *data, uint32_t len,
		    int timeout_ms);
/* Kick the TX ring and reap completions until nothing is outstanding or
 * timeout_ms passed; returns frames still outstanding. */
int wc_live__tx_flush(struct wc_live *live, uint32_t member, int timeout_ms);

int wc_live__stats(const struct wc_live *live, uint32_t member, struct wc_live_qstats *out);

/* Account flows (wc_flows.h) as application threads take chunks: split,
 * migrated, reordered. Before start; flows must outlive the engine's run.
 * With bucket offloading the engine also keeps its bucket owners. */
int wc_live__set_flows(struct wc_live *live, struct wc_flows *flows);
/* Balancer: solves run and moves made (all members). */
uint64_t wc_live__bucket_moves(const struct wc_live *live);
uint64_t wc_live__balance_solves(const struct wc_live *live);

/* cffi:end */
#endif /* WC_LIVE_H */
