/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * WireCAP in the simulator, basic and advanced mode (paper §3.2.2,
 * Figure 7), driven through the same engine core (wc_pool, wc_workq,
 * wc_group) that the AF_XDP backend runs on real threads.
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
 * take place when the operation completes. Then it goes on while work is
 * left, or blocks; blocking with a partly filled chunk arms the timeout.
 *
 * The application thread takes chunks from its capture queue one by one
 * and processes their packets at the configured cost per packet; a used
 * chunk goes to the recycle queue of the pool it belongs to (§3.2.2a step
 * 2), whichever thread processed it.
 */
#include "sim_bulk.h"
#include "sim_engine.h"

#include <errno.h>
#include <stdlib.h>

/* metadata buffer of one capture call; the loop calls again until done */
#define CAPTURE_BATCH 64u

enum {
	EV_CT_DONE = EV_ENGINE, /* the capture thread finished an operation */
	EV_CT_TIMEOUT,          /* partial-chunk capture timeout */
	EV_TX_DONE,             /* a forwarded chunk's last frame left NIC2 */
};

/* per-queue state (q->eng) */
struct sim_wc {
	struct wc_pool *pool;
	struct wc_workq *capq;   /* capture queue (consumer: this queue's app) */
	struct wc_workq *recq;   /* recycle queue (consumer: this queue's capture thread) */
	struct wc_group *group;  /* shared by the buddies; NULL in basic mode */
	int member;              /* index in the group */
	uint32_t ready;          /* cached wc_pool__ready() */
	uint32_t seg_left;       /* cells left in the head segment */
	uint32_t pending_rx;     /* frames written but not yet told to the pool */
	/* capture thread */
	int ct_busy;
	int ct_flush;            /* the running op flushes a partial chunk */
	uint32_t ct_recycles;    /* recycles the running op performs */
	int ct_timer_armed;      /* the thread blocks with a capture timeout */
	int ct_timer_pending;    /* a timeout event is in the heap */
	int64_t ct_deadline;
	uint64_t buffered;       /* frames captured or in the ring, not yet processed */
	struct wc_workq *txq;    /* processed chunks waiting for their transmit completion */
};
SIM_ENGINE_STATE(struct sim_wc);

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

/* Arm the capture timeout. One timeout event per queue is in flight at a
 * time: re-arming only moves the deadline, and the pending event, when it
 * fires early, re-schedules itself for the deadline (fewer heap entries). */
static void arm_timer(struct sim *s, struct sim_queue *q)
{
	struct sim_wc *w = W(q);

	w->ct_timer_armed = 1;
	w->ct_deadline = s->now + s->p->wc_timeout_ps;
	if (!w->ct_timer_pending) {
		w->ct_timer_pending = 1;
		sim_schedule(s, w->ct_deadline, EV_CT_TIMEOUT, q->id, 0);
	}
}

/* The capture thread starts an operation if there is work; else it blocks. */
static void ct_start(struct sim *s, struct sim_queue *q, int flush)
{
	const struct sim_params *p = s->p;
	struct sim_wc *w = W(q);
	uint32_t nr, nf, partial;
	int64_t dur = 0;

	flush_rx(s, w);
	nr = wc_workq__len(w->recq);
	nf = wc_pool__full(w->pool);
	partial = wc_pool__partial(w->pool);
	if (!nr && !nf && !(flush && partial)) {
		if (partial && !w->ct_timer_armed)
			arm_timer(s, q);
		return;
	}
	if (nr)
		dur += p->wc_recycle_ps + (int64_t)nr * p->wc_chunk_ps;
	if (nf)
		dur += p->wc_capture_ps + (int64_t)nf * p->wc_chunk_ps;
	else if (flush && partial)
		dur += p->wc_capture_ps + p->wc_chunk_ps + (int64_t)partial * p->wc_copy_ps;
	w->ct_busy = 1;
	w->ct_flush = !nf && flush && partial;
	w->ct_recycles = nr;
	w->ct_timer_armed = 0; /* a pending timeout event finds it disarmed */
	sim_schedule(s, s->now + dur, EV_CT_DONE, q->id, 0);
}

