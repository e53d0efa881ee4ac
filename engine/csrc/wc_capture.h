/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_capture: the capture thread's work, written once and with no clock
 * inside (paper §3.2.1 capture/recycle, §3.2.2a steps 1-3). The simulator's
 * WireCAP model (engine/csrc/sim/eng_wirecap.c, virtual time) and the live
 * capture threads (engine/csrc/live, wall clock) both drive one
 * `struct wc_capture` per receive queue through the same two calls:
 *
 *   wc_capture__plan(c, now, &p)   what a step would do now; finding only a
 *                                  partly filled chunk starts its timeout
 *   wc_capture__step(c, &p, now)   do it: recycle -> capture (or copy the
 *                                  partial chunk) -> place -> push -> attach
 *
 * Time comes in only as arguments, in whatever unit the caller's clock
 * counts (ps in the simulator, ns on real threads); `timeout` is in the same
 * unit. The simulator prices the plan (an operation's duration) and applies
 * the step when the operation completes; a live thread applies it at once.
 *
 * What the frames are (where the NIC wrote them, how a partial chunk is
 * copied, how a bare segment's cells reach the NIC) stays with the caller:
 * three hooks tell it. The ring contract itself is wc_pool's.
 *
 * Decisions, each made here once for both clocks:
 *
 *  - Timeout start. §3.2.1 capture case (3): "the capture operation will be
 *    blocked with a timeout": the timeout starts when a capture finds only
 *    a partly filled chunk (no full one), and ends only with a capture
 *    (full chunks, or the copy). Recycling does not restart it: a recycle is
 *    a different operation (§3.2.2a step 3) and the frames keep waiting.
 *  - A copy that finds no free chunk (the pool is exhausted) leaves the
 *    frames in place and restarts the timeout: nothing is lost, the capture
 *    is retried one timeout later or as soon as the chunk fills.
 *  - Placement fails (wc_group__place returns an error): the chunk stays
 *    home, the basic-mode rule (§3.2.2a step 1): offloading is an
 *    optimisation, never a reason to lose a chunk. Counted in place_errors.
 *  - A capture queue is full: cannot happen with the capacities both
 *    backends use (every capture queue holds every chunk of its group). If
 *    it does, the chunk is recycled at once so that the pool stays
 *    consistent and its packets are counted lost (overflows,
 *    overflow_packets), never silently.
 *  - Recycle routing. A used chunk goes back to the recycle queue of the
 *    pool named by its {nic_id, ring_id} (§3.2.1: the tuple identifies a
 *    chunk globally; §3.2.2a step 2: "a used packet buffer chunk is placed
 *    into the associated recycle queue"), looked up in one owner table
 *    (struct wc_capture_set), whoever processed it.
 *  - Recycle after transmit (§3.2.2b zero-copy forwarding: the cells are
 *    the transmit buffers). A chunk with sends in flight is recycled when
 *    the last of them completes: wc_capture__tx_hold() per send,
 *    wc_capture__release() when the application is done with it,
 *    wc_capture__tx_done() per completion.
 *
 * Threads: plan and step belong to the capture thread of the unit (they
 * pop its recycle queue and own its pool); the hooks run on it. The
 * counters are written by that thread only and may be read from any thread
 * with wc_capture__stats(). tx_hold/release/tx_done touch per-chunk state
 * owned by whichever single application thread holds the chunk.
 *
 * Functions return 0 (or a count) or a negative errno; destroy accepts NULL.
 */
#ifndef WC_CAPTURE_H
#define WC_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "wc_buddy.h"
#include "wc_pool.h"
#include "wc_workq.h"

/* cffi:begin */
/* a time that never comes (no timeout armed) */
#define WC_CAPTURE_NEVER UINT64_MAX
/* chunks captured per wc_pool__capture() call; the step calls again until
 * none is left */
#define WC_CAPTURE_BATCH 64u
/* ring ids the owner table of a set covers: the 82599 has 128 receive
 * queues (datasheet §7.1.2), AF_XDP queue ids of common NICs stay far below */
#define WC_CAPTURE_RINGS_MAX 1024u

/* What the caller does for the frames themselves. Any hook may be NULL. */
struct wc_capture_hooks {
	/* m has WC_META_COPIED: move its frames from (src_chunk, src_cell) to
	 * cell 0 of chunk_id, before anyone can see it (live: memcpy) */
	void (*copy)(void *user, const struct wc_chunk_meta *m);
	/* m was pushed into the capture queue of group member dst (its own
	 * member index in basic mode): wake that application thread */
	void (*placed)(void *user, uint32_t dst, const struct wc_chunk_meta *m);
	/* chunks ids[0..n) were attached to bare segments, in ring order:
	 * give their cells to the NIC (live: the fill ring) */
	void (*attached)(void *user, const uint32_t *ids, uint32_t n);
};

struct wc_capture_opts {
	size_t sz;                 /* sizeof(struct wc_capture_opts) */
	struct wc_pool *pool;      /* this receive queue's pool (open or not) */
	struct wc_workq *capq;     /* its capture queue */
	struct wc_workq *recq;     /* its recycle queue */
	struct wc_group *group;    /* advanced mode: joins it; NULL: basic mode */
	uint64_t timeout;          /* partial-chunk timeout, caller's time unit, > 0 */
	const struct wc_capture_hooks *hooks;
	void *user;                /* passed to the hooks */
};

/* What a step would do (wc_capture__plan) and what it does (step). */
struct wc_capture_plan {
	uint32_t recycles;   /* recycle-queue entries to validate and free */
	uint32_t full;       /* full chunks waiting for capture */
	uint32_t partial;    /* frames in the partly filled head chunk */
	int flush;           /* no full chunk, and the partial one's timeout expired */
	uint64_t deadline;   /* when that timeout expires; WC_CAPTURE_NEVER if none */
};

/* Counters of one unit (written by its capture thread only). */
struct wc_capture_stats {
	uint64_t steps;                 /* steps that had work */
	uint64_t recycled;              /* chunks freed by recycle */
	uint64_t recycle_exdev;         /* rejected: foreign chunk */
	uint64_t recycle_erange;        /*   chunk id out of range */
	uint64_t recycle_ealready;      /*   double recycle */
	uint64_t recycle_ebusy;         /*   still attached */
	uint64_t recycle_einval;        /*   metadata do not match the capture */
	uint64_t captured;              /* full chunks captured */
	uint64_t copied;                /* partial chunks copied on timeout */
	uint64_t packets_copied;
	uint64_t copy_no_chunk;         /* timeouts that found no free chunk to copy into */
	uint64_t offloaded_out;         /* chunks placed in a buddy's capture queue */
	uint64_t offloaded_out_packets;
	uint64_t place_errors;          /* placement failed: kept home */
	uint64_t overflows;             /* capture queue full: chunk recycled, */
	uint64_t overflow_packets;      /*   its packets lost */
	uint64_t attached;              /* chunks attached to bare segments */
};

struct wc_capture;

/* -EINVAL (no pool/queues, timeout 0), -ENOSPC (group full), -ENOMEM. */
int wc_capture__create(struct wc_capture **c, const struct wc_capture_opts *opts);
void wc_capture__destroy(struct wc_capture *c);
/* Index in the buddy group (0 in basic mode). */
uint32_t wc_capture__member(const struct wc_capture *c);
void *wc_capture__user(const struct wc_capture *c);
/* When the partial chunk's timeout expires (WC_CAPTURE_NEVER: none armed). */
uint64_t wc_capture__deadline(const struct wc_capture *c);

/* Look at the work waiting at time now. Moves nothing; but a capture that
 * would find only a partly filled chunk starts its timeout (§3.2.1 case 3).
 * Returns 1 if a step would have work (recycles, full chunks, or a flush),
 * else 0. */
int wc_capture__plan(struct wc_capture *c, uint64_t now, struct wc_capture_plan *p);
/* Do plan p's work at time now (the simulator: when the operation it priced
 * completes; may be later than the plan): recycle up to p->recycles
 * entries; capture every full chunk in ring order, or with p->flush and
 * still no full chunk copy the partial one; place and push each captured
 * chunk; attach free chunks to bare segments. Returns the number of chunks
 * handled: recycle-queue entries popped (freed or rejected), chunks
 * captured, chunks attached; 0 when nothing happened. */
int wc_capture__step(struct wc_capture *c, const struct wc_capture_plan *p, uint64_t now);

/* Relaxed snapshot of the counters, from any thread. */
void wc_capture__stats(const struct wc_capture *c, struct wc_capture_stats *out);
/* The counters of what should never happen, summed: rejected recycles,
 * failed placements, capture-queue overflows (the simulator checks it
 * after every step; a snapshot of all the counters cost it more than the
 * step). */
uint64_t wc_capture__faults(const struct wc_capture *c);

/* Push m into this unit's recycle queue (0, -ENOSPC); the caller wakes the
 * capture thread. */
int wc_capture__recycle_push(struct wc_capture *c, const struct wc_chunk_meta *m);

/* Zero-copy forwarding (§3.2.2b). tx_hold: one more send from chunk
 * chunk_id of this unit's pool is in flight. release: the application is
 * done with m; returns 1 if it may be recycled now, 0 if it waits for its
 * sends (kept here). tx_done: one send from chunk_id completed; returns 1
 * and the kept metadata in *m when that was the last one of a released
 * chunk, else 0. -ERANGE for a chunk id out of range. */
int wc_capture__tx_hold(struct wc_capture *c, uint32_t chunk_id);
int wc_capture__release(struct wc_capture *c, const struct wc_chunk_meta *m);
int wc_capture__tx_done(struct wc_capture *c, uint32_t chunk_id, struct wc_chunk_meta *m);

/* The owner table of the units that can exchange chunks (one simulated
 * host, or one live application): ring_id -> unit, one nic_id per ring. */
struct wc_capture_set {
	struct wc_capture *by_ring[WC_CAPTURE_RINGS_MAX];
	uint16_t nic_of[WC_CAPTURE_RINGS_MAX];
};

/* Register c as the owner of chunks {nic_id, ring_id}. -EINVAL if ring_id
 * is out of range, -EEXIST if the ring already has an owner. */
int wc_capture_set__add(struct wc_capture_set *s, uint16_t nic_id, uint16_t ring_id,
			struct wc_capture *c);
/* The unit whose pool m belongs to, or NULL (a foreign chunk: -EXDEV for
 * the caller). */
struct wc_capture *wc_capture_set__owner(const struct wc_capture_set *s,
					 const struct wc_chunk_meta *m);

/* cffi:end */

#endif /* WC_CAPTURE_H */
