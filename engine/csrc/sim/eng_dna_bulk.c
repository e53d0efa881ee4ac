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

/* dna_run frame by frame, with a division a frame: for parameters the
 * closed form leaves out (no application cost, no usable descriptor). */
static uint64_t dna_run_frames(struct sim *s, struct sim_queue *q, uint64_t f, uint64_t c, uint64_t acc0)
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

/* A walk of DNA's queue through its frames of a run, in closed form where
 * it can be (dna_run): the next frame (index r of the run, arriving at t,
 * the queue's frames one `step` apart), the bus accumulator, when the
 * application is done with the ring (`until`), and what is counted. */
struct dna_walk {
	uint64_t r, c, acc, accepted;
	uint64_t sent, drops_bus, drops_nodesc; /* q->st's, kept here */
	int64_t t, step, until, t_last;
	int64_t d_max;  /* most work a taken frame found ahead of it (0: none) */
	int64_t d_full; /* a frame finds the ring full when until - t exceeds this */
};

/* A frame with work `d` = until - t ahead of it finds ceil(d / app_cost)
 * frames still held (none when d <= 0): the ring is full (held >=
 * ring_usable) exactly when d > (ring_usable - 1) * app_cost. So no
 * division a frame; the most held is read once from the largest d. */
static inline int64_t dna_ahead(const struct dna_walk *w)
{
	return w->until - w->t;
}

/* One frame as the NIC and DNA's application see it (§2.1: it joins the
 * ring unless the bus fails it or the ring is full; a frame the
 * application finds on arrival waits app_cost per frame ahead). Returns 0
 * when it cannot be counted (full ring, DROP_EN clear: to the buffer). */
static inline int dna_walk_frame(const struct sim *s, struct dna_walk *w)
{
	const int64_t d = dna_ahead(w);

	if (d > w->d_full && !s->p->drop_en)
		return 0;
	w->sent++;
	w->acc += s->p->bus_admit;
	if (w->acc < SIM_BUS_ONE) {
		w->drops_bus++;
	} else {
		w->acc -= SIM_BUS_ONE;
		if (d > w->d_full) {
			w->drops_nodesc++;
		} else {
			w->until = (d > 0 ? w->until : w->t) + s->p->app_cost_ps;
			w->accepted++;
			w->t_last = w->t;
			if (d > w->d_max)
				w->d_max = d;
		}
	}
	w->r++;
	w->t += w->step;
	return 1;
}

/* With the ring full and DROP_EN set (§8.2.3.8.7), every frame that passes
 * the bus is dropped until the application has freed a descriptor: those
 * frames at once, their bus admissions in closed form (sim_bulk.h). */
static inline void dna_walk_full(const struct sim *s, struct dna_walk *w)
{
	const int64_t over = dna_ahead(w) - w->d_full;
	uint64_t m = (uint64_t)((over + w->step - 1) / w->step), total;

	if (m > w->c - w->r)
		m = w->c - w->r;
	total = w->acc + m * s->p->bus_admit;
	w->acc = total & (SIM_BUS_ONE - 1);
	w->sent += m;
	w->drops_bus += m - (total >> 32);
	w->drops_nodesc += total >> 32;
	w->r += m;
	w->t += (int64_t)m * w->step;
}

/* Frames in a row that the bus passes, from accumulator acc: each takes
 * SIM_BUS_ONE - bus_admit (`gap`) off it while it lasts. `k0` = bus_admit /
 * gap, the length of a streak that starts just after a bus drop give or
 * take one: then no division. */
static inline uint64_t dna_streak_len(uint64_t acc, uint64_t gap, uint64_t k0)
{
	if (acc >= k0 * gap && acc - k0 * gap < 2 * gap)
		return k0 + (acc - k0 * gap >= gap);
	return acc / gap;
}

/* k frames in a row that the bus passes, the application busy (d > 0) and
 * slower than the queue's frames come (app_cost >= step): the work ahead
 * grows by app_cost - step a frame, so the ring holds the most at the last
 * of them, and all are taken if that one finds room. Takes as many as
 * find room. */
static inline void dna_walk_streak(const struct sim *s, struct dna_walk *w, uint64_t k)
{
	const int64_t cost = s->p->app_cost_ps, grow = cost - w->step, d = dna_ahead(w);
	int64_t d_last = d + (int64_t)(k - 1) * grow;

	if (d_last > w->d_full) {
		k = (uint64_t)((w->d_full - d) / grow) + 1; /* then a frame finds it full */
		d_last = d + (int64_t)(k - 1) * grow;
	}
	w->sent += k;
	w->acc -= k * (SIM_BUS_ONE - s->p->bus_admit);
	w->until += (int64_t)k * cost;
	w->accepted += k;
	w->t_last = w->t + (int64_t)(k - 1) * w->step;
	w->t += (int64_t)k * w->step;
	w->r += k;
	if (d_last > w->d_max)
		w->d_max = d_last;
}

