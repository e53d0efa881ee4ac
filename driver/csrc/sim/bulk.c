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
 *
 * This file is the NIC's side: the run's bounds, the receive buffer, the
 * bus. What a run does to a queue's engine, and how far it can go, is the
 * engine's (sim_engine.h: bulk_cut, bulk_count; arithmetic in sim_bulk.h).
 */
#include "sim_bulk.h"
#include "sim_engine.h"
#include "sim_nic.h"

#include <errno.h>

/*
 * A run: NIC arrivals [i0, i1). Frame i goes to queue q0 + (i mod nq) (bulk
 * mode requires the plain round-robin pattern), so queue ql's frames in it
 * are i0 + off, then one every nq: off = (ql - i0) mod nq. With r0 = i0 mod
 * nq and the run's length n = base * nq + rem, queue ql has base + 1 frames
 * when off < rem, else base. Two divisions by nq per run, not two per
 * queue, and those by multiplication (divmod_nq): a bulk step is taken
 * about once per event.
 */
struct run {
	uint64_t i0;
	uint32_t nq, r0;   /* queues, i0 mod nq */
	uint64_t base;     /* frames every queue has */
	uint32_t rem;      /* queues with one more */
};

/* x / nq and x % nq for x < 2^32 (frame indexes per NIC are: run.c
 * check_params), with recip = ceil(2^32 / nq) (sim.nq_recip). recip is
 * (2^32 + e) / nq with 0 <= e < nq, so x * recip / 2^32 is at least x / nq
 * and less than x / nq + 1: its floor is the quotient or one more, which
 * the remainder's sign tells. */
static inline uint32_t divmod_nq(uint32_t x, uint64_t recip, uint32_t nq, uint32_t *rem)
{
	uint32_t quot = (uint32_t)(((uint64_t)x * recip) >> 32);
	int64_t r = (int64_t)x - (int64_t)quot * nq;

	if (r < 0) {
		quot--;
		r += nq;
	}
	*rem = (uint32_t)r;
	return quot;
}

static inline void run_start(const struct sim *s, struct run *r, uint64_t i0)
{
	r->i0 = i0;
	r->nq = s->p->n_queues;
	divmod_nq((uint32_t)i0, s->nq_recip, r->nq, &r->r0);
}

static inline void run_end(const struct sim *s, struct run *r, uint64_t i1)
{
	r->base = divmod_nq((uint32_t)(i1 - r->i0), s->nq_recip, r->nq, &r->rem);
}

/* Offset of queue ql's first frame from i0. */
static inline uint32_t run_off(const struct run *r, uint32_t ql)
{
	return ql >= r->r0 ? ql - r->r0 : ql + r->nq - r->r0;
}

static inline uint64_t run_count(const struct run *r, uint32_t off)
{
	return r->base + (off < r->rem);
}

/* The first of NIC n's arrivals (>= i0) that changes the state of one of
 * its queues, or SIM_NO_CUT when every frame of the run can be counted. */
static uint64_t run_cut(struct sim *s, struct sim_nic *n, const struct run *r)
{
	uint64_t (*queue_cut)(struct sim *, struct sim_queue *, uint64_t) = s->ops->bulk_cut;
	uint64_t cut = SIM_NO_CUT;
	uint32_t ql;

	if (!s->p->bus_admit)
		return SIM_NO_CUT; /* every frame is a bus drop */
	if (!queue_cut)
		return r->i0; /* no closed form: frame by frame */
	/* no queue changed since the last answer, and it is still ahead:
	 * neither is any queue's (each is a frame of its queue, at or after
	 * the least) */
	if (n->cut_min_known && n->cut_min >= r->i0)
		return n->cut_min;
	for (ql = 0; ql < r->nq; ql++) {
		struct sim_queue *q = &s->q[n->q0 + ql];
		uint64_t f = r->i0 + run_off(r, ql), c;

		/* the last answer holds while the engine has not changed the
		 * queue and its frame is still ahead (sim_bulk.h) */
		if (q->cut_known && q->cut_at >= f) {
			c = q->cut_at;
		} else {
			c = q->cut_at = queue_cut(s, q, f);
			q->cut_known = 1;
		}
		if (c < cut)
			cut = c;
	}
	n->cut_min = cut;
	n->cut_min_known = 1;
	return cut;
}

