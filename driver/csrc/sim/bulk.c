/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Bulk steps: runs of generator frames counted in closed form.
 *
 * Generator mode can count runs of arrivals in closed form (bulk steps):
 * between two events nothing but the arrivals changes, and while no queue
 * reaches a state change (a segment completing, an idle thread waking, a
 * ring filling up), the fate of every frame in the run is known. The next
 * frame that does change state is handled one at a time, as always. Bulk
 * steps give the same numbers as frame-by-frame processing (tests compare
 * both) and make Figure 14's 10^9-frame points take seconds.
 */
#include "frames.h"

#define NO_CUT UINT64_MAX

/*
 * Within NIC k's arrivals [i0, i_end), frame i goes to queue
 * q0 + (i mod nq) (bulk mode requires the plain round-robin pattern).
 */

/* Index of queue ql's first frame at or after i0. */
static inline uint64_t first_of(uint64_t i0, uint32_t ql, uint32_t nq)
{
	return i0 + (ql + nq - (uint32_t)(i0 % nq)) % nq;
}

/* Frames of queue ql among [i0, i1). */
static inline uint64_t count_of(uint64_t i0, uint64_t i1, uint32_t ql, uint32_t nq)
{
	uint64_t f = first_of(i0, ql, nq);

	return f < i1 ? (i1 - f + nq - 1) / nq : 0;
}

/* Among the next frames of a queue (bus accumulator acc), the 0-based
 * position of the one that is the (k+1)-th to pass the bus. 64-bit
 * arithmetic suffices: k and counts stay below 2^32 frames (check_params). */
static inline uint64_t admitted_position(uint64_t acc, uint64_t admit, uint64_t k)
{
	uint64_t need = (k + 1) * SIM_BUS_ONE - acc;

	if (admit == SIM_BUS_ONE)
		return k; /* every frame passes (and acc stays 0) */
	return (need + admit - 1) / admit - 1;
}

/* Frames of the run that pass the bus, and the accumulator after it. */
static inline uint64_t admit_run(struct sim_queue *q, uint64_t admit, uint64_t c)
{
	uint64_t total = q->bus_acc + c * admit;

	q->bus_acc = total & (SIM_BUS_ONE - 1);
	return total >> 32;
}

/* DNA's application keeps up with its queue when it finishes a frame
 * before the queue's next frame can arrive (nq frame times later). */
static inline int dna_passes_through(const struct sim *s, const struct sim_queue *q)
{
	return s->p->engine == SIM_ENGINE_DNA && !q->app.busy &&
	       s->p->app_cost_ps <= (int64_t)s->p->n_queues * s->p->gen_gap_ps;
}

/* The first arrival index (>= i0) of queue ql that changes its state, or
 * NO_CUT when every frame of the run can be counted. */
static uint64_t queue_cut(struct sim *s, struct sim_queue *q, uint32_t ql, uint64_t i0)
{
	const struct sim_params *p = s->p;
	uint32_t nq = p->n_queues;
	uint64_t k; /* frames that may pass the bus before the cut frame */

	if (!p->bus_admit)
		return NO_CUT; /* every frame is a bus drop */
	switch (p->engine) {
	case SIM_ENGINE_WIRECAP: {
		struct sim_wc *w = &q->e.wc;

		if (!w->ready)
			return p->drop_en ? NO_CUT : first_of(i0, ql, nq); /* drops, or the buffer */
		if (!w->ct_busy && wc_capture__deadline(w->cap) == WC_CAPTURE_NEVER)
			k = 0;                  /* the next frame arms the capture timeout */
		else
			k = w->seg_left - 1;    /* the frame after completes the segment */
		break;
	}
	case SIM_ENGINE_DNA:
		/* count_run follows DNA's queue frame by frame (dna_run); only a
		 * full ring with DROP_EN clear (one queue) stops it */
		return NO_CUT;
	default:
		return first_of(i0, ql, nq); /* no closed form: frame by frame */
	}
	return first_of(i0, ql, nq) + admitted_position(q->bus_acc, p->bus_admit, k) * nq;
}

/* DNA's application as a single server: frames leave one every app_cost
 * after max(arrival, previous departure) (the batches of eng_typeii.c are
 * this Lindley recursion). `busy_until` is when the last frame in the ring
 * leaves; frames still held at t are those leaving after t. */
static inline int64_t dna_busy_until(const struct sim *s, const struct sim_queue *q)
{
	if (!q->app.busy)
		return SIM_NEVER;
	return q->app.started + (int64_t)(q->e.t2.in_ring - q->e.t2.released) * s->p->app_cost_ps;
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
	q->e.t2.released = q->e.t2.in_ring - held;
	q->st.last_done_ps = from + (int64_t)held * s->p->app_cost_ps;
	sim_schedule(s, q->st.last_done_ps, EV_APP_DONE, q->id, app->gen);
}

/* DNA's queue through c of its frames (the first at index f, then one
 * every nq; bus accumulator acc0 before them): each frame passes the bus or
 * not, then finds the ring full (a drop, or with DROP_EN clear the end of
 * the run: the buffer takes it, frame by frame) or joins it. Returns the
 * index of the first frame not counted. */
static uint64_t dna_run(struct sim *s, struct sim_queue *q, uint64_t f, uint64_t c, uint64_t acc0)
{
	const struct sim_params *p = s->p;
	const int64_t cost = p->app_cost_ps;
	int64_t until = dna_busy_until(s, q), t_last = 0;
	uint64_t r, held, done, accepted = 0, released0 = q->e.t2.released;

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
		q->e.t2.in_ring += accepted;
		q->head_seq += accepted;
		held = (uint64_t)((until - t_last + cost - 1) / cost);
		done = q->e.t2.in_ring - held - released0;
		if (done)
			sim_processed(s, q->id, q->id, released0, done,
				      until - (int64_t)(held + done - 1) * cost, cost);
		dna_set_busy(s, q, until - (int64_t)held * cost, held);
	}
	return f + r * p->n_queues;
}

