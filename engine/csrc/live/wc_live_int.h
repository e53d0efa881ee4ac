/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_live internals, shared by the files that implement wc_live.h:
 *
 *   wc_live_create.c   create/destroy and accessors (control thread)
 *   wc_live_capture.c  the capture thread, start/stop
 *   wc_live_app.c      the pcap-like API (application thread)
 *   wc_live_chunk.c    chunk-level API, recycle routing, check()
 *   wc_live_tx.c       forwarding (application thread's TX socket)
 *   wc_live_stats.c    stats (any thread)
 *
 * The structs say which thread owns which field (threads as in wc_live.h:
 * capture thread i, application thread i, control thread).
 */
#ifndef WC_LIVE_INT_H
#define WC_LIVE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "wc_bpf.h"
#include "wc_capture.h"
#include "wc_live.h"

#define META_LEN ((uint32_t)sizeof(struct wc_xdp_meta))

#define RELAXED __ATOMIC_RELAXED
/* single-writer counters, readable from any thread without a data race */
#define STAT_ADD(f, v) __atomic_store_n(&(f), __atomic_load_n(&(f), RELAXED) + (v), RELAXED)
/* multi-writer counters */
#define STAT_ADD_MW(f, v) __atomic_fetch_add(&(f), (v), RELAXED)
#define STAT_GET(f) __atomic_load_n(&(f), RELAXED)

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* where a packet lives: address in the UMEM (frame base + data offset) */
struct cell {
	uint64_t addr;
	uint32_t len;
	uint32_t pad;
};

/* what an application thread is reading */
struct cursor {
	struct wc_chunk_meta m;
	uint32_t i;
	int active;
	uint32_t owner;        /* member index of the chunk's pool */
	uint64_t frame0;       /* UMEM frame of the chunk's first packet (chunk_first_frame) */
	uint64_t delivered;    /* of this chunk, added to the owner's counters at the end */
	uint64_t filtered;
};

/*
 * One receive queue. Fields are grouped by the thread that writes them;
 * each group that a thread writes while the others run starts a cache line
 * (aligned(64) on its first field), so that the capture thread's counters,
 * the application thread's cursor and the counters every thread of the
 * group adds to never share a line: a write by one thread then does not
 * take the line away from another thread that only touches its own fields.
 * The read-only and control groups are written before the threads run (or
 * once per start/stop/check), so they can share lines with each other.
 * Counters: see struct wc_live_qstats.
 */
struct member {
	/* --- set at create, read-only after (every thread) --- */
	struct wc_live *live;
	uint32_t idx;
	uint32_t queue;
	uint64_t frame_base;   /* first UMEM frame of this member's pool */
	uint64_t inj_base;     /* first inject frame of this member */
	struct wc_pool *pool;  /* the capture thread's, once it runs */
	struct wc_xsk *xsk;    /* RX socket: fill and RX rings are the capture thread's */
	struct wc_workq *capq; /* pushed by the group's capture threads, popped by application i */
	struct wc_workq *recq; /* pushed by the group's application threads, popped by capture i */
	/* the capture step (engine/csrc/wc_capture.h): its plan/step and
	 * counters are capture thread i's; tx_hold/release/tx_done per chunk
	 * belong to the application thread holding that chunk */
	struct wc_capture *cap;
	int wake_fd;           /* wakes the capture thread (recycles, stop, check) */
	int cons_fd;           /* wakes the application thread (captured chunks) */

	/* --- control thread: start/stop/check --- */
	pthread_t thread;
	int running;
	int cpu;               /* read by the capture thread when it starts */
	/* check(): set by the control thread, cleared (release) by the capture
	 * thread once it wrote check_res */
	_Atomic int check_req;
	int check_res;

	/* --- capture thread only --- */
	struct wc_desc *descs __attribute__((aligned(64))); /* scratch, allocated at create */

	/* --- written by the capture thread, read by others (atomics) --- */
	_Atomic int cap_sleeping;  /* read by application threads pushing recycles */
	int realtime;
	uint64_t rx_packets, rx_misordered, driver_errors, fill_waits;
	/* pool counters and free chunks: snapshots (free_chunks is first
	 * written at create) */
	uint64_t pool_captured, pool_copied, pool_pkts_copied, pool_recycled, pool_rec_errors;
	uint32_t free_chunks;
	uint64_t max_gap_ns, sleeps;

	/* --- multi-writer counters ---
	 * max_capq: the group's capture threads (placed hook), a racy max;
	 * offloaded_in*: the group's capture threads (placed hook);
	 * delivered, filtered: the application threads handed this pool's
	 * chunks (counted for the queue the packets arrived on) */
	uint32_t max_capq __attribute__((aligned(64)));
	uint64_t offloaded_in, offloaded_in_packets;
	uint64_t delivered, filtered;
	/* handed: packets of this pool whose chunk was released, by whichever
	 * application thread (the balancer's "processed" count of this queue) */
	uint64_t handed;
	/* barrier_holds, barrier_timeouts, barrier_hold_ns: the application
	 * thread of this member and the balancer (whoever lifts a barrier) */
	uint64_t barrier_holds, barrier_timeouts, barrier_hold_ns;

	/* --- ordering barrier of bucket offloading (wc_live_balance.c) ---
	 * set by the balancer (fields, then bar_active with release), lifted
	 * by this member's application thread or the balancer (bar_active 0):
	 * this member's packets at ring positions >= bar_hold wait until
	 * member bar_src has handed back bar_until packets of its pool */
	_Atomic int bar_active __attribute__((aligned(64)));
	uint32_t bar_src;
	uint32_t bar_until;
	uint32_t bar_hold;
	uint64_t bar_since;
	/* balancer only (stats read them relaxed) */
	uint64_t moves_out, moves_in, moved_packets, inflight_timeouts;
	/* application thread only: this queue's own chunks set aside behind
	 * the barrier, in ring order (a FIFO of up to R); chunks of other
	 * queues (hybrid's spill) pass meanwhile, since the frames the barrier
	 * waits for may be among them */
	struct wc_chunk_meta *held;
	uint32_t held_head, held_n;

	/* --- application thread only (counters read by stats: atomics) --- */
	struct cursor cur __attribute__((aligned(64)));
	const struct wc_filter *filter; /* setfilter(), between the application's calls */
	volatile int break_req;         /* also set by breakloop() from any thread */
	/* written by the application thread, read by the group's capture
	 * threads (place) to decide whether to wake it */
	_Atomic int cons_sleeping;
	_Atomic int cons_watched;       /* wc_live__consumer_fd(): wake on every chunk */
	uint64_t consumed;
	struct wc_xsk *tx;
	int tx_is_rx;          /* tx is the RX socket (tx_on_rx): closed with it */
	uint32_t *inj_free;    /* free inject frames (stack) */
	uint32_t inj_nfree;
	uint32_t tx_unkicked;
	uint64_t forwarded, injected, tx_completed, tx_dropped;
	/* the application side's share of wc_live_qstats.driver_errors (the
	 * capture thread counts its own in driver_errors) */
	uint64_t app_driver_errors;
} __attribute__((aligned(64)));

/* Read-mostly: only stop and started change after create, at start/stop. */
struct wc_live {
	/* --- set at create, read-only after --- */
	struct wc_umem *umem;
	uint8_t *area;
	struct wc_group *group;
	struct member *m;
	uint32_t n;
	uint32_t ring_size, seg, chunks;
	uint64_t pool_frames;   /* n * R * M */
	uint32_t tx_frames, tx_size;
	int tx_on_rx;
	int ifindex;             /* of the RX sockets */
	int advanced;
	int timestamps;
	int need_wakeup;
	int rt_priority;
	uint16_t nic_id;
	uint64_t timeout_ns;
	uint64_t spin_ns;
	uint32_t rx_batch;
	uint64_t mono_to_real;
	/* ring_id (queue id) -> the member's capture step: recycle routing */
	struct wc_capture_set owners;
	/* bucket offloading (wc_live_balance.c): set at create */
	int offload;
	struct wc_balance *bal;     /* NULL: no bucket moves (chunk offloading or basic mode) */
	uint32_t n_buckets;
	uint64_t period_ns, barrier_max_ns;
	uint32_t *steer;            /* mmap of the steer map: bucket -> queue */
	uint64_t *counts;           /* mmap of the counts map (wc_bpf.h layout) */
	size_t steer_len, counts_len;
	int arrival_fd;
	uint64_t *prev_counts;      /* balancer: counts at the last solve */
	uint64_t *inflight_base;    /* balancer: steered - arrived per member at start */
	struct wc_flows *flows;     /* set before start; NULL: no flow accounting */
	pthread_t balancer;
	int balancer_running;
	uint64_t solves, bucket_moves;

	/* --- arrays allocated at create; their elements change hands ---
	 * cells[f]: written by the capture thread of f's pool (take_rx,
	 * copy_partial) before it pushes the chunk to a capture queue, read by
	 * the application thread that pops it (the work queue orders the two). */
	struct cell *cells;     /* one per pool frame */

	/* --- control thread (stop is read by the capture threads) --- */
	_Atomic int stop;
	int started;
};

/* queue ids a member may have: the owner table's range */
#define OWNER_MAX WC_CAPTURE_RINGS_MAX

/* the member whose pool captured m (by {nic_id, ring_id}), or NULL */
static inline struct member *owner_of(const struct wc_live *l, const struct wc_chunk_meta *m)
{
	struct wc_capture *c = wc_capture_set__owner(&l->owners, m);

	return c ? (struct member *)wc_capture__user(c) : NULL;
}

/* UMEM frame of cell `cell` of chunk chunk_id of mb's pool: the pool sits
 * at frame_base, chunk c's cells at frames c*M .. c*M+M-1 */
static inline uint64_t frame_of(const struct wc_live *l, const struct member *mb,
				uint32_t chunk_id, uint32_t cell)
{
	return mb->frame_base + (uint64_t)chunk_id * l->seg + cell;
}

/* UMEM frame of a captured chunk's first packet (owner: the member whose
 * pool captured it) */
static inline uint64_t chunk_first_frame(const struct wc_live *l, const struct member *owner,
					 const struct wc_chunk_meta *m)
{
	/* copies start at cell 0 of their chunk */
	return frame_of(l, owner, m->chunk_id, (m->flags & WC_META_COPIED) ? 0 : m->first_cell);
}

/* the member whose pool holds pool frame f (f < pool_frames), and f's
 * chunk in that pool: pools are R * M frames each, from frame 0 */
static inline struct member *frame_owner(const struct wc_live *l, uint64_t f)
{
	return &l->m[f / ((uint64_t)l->chunks * l->seg)];
}

static inline uint32_t frame_chunk_id(const struct wc_live *l, uint64_t f)
{
	return (uint32_t)(f / l->seg % l->chunks);
}

static inline void wake(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, a wakeup is pending */
	}
}

