/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * WireCAP in the simulator, basic and advanced mode (paper §3.2.2,
 * Figure 7), driven through the same engine core (wc_pool, wc_workq,
 * wc_group) and the same capture step (wc_capture: recycle, capture or
 * copy, place, push, re-attach, and the partial-chunk deadline) that the
 * AF_XDP backend runs on real threads. What is the simulator's own: the
 * time each operation takes, and the events that stand for threads.
 *
 * Per receive queue: the ring-buffer pool; a capture thread on a dedicated
 * core (§3.2.2a: "Typically, a capture thread and an application thread do
 * not run in the same core"); a work-queue pair; an application thread
 * (pkt_handler) on the queue's own core.
 *
 * The capture thread is a server of operations. Woken by a full chunk, a
 * recycle request or the capture timeout, it performs one operation: the
 * recycles pending when it starts (recycle ioctl: fixed cost + per chunk),
 * then a capture of the full chunks (capture ioctl: fixed cost + per chunk),
 * or, when the timeout expired with only a partly filled chunk, the
 * partial-chunk copy (§3.2.1 capture case 3: fixed + per chunk + per copied
 * packet). Its effects (chunks captured, segments re-armed, metadata queued)
 * take place when the operation completes (wc_capture__plan prices it at
 * the start, wc_capture__step applies it at the end). Then it goes on
 * while work is left, or blocks; a plan that finds only a partly filled
 * chunk starts the timeout (wc_capture.h).
 *
 * The application thread takes chunks from its capture queue one by one
 * and processes their packets at the configured cost per packet; a used
 * chunk goes to the recycle queue of the pool it belongs to (§3.2.2a step
 * 2), whichever thread processed it.
 *
 * Offloading policies (beyond the paper): `chunk` is the paper's (the
 * buddy group's threshold T). `bucket` has no buddy group: every period
 * (EV_BALANCE) the shared balancer (wc_balance.h) decides which
 * redirection-table buckets move, and one RETA write later (EV_MOVE) the
 * NIC model steers their next frames to the new queue (reta.c). The new
 * queue's thread sets its own chunks with frames from after the move aside
 * until the old queue has processed every frame it had then (the barrier),
 * so a moved flow is processed in order, by one thread at a time. `hybrid`
 * is both, its buddy group spilling only above wc_balance__spill_pct(T).
 */
#include "sim_bulk.h"
#include "sim_engine.h"

#include <errno.h>
#include <stdlib.h>

#include "wc_balance.h"
#include "wc_capture.h"

enum {
	EV_CT_DONE = EV_ENGINE, /* the capture thread finished an operation */
	EV_CT_TIMEOUT,          /* partial-chunk capture timeout */
	EV_TX_DONE,             /* a forwarded chunk's last frame left NIC2 */
	EV_APP_START,           /* an application thread starts reading (app_start_ps) */
	EV_BALANCE,             /* bucket offloading: the balancer re-solves */
	EV_MOVE,                /* bucket offloading: the decided moves take effect */
};

/* moves one solve may decide: every bucket of the largest table */
#define WC_MOVES_MAX WC_BALANCE_BUCKETS_MAX

#define SIM_WORKQ_FLAGS WC_WORKQ_LOCAL

/* per-queue state (q->eng) */
struct sim_wc {
	struct wc_pool *pool;
	struct wc_workq *capq;   /* capture queue (consumer: this queue's app) */
	struct wc_workq *recq;   /* recycle queue (consumer: this queue's capture thread) */
	struct wc_group *group;  /* shared by the buddies; NULL in basic mode */
	uint32_t ready;          /* cached wc_pool__ready() */
	uint32_t seg_left;       /* cells left in the head segment */
	uint32_t pending_rx;     /* frames written but not yet told to the pool */
	/* capture thread */
	struct sim *s;           /* for the step's hooks */
	struct wc_capture *cap;  /* the capture step both backends run */
	struct wc_capture_plan plan; /* the running operation's work, priced at its start */
	int ct_busy;
	int ct_timer_pending;    /* a timeout event is in the heap */
	int attached;            /* the running step re-armed segments (hook) */
	uint64_t buffered;       /* frames captured or in the ring, not yet processed */
	uint8_t balanced;        /* bucket offloading: the balancer's barrier applies */
};
SIM_ENGINE_STATE(struct sim_wc);

/* whole-run state (s->eng_run) */
struct wc_run {
	struct wc_group **groups;  /* buddy groups (advanced mode) */
	uint32_t n_groups;
	uint32_t member_queue[WC_GROUP_MAX][WC_GROUP_MAX]; /* group, member -> queue */
	struct wc_capture_set owners; /* {nic_id, ring_id} -> the queue's capture step */
	/* bucket offloading (policies bucket, hybrid; wc_balance.h) */
	struct wc_balance *bal;
	uint64_t bal_counted;         /* frames up to this id are counted into the balancer */
	struct wc_bucket_move moves[WC_MOVES_MAX]; /* decided, not yet handed over */
	uint8_t effective[WC_MOVES_MAX];           /* its RETA write is done (EV_MOVE) */
	uint32_t n_moves;
	/* per queue: the move barrier (eng_wirecap.c, bucket offloading) */
	struct wc_barrier {
		int32_t src;          /* -1: none; else dst waits for this queue */
		uint64_t src_seq;     /* ... until src's frames below this ring seq are processed */
		uint64_t hold_from;   /* dst's own frames from this ring seq on wait */
		uint32_t waiters;     /* (as a src) barriers that wait for this queue */
		uint8_t decided;      /* in a move decided, not yet in effect */
	} bar[WC_GROUP_MAX];
	/* per queue: its own chunks set aside behind its barrier, in ring order */
	struct wc_held {
		struct wc_chunk_meta *m;
		uint32_t head, n, cap;
	} held[WC_GROUP_MAX];
};

static inline struct wc_run *RUN(struct sim *s)
{
	return s->eng_run;
}

static inline struct sim_wc *W(struct sim_queue *q)
{
	return (struct sim_wc *)q->eng;
}

static void fail(struct sim *s, int err)
{
	if (err < 0 && !s->err)
		s->err = err;
}

static void flush_rx(struct sim *s, struct sim_wc *w)
{
	if (w->pending_rx) {
		int rc = wc_pool__rx(w->pool, w->pending_rx);

		fail(s, rc);
		w->pending_rx = 0;
	}
}

static void sync_ready(struct sim *s, struct sim_wc *w)
{
	uint32_t cell;

	flush_rx(s, w);
	w->ready = wc_pool__ready(w->pool);
	w->seg_left = wc_pool__head(w->pool, NULL, &cell) == 0 ? s->p->wc_m - cell : 0;
}

/* ---- the capture thread and the application thread (§3.2.2) ---------- */

/* The capture thread blocks with a partly filled chunk until the step's
 * deadline (wc_capture.h). One timeout event per queue is in flight at a
 * time; when it fires early (the deadline moved on), it re-schedules
 * itself for the deadline (fewer heap entries). */
static void wait_deadline(struct sim *s, struct sim_queue *q, uint64_t deadline)
{
	struct sim_wc *w = W(q);

	if (deadline == WC_CAPTURE_NEVER || w->ct_timer_pending)
		return;
	w->ct_timer_pending = 1;
	sim_schedule(s, (int64_t)deadline, EV_CT_TIMEOUT, q->id, 0);
}

/* The capture thread starts an operation if the step has work, priced
 * here (§3.2.1 ioctls: fixed cost + per chunk, + per packet of a copy);
 * its effects take place when it completes (ct_done). Else it blocks. */
static void ct_start(struct sim *s, struct sim_queue *q)
{
	const struct sim_params *p = s->p;
	struct sim_wc *w = W(q);
	const struct wc_capture_plan *pl = &w->plan;
	int64_t dur = 0;

	sim_sync(s, q); /* a recycle wakes the owner's thread from another queue's event */
	bulk_cut_stale(s, q); /* the plan may arm the timeout; the thread may start */
	flush_rx(s, w);
	if (!wc_capture__plan(w->cap, (uint64_t)s->now, &w->plan)) {
		wait_deadline(s, q, pl->deadline);
		return;
	}
	if (pl->recycles)
		dur += p->wc_recycle_ps + (int64_t)pl->recycles * p->wc_chunk_ps;
	if (pl->full)
		dur += p->wc_capture_ps + (int64_t)pl->full * p->wc_chunk_ps;
	else if (pl->flush)
		dur += p->wc_capture_ps + p->wc_chunk_ps + (int64_t)pl->partial * p->wc_copy_ps;
	w->ct_busy = 1;
	sim_schedule(s, s->now + dur, EV_CT_DONE, q->id, 0);
}

static void ct_notify(struct sim *s, struct sim_queue *q)
{
	if (!W(q)->ct_busy)
		ct_start(s, q);
}

/* Bucket offloading's order (wc_balance.h): a queue that took buckets does
 * not start a chunk of its own that holds frames from after the move until
 * the old queue has processed every frame it got before it. */
static int held_back(struct sim *s, struct sim_queue *q, const struct wc_chunk_meta *m)
{
	const struct wc_barrier *b = &RUN(s)->bar[q->id];

	return b->src >= 0 && m->seq + m->pkt_count > b->hold_from;
}

/* The next chunk q's thread may start, with bucket offloading: its own
 * chunks wait behind the barrier, in ring order, set aside; a buddy's
 * (hybrid's spill) go at once, since the frames the barrier waits for may
 * be among them. 0 when there is none. */
/* Off the paper's path (chunk offloading, basic mode): kept out of line so
 * that app_start, inlined where chunks are placed, stays as small as it was
 * (inlined, WireCAP-A ran 3% slower on the 6-queue trace). */
__attribute__((noinline, cold)) static int next_chunk(struct sim *s, struct sim_queue *q, struct wc_chunk_meta *m)
{
	struct wc_run *r = RUN(s);
	struct wc_held *h = &r->held[q->id];

	if (r->bar[q->id].src < 0 && h->n) {
		*m = h->m[h->head];
		h->head = (h->head + 1) % h->cap;
		h->n--;
		return 1;
	}
	while (!wc_workq__pop(W(q)->capq, m)) {
		if (m->ring_id != q->id || (!h->n && !held_back(s, q, m)))
			return 1;
		if (h->n == h->cap) {
			fail(s, -EOVERFLOW); /* more own chunks than the pool has */
			return 0;
		}
		h->m[(h->head + h->n++) % h->cap] = *m;
	}
	return 0;
}

static void app_start(struct sim *s, struct sim_queue *q)
{
	struct sim_app *a = &q->app;

	if (a->busy || s->now < s->p->app_start_ps)
		return;
	if (W(q)->balanced ? !next_chunk(s, q, &a->meta) : wc_workq__pop(W(q)->capq, &a->meta) != 0)
		return;
	if (s->order_max)
		sim_handed(s, a->meta.ring_id, a->meta.seq, a->meta.pkt_count);
	a->busy = 1;
	a->gen++;
	a->batch = a->meta.pkt_count;
	a->started = s->now;
	sim_schedule(s, s->now + (int64_t)a->batch * s->p->app_cost_ps, EV_APP_DONE, q->id, a->gen);
}

/* hooks of the shared step (wc_capture.h); user is the capturing queue */

static void hook_copy(void *user, const struct wc_chunk_meta *m)
{
	struct sim_queue *q = user;

	q->st.chunks_copied++; /* no bytes move here: ct_start priced the copy */
}

static void hook_placed(void *user, uint32_t dst, const struct wc_chunk_meta *m)
{
	struct sim_queue *q = user;
	struct sim *s = W(q)->s;
	uint32_t target = W(q)->group ? RUN(s)->member_queue[s->p->wc_group[q->id]][dst] : q->id;

	app_start(s, &s->q[target]);
}

static void hook_attached(void *user, const uint32_t *ids, uint32_t n)
{
	W((struct sim_queue *)user)->attached = 1;
}

static const struct wc_capture_hooks sim_hooks = {
	.copy = hook_copy,
	.placed = hook_placed,
	.attached = hook_attached,
};

/* The operation priced in ct_start completes: the shared step does its
 * work now; the thread goes on while work is left, or blocks. */
static void ct_done(struct sim *s, struct sim_queue *q)
{
	struct sim_wc *w = W(q);

	bulk_cut_stale(s, q); /* the step moves the timeout, the ring, the thread */
	flush_rx(s, w);
	w->attached = 0;
	wc_capture__step(w->cap, &w->plan, (uint64_t)s->now);
	if (wc_capture__faults(w->cap))
		fail(s, -EPROTO); /* the model never hands back bad metadata */
	sync_ready(s, w);
	if (w->attached)
		sim_ring_space(s, q); /* frames waiting in the NIC's buffer may go now */
	w->ct_busy = 0;
	ct_start(s, q);
}

/* a used chunk goes back to the recycle queue of owner, the capture step
 * of its pool (looked up once by the caller in the owner table) */
static void recycle(struct sim *s, struct wc_capture *owner, const struct wc_chunk_meta *m)
{
	fail(s, wc_capture__recycle_push(owner, m));
	ct_notify(s, wc_capture__user(owner));
}

/* ---- bucket offloading (beyond the paper; wc_balance.h, reta.c) -------- */

/* A barrier is past when src has processed (whoever did) as many of its
 * frames as it had when the move took effect: dst's thread may go on, and
 * the moved buckets' flows are dst's now. */
/* out of line, as next_chunk */
__attribute__((noinline, cold)) static void barrier_check(struct sim *s, uint32_t src)
{
	struct wc_run *r = RUN(s);
	uint32_t i, k, kept;

	if (!r->bar[src].waiters)
		return;
	for (i = 0; i < s->nq_total; i++) {
		struct wc_barrier *b = &r->bar[i];

		if (b->src != (int32_t)src || s->q[src].st.delivered < b->src_seq)
			continue;
		/* the moves src -> i that took effect are done with */
		for (k = kept = 0; k < r->n_moves; k++) {
			struct wc_bucket_move *m = &r->moves[k];

			if (r->effective[k] && m->src == src && m->dst == i) {
				reta_hand_over(s, m->bucket, src, i);
				continue;
			}
			r->effective[kept] = r->effective[k];
			r->moves[kept++] = *m;
		}
		r->n_moves = kept;
		b->src = -1;
		r->bar[src].waiters--;
		app_start(s, &s->q[i]);
	}
}

/* Every period: count the frames that arrived since the last solve into
 * their buckets, and let the balancer decide with each queue's state now;
 * the moves take effect one RETA write later (EV_MOVE). No more solves
 * once the trace has arrived. */
static void balance(struct sim *s)
{
	const struct sim_params *p = s->p;
	struct wc_run *r = RUN(s);
	struct wc_balance_member mem[WC_GROUP_MAX];
	uint64_t i;
	int n;

	if (s->next_pkt >= p->n_packets)
		return;
	for (i = r->bal_counted; i < s->next_pkt; i++)
		if (p->bucket[i] != SIM_NO_BUCKET)
			wc_balance__count(r->bal, p->bucket[i], 1);
	r->bal_counted = s->next_pkt;
	for (i = 0; i < s->nq_total; i++) {
		struct sim_queue *q = &s->q[i];

		sim_sync(s, q);
		mem[i].fill_pct = (uint32_t)(wc_workq__len(W(q)->capq) * 100 / p->wc_r);
		mem[i].backlog = W(q)->buffered;
		/* in a move until its barriers are past, as giver and as taker */
		mem[i].locked = r->bar[i].decided || r->bar[i].src >= 0 || r->bar[i].waiters;
	}
	n = wc_balance__solve(r->bal, mem, r->moves + r->n_moves, WC_MOVES_MAX - r->n_moves);
	if (n > 0) {
		for (i = r->n_moves; i < r->n_moves + (uint32_t)n; i++) {
			r->bar[r->moves[i].src].decided = r->bar[r->moves[i].dst].decided = 1;
			r->effective[i] = 0;
		}
		r->n_moves += (uint32_t)n;
		sim_schedule(s, s->now + p->bal_move_ps, EV_MOVE, 0, 0);
	}
	sim_schedule(s, s->now + p->bal_period_ps, EV_BALANCE, 0, 0);
}

/* The RETA writes are done: the moved buckets' next frames go to their new
 * queues, which wait for the old ones (barrier_check). */
static void moves_take_effect(struct sim *s)
{
	struct wc_run *r = RUN(s);
	uint32_t k, n = r->n_moves;

	for (k = 0; k < n; k++) {
		struct wc_bucket_move *m = &r->moves[k];
		struct wc_barrier *b = &r->bar[m->dst];
		int64_t moved;

		if (r->effective[k])
			continue;
		r->effective[k] = 1;
		r->bar[m->src].decided = r->bar[m->dst].decided = 0;
		sim_sync(s, &s->q[m->src]);
		sim_sync(s, &s->q[m->dst]);
		moved = reta_move(s, m->bucket, m->dst);
		if (moved < 0) {
			fail(s, (int)moved);
			return;
		}
		s->q[m->src].st.bucket_moves++;
		s->res->bucket_moves++;
		if (b->src < 0) {
			/* one source per receiving queue and solve (wc_balance.h) */
			b->src = (int32_t)m->src;
			b->src_seq = s->q[m->src].head_seq;
			b->hold_from = s->q[m->dst].head_seq;
			r->bar[m->src].waiters++;
		} else if (b->src != (int32_t)m->src) {
			fail(s, -EPROTO);
			return;
		}
	}
	for (k = 0; k < s->nq_total; k++)
		barrier_check(s, k);
}

static void wc_event(struct sim *s, const struct sim_event *ev)
{
	struct sim_queue *q = &s->q[ev->q];
	struct sim_wc *w = W(q);

	switch (ev->kind) {
	case EV_CT_DONE:
		ct_done(s, q);
		break;
	case EV_CT_TIMEOUT: {
		uint64_t deadline = wc_capture__deadline(w->cap);

		w->ct_timer_pending = 0;
		if (w->ct_busy || deadline == WC_CAPTURE_NEVER)
			break; /* ct_done plans again when the operation ends */
		if ((uint64_t)s->now < deadline) {
			/* the deadline moved since this event was scheduled */
			wait_deadline(s, q, deadline);
			break;
		}
		ct_start(s, q);
		break;
	}
	case EV_APP_START:
		app_start(s, q);
		break;
	case EV_BALANCE:
		balance(s);
		break;
	case EV_MOVE:
		moves_take_effect(s);
		break;
	case EV_APP_DONE: {
		struct sim_app *a = &q->app;
		struct wc_chunk_meta m = a->meta;
		struct wc_capture *owner;
		int64_t freed;

		if (ev->arg != a->gen)
			break;
		owner = wc_capture_set__owner(&RUN(s)->owners, &m);
		if (!owner) {
			fail(s, -EXDEV);
			break;
		}
		a->busy = 0;
		q->st.last_done_ps = s->now;
		sim_sync(s, wc_capture__user(owner)); /* its buffered count drops */
		freed = sim_processed(s, q->id, m.ring_id, m.seq, m.pkt_count, a->started + s->p->app_cost_ps,
				      s->p->app_cost_ps);
		W((struct sim_queue *)wc_capture__user(owner))->buffered -= m.pkt_count;
		if (W(q)->balanced)
			barrier_check(s, m.ring_id);
		if (freed > s->now) {
			/* zero-copy forwarding: the cells are the transmit buffers,
			 * so the chunk is recycled only after transmit completion
			 * (one send in flight: the chunk's last frame) */
			fail(s, wc_capture__tx_hold(owner, m.chunk_id));
			if (wc_capture__release(owner, &m) != 0)
				fail(s, -EPROTO);
			sim_schedule(s, freed, EV_TX_DONE, q->id, (uint64_t)m.ring_id << 32 | m.chunk_id);
		} else {
			recycle(s, owner, &m);
		}
		app_start(s, q);
		break;
	}
	case EV_TX_DONE: {
		struct wc_chunk_meta m;
		struct wc_capture *owner = W(&s->q[ev->arg >> 32])->cap;

		if (wc_capture__tx_done(owner, (uint32_t)ev->arg, &m) == 1)
			recycle(s, owner, &m);
		else
			fail(s, -EPROTO);
		break;
	}
	default:
		fail(s, -EPROTO);
	}
}

/* ---- frames from the NIC (sim_engine.h: the receive path) ------------- */

static uint32_t wc_ready(struct sim *s, struct sim_queue *q)
{
	return W(q)->ready;
}

/* n frames at once, n <= seg_left: what n calls of wc_deliver would do */
static void wc_deliver_n(struct sim *s, struct sim_queue *q, uint32_t n)
{
	struct sim_wc *w = W(q);

	if (!n)
		return;
	bulk_cut_stale(s, q); /* frames from the NIC's buffer, or one at a time */
	w->ready -= n;
	w->pending_rx += n;
	w->buffered += n;
	if (w->buffered > q->st.max_buffered)
		q->st.max_buffered = w->buffered;
	w->seg_left -= n;
	if (w->seg_left == 0) {
		sync_ready(s, w);
		ct_notify(s, q);
	} else if (!w->ct_busy && wc_capture__deadline(w->cap) == WC_CAPTURE_NEVER) {
		/* §3.2.1 capture case (1) -> (3): the frames wake the blocked
		 * capture thread, which finds a partly filled chunk and blocks
		 * again with a timeout (its plan starts it) */
		ct_start(s, q);
	}
}

static void wc_deliver(struct sim *s, struct sim_queue *q)
{
	wc_deliver_n(s, q, 1);
}

/* Frames the ring takes in one wc_deliver_n: up to the end of the head
 * segment (a completed segment wakes the capture thread). */
static uint32_t wc_room(struct sim *s, struct sim_queue *q)
{
	const struct sim_wc *w = W(q);

	return w->seg_left < w->ready ? w->seg_left : w->ready;
}

/* Quiet frames (quiet.c): those that only fill the head segment, with the
 * capture thread busy or its timeout armed, so that none wakes it: all but
 * the one completing the segment. wc_deliver_n of them only counts. */
static uint32_t wc_quiet(struct sim *s, struct sim_queue *q)
{
	const struct sim_wc *w = W(q);

	if (!w->seg_left || (!w->ct_busy && wc_capture__deadline(w->cap) == WC_CAPTURE_NEVER))
		return 0;
	return w->seg_left - 1;
}

/* ---- bulk steps (bulk.c) ------------------------------------------------ */

/* A run stops at the frame that wakes the capture thread: the one that
 * completes the head segment, or, with the thread idle and no timeout
 * armed, the next one (it arms the capture timeout, §3.2.1 case 3). With
 * no ready descriptor, the run's frames are drops, or (DROP_EN clear) the
 * next goes to the NIC's buffer. The answer depends on ready, seg_left, the
 * thread and its timeout, which change only in ct_start, ct_done and
 * wc_deliver_n: each calls bulk_cut_stale (wc_bulk_count's frames keep the
 * cut where it was). */
static uint64_t wc_bulk_cut(struct sim *s, struct sim_queue *q, uint64_t f)
{
	const struct sim_params *p = s->p;
	const struct sim_wc *w = W(q);
	uint64_t k; /* frames that may pass the bus before the cut frame */

	if (!w->ready)
		return p->drop_en ? SIM_NO_CUT : f; /* drops, or the buffer */
	if (!w->ct_busy && wc_capture__deadline(w->cap) == WC_CAPTURE_NEVER)
		k = 0;                  /* the next frame starts the capture timeout */
	else
		k = w->seg_left - 1;    /* the frame after completes the segment */
	return f + admitted_position(q->bus_acc, p->bus_admit, k) * p->n_queues;
}

/* Before the cut, frames only fill the head segment: wc_deliver_n without
 * waking anyone. */
static uint64_t wc_bulk_count(struct sim *s, struct sim_queue *q, uint64_t f, uint64_t c)
{
	struct sim_wc *w = W(q);
	uint64_t a = bulk_admit(s, q, c);

	if (!a)
		return c;
	if (!w->ready) {
		drop(q, &q->st.drops_nodesc, a);
		return c;
	}
	w->ready -= (uint32_t)a;
	w->pending_rx += (uint32_t)a;
	w->seg_left -= (uint32_t)a;
	w->buffered += a;
	if (w->buffered > q->st.max_buffered)
		q->st.max_buffered = w->buffered;
	q->head_seq += a;
	return c;
}

/* ---- set-up ------------------------------------------------------------ */

static int wc_init(struct sim *s)
{
	const struct sim_params *p = s->p;
	struct wc_run *r = calloc(1, sizeof(*r));
	uint32_t i;
	int err;

	if (!r)
		return -ENOMEM;
	s->eng_run = r;

	for (i = 0; i < WC_GROUP_MAX; i++)
		r->bar[i].src = -1;
	if (p->wc_advanced && p->wc_offload != WC_OFFLOAD_CHUNK) {
		/* bucket offloading: one balancer over the NIC's queues, the
		 * redirection table as RSS left it (reta.c) */
		/* no table given: ixgbe's default, bucket b -> queue b mod n,
		 * as Python steered the trace (reta.c checks it) */
		struct wc_balance_opts bo = { .sz = sizeof(bo), .n_buckets = p->n_buckets,
					      .n_members = s->nq_total, .threshold_pct = p->wc_t_pct,
					      .imbalance_pct = p->bal_imbalance_pct };

		err = wc_balance__create(&r->bal, &bo);
		if (err)
			return err;
		for (i = 0; i < s->nq_total; i++) {
			r->held[i].cap = p->wc_r; /* at most every chunk of its pool */
			r->held[i].m = calloc(p->wc_r, sizeof(*r->held[i].m));
			if (!r->held[i].m)
				return -ENOMEM;
		}
		sim_schedule(s, p->bal_period_ps, EV_BALANCE, 0, 0);
	}
	/* buddy groups: the paper's chunk offloading, or hybrid's spill */
	if (p->wc_advanced && p->wc_offload != WC_OFFLOAD_BUCKET) {
		uint32_t t = p->wc_offload == WC_OFFLOAD_HYBRID ? wc_balance__spill_pct(p->wc_t_pct) : p->wc_t_pct;

		for (i = 0; i < s->nq_total; i++)
			if (p->wc_group[i] + 1u > r->n_groups)
				r->n_groups = p->wc_group[i] + 1u;
		r->groups = calloc(r->n_groups, sizeof(*r->groups));
		if (!r->groups)
			return -ENOMEM;
		for (i = 0; i < r->n_groups; i++) {
			struct wc_group_opts o = { sizeof(o), t };

			err = wc_group__create(&r->groups[i], &o);
			if (err)
				return err;
		}
	}
	for (i = 0; i < s->nq_total; i++) {
		struct sim_queue *q = &s->q[i];
		struct sim_wc *w = W(q);
		struct wc_pool_opts o = { sizeof(o), p->ring_size, p->wc_m, p->wc_r,
					  (uint16_t)q->nic, (uint16_t)i };
		struct wc_capture_opts co = { .sz = sizeof(co), .hooks = &sim_hooks, .user = q };

		w->s = s;
		w->balanced = r->bal != NULL;
		err = wc_pool__create(&w->pool, &o);
		if (err)
			return err;
		/* with offloading, any chunk of the group may land in one queue;
		 * the model's threads are events of one loop, so every queue is
		 * used by one thread (wc_workq.h: WC_WORKQ_LOCAL) */
		err = wc_workq__create_flags(&w->capq, p->wc_r * (r->groups ? s->nq_total : 1), SIM_WORKQ_FLAGS);
		if (!err)
			err = wc_workq__create_flags(&w->recq, p->wc_r, SIM_WORKQ_FLAGS);
		if (err)
			return err;
		if (r->groups)
			w->group = r->groups[p->wc_group[i]];
		co.pool = w->pool;
		co.capq = w->capq;
		co.recq = w->recq;
		co.group = w->group; /* the step joins it: member index in the group */
		co.timeout = (uint64_t)p->wc_timeout_ps;
		err = wc_capture__create(&w->cap, &co);
		if (!err)
			err = wc_capture_set__add(&r->owners, (uint16_t)q->nic, (uint16_t)i, w->cap);
		if (err)
			return err;
		if (w->group)
			r->member_queue[p->wc_group[i]][wc_capture__member(w->cap)] = i;
		err = wc_pool__open(w->pool);
		if (err < 0)
			return err;
		sync_ready(s, w);
		if (p->app_start_ps > 0)
			sim_schedule(s, p->app_start_ps, EV_APP_START, i, 0);
	}
	return 0;
}

static void wc_fini(struct sim *s)
{
	struct wc_run *r = s->eng_run;
	uint32_t i;

	for (i = 0; i < s->nq_total; i++) {
		struct sim_wc *w = W(&s->q[i]);

		wc_capture__destroy(w->cap);
		wc_pool__destroy(w->pool);
		wc_workq__destroy(w->capq);
		wc_workq__destroy(w->recq);
	}
	if (!r)
		return;
	wc_balance__destroy(r->bal);
	for (i = 0; i < WC_GROUP_MAX; i++)
		free(r->held[i].m);
	for (i = 0; i < r->n_groups && r->groups; i++)
		wc_group__destroy(r->groups[i]);
	free(r->groups);
	free(r);
	s->eng_run = NULL;
}

const struct sim_engine_ops sim_engine_wirecap = {
	.lazy_sync = 1, /* sim_sync: ct_start, and an owner's buffered count */
	.init = wc_init,
	.fini = wc_fini,
	.ready = wc_ready,
	.deliver = wc_deliver,
	.room = wc_room,
	.deliver_n = wc_deliver_n,
	.quiet = wc_quiet,
	.event = wc_event,
	.bulk_cut = wc_bulk_cut,
	.bulk_count = wc_bulk_count,
};
