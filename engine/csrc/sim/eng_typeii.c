/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Type-II engines, DNA and NETMAP (paper §2.1): the NIC's ring buffers are
 * the capture buffer. "A received packet is kept in a NIC ring buffer until
 * it is consumed. During this period, the ring buffer and its associated
 * receive descriptor cannot be released and reinitialized." So a queue can
 * hold at most the ring's usable descriptors (ixgbe keeps one empty).
 *
 * These are models of kernel modules we do not run (DNA, netmap); their
 * behaviour comes from the paper and their documentation:
 *  - DNA: the application busy-polls the ring and gives each descriptor
 *    back as soon as it has processed its packet. Modelled as batches of
 *    "everything in the ring" processed back to back, with descriptors
 *    released one by one along the batch (a linear ramp, evaluated
 *    lazily, so no event per packet is needed).
 *  - NETMAP: poll() blocks when the ring is empty (a wake-up costs time);
 *    NIOCRXSYNC hands the application every packet received so far and
 *    gives back the slots of the previous batch, so descriptors return in
 *    steps, one per sync.
 * DNA's queue also has a closed form, for bulk steps: eng_dna_bulk.c.
 */
#include "eng_typeii.h"
#include "sim_engine.h"

#include <errno.h>

enum {
	EV_APP_WAKE = EV_ENGINE, /* NETMAP: poll() returns */
};

static inline int is_dna(const struct sim *s)
{
	return s->p->engine == SIM_ENGINE_DNA;
}

/* Descriptors given back by time `now` (`dna`: is_dna(s), a constant where
 * the caller knows its engine, as in each engine's table below). */
static inline uint64_t released_now(const struct sim *s, struct sim_queue *q, const int dna)
{
	const struct sim_app *a = &q->app;
	uint64_t done;

	if (!dna || !a->busy)
		return T2(q)->released;
	if (s->p->app_cost_ps <= 0)
		return T2(q)->released + a->batch;
	done = (uint64_t)((s->now - a->started) / s->p->app_cost_ps);
	return T2(q)->released + (done < a->batch ? done : a->batch);
}

/* Descriptors of q's ring ready for a frame now. DNA and NETMAP each have
 * their own entries for this and for a delivery, so that the NIC's calls
 * for every frame do not ask which engine runs. */
static inline uint32_t ready_of(struct sim *s, struct sim_queue *q, const int dna)
{
	uint64_t held = T2(q)->in_ring - released_now(s, q, dna);

	return held < s->p->ring_usable ? (uint32_t)(s->p->ring_usable - held) : 0;
}

static uint32_t dna_ready(struct sim *s, struct sim_queue *q)
{
	return ready_of(s, q, 1);
}

static uint32_t netmap_ready(struct sim *s, struct sim_queue *q)
{
	return ready_of(s, q, 0);
}

static int64_t t2_next_release(struct sim *s, struct sim_queue *q)
{
	const struct sim_app *a = &q->app;
	uint64_t done;

	if (!a->busy || s->p->app_cost_ps <= 0)
		return SIM_NEVER;
	done = (uint64_t)((s->now - a->started) / s->p->app_cost_ps);
	if (done >= a->batch)
		return SIM_NEVER; /* the batch-done event will kick the NIC */
	return a->started + (int64_t)(done + 1) * s->p->app_cost_ps;
}

/* Start processing everything in the ring (the next batch). */
static void start_batch(struct sim *s, struct sim_queue *q, int64_t overhead)
{
	struct sim_app *a = &q->app;
	uint64_t k = T2(q)->in_ring - T2(q)->released;

	if (!k)
		return;
	a->busy = 1;
	a->gen++;
	a->batch = k;
	a->started = s->now + overhead;
	sim_schedule(s, a->started + (int64_t)k * s->p->app_cost_ps, EV_APP_DONE, q->id, a->gen);
}

/* The batch is processed: release its descriptors, let waiting frames in. */
static void finish_batch(struct sim *s, struct sim_queue *q)
{
	struct sim_app *a = &q->app;
	struct sim_t2 *t = T2(q);

	sim_processed(s, q->id, q->id, t->released, a->batch, a->started + s->p->app_cost_ps,
		      s->p->app_cost_ps);
	t->released += a->batch;
	a->busy = 0;
	q->st.last_done_ps = s->now;
	sim_ring_space(s, q);
}

