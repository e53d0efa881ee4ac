/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_live: bucket offloading on real threads (beyond the paper). The
 * decision is engine/csrc/wc_balance.h, the same code the simulator runs;
 * this file gives it the live inputs and carries its moves out.
 *
 * Inputs, every period (RSS++ re-solves every 10 to 1,000 ms): the packets
 * the steering program counted per bucket since the last solve (its counts
 * map, mmapped: driver/csrc/xdp/wc_bpf.h), and per member its capture
 * queue's fill (length * 100 / R) and backlog (frames its RX ring received
 * minus frames of its pool handed back by an application thread).
 *
 * A move is a store into the steer map: on an 82599 it would be a write of
 * the RETA register that holds the bucket (datasheet §8.2.3.7.13), on
 * AF_XDP it is a BPF map update (Documentation/bpf/map_array.rst: an
 * mmapable array's values are the map's memory).
 *
 * Ordering. A moved bucket's packets already on their way to the source A
 * must reach the application before any packet the destination B received
 * after the move. For each destination, before the steer map changes:
 * hold = B's RX producer index, then B's barrier goes up (provisional: B
 * holds every chunk that reaches past `hold`). After the change:
 *   1. an RCU grace period (membarrier, wc_bpf__sync_rcu): every steering
 *      decision made with the old table has finished;
 *   2. frames so steered to A but still in veth's ring reach A's XDP hook:
 *      the steering program's per-queue count against the redirect
 *      program's arrival count (bounded by WC_LIVE_INFLIGHT_MAX_US,
 *      counted in inflight_timeouts when it runs out: frames dropped
 *      before the hook never arrive, and the gap becomes the baseline);
 *   3. another grace period: the NAPI poll that redirected them has flushed
 *      them to A's RX ring (xdp_do_flush runs before the poll ends);
 *   4. until = A's RX producer index: B may take chunks past `hold` once
 *      A's pool has handed back `until` frames (application threads
 *      release chunks of one pool in ring order when no chunk is offloaded,
 *      which bucket offloading never does).
 * A barrier that outlives barrier_max_us is lifted anyway and counted
 * (barrier_timeouts); the flow accounting would then show any reordering.
 * Members with a barrier up, as source or destination, are locked out of
 * further moves (wc_balance.h). A member in hybrid mode may also have had
 * chunks spilled (chunk offloading): its pool's chunks are then released
 * out of order and the barrier is approximate; the flow accounting counts
 * what that reorders.
 */
#define _GNU_SOURCE
#include "wc_live_int.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wc_balance.h"
#include "wc_bpf.h"

/* the steer map holds every bucket the balancer may move */
_Static_assert(WC_RSS_BUCKETS_MAX == WC_BALANCE_BUCKETS_MAX, "steer map and balancer disagree on table sizes");
#include "wc_flows.h"
#include "wc_sys.h"
#include "wc_workq.h"

#define INFLIGHT_POLL_NS 20000ull
#define SLEEP_SLICE_NS 5000000ull

static int member_of_queue(const struct wc_live *l, uint32_t q)
{
	uint32_t i;

	for (i = 0; i < l->n; i++)
		if (l->m[i].queue == q)
			return (int)i;
	return -1;
}

