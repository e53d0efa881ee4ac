/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_balance: offloading that never splits a flow (beyond the paper).
 *
 * WireCAP's advanced mode (§3.2.2a) moves whole chunks of an overloaded
 * queue to a buddy: no packet is lost, but one flow's packets then reach
 * two application threads (§5b). RSS++ (Barbette et al., CoNEXT 2019)
 * balances instead by moving buckets of the NIC's redirection table: every
 * packet of a flow hashes to one bucket, so moving a bucket moves whole
 * flows, and only their future packets. This module is that decision,
 * written once, clock-free, for both backends: the simulator writes its
 * model of the 82599's RETA (datasheet §8.2.3.7.13), the AF_XDP backend a
 * BPF array map that its XDP program steers by.
 *
 * Use: the caller counts each bucket's packets (wc_balance__count) and,
 * once per period (RSS++ re-solves every 10 to 1,000 ms), calls
 * wc_balance__solve with each member's state. The solver:
 *
 *  - folds the period's counts into each bucket's load, an exponential
 *    average that halves every period (so one period's few packets do not
 *    decide alone); a member's load is the sum over its buckets;
 *  - a member gives buckets away when its load exceeds the group's mean by
 *    more than imbalance_pct (a sustained imbalance) and its backlog is
 *    short, at most one period of its arrivals: the taker waits for the
 *    giver's backlog (the barrier below), so a move out of a long backlog
 *    would idle the taker for as long (measured: moves out of full queues
 *    lost more than they saved);
 *  - a member takes buckets when its capture queue is at most T/2 full
 *    (§3.2.2a's assumption: a short capture queue means a less busy core);
 *  - the busiest giver A gives its bucket with the largest load c to the
 *    least loaded taker B, among the buckets with 2c < L[A] - L[B]: after
 *    the move A still carries more than B, so every move lowers the
 *    largest load and the sum of squares, and no bucket swings back and
 *    forth. A bucket heavier than that gap (one flow heavier than a core's
 *    share) is never moved: no bucket move can help there;
 *  - A gives until it is no longer above the mean by imbalance_pct; the
 *    solve stops when no member gives or `max` moves are made;
 *  - members marked locked (a move in flight) take no part; a member takes
 *    buckets from one member per solve, and a member that took gives none,
 *    so that the caller keeps one ordering barrier per taking member.
 *
 * Ordering (the caller's, both backends): a moved bucket's packets already
 * in A are processed before B processes any packet that arrived after the
 * move took effect; the caller holds B's newer packets until A is past its
 * own (a barrier), and keeps both locked until then. Ties go to the lowest
 * member index and the lowest bucket, so the result is deterministic.
 *
 * Threads: one caller at a time (the simulator's loop; the live engine's
 * balancing step). Functions return 0 (or a count) or a negative errno.
 */
#ifndef WC_BALANCE_H
#define WC_BALANCE_H

#include <stddef.h>
#include <stdint.h>

/* cffi:begin */

/* offloading policies of WireCAP's advanced mode */
#define WC_OFFLOAD_CHUNK 0   /* the paper's: whole chunks to a buddy (§3.2.2a) */
#define WC_OFFLOAD_BUCKET 1  /* redirection-table buckets only: no flow is split */
#define WC_OFFLOAD_HYBRID 2  /* buckets, plus a chunk spill in an emergency */
/* redirection-table sizes: 128 (82599, datasheet §8.2.3.7.13), 512
 * (XL710), up to 2,048 (E810); a power of two, the bucket being the hash's
 * low bits */
#define WC_BALANCE_BUCKETS_MIN 1u
#define WC_BALANCE_BUCKETS_MAX 2048u
#define WC_BALANCE_MEMBERS_MAX 64u
/* the spread above the mean that counts as a sustained imbalance */
#define WC_BALANCE_IMBALANCE_PCT_DEFAULT 25u

struct wc_balance_opts {
	size_t sz;               /* sizeof(struct wc_balance_opts) */
	uint32_t n_buckets;      /* power of two in [1, WC_BALANCE_BUCKETS_MAX] */
	uint32_t n_members;      /* 1 .. WC_BALANCE_MEMBERS_MAX */
	const uint8_t *table;    /* initial bucket -> member; NULL: b mod n (ixgbe's default RETA) */
	uint32_t threshold_pct;  /* T in (0, 100]: a member takes buckets at most T/2 full */
	uint32_t imbalance_pct;  /* 0: WC_BALANCE_IMBALANCE_PCT_DEFAULT */
};

/* A member's state when the solve runs. */
struct wc_balance_member {
	uint32_t fill_pct;  /* its capture queue's length, percent of its pool's R */
	uint64_t backlog;   /* packets waiting for its application thread (ring + capture queue) */
	uint8_t locked;     /* a move in flight: neither gives nor takes */
};

struct wc_bucket_move {
	uint32_t bucket;
	uint32_t src;
	uint32_t dst;
	uint64_t packets;   /* the bucket's packets in the period just solved */
};

struct wc_balance;

/* -EINVAL (sizes out of range, a table entry >= n_members, T outside
 * (0, 100]), -ENOMEM. */
int wc_balance__create(struct wc_balance **b, const struct wc_balance_opts *opts);
void wc_balance__destroy(struct wc_balance *b);
/* The member bucket's packets go to now (bucket masked to the table). */
uint32_t wc_balance__member(const struct wc_balance *b, uint32_t bucket);
/* n packets of bucket arrived this period. */
void wc_balance__count(struct wc_balance *b, uint32_t bucket, uint64_t n);
/* Decide this period's moves (members[0 .. n_members)), write them to
 * moves[0 .. max), update the table, and start a new period (counts
 * zeroed). Returns the number of moves. */
int wc_balance__solve(struct wc_balance *b, const struct wc_balance_member *members,
		      struct wc_bucket_move *moves, uint32_t max);
/* Moves decided since create. */
uint64_t wc_balance__moves(const struct wc_balance *b);
/* Policy hybrid: the capture-queue fill (percent) above which a chunk
 * spills to a buddy, halfway between T (where chunk offloading would
 * start) and a full pool: T + (100 - T) / 2. Both backends' buddy groups
 * take it as their threshold. */
uint32_t wc_balance__spill_pct(uint32_t threshold_pct);

/* cffi:end */
#endif /* WC_BALANCE_H */
