/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DNA in bulk steps (bulk.c): a DNA queue followed through a run of
 * generator frames in closed form, never cutting the run.
 *
 * DNA's application is a single server: frames leave one every app_cost
 * after max(arrival, previous departure) (the batches of eng_typeii.c are
 * this Lindley recursion). So the ring's occupancy at each arrival, and
 * with it every frame's fate, follows from the arrivals alone; the queue's
 * event state after the run is one batch, the frames still held.
 */
#include "eng_typeii.h"
#include "sim_bulk.h"

/* DNA's application keeps up with its queue when it finishes a frame
 * before the queue's next frame can arrive (nq frame times later). */
static inline int dna_passes_through(const struct sim *s, const struct sim_queue *q)
{
	return !q->app.busy && s->p->app_cost_ps <= (int64_t)s->p->n_queues * s->p->gen_gap_ps;
}

/* `busy_until` is when the last frame in the ring leaves; frames still held
 * at t are those leaving after t. */
static inline int64_t dna_busy_until(const struct sim *s, struct sim_queue *q)
{
	if (!q->app.busy)
		return SIM_NEVER;
	return q->app.started + (int64_t)(T2(q)->in_ring - T2(q)->released) * s->p->app_cost_ps;
}

/* Make the frames still held at time `from` the current batch (they leave
 * back to back from `from`), with its completion event. */
static void dna_set_busy(struct sim *s, struct sim_queue *q, int64_t from, uint64_t held)
{
	struct sim_app *app = &q->app;

	app->gen++; /* a completion already scheduled is stale */
	if (!held) {
		app->busy = 0;
		return;
	}
	app->busy = 1;
	app->batch = held;
	app->started = from;
	T2(q)->released = T2(q)->in_ring - held;
	q->st.last_done_ps = from + (int64_t)held * s->p->app_cost_ps;
	sim_schedule(s, q->st.last_done_ps, EV_APP_DONE, q->id, app->gen);
}

/* DNA's queue through c of its frames (the first at index f, then one
 * every nq; bus accumulator acc0 before them): each frame passes the bus or
 * not, then finds the ring full (a drop, or with DROP_EN clear the end of
 * the run: the buffer takes it, frame by frame) or joins it. Returns the
 * number of frames counted. */
static uint64_t dna_run(struct sim *s, struct sim_queue *q, uint64_t f, uint64_t c, uint64_t acc0)
{
	const struct sim_params *p = s->p;
	const int64_t cost = p->app_cost_ps;
	struct sim_t2 *t2 = T2(q);
	int64_t until = dna_busy_until(s, q), t_last = 0;
	uint64_t r, held, done, accepted = 0, released0 = t2->released;

	q->bus_acc = acc0;
	if (until == SIM_NEVER)
		until = 0;
	for (r = 0; r < c; r++) {
		int64_t t = gen_time(s, f + r * p->n_queues);

		held = until > t ? (uint64_t)((until - t + cost - 1) / cost) : 0;
		if (held >= p->ring_usable && !p->drop_en)
			break;
		q->st.sent++;
		if (!bus_admits(s, q)) {
			drop(q, &q->st.drops_bus, 1);
		} else if (held >= p->ring_usable) {
			drop(q, &q->st.drops_nodesc, 1);
		} else {
			until = (until > t ? until : t) + cost;
			accepted++;
			t_last = t;
			if (held + 1 > q->st.max_buffered)
				q->st.max_buffered = held + 1;
		}
	}
	if (accepted) {
		/* frames gone by the last arrival are processed; the rest leave
		 * back to back until `until`: the current batch */
		t2->in_ring += accepted;
		q->head_seq += accepted;
		held = (uint64_t)((until - t_last + cost - 1) / cost);
		done = t2->in_ring - held - released0;
		if (done)
			sim_processed(s, q->id, q->id, released0, done,
				      until - (int64_t)(held + done - 1) * cost, cost);
		dna_set_busy(s, q, until - (int64_t)held * cost, held);
	}
	return r;
}

/* count_run follows DNA's queue frame by frame (dna_run); only a full ring
 * with DROP_EN clear (one queue) stops it, so no run is cut for DNA. */
uint64_t dna_bulk_cut(struct sim *s, struct sim_queue *q, uint64_t f)
{
	return SIM_NO_CUT;
}

uint64_t dna_bulk_count(struct sim *s, struct sim_queue *q, uint64_t f, uint64_t c)
{
	const struct sim_params *p = s->p;
	uint32_t nq = p->n_queues;
	uint64_t acc0 = q->bus_acc, a;
	int64_t t_first, t_last;

	if (!dna_passes_through(s, q))
		return dna_run(s, q, f, c, acc0);
	a = bulk_admit(s, q, c);
	if (!a)
		return c;
	/* every frame is processed before the queue's next one arrives:
	 * all but the last are done, the last is the current batch */
	t_first = gen_time(s, f + admitted_position(acc0, p->bus_admit, 0) * nq);
	t_last = gen_time(s, f + admitted_position(acc0, p->bus_admit, a - 1) * nq);
	T2(q)->in_ring += a;
	T2(q)->released += a - 1;
	if (a > 1)
		sim_processed(s, q->id, q->id, q->head_seq, a - 1, t_first + p->app_cost_ps,
			      (t_last - t_first) / (int64_t)(a - 1));
	q->head_seq += a;
	dna_set_busy(s, q, t_last, 1);
	if (!q->st.max_buffered)
		q->st.max_buffered = 1;
	return c;
}