int live_balance_create(struct wc_live *l, const struct wc_live_opts *o)
{
	struct wc_balance_opts bo = { .sz = sizeof(bo) };
	uint8_t *table;
	uint32_t n, b;
	int err;

	if (o->offload < WC_OFFLOAD_CHUNK || o->offload > WC_OFFLOAD_HYBRID)
		return -EINVAL;
	l->offload = o->advanced ? o->offload : WC_OFFLOAD_CHUNK;
	l->arrival_fd = -1;
	if (l->offload == WC_OFFLOAD_CHUNK)
		return 0;
	n = o->n_buckets ? o->n_buckets : 128u;
	if (n > WC_BALANCE_BUCKETS_MAX || (n & (n - 1)))
		return -EINVAL;
	if (o->steer_fd <= 0 || o->counts_fd <= 0)
		return -EBADF;
	l->n_buckets = n;
	l->period_ns = (uint64_t)(o->period_us ? o->period_us : WC_LIVE_PERIOD_US_DEFAULT) * 1000u;
	l->barrier_max_ns = (uint64_t)(o->barrier_max_us ? o->barrier_max_us : WC_LIVE_BARRIER_MAX_US_DEFAULT) * 1000u;
	l->arrival_fd = o->arrival_fd > 0 ? o->arrival_fd : -1;
	l->steer_len = (size_t)n * sizeof(uint32_t);
	l->counts_len = (size_t)WC_RSS_COUNTS(n) * sizeof(uint64_t);
	l->steer = wc_bpf__map_mmap(o->steer_fd, l->steer_len);
	l->counts = wc_bpf__map_mmap(o->counts_fd, l->counts_len);
	for (b = 0; b < l->n; b++) {
		l->m[b].held = calloc(l->chunks, sizeof(*l->m[b].held));
		if (!l->m[b].held)
			return -ENOMEM;
	}
	l->prev_counts = calloc(n, sizeof(*l->prev_counts));
	l->inflight_base = calloc(l->n, sizeof(*l->inflight_base));
	table = malloc(n);
	if (!l->steer || !l->counts) {
		free(table);
		return -EBADF;
	}
	if (!l->prev_counts || !l->inflight_base || !table) {
		free(table);
		return -ENOMEM;
	}
	/* the balancer's table starts as the steering program's */
	for (b = 0; b < n; b++) {
		int m = member_of_queue(l, __atomic_load_n(&l->steer[b], __ATOMIC_RELAXED));

		if (m < 0) {
			free(table);
			return -ENOENT; /* a bucket steered to a queue this engine does not read */
		}
		table[b] = (uint8_t)m;
	}
	bo.n_buckets = n;
	bo.n_members = l->n;
	bo.table = table;
	bo.threshold_pct = o->threshold_pct ? o->threshold_pct : WC_THRESHOLD_PCT_DEFAULT;
	bo.imbalance_pct = o->imbalance_pct;
	err = wc_balance__create(&l->bal, &bo);
	free(table);
	return err;
}

void live_balance_destroy(struct wc_live *l)
{
	uint32_t i;

	for (i = 0; i < l->n; i++) {
		free(l->m[i].held);
		l->m[i].held = NULL;
	}
	wc_balance__destroy(l->bal);
	l->bal = NULL;
	wc_bpf__map_munmap(l->steer, l->steer_len);
	wc_bpf__map_munmap(l->counts, l->counts_len);
	l->steer = NULL;
	l->counts = NULL;
	free(l->prev_counts);
	free(l->inflight_base);
	l->prev_counts = NULL;
	l->inflight_base = NULL;
}

static uint64_t steered(const struct wc_live *l, uint32_t queue)
{
	return __atomic_load_n(&l->counts[WC_RSS_COUNT_STEERED(l->n_buckets, queue)], RELAXED);
}

static uint64_t arrived(const struct wc_live *l, uint32_t queue)
{
	struct wc_xdp_arrival a = { 0, 0, 0 };

	if (l->arrival_fd < 0 || wc_bpf__arrival_get(l->arrival_fd, queue, &a))
		return 0;
	return a.frames;
}

/* lift d's barrier, provisional (1) or known (2); the lifter that wins
 * counts the time */