/* NETMAP's NIOCRXSYNC, at wake-up or when a batch is done. */
static void netmap_sync(struct sim *s, struct sim_queue *q)
{
	struct sim_t2 *t = T2(q);

	if (q->app.busy)
		finish_batch(s, q);
	if (t->in_ring == t->released) {
		t->sleeping = 1; /* poll() blocks */
		return;
	}
	start_batch(s, q, s->p->nm_sync_ps);
}

static int t2_init(struct sim *s)
{
	uint32_t i;

	for (i = 0; i < s->nq_total; i++)
		T2(&s->q[i])->sleeping = 1;
	return 0;
}

static inline void note_held(struct sim_queue *q, uint64_t held)
{
	if (held > q->st.max_buffered)
		q->st.max_buffered = held;
}

/* n more frames join the ring now; the most it has held is kept */
static inline void ring_join(struct sim *s, struct sim_queue *q, uint64_t n, const int dna)
{
	struct sim_t2 *t = T2(q);

	t->in_ring += n;
	note_held(q, t->in_ring - released_now(s, q, dna));
}

static void dna_deliver(struct sim *s, struct sim_queue *q)
{
	ring_join(s, q, 1, 1);
	if (!q->app.busy)
		start_batch(s, q, 0);
}

static void netmap_deliver(struct sim *s, struct sim_queue *q)
{
	struct sim_t2 *t = T2(q);

	ring_join(s, q, 1, 0);
	if (t->sleeping && !t->wake_pending) {
		t->wake_pending = 1;
		sim_schedule(s, s->now + s->p->nm_wakeup_ps, EV_APP_WAKE, q->id, 0);
	}
}

/* n frames at once, as n calls of netmap_deliver at this instant would
 * (only the first can schedule a wake-up; the rest only fill the ring, and
 * the most held is after the last). */
static void netmap_deliver_n(struct sim *s, struct sim_queue *q, uint32_t n)
{
	if (!n)
		return;
	netmap_deliver(s, q);
	if (n > 1)
		ring_join(s, q, n - 1, 0);
}

/* DNA's quiet frames (quiet.c, ops->take): with the application busy, a
 * frame only joins the ring, or finds it full: dna_ready and dna_deliver
 * without the batch start, and without the way through the NIC model. */
static int dna_take(struct sim *s, struct sim_queue *q)
{
	struct sim_t2 *t = T2(q);
	uint64_t held;

	if (!q->app.busy)
		return SIM_TAKE_NO; /* it starts a batch */
	/* dna_ready's test and ring_join's count from one released_now (one
	 * division a frame, the point of taking it here) */
	held = t->in_ring - released_now(s, q, 1);
	if (held >= s->p->ring_usable)
		return s->p->drop_en ? SIM_TAKE_DROP : SIM_TAKE_NO; /* or waits in the buffer */
	t->in_ring++;
	note_held(q, held + 1);
	return SIM_TAKE_RING;
}

static void t2_event(struct sim *s, const struct sim_event *ev)
{
	struct sim_queue *q = &s->q[ev->q];

	switch (ev->kind) {
	case EV_APP_DONE:
		if (ev->arg != q->app.gen)
			return;
		if (is_dna(s)) {
			finish_batch(s, q);
			start_batch(s, q, 0);
		} else {
			netmap_sync(s, q);
		}
		break;
	case EV_APP_WAKE:
		T2(q)->wake_pending = 0;
		T2(q)->sleeping = 0;
		netmap_sync(s, q);
		break;
	default:
		s->err = -EPROTO;
	}
}

/* DNA gives descriptors back one by one along a batch without telling
 * anyone (next_release), and has a closed form for bulk steps. Its buffer
 * drains frame by frame: a descriptor comes back at a time, so room would
 * mostly be one (and asking for it cost DNA on one queue about 10%). */
const struct sim_engine_ops sim_engine_dna = {
	.init = t2_init,
	.ready = dna_ready,
	.deliver = dna_deliver,
	.take = dna_take,
	.next_release = t2_next_release,
	.event = t2_event,
	.bulk_cut = dna_bulk_cut,
	.bulk_count = dna_bulk_count,
};

/* NETMAP gives descriptors back at each sync (sim_ring_space), many at a
 * time: frames waiting in the NIC's buffer go in in one step (room); its
 * generator frames go one by one in bulk mode too. */
const struct sim_engine_ops sim_engine_netmap = {
	.init = t2_init,
	.ready = netmap_ready,
	.deliver = netmap_deliver,
	.room = netmap_ready,
	.deliver_n = netmap_deliver_n,
	.event = t2_event,
};