static inline void drain_fd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing pending */
	}
}

/* the XDP program's arrival stamp of the frame at UMEM address addr, as
 * CLOCK_REALTIME ns, or 0 when it has none */
static inline uint64_t take_stamp(const struct wc_live *l, uint64_t addr)
{
	struct wc_xdp_meta *mt;

	if (addr % WC_FRAME_SIZE < META_LEN)
		return 0;
	mt = (void *)(l->area + addr - META_LEN);
	if (mt->magic != WC_XDP_META_MAGIC)
		return 0;
	/* consumed: a frame the program fails to stamp next time must not
	 * show this stamp */
	mt->magic = 0;
	return mt->ts_ns + l->mono_to_real;
}

/* wc_live_capture.c: the capture step's hooks */
extern const struct wc_capture_hooks live_capture_hooks;
/* wc_live_app.c: wait for a captured chunk; 1 if one may be there, 0 on timeout */
int live_wait_chunk(struct member *mb, int timeout_ms);
/* wc_live_chunk.c: hand a used chunk to mb's capture thread; to its owner
 * by ring_id (-EXDEV if no member owns it) */
int live_push_recycle(struct member *mb, const struct wc_chunk_meta *m);
int live_recycle_to_owner(struct wc_live *l, const struct wc_chunk_meta *m);
/* the application is done with m: recycle now, or after its sends complete */
int live_release(struct wc_live *l, const struct wc_chunk_meta *m);
/* wc_live_balance.c: bucket offloading */
int live_balance_create(struct wc_live *l, const struct wc_live_opts *o);
void live_balance_destroy(struct wc_live *l);
int live_balance_start(struct wc_live *l);
void live_balance_stop(struct wc_live *l);
/* may mb's application thread take m now (1), or does it wait at the barrier (0) */
int live_barrier_pass(struct wc_live *l, struct member *mb, const struct wc_chunk_meta *m);
/* the next chunk mb's application thread may take, barrier and set-aside
 * chunks considered: 1 and *m, or 0 (none now) */
int live_next_chunk(struct wc_live *l, struct member *mb, struct wc_chunk_meta *m);
/* wc_live_app.c: mb's thread is handed count packets of owner's pool from
 * frame0 on: note their flows (l->flows set) */
void live_note_flows(struct wc_live *l, struct member *mb, const struct member *owner, uint64_t frame0,
		     uint32_t count);
/* wc_live_tx.c: reap mb's TX completions; returns frames completed */
int live_tx_reap(struct wc_live *l, struct member *mb);

#endif /* WC_LIVE_INT_H */