/* Count the frames of queue q among NIC arrivals [i0, i1): none of them
 * changes the queue's state beyond what is accounted here (see queue_cut).
 * Returns i1, or the index of a frame the run had to stop before (DNA with a
 * full ring and DROP_EN clear: that frame goes to the buffer, one by one). */
static uint64_t count_run(struct sim *s, struct sim_queue *q, uint32_t ql, uint64_t i0, uint64_t i1)
{
	const struct sim_params *p = s->p;
	uint32_t nq = p->n_queues;
	uint64_t f = first_of(i0, ql, nq), c = count_of(i0, i1, ql, nq), acc0 = q->bus_acc, a;

	if (!c)
		return i1;
	if (p->engine == SIM_ENGINE_DNA && !dna_passes_through(s, q))
		return dna_run(s, q, f, c, acc0);
	a = admit_run(q, p->bus_admit, c);
	q->st.sent += c;
	drop(q, &q->st.drops_bus, c - a);
	if (!a)
		return i1;
	if (p->engine == SIM_ENGINE_WIRECAP) {
		struct sim_wc *w = &q->e.wc;

		if (!w->ready) {
			drop(q, &q->st.drops_nodesc, a);
			return i1;
		}
		w->ready -= (uint32_t)a;
		w->pending_rx += (uint32_t)a;
		w->seg_left -= (uint32_t)a;
		w->buffered += a;
		if (w->buffered > q->st.max_buffered)
			q->st.max_buffered = w->buffered;
		q->head_seq += a;
		return i1;
	}
	/* DNA */
	if (dna_passes_through(s, q)) {
		/* every frame is processed before the queue's next one arrives:
		 * all but the last are done, the last is the current batch */
		int64_t t_first = gen_time(s, f + admitted_position(acc0, p->bus_admit, 0) * nq);
		int64_t t_last = gen_time(s, f + admitted_position(acc0, p->bus_admit, a - 1) * nq);

		q->e.t2.in_ring += a;
		q->e.t2.released += a - 1;
		if (a > 1)
			sim_processed(s, q->id, q->id, q->head_seq, a - 1, t_first + p->app_cost_ps,
				      (t_last - t_first) / (int64_t)(a - 1));
		q->head_seq += a;
		dna_set_busy(s, q, t_last, 1);
		if (!q->st.max_buffered)
			q->st.max_buffered = 1;
		return i1;
	}
	return i1;
}

/* NIC k's arrivals up to t_lim, counted in closed form as far as no queue
 * changes state. Returns the number of frames counted (0: none could be). */
uint64_t bulk_step(struct sim *s, uint32_t k, int64_t t_lim)
{
	const struct sim_params *p = s->p;
	struct sim_nic *n = &s->nic[k];
	uint64_t i0 = n->next, i_end, cut = NO_CUT;
	uint32_t ql;

	i_end = t_lim == SIM_NEVER ? p->n_packets : (uint64_t)(t_lim / p->gen_gap_ps) + 1;
	if (i_end > p->n_packets)
		i_end = p->n_packets;
	if (i_end <= i0)
		return 0;
	if (n->fifo_len && fifo_has_room(s, n, footprint(s, p->gen_size))) {
		/* the head is blocked: frames queue behind it until the buffer
		 * is full (one queue per NIC only: the buffer keeps their order) */
		uint32_t bytes = footprint(s, p->gen_size);
		uint64_t i = i0;
		struct sim_queue *q = &s->q[n->q0];

		if (p->n_queues != 1)
			return 0;
		for (; i < i_end && fifo_has_room(s, n, bytes); i++) {
			q->st.sent++;
			if (!bus_admits(s, q)) {
				drop(q, &q->st.drops_bus, 1);
				continue;
			}
			n->fifo[(n->fifo_head + n->fifo_len) % n->fifo_cap] =
				(struct sim_fifo_entry){ i * p->n_nics + k, n->q0, bytes };
			n->fifo_len++;
			n->fifo_bytes += bytes;
		}
		s->now = gen_time(s, i - 1);
		n->next = i;
		s->res->bulk_steps++;
		return i - i0;
	}
	if (n->fifo_len) {
		/* a full buffer with a blocked head takes nothing until an event */
		for (ql = 0; ql < p->n_queues; ql++) {
			struct sim_queue *q = &s->q[n->q0 + ql];
			uint64_t c = count_of(i0, i_end, ql, p->n_queues), a = admit_run(q, p->bus_admit, c);

			q->st.sent += c;
			drop(q, &q->st.drops_bus, c - a);
			drop(q, &q->st.drops_fifo, a);
		}
	} else {
		for (ql = 0; ql < p->n_queues; ql++) {
			uint64_t c = queue_cut(s, &s->q[n->q0 + ql], ql, i0);

			if (c < cut)
				cut = c;
		}
		if (cut < i_end)
			i_end = cut;
		if (i_end <= i0)
			return 0;
		for (ql = 0; ql < p->n_queues; ql++) {
			uint64_t stop = count_run(s, &s->q[n->q0 + ql], ql, i0, i_end);

			if (stop < i_end) {
				/* only one queue can stop early: DROP_EN is clear
				 * with a single queue per NIC */
				if (p->n_queues != 1) {
					s->err = -EPROTO;
					return 0;
				}
				i_end = stop;
			}
		}
		if (i_end <= i0)
			return 0;
	}
	s->now = gen_time(s, i_end - 1);
	n->next = i_end;
	s->res->bulk_steps++;
	return i_end - i0;
}
