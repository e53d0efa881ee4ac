/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PF_RING in mode 2, a Type-I engine (paper §2.1): NAPI polling copies each
 * frame from the NIC's ring buffer into the pf_ring (10,240 slots, §2.2),
 * which the application reads. This is a model of a kernel module we do
 * not run; its mechanisms are Linux's:
 *
 *  - The NIC interrupts (at most once per ITR interval) when a frame
 *    arrives and NAPI is idle. The hard interrupt preempts the application
 *    on the queue's core, then softirq context runs NAPI polls of up to
 *    `weight` frames, each frame costing a copy (fixed + per byte). A copy
 *    into a full pf_ring is a delivery drop (the frame was captured, then
 *    lost). Copied descriptors go back to the NIC at the end of each poll.
 *  - A poll that finds less than its weight of work completes NAPI and
 *    re-enables interrupts (napi_complete_done()).
 *  - Softirq work past a packet or time budget (net.core.netdev_budget and
 *    its 2 ms limit, times the softirq restarts) is deferred to ksoftirqd,
 *    a normal thread that must share the core with the application (the
 *    receive livelock of §2.1 [24]): while both are runnable they take
 *    turns of one CFS slice each, the application first. While the
 *    application holds the core, nobody empties the NIC ring: frames
 *    arriving then are capture drops; while ksoftirqd holds it, nobody
 *    empties the pf_ring: copies into it are delivery drops.
 *  - Turns change at work-item boundaries (one packet for the application,
 *    one poll for ksoftirqd), tens of microseconds against a slice of
 *    milliseconds.
 */
#include "frames.h"
#include "sim_engine.h"

#include <errno.h>
#include <stdlib.h>

enum { RUN_IDLE = 0, RUN_APP, RUN_SOFTIRQ, RUN_KSOFTIRQD };
enum { NAPI_OFF = 0, NAPI_SOFTIRQ, NAPI_KSOFTIRQD };

enum {
	EV_PF_IRQ = EV_ENGINE, /* interrupt */
	EV_PF_POLL,            /* a NAPI poll starts */
	EV_PF_POLL_DONE,       /* a NAPI poll finished copying */
};

/* per-queue state (q->eng) */
struct sim_pf {
	uint64_t in_ring, released;       /* NIC ring: frames in, descriptors given back */
	uint64_t pf_in, pf_out;           /* pf_ring: inserts, removes */
	int irq_enabled, irq_pending;
	int64_t last_irq;
	int napi_ctx;                     /* NAPI scheduled, and where it runs */
	int running;                      /* who holds the core */
	int turn;                         /* whose CFS turn while both compete */
	int64_t turn_end;
	int64_t softirq_start;
	uint64_t softirq_pkts;
	uint32_t poll_batch;
	uint64_t *slot_seq;               /* ring sequence number held by each pf_ring slot */
};
SIM_ENGINE_STATE(struct sim_pf);

static inline struct sim_pf *P(struct sim_queue *q)
{
	return (struct sim_pf *)q->eng;
}

static inline int app_has_work(struct sim_queue *q)
{
	return q->app.busy || P(q)->pf_in != P(q)->pf_out;
}

static void app_run(struct sim *s, struct sim_queue *q)
{
	struct sim_app *a = &q->app;

	if (!a->busy) {
		a->busy = 1;
		a->batch = 1;
		a->remaining_ps = s->p->app_cost_ps;
	}
	a->gen++;
	a->started = s->now;
	P(q)->running = RUN_APP;
	sim_schedule(s, s->now + a->remaining_ps, EV_APP_DONE, q->id, a->gen);
}

static void app_pause(struct sim *s, struct sim_queue *q)
{
	struct sim_app *a = &q->app;

	a->remaining_ps -= s->now - a->started;
	a->gen++; /* the pending completion is stale */
}

static void poll_start(struct sim *s, struct sim_queue *q);

/* The core is free: who runs next? */
static void core_pick(struct sim *s, struct sim_queue *q)
{
	struct sim_pf *f = P(q);
	int app = app_has_work(q), ks = f->napi_ctx == NAPI_KSOFTIRQD;
	int who;

	if (app && ks) {
		if (s->now >= f->turn_end) {
			f->turn = f->turn == RUN_APP ? RUN_KSOFTIRQD : RUN_APP;
			f->turn_end = s->now + s->p->pf_slice_ps;
		}
		who = f->turn;
	} else if (app) {
		who = RUN_APP;
	} else if (ks) {
		/* ksoftirqd alone; an application waking up waits for the turn */
		who = RUN_KSOFTIRQD;
		if (f->turn != RUN_KSOFTIRQD) {
			f->turn = RUN_KSOFTIRQD;
			f->turn_end = s->now + s->p->pf_slice_ps;
		}
	} else {
		who = RUN_IDLE;
	}
	f->running = RUN_IDLE;
	if (who == RUN_APP)
		app_run(s, q);
	else if (who == RUN_KSOFTIRQD) {
		f->running = RUN_KSOFTIRQD;
		poll_start(s, q);
	}
}

static void raise_irq(struct sim *s, struct sim_queue *q)
{
	struct sim_pf *f = P(q);
	int64_t t = f->last_irq + s->p->pf_itr_ps;

	if (!f->irq_enabled || f->irq_pending)
		return;
	f->irq_pending = 1;
	sim_schedule(s, t > s->now ? t : s->now, EV_PF_IRQ, q->id, 0);
}