static void ct_notify(struct sim *s, struct sim_queue *q)
{
	if (!W(q)->ct_busy)
		ct_start(s, q, 0);
}

static void app_start(struct sim *s, struct sim_queue *q)
{
	struct sim_app *a = &q->app;

	if (a->busy || wc_workq__pop(W(q)->capq, &a->meta))
		return;
	a->busy = 1;
	a->gen++;
	a->batch = a->meta.pkt_count;
	a->started = s->now;
	sim_schedule(s, s->now + (int64_t)a->batch * s->p->app_cost_ps, EV_APP_DONE, q->id, a->gen);
}

static void ct_done(struct sim *s, struct sim_queue *q)
{
	const struct sim_params *p = s->p;
	struct sim_wc *w = W(q);
	struct wc_chunk_meta metas[CAPTURE_BATCH];
	uint32_t i;
	int n, flush = w->ct_flush;

	flush_rx(s, w);
	for (i = 0; i < w->ct_recycles; i++) {
		struct wc_chunk_meta m;

		if (wc_workq__pop(w->recq, &m)) {
			fail(s, -EPROTO);
			break;
		}
		fail(s, wc_pool__recycle(w->pool, &m));
	}
	while ((n = wc_pool__capture(w->pool, metas, CAPTURE_BATCH, flush)) > 0) {
		flush = 0;
		for (i = 0; i < (uint32_t)n; i++) {
			uint32_t target = q->id;

			if (w->group) {
				int m = wc_group__place(w->group, (uint32_t)w->member);

				if (m < 0) {
					fail(s, m);
					continue;
				}
				target = s->member_queue[p->wc_group[q->id]][m];
			}
			if (metas[i].flags & WC_META_COPIED)
				q->st.chunks_copied++;
			fail(s, wc_workq__push(W(&s->q[target])->capq, &metas[i]));
			app_start(s, &s->q[target]);
		}
	}
	fail(s, n);
	if (wc_pool__attach(w->pool, NULL, 0) > 0) {
		sync_ready(s, w);
		sim_ring_space(s, q); /* frames waiting in the NIC's buffer may go now */
	}
	sync_ready(s, w);
	w->ct_busy = 0;
	ct_start(s, q, 0);
}