static void lift(struct member *d, uint64_t now, int timeout)
{
	int cur = atomic_load_explicit(&d->bar_active, memory_order_acquire);

	while (cur) {
		if (__atomic_compare_exchange_n((int *)&d->bar_active, &cur, 0, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			STAT_ADD_MW(d->barrier_hold_ns, now > d->bar_since ? now - d->bar_since : 0);
			if (timeout)
				STAT_ADD_MW(d->barrier_timeouts, 1);
			return;
		}
	}
}

/* 1 if d's barrier is down or could be lifted now */
static int barrier_try_lift(struct wc_live *l, struct member *d, uint64_t now)
{
	int active = atomic_load_explicit(&d->bar_active, memory_order_acquire);

	if (!active)
		return 1;
	if (active == 2) {
		/* until known: has the source handed back its pre-move frames */
		uint32_t h = (uint32_t)__atomic_load_n(&l->m[d->bar_src].handed, RELAXED);

		if ((int32_t)(h - d->bar_until) >= 0) {
			lift(d, now, 0);
			return 1;
		}
	}
	if (now - d->bar_since > l->barrier_max_ns) {
		lift(d, now, 1);
		return 1;
	}
	return 0;
}

int live_barrier_pass(struct wc_live *l, struct member *mb, const struct wc_chunk_meta *m)
{
	if (!atomic_load_explicit(&mb->bar_active, memory_order_acquire))
		return 1;
	/* only this queue's own packets past the hold point wait (a chunk a
	 * hybrid spill brought from another queue is not the moved bucket's) */
	if (owner_of(l, m) != mb || (int32_t)((uint32_t)m->seq + m->pkt_count - mb->bar_hold) <= 0)
		return 1;
	return barrier_try_lift(l, mb, wc_sys__mono_ns());
}

int live_next_chunk(struct wc_live *l, struct member *mb, struct wc_chunk_meta *m)
{
	if (!l->bal)
		return !wc_workq__pop(mb->capq, m);
	/* set-aside chunks first, in ring order, once the barrier lets them */
	if (mb->held_n && live_barrier_pass(l, mb, &mb->held[mb->held_head])) {
		*m = mb->held[mb->held_head];
		mb->held_head = (mb->held_head + 1) % l->chunks;
		mb->held_n--;
		return 1;
	}
	while (!wc_workq__pop(mb->capq, m)) {
		if (owner_of(l, m) != mb)
			return 1; /* another queue's chunk (hybrid's spill) */
		if (!mb->held_n && live_barrier_pass(l, mb, m))
			return 1;
		if (mb->held_n == l->chunks) {
			/* cannot happen: a queue has R chunks of its own */
			STAT_ADD(mb->app_driver_errors, 1);
			return 1;
		}
		mb->held[(mb->held_head + mb->held_n) % l->chunks] = *m;
		mb->held_n++;
		STAT_ADD_MW(mb->barrier_holds, 1);
	}
	return 0;
}

static int is_source(const struct wc_live *l, uint32_t s)
{
	uint32_t i;

	for (i = 0; i < l->n; i++)
		if (atomic_load_explicit(&l->m[i].bar_active, memory_order_acquire) && l->m[i].bar_src == s)
			return 1;
	return 0;
}

/* frames steered to src under the old table have reached its XDP hook */
static void wait_inflight(struct wc_live *l, uint32_t src)
{
	struct member *s = &l->m[src];
	uint64_t t0 = wc_sys__mono_ns();

	if (l->arrival_fd < 0)
		return;
	for (;;) {
		uint64_t st = steered(l, s->queue), ar = arrived(l, s->queue);

		if ((int64_t)(st - ar - l->inflight_base[src]) <= 0)
			return;
		if (wc_sys__mono_ns() - t0 > (uint64_t)WC_LIVE_INFLIGHT_MAX_US * 1000u) {
			/* frames lost before the hook (veth drops on a full ring
			 * never reach XDP): take the gap as the new baseline, so
			 * that the next move does not wait for them again */
			STAT_ADD(s->inflight_timeouts, 1);
			l->inflight_base[src] = st - ar;
			return;
		}
		wc_sys__sleep_until(wc_sys__mono_ns() + INFLIGHT_POLL_NS);
	}
}

static void balance_step(struct wc_live *l)
{
	struct wc_balance_member mem[WC_BALANCE_MEMBERS_MAX];
	struct wc_bucket_move moves[WC_BALANCE_MEMBERS_MAX];
	uint32_t until[WC_BALANCE_MEMBERS_MAX];
	uint8_t is_dst[WC_BALANCE_MEMBERS_MAX] = { 0 }, is_src[WC_BALANCE_MEMBERS_MAX] = { 0 };
	uint64_t now = wc_sys__mono_ns();
	uint32_t i, b;
	int n;

	for (i = 0; i < l->n; i++)
		barrier_try_lift(l, &l->m[i], now);
	for (b = 0; b < l->n_buckets; b++) {
		uint64_t c = __atomic_load_n(&l->counts[b], RELAXED);

		if (c != l->prev_counts[b])
			wc_balance__count(l->bal, b, c - l->prev_counts[b]);
		l->prev_counts[b] = c;
	}
	for (i = 0; i < l->n; i++) {
		struct member *mb = &l->m[i];
		uint32_t produced = wc_xsk__rx_produced(mb->xsk);
		uint32_t handed = (uint32_t)__atomic_load_n(&mb->handed, RELAXED);

		mem[i].fill_pct = (uint32_t)((uint64_t)wc_workq__len(mb->capq) * 100u / l->chunks);
		mem[i].backlog = (uint32_t)(produced - handed);
		mem[i].locked = atomic_load_explicit(&mb->bar_active, memory_order_acquire) || is_source(l, i);
	}
	n = wc_balance__solve(l->bal, mem, moves, WC_BALANCE_MEMBERS_MAX);
	__atomic_store_n(&l->solves, l->solves + 1, RELAXED);
	if (n <= 0)
		return;
	/* destinations: hold point and provisional barrier, before the table changes */
	for (i = 0; i < (uint32_t)n; i++) {
		struct member *d = &l->m[moves[i].dst];

		is_src[moves[i].src] = 1;
		if (is_dst[moves[i].dst])
			continue;
		is_dst[moves[i].dst] = 1;
		d->bar_src = moves[i].src;
		d->bar_hold = wc_xsk__rx_produced(d->xsk);
		d->bar_until = 0;
		d->bar_since = now;
		atomic_store_explicit(&d->bar_active, 1, memory_order_release);
	}
	atomic_thread_fence(memory_order_seq_cst);
	/* the moves: flow owners first (a hand-over is recognised as soon as
	 * the new queue's packets are taken), then the steering */
	for (i = 0; i < (uint32_t)n; i++) {
		struct member *s = &l->m[moves[i].src], *d = &l->m[moves[i].dst];

		if (l->flows)
			wc_flows__move(l->flows, moves[i].bucket, (uint16_t)moves[i].src, (uint16_t)moves[i].dst);
		__atomic_store_n(&l->steer[moves[i].bucket], d->queue, __ATOMIC_RELEASE);
		STAT_ADD(s->moves_out, 1);
		STAT_ADD(s->moved_packets, moves[i].packets);
		STAT_ADD(d->moves_in, 1);
	}
	__atomic_store_n(&l->bucket_moves, l->bucket_moves + (uint64_t)n, RELAXED);
	/* 1-3: the old table's frames are in the sources' RX rings */
	wc_bpf__sync_rcu();
	for (i = 0; i < l->n; i++)
		if (is_src[i])
			wait_inflight(l, i);
	wc_bpf__sync_rcu();
	for (i = 0; i < l->n; i++)
		if (is_src[i])
			until[i] = wc_xsk__rx_produced(l->m[i].xsk);
	/* 4: the barriers get their condition */
	for (i = 0; i < l->n; i++) {
		struct member *d = &l->m[i];

		if (!is_dst[i])
			continue;
		d->bar_until = until[d->bar_src];
		{
			int one = 1;

			/* provisional -> known, unless the barrier was lifted meanwhile (timeout) */
			__atomic_compare_exchange_n((int *)&d->bar_active, &one, 2, 0, __ATOMIC_ACQ_REL,
						    __ATOMIC_ACQUIRE);
		}
	}
}

static void *balancer_main(void *arg)
{
	struct wc_live *l = arg;
	uint64_t next = wc_sys__mono_ns() + l->period_ns;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (!atomic_load_explicit(&l->stop, memory_order_relaxed)) {
		uint64_t now = wc_sys__mono_ns();

		if (now < next) {
			uint64_t until = next - now > SLEEP_SLICE_NS ? now + SLEEP_SLICE_NS : next;

			wc_sys__sleep_until(until);
			continue;
		}
		balance_step(l);
		next += l->period_ns;
		now = wc_sys__mono_ns();
		if (next < now)
			next = now + l->period_ns; /* a slow step (grace periods): no catch-up burst */
	}
	return NULL;
}

int live_balance_start(struct wc_live *l)
{
	uint32_t i, b;
	int err;

	if (!l->bal)
		return 0;
	for (b = 0; b < l->n_buckets; b++)
		l->prev_counts[b] = __atomic_load_n(&l->counts[b], RELAXED);
	/* frames steered but not arrived now are not in flight (no traffic
	 * yet) but lost on the way or sent before the arrival map was reset */
	for (i = 0; i < l->n; i++)
		l->inflight_base[i] = steered(l, l->m[i].queue) - arrived(l, l->m[i].queue);
	err = -pthread_create(&l->balancer, NULL, balancer_main, l);
	if (!err)
		l->balancer_running = 1;
	return err;
}

void live_balance_stop(struct wc_live *l)
{
	uint32_t i;

	if (!l->balancer_running)
		return;
	pthread_join(l->balancer, NULL);
	l->balancer_running = 0;
	for (i = 0; i < l->n; i++)
		lift(&l->m[i], wc_sys__mono_ns(), 0);
}

int wc_live__set_flows(struct wc_live *l, struct wc_flows *f)
{
	uint32_t b;

	if (l->started)
		return -EBUSY;
	l->flows = f;
	if (f && l->bal)
		for (b = 0; b < l->n_buckets; b++)
			wc_flows__own(f, b, (uint16_t)wc_balance__member(l->bal, b));
	return 0;
}

uint64_t wc_live__bucket_moves(const struct wc_live *l)
{
	return __atomic_load_n(&l->bucket_moves, RELAXED);
}

uint64_t wc_live__balance_solves(const struct wc_live *l)
{
	return __atomic_load_n(&l->solves, RELAXED);
}