static void poll_start(struct sim *s, struct sim_queue *q)
{
	struct sim_pf *f = P(q);
	uint64_t avail = f->in_ring - f->released, k, i;
	int64_t cost = 0;

	if (!avail) {
		/* napi_complete(): interrupts back on, the context ends */
		f->napi_ctx = NAPI_OFF;
		f->irq_enabled = 1;
		core_pick(s, q);
		return;
	}
	k = avail < s->p->pf_napi_weight ? avail : s->p->pf_napi_weight;
	for (i = 0; i < k; i++) {
		uint64_t seq = f->released + i;
		uint32_t size = q->seq_pkt ? pkt_size(s, q->seq_pkt[seq]) : s->p->gen_size;

		cost += s->p->pf_copy_ps + (int64_t)size * s->p->pf_copy_byte_ps;
	}
	f->poll_batch = (uint32_t)k;
	sim_schedule(s, s->now + cost, EV_PF_POLL_DONE, q->id, 0);
}

static void poll_done(struct sim *s, struct sim_queue *q)
{
	const struct sim_params *p = s->p;
	struct sim_pf *f = P(q);
	uint64_t k = f->poll_batch, i;

	for (i = 0; i < k; i++) {
		if (f->pf_in - f->pf_out < p->pf_slots)
			f->slot_seq[f->pf_in++ % p->pf_slots] = f->released + i;
		else
			q->st.delivery_drops++;
	}
	if (f->pf_in - f->pf_out > q->st.max_buffered)
		q->st.max_buffered = f->pf_in - f->pf_out;
	f->released += k;
	f->poll_batch = 0;
	sim_ring_space(s, q);
	if (k < p->pf_napi_weight) {
		/* the poll did less than its weight of work: napi_complete(),
		 * interrupts back on (net/core/dev.c, napi_poll()) */
		f->napi_ctx = NAPI_OFF;
		f->irq_enabled = 1;
		core_pick(s, q);
		if (f->in_ring != f->released)
			raise_irq(s, q);
		return;
	}
	if (f->napi_ctx == NAPI_SOFTIRQ) {
		f->softirq_pkts += k;
		if (f->softirq_pkts >= p->pf_softirq_pkts || s->now - f->softirq_start >= p->pf_softirq_ps) {
			/* defer to ksoftirqd; the application goes first */
			f->napi_ctx = NAPI_KSOFTIRQD;
			f->turn = RUN_APP;
			f->turn_end = s->now + p->pf_slice_ps;
			core_pick(s, q);
			return;
		}
		poll_start(s, q);
		return;
	}
	/* ksoftirqd: a poll boundary, the turn may pass to the application */
	core_pick(s, q);
}

static int pf_init(struct sim *s)
{
	uint32_t i;

	if (!s->p->pf_slots)
		return -EINVAL;
	for (i = 0; i < s->nq_total; i++) {
		struct sim_pf *f = P(&s->q[i]);

		f->irq_enabled = 1;
		f->last_irq = -s->p->pf_itr_ps;
		f->slot_seq = malloc(s->p->pf_slots * sizeof(*f->slot_seq));
		if (!f->slot_seq)
			return -ENOMEM;
	}
	return 0;
}

static void pf_fini(struct sim *s)
{
	uint32_t i;

	for (i = 0; i < s->nq_total; i++) {
		free(P(&s->q[i])->slot_seq);
		P(&s->q[i])->slot_seq = NULL;
	}
}

static uint32_t pf_ready(struct sim *s, struct sim_queue *q)
{
	uint64_t held = P(q)->in_ring - P(q)->released;

	return held < s->p->ring_usable ? (uint32_t)(s->p->ring_usable - held) : 0;
}

static void pf_deliver(struct sim *s, struct sim_queue *q)
{
	P(q)->in_ring++;
	raise_irq(s, q);
}

static void pf_event(struct sim *s, const struct sim_event *ev)
{
	struct sim_queue *q = &s->q[ev->q];
	struct sim_pf *f = P(q);

	switch (ev->kind) {
	case EV_PF_IRQ:
		f->irq_pending = 0;
		if (!f->irq_enabled)
			break;
		f->irq_enabled = 0;
		f->last_irq = s->now;
		if (f->running == RUN_APP)
			app_pause(s, q);
		f->running = RUN_SOFTIRQ;
		f->napi_ctx = NAPI_SOFTIRQ;
		f->softirq_start = s->now + s->p->pf_irq_ps;
		f->softirq_pkts = 0;
		sim_schedule(s, f->softirq_start, EV_PF_POLL, q->id, 0);
		break;
	case EV_PF_POLL:
		poll_start(s, q);
		break;
	case EV_PF_POLL_DONE:
		poll_done(s, q);
		break;
	case EV_APP_DONE:
		if (ev->arg != q->app.gen)
			break;
		q->app.busy = 0;
		q->st.last_done_ps = s->now;
		sim_processed(s, q->id, q->id, f->slot_seq[f->pf_out++ % s->p->pf_slots], 1, s->now, 0);
		core_pick(s, q);
		break;
	default:
		s->err = -EPROTO;
	}
}

/* In trace mode each NAPI copy costs by the frame's own size, read by its
 * ring sequence number (frame_ids). */
const struct sim_engine_ops sim_engine_pfring = {
	.frame_ids = 1,
	.init = pf_init,
	.fini = pf_fini,
	.ready = pf_ready,
	.deliver = pf_deliver,
	.event = pf_event,
};