static void wc_event(struct sim *s, const struct sim_event *ev)
{
	struct sim_queue *q = &s->q[ev->q];
	struct sim_wc *w = W(q);

	switch (ev->kind) {
	case EV_CT_DONE:
		ct_done(s, q);
		break;
	case EV_CT_TIMEOUT:
		w->ct_timer_pending = 0;
		if (!w->ct_timer_armed || w->ct_busy)
			break;
		if (s->now < w->ct_deadline) {
			/* re-armed since this event was scheduled */
			w->ct_timer_pending = 1;
			sim_schedule(s, w->ct_deadline, EV_CT_TIMEOUT, q->id, 0);
			break;
		}
		w->ct_timer_armed = 0;
		ct_start(s, q, 1);
		break;
	case EV_APP_DONE: {
		struct sim_app *a = &q->app;
		struct wc_chunk_meta m = a->meta;
		struct sim_queue *owner = &s->q[m.ring_id];

		int64_t freed;

		if (ev->arg != a->gen)
			break;
		a->busy = 0;
		q->st.last_done_ps = s->now;
		freed = sim_processed(s, q->id, m.ring_id, m.seq, m.pkt_count, a->started + s->p->app_cost_ps,
				      s->p->app_cost_ps);
		W(owner)->buffered -= m.pkt_count;
		if (freed > s->now) {
			/* zero-copy forwarding: the cells are the transmit buffers,
			 * so the chunk is recycled only after transmit completion */
			fail(s, wc_workq__push(W(q)->txq, &m));
			sim_schedule(s, freed, EV_TX_DONE, q->id, 0);
		} else {
			fail(s, wc_workq__push(W(owner)->recq, &m));
			ct_notify(s, owner);
		}
		app_start(s, q);
		break;
	}
	case EV_TX_DONE: {
		struct wc_chunk_meta m;

		if (wc_workq__pop(w->txq, &m)) {
			fail(s, -EPROTO);
			break;
		}
		fail(s, wc_workq__push(W(&s->q[m.ring_id])->recq, &m));
		ct_notify(s, &s->q[m.ring_id]);
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
	w->ready -= n;
	w->pending_rx += n;
	w->buffered += n;
	if (w->buffered > q->st.max_buffered)
		q->st.max_buffered = w->buffered;
	w->seg_left -= n;
	if (w->seg_left == 0) {
		sync_ready(s, w);
		ct_notify(s, q);
	} else if (!w->ct_busy && !w->ct_timer_armed) {
		/* §3.2.1 capture case 3: a partly filled chunk; block with timeout */
		arm_timer(s, q);
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

/* ---- bulk steps (bulk.c) ------------------------------------------------ */

/* A run stops at the frame that wakes the capture thread: the one that
 * completes the head segment, or, with the thread idle and no timeout
 * armed, the next one (it arms the capture timeout, §3.2.1 case 3). With
 * no ready descriptor, the run's frames are drops, or (DROP_EN clear) the
 * next goes to the NIC's buffer. */
static uint64_t wc_bulk_cut(struct sim *s, struct sim_queue *q, uint64_t f)
{
	const struct sim_params *p = s->p;
	const struct sim_wc *w = W(q);
	uint64_t k; /* frames that may pass the bus before the cut frame */

	if (!w->ready)
		return p->drop_en ? SIM_NO_CUT : f; /* drops, or the buffer */
	if (!w->ct_busy && !w->ct_timer_armed)
		k = 0;                  /* the next frame arms the capture timeout */
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
	uint32_t i;
	int err;

	if (p->wc_advanced) {
		for (i = 0; i < s->nq_total; i++)
			if (p->wc_group[i] + 1u > s->n_groups)
				s->n_groups = p->wc_group[i] + 1u;
		s->groups = calloc(s->n_groups, sizeof(*s->groups));
		if (!s->groups)
			return -ENOMEM;
		for (i = 0; i < s->n_groups; i++) {
			struct wc_group_opts o = { sizeof(o), p->wc_t_pct };

			err = wc_group__create(&s->groups[i], &o);
			if (err)
				return err;
		}
	}
	for (i = 0; i < s->nq_total; i++) {
		struct sim_wc *w = W(&s->q[i]);
		struct wc_pool_opts o = { sizeof(o), p->ring_size, p->wc_m, p->wc_r,
					  (uint16_t)s->q[i].nic, (uint16_t)i };

		err = wc_pool__create(&w->pool, &o);
		if (err)
			return err;
		/* with offloading, any chunk of the group may land in one queue */
		err = wc_workq__create(&w->capq, p->wc_r * (p->wc_advanced ? s->nq_total : 1));
		if (!err)
			err = wc_workq__create(&w->recq, p->wc_r);
		if (!err && p->forward)
			err = wc_workq__create(&w->txq, p->wc_r * s->nq_total);
		if (err)
			return err;
		if (p->wc_advanced) {
			uint32_t g = p->wc_group[i];
			int m;

			w->group = s->groups[g];
			m = wc_group__add(w->group, w->capq, p->wc_r);
			if (m < 0)
				return m;
			w->member = m;
			s->member_queue[g][m] = i;
		}
		err = wc_pool__open(w->pool);
		if (err < 0)
			return err;
		sync_ready(s, w);
	}
	return 0;
}

static void wc_fini(struct sim *s)
{
	uint32_t i;

	for (i = 0; i < s->nq_total; i++) {
		struct sim_wc *w = W(&s->q[i]);

		wc_pool__destroy(w->pool);
		wc_workq__destroy(w->capq);
		wc_workq__destroy(w->recq);
		wc_workq__destroy(w->txq);
	}
	for (i = 0; i < s->n_groups; i++)
		wc_group__destroy(s->groups[i]);
	free(s->groups);
	s->groups = NULL;
}

const struct sim_engine_ops sim_engine_wirecap = {
	.init = wc_init,
	.fini = wc_fini,
	.ready = wc_ready,
	.deliver = wc_deliver,
	.room = wc_room,
	.deliver_n = wc_deliver_n,
	.event = wc_event,
	.bulk_cut = wc_bulk_cut,
	.bulk_count = wc_bulk_count,
};