/* Count queue q's c frames of the run, the first at f: none of them changes
 * the queue's state beyond what is accounted here (see run_cut). Returns
 * SIM_NO_CUT, or the index of a frame the run had to stop before (DNA with
 * a full ring and DROP_EN clear: that frame goes to the buffer, one by one). */
static uint64_t count_run(struct sim *s, struct sim_queue *q, uint64_t f, uint64_t c)
{
	uint64_t r;

	if (!c)
		return SIM_NO_CUT;
	if (!s->ops->bulk_count) {
		/* run_cut let the run through only if the bus drops it all */
		if (bulk_admit(s, q, c))
			s->err = -EPROTO;
		return SIM_NO_CUT;
	}
	r = s->ops->bulk_count(s, q, f, c);
	return r < c ? f + r * s->p->n_queues : SIM_NO_CUT;
}

/* NIC k's arrivals up to t_lim, counted in closed form as far as no queue
 * changes state. Returns the number of frames counted (0: none could be). */
uint64_t bulk_step(struct sim *s, uint32_t k, int64_t t_lim)
{
	const struct sim_params *p = s->p;
	struct sim_nic *n = &s->nic[k];
	uint64_t i0 = n->next, i_end, cut;
	struct run r;
	uint32_t ql;

	i_end = t_lim == SIM_NEVER ? p->n_packets : (uint64_t)(t_lim / p->gen_gap_ps) + 1;
	if (i_end > p->n_packets)
		i_end = p->n_packets;
	if (i_end <= i0)
		return 0;
	if (n->fifo_len && fifo_has_room(s, n, footprint(s, p->gen_size))) {
		/* the head is blocked: frames queue behind it until the buffer
		 * is full (one queue per NIC only: the buffer keeps their order).
		 * The bus admits some; the run ends after the admitted frame that
		 * fills the buffer, or at i_end. */
		uint32_t bytes = footprint(s, p->gen_size);
		struct sim_queue *q = &s->q[n->q0];
		uint64_t fit, c;

		if (p->n_queues != 1)
			return 0;
		fit = (p->fifo_bytes - n->fifo_bytes) / bytes;
		if (fit > n->fifo_cap - n->fifo_len)
			fit = n->fifo_cap - n->fifo_len;
		c = p->bus_admit ? admitted_position(q->bus_acc, p->bus_admit, fit - 1) + 1 : i_end - i0;
		if (c > i_end - i0)
			c = i_end - i0;
		fifo_push(s, n, i0 * p->n_nics + k, q->id, bytes, (uint32_t)bulk_admit(s, q, c));
		s->now = gen_time(s, i0 + c - 1);
		n->next = i0 + c;
		s->res->bulk_steps++;
		return c;
	}
	if (n->fifo_len) {
		/* a full buffer with a blocked head takes nothing until an event */
		run_start(s, &r, i0);
		run_end(s, &r, i_end);
		for (ql = 0; ql < p->n_queues; ql++) {
			struct sim_queue *q = &s->q[n->q0 + ql];
			uint64_t a = bulk_admit(s, q, run_count(&r, run_off(&r, ql)));

			drop(q, &q->st.drops_fifo, a);
		}
	} else {
		run_start(s, &r, i0);
		cut = run_cut(s, n, &r);
		if (cut < i_end)
			i_end = cut;
		if (i_end <= i0)
			return 0;
		run_end(s, &r, i_end);
		for (ql = 0; ql < p->n_queues; ql++) {
			uint32_t off = run_off(&r, ql);
			uint64_t stop = count_run(s, &s->q[n->q0 + ql], i0 + off, run_count(&r, off));

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