/* The rest of the run when every bus drop ends the application's busy
 * spell, and the longest spell has been seen (dna_walk): the bus passes at
 * most k0 + 1 frames in a row, each adding app_cost - step to the work
 * ahead, and one frame time of drop takes it all back. So each frame the
 * bus passes is taken; the application is busy from the first of the last
 * row of them; the most held was reached already. The bus counts in closed
 * form (sim_bulk.h), the last row read backwards off the accumulator (its
 * steps are one-to-one: a drop leaves it >= bus_admit, a pass below). The
 * walk starts with the application idle. */
static void dna_walk_rest(const struct sim *s, struct dna_walk *w)
{
	const uint64_t admit = s->p->bus_admit, gap = SIM_BUS_ONE - admit, n = w->c - w->r;
	const uint64_t total = w->acc + n * admit, taken = total >> 32;
	const uint64_t acc = total & (SIM_BUS_ONE - 1);

	w->sent += n;
	w->drops_bus += n - taken;
	if (taken) {
		uint64_t drops_after = acc / admit, last = n - 1 - drops_after;
		uint64_t row = (admit - (acc - drops_after * admit) + gap - 1) / gap;
		uint64_t first = last + 1 > row ? last + 1 - row : 0;

		w->until = w->t + (int64_t)first * w->step + (int64_t)(last - first + 1) * s->p->app_cost_ps;
		w->t_last = w->t + (int64_t)last * w->step;
		w->accepted += taken;
	}
	w->acc = acc;
	w->t += (int64_t)n * w->step;
	w->r = w->c;
}

/* Whether dna_walk_rest applies from an idle application on: the bus
 * drops some frames, a row of k0 + 1 passed ones adds no more work than a
 * frame time and finds room in the ring, and a row as long as k0 + 1 (the
 * most work ahead, k0 * grow) has been seen. */
static inline int dna_rest_closed(const struct sim *s, const struct dna_walk *w, uint64_t k0)
{
	const int64_t grow = s->p->app_cost_ps - w->step, most = (int64_t)(k0 + 1) * grow;

	return s->p->bus_admit < SIM_BUS_ONE && grow >= 0 && most <= w->step && most <= w->d_full &&
	       w->d_max >= (int64_t)k0 * grow;
}

/* The walk up to a frame that cannot be counted or the run's end. */
static void dna_walk(const struct sim *s, struct dna_walk *w)
{
	const uint64_t admit = s->p->bus_admit, gap = SIM_BUS_ONE - admit;
	const uint64_t k0 = gap ? admit / gap : 0;
	const int streaks = s->p->app_cost_ps >= w->step;

	while (w->r < w->c) {
		const int64_t d = dna_ahead(w);

		if (d > w->d_full && s->p->drop_en) {
			dna_walk_full(s, w);
		} else if (streaks && d > 0 && d <= w->d_full) {
			uint64_t k = gap ? dna_streak_len(w->acc, gap, k0) : w->c - w->r;

			if (k > w->c - w->r)
				k = w->c - w->r;
			if (k)
				dna_walk_streak(s, w, k);
			if (w->r < w->c && !dna_walk_frame(s, w))
				return;
		} else if (d <= 0 && dna_rest_closed(s, w, k0)) {
			dna_walk_rest(s, w);
		} else if (!dna_walk_frame(s, w)) {
			return;
		}
	}
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
	int64_t until = dna_busy_until(s, q);
	uint64_t held, done, released0 = t2->released;
	struct dna_walk w = {
		.c = c, .acc = acc0, .t = gen_time(s, f), .step = (int64_t)p->n_queues * p->gen_gap_ps,
		.until = until == SIM_NEVER ? 0 : until,
		.d_full = ((int64_t)p->ring_usable - 1) * cost,
	};

	if (cost <= 0 || !p->ring_usable)
		return dna_run_frames(s, q, f, c, acc0);
	dna_walk(s, &w);
	q->bus_acc = w.acc;
	q->st.sent += w.sent;
	drop(q, &q->st.drops_bus, w.drops_bus);
	drop(q, &q->st.drops_nodesc, w.drops_nodesc);
	if (w.accepted) {
		held = w.d_max > 0 ? (uint64_t)((w.d_max + cost - 1) / cost) : 0;
		if (held + 1 > q->st.max_buffered)
			q->st.max_buffered = held + 1;
		/* frames gone by the last arrival are processed; the rest leave
		 * back to back until `until`: the current batch */
		t2->in_ring += w.accepted;
		q->head_seq += w.accepted;
		held = (uint64_t)((w.until - w.t_last + cost - 1) / cost);
		done = t2->in_ring - held - released0;
		if (done)
			sim_processed(s, q->id, q->id, released0, done,
				      w.until - (int64_t)(held + done - 1) * cost, cost);
		dna_set_busy(s, q, w.until - (int64_t)held * cost, held);
	}
	return w.r;
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
