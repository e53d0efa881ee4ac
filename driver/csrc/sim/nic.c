/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The wire, the 82599-class NICs and the bus, and the main loop.
 *
 * Receive path (82599 datasheet §7.1 "Receive Functionality"): a frame off
 * the wire enters the shared on-chip receive packet buffer, then DMA moves
 * it into host memory through the next descriptor of its queue's ring.
 *  - The bus (PCIe + memory) is a fluid server shared by both NICs' DMA and
 *    the cores' memory traffic (driver/sim/params.py, BusModel). When it is
 *    offered more than it can carry, the DMA engines move only a fraction
 *    of the frames and the rest overflow the on-chip buffer ("bus" capture
 *    drops, rx_missed_errors). Each queue drops its share evenly: an
 *    accumulator admits frame after frame at the admitted fraction.
 *  - With a ready descriptor and nothing queued ahead of it, the frame goes
 *    straight through.
 *  - With no ready descriptor and SRRCTL.DROP_EN set, the frame is dropped
 *    at once (§8.2.3.8.7; a capture drop, "no descriptor").
 *  - With DROP_EN clear the frame waits in the buffer, one FIFO shared by
 *    all queues of the NIC: a waiting frame blocks every frame behind it,
 *    whatever their queue (82598/I210 datasheets: frames are held "if there
 *    is space in the FIFO and Drop_En is clear"). A frame that finds the
 *    buffer full is dropped (a capture drop, "FIFO overflow").
 * Engines tell the NIC when descriptors come back (nic_kick).
 *
 * Generator mode can count runs of arrivals in closed form (bulk steps):
 * between two events nothing but the arrivals changes, and while no queue
 * reaches a state change (a segment completing, an idle thread waking, a
 * ring filling up), the fate of every frame in the run is known. The next
 * frame that does change state is handled one at a time, as always. Bulk
 * steps give the same numbers as frame-by-frame processing (tests compare
 * both) and make Figure 14's 10^9-frame points take seconds.
 */
#define WC_SIM_INTERNAL
#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NO_CUT UINT64_MAX

/* ---- frames ------------------------------------------------------------
 * Trace mode: frame ids index the trace (one NIC). Generator mode: NIC k's
 * i-th frame has id i * n_nics + k.
 */
static inline uint32_t nic_of(const struct sim *s, uint64_t pkt)
{
	return s->p->gen_gap_ps ? (uint32_t)(pkt % s->p->n_nics) : 0;
}

static inline uint64_t gen_index(const struct sim *s, uint64_t pkt)
{
	return pkt / s->p->n_nics;
}

static inline uint32_t queue_of(const struct sim *s, uint64_t pkt)
{
	const struct sim_params *p = s->p;

	if (!p->gen_gap_ps)
		return p->queue[pkt];
	return nic_of(s, pkt) * p->n_queues + p->gen_queue[gen_index(s, pkt) % p->gen_len];
}

static inline int32_t flow_of(const struct sim *s, uint64_t pkt)
{
	const struct sim_params *p = s->p;

	return p->gen_gap_ps ? p->gen_flow[gen_index(s, pkt) % p->gen_len] : p->flow[pkt];
}

uint32_t pkt_size(const struct sim *s, uint64_t pkt)
{
	const struct sim_params *p = s->p;

	return p->gen_gap_ps ? p->gen_size : p->size[pkt];
}

static inline int64_t gen_time(const struct sim *s, uint64_t i)
{
	return (int64_t)i * s->p->gen_gap_ps;
}

/* ---- engines, as the NIC sees them ------------------------------------ */
static inline uint32_t engine_ready(struct sim *s, struct sim_queue *q)
{
	switch (s->p->engine) {
	case SIM_ENGINE_WIRECAP:
		return q->e.wc.ready;
	case SIM_ENGINE_DNA:
	case SIM_ENGINE_NETMAP:
		return t2_ready(s, q);
	default:
		return pf_ready(s, q);
	}
}

/* A frame is DMA'd into queue q's ring: it gets the next ring sequence
 * number (the order the application will see it in). */
static inline void engine_deliver(struct sim *s, struct sim_queue *q, uint64_t pkt)
{
	if (q->seq_pkt) {
		if (q->seq_len == q->seq_cap) {
			s->err = -EOVERFLOW;
			return;
		}
		q->seq_pkt[q->seq_len++] = (uint32_t)pkt;
	}
	q->head_seq++;
	switch (s->p->engine) {
	case SIM_ENGINE_WIRECAP:
		wc_deliver(s, q);
		break;
	case SIM_ENGINE_DNA:
	case SIM_ENGINE_NETMAP:
		t2_deliver(s, q);
		break;
	default:
		pf_deliver(s, q);
		break;
	}
}

static inline uint32_t footprint(const struct sim *s, uint32_t size)
{
	uint32_t unit = s->p->fifo_unit ? s->p->fifo_unit : 1;

	return (size + s->p->fifo_frame_overhead + unit - 1) / unit * unit;
}

static inline void drop(struct sim_queue *q, uint64_t *why, uint64_t n)
{
	q->st.capture_drops += n;
	*why += n;
}

/* ---- the receive buffer ----------------------------------------------- */

static inline void fifo_pop(struct sim_nic *n, uint32_t count)
{
	while (count--) {
		n->fifo_bytes -= n->fifo[n->fifo_head].bytes;
		n->fifo_head = (n->fifo_head + 1) % n->fifo_cap;
		n->fifo_len--;
	}
}

/* WireCAP without per-frame records: frames of one queue at the head of
 * the buffer go into its ring in one step, up to the end of the segment. */
static inline uint32_t wc_drain_run(struct sim *s, struct sim_nic *n, struct sim_queue *q)
{
	uint32_t room = q->e.wc.seg_left < q->e.wc.ready ? q->e.wc.seg_left : q->e.wc.ready, k = 0;

	while (k < room && k < n->fifo_len && n->fifo[(n->fifo_head + k) % n->fifo_cap].q == q->id)
		k++;
	return k;
}

/* Drain the receive buffer's head while its frames find descriptors. */
void nic_kick(struct sim *s, uint32_t k)
{
	struct sim_nic *n = &s->nic[k];

	while (n->fifo_len) {
		struct sim_fifo_entry *e = &n->fifo[n->fifo_head];
		struct sim_queue *q = &s->q[e->q];

		if (s->p->engine == SIM_ENGINE_WIRECAP && !q->seq_pkt && q->e.wc.ready) {
			uint32_t run = wc_drain_run(s, n, q);

			q->head_seq += run;
			fifo_pop(n, run);
			wc_deliver_n(s, q, run);
			continue;
		}
		if (engine_ready(s, q) > 0) {
			engine_deliver(s, q, e->pkt);
		} else if (s->p->drop_en) {
			drop(q, &q->st.drops_nodesc, 1);
		} else {
			/* blocked; DNA gives descriptors back one at a time
			 * without telling anyone, so ask it when */
			if (s->p->engine == SIM_ENGINE_DNA) {
				int64_t t = t2_next_release(s, q);

				if (t != SIM_NEVER && (n->unblock_at <= s->now || t < n->unblock_at)) {
					n->unblock_at = t;
					sim_schedule(s, t, EV_NIC_UNBLOCK, k, 0);
				}
			}
			return;
		}
		n->fifo_bytes -= e->bytes;
		n->fifo_head = (n->fifo_head + 1) % n->fifo_cap;
		n->fifo_len--;
	}
}

static inline int fifo_has_room(const struct sim *s, const struct sim_nic *n, uint32_t bytes)
{
	return n->fifo_len < n->fifo_cap && n->fifo_bytes + bytes <= s->p->fifo_bytes;
}

/* The bus admits the frame, or it overflows the buffer (fluid bus model). */
static inline int bus_admits(const struct sim *s, struct sim_queue *q)
{
	q->bus_acc += s->p->bus_admit;
	if (q->bus_acc >= SIM_BUS_ONE) {
		q->bus_acc -= SIM_BUS_ONE;
		return 1;
	}
	return 0;
}

static void nic_arrival(struct sim *s, uint64_t pkt)
{
	uint32_t qi = queue_of(s, pkt);
	struct sim_queue *q = &s->q[qi];
	struct sim_nic *n = &s->nic[q->nic];
	uint32_t bytes;

	q->st.sent++;
	if (!bus_admits(s, q)) {
		drop(q, &q->st.drops_bus, 1);
		return;
	}
	if (!n->fifo_len) {
		if (engine_ready(s, q) > 0) {
			engine_deliver(s, q, pkt);
			return;
		}
		if (s->p->drop_en) {
			drop(q, &q->st.drops_nodesc, 1);
			return;
		}
	}
	bytes = footprint(s, pkt_size(s, pkt));
	if (!fifo_has_room(s, n, bytes)) {
		drop(q, &q->st.drops_fifo, 1);
		return;
	}
	n->fifo[(n->fifo_head + n->fifo_len) % n->fifo_cap] = (struct sim_fifo_entry){ pkt, qi, bytes };
	n->fifo_len++;
	n->fifo_bytes += bytes;
	if (n->fifo_len == 1)
		nic_kick(s, q->nic); /* a DNA queue may need an unblock event */
}

/* ---- bulk steps (generator mode) ----------------------------------------
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
		if (!w->ct_busy && !w->ct_timer_armed)
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
static uint64_t bulk_step(struct sim *s, uint32_t k, int64_t t_lim)
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

/* ---- forwarding and processing ------------------------------------------ */

/* Forwarding (paper §3.2.2b, §4 "Packet forwarding"): each processed frame
 * is queued on a transmit queue (one per application thread) of the other
 * NIC when its processing completes (t_first, then one every dt), and
 * leaves at line rate to a receiver that counts it. The NIC serves its
 * transmit queues round robin; the frames they carry arrived at most at
 * line rate, so each queue is modelled as draining at line rate on its
 * own, and the transmit ring as unbounded: the run reports the largest
 * backlog of any queue (tx_backlog_max) so that this stays checked.
 * Returns when the last of the n frames has left (transmit completion). */
static int64_t forward(struct sim *s, uint32_t thread, uint32_t owner, uint64_t seq, uint64_t n,
		       int64_t t_first, int64_t dt)
{
	const struct sim_params *p = s->p;
	struct sim_queue *o = &s->q[owner];
	int64_t t = s->q[thread].tx_free, enq = t_first;
	int64_t min_wire = (int64_t)(60 + p->tx_overhead_bytes) * p->tx_ps_per_byte;
	uint64_t i, backlog;

	if (p->gen_gap_ps && !p->fwd_log) {
		/* equal frames queued every dt, each taking w on the wire: the
		 * Lindley recursion D_i = max(A_i, D_i-1) + w in closed form */
		int64_t w = (int64_t)(p->gen_size + p->tx_overhead_bytes) * p->tx_ps_per_byte;
		int64_t a_last = t_first + (int64_t)(n - 1) * dt;
		int64_t d = t + (int64_t)n * w;

		if (t_first + (int64_t)n * w > d)
			d = t_first + (int64_t)n * w;
		if (a_last + w > d)
			d = a_last + w;
		s->q[thread].tx_free = d;
		o->st.received += n;
		s->res->forwarded += n;
		backlog = (uint64_t)((d - a_last) / (min_wire ? min_wire : 1));
		if (backlog > s->res->tx_backlog_max)
			s->res->tx_backlog_max = backlog;
		return d;
	}
	for (i = 0; i < n; i++, enq += dt) {
		uint64_t pkt = (o->seq_pkt && seq != SIM_NO_SEQ) ? o->seq_pkt[seq + i] : UINT64_MAX;
		uint32_t size = pkt != UINT64_MAX ? pkt_size(s, pkt) : p->gen_size;

		t = (t > enq ? t : enq) + (int64_t)(size + p->tx_overhead_bytes) * p->tx_ps_per_byte;
		if (p->fwd_log && pkt != UINT64_MAX && s->res->fwd_logged < p->fwd_log_cap)
			p->fwd_log[s->res->fwd_logged++] = (uint32_t)pkt;
	}
	s->q[thread].tx_free = t;
	o->st.received += n;
	s->res->forwarded += n;
	enq -= dt; /* the last frame's enqueue time */
	backlog = (uint64_t)((t - enq) / (min_wire ? min_wire : 1));
	if (backlog > s->res->tx_backlog_max)
		s->res->tx_backlog_max = backlog;
	return t;
}

/* An application thread finished processing n frames of queue `owner`
 * (ring sequence numbers seq.. seq+n-1, or SIM_NO_SEQ), the first at
 * t_first and then one every dt. Counts them, keeps track of flow affinity
 * (paper §5b: offloading trades it for losslessness) and forwards them when
 * the run forwards. Returns when the frames' buffers are free again: now,
 * or their transmit completion. */
int64_t sim_processed(struct sim *s, uint32_t thread, uint32_t owner, uint64_t seq, uint64_t n,
		      int64_t t_first, int64_t dt)
{
	struct sim_queue *o = &s->q[owner];
	uint64_t i;

	s->q[thread].st.processed += n;
	o->st.delivered += n;
	if (s->p->offload_matrix)
		s->p->offload_matrix[(uint64_t)owner * s->nq_total + thread] += n;
	if (thread != owner) {
		o->st.offloaded_out += n;
		s->q[thread].st.offloaded_in += n;
	}
	if (s->flow_thread && o->seq_pkt && seq != SIM_NO_SEQ) {
		for (i = 0; i < n; i++) {
			int32_t f = flow_of(s, o->seq_pkt[seq + i]);

			if (f < 0 || (uint32_t)f >= s->p->n_flows)
				continue;
			if (s->flow_thread[f] < 0)
				s->flow_thread[f] = (int16_t)thread;
			else if (s->flow_thread[f] != (int16_t)thread && !s->flow_split[f]) {
				s->flow_split[f] = 1;
				s->res->flows_split++;
				o->st.flows_split++;
			}
		}
	}
	if (!s->p->forward || !n)
		return s->now;
	return forward(s, thread, owner, seq, n, t_first, dt);
}

/* ---- the main loop ------------------------------------------------------ */

static void dispatch(struct sim *s, const struct sim_event *ev)
{
	if (ev->kind == EV_NIC_UNBLOCK) {
		nic_kick(s, ev->q);
		return;
	}
	switch (s->p->engine) {
	case SIM_ENGINE_WIRECAP:
		wc_event(s, ev);
		break;
	case SIM_ENGINE_DNA:
	case SIM_ENGINE_NETMAP:
		t2_event(s, ev);
		break;
	default:
		pf_event(s, ev);
		break;
	}
}

static int check_params(const struct sim_params *p)
{
	uint64_t i;

	if (!p->n_queues || p->n_nics < 1 || p->n_nics > 2 || p->n_nics * p->n_queues > WC_GROUP_MAX ||
	    p->engine > SIM_ENGINE_PFRING || p->bus_admit > SIM_BUS_ONE)
		return -EINVAL;
	if (p->gen_gap_ps < 0 || (p->gen_gap_ps && (!p->gen_len || !p->gen_queue || !p->gen_flow)))
		return -EINVAL;
	if (!p->gen_gap_ps && (p->n_nics != 1 || p->bulk ||
			       (p->n_packets && (!p->ts_ps || !p->queue || !p->flow || !p->size))))
		return -EINVAL;
	if (!p->ring_size || p->app_cost_ps < 0 || (p->forward && p->tx_ps_per_byte <= 0))
		return -EINVAL;
	if (p->n_packets >= (1ull << 32))
		return -E2BIG; /* frame ids and bulk arithmetic are 32-bit per NIC */
	if (p->bulk) {
		/* closed forms assume the plain round-robin queue pattern and
		 * counters only (no per-frame record) */
		if (p->gen_len != p->n_queues || p->track_flows || p->fwd_log)
			return -EINVAL;
		for (i = 0; i < p->gen_len; i++)
			if (p->gen_queue[i] != i)
				return -EINVAL;
	}
	return 0;
}

static int count_per_queue(struct sim *s, uint64_t *per_queue)
{
	const struct sim_params *p = s->p;
	uint64_t i, k;

	if (p->gen_gap_ps) {
		uint64_t full = p->n_packets / p->gen_len, rest = p->n_packets % p->gen_len;

		for (i = 0; i < p->gen_len; i++) {
			if (p->gen_queue[i] >= p->n_queues)
				return -EINVAL;
			for (k = 0; k < p->n_nics; k++)
				per_queue[k * p->n_queues + p->gen_queue[i]] += full + (i < rest);
		}
		return 0;
	}
	for (i = 0; i < p->n_packets; i++) {
		if (p->queue[i] >= p->n_queues || (i && p->ts_ps[i] < p->ts_ps[i - 1]))
			return -EINVAL;
		per_queue[p->queue[i]]++;
	}
	return 0;
}

/* The next arrival: its NIC and time (SIM_NEVER when none is left). */
static inline int64_t next_arrival(const struct sim *s, uint32_t *k)
{
	const struct sim_params *p = s->p;
	int64_t best = SIM_NEVER;
	uint32_t i;

	if (!p->gen_gap_ps) {
		*k = 0;
		return s->next_pkt < p->n_packets ? p->ts_ps[s->next_pkt] : SIM_NEVER;
	}
	for (i = 0; i < p->n_nics; i++) {
		if (s->nic[i].next < p->n_packets && gen_time(s, s->nic[i].next) < best) {
			best = gen_time(s, s->nic[i].next);
			*k = i;
		}
	}
	return best;
}

static int engine_init(struct sim *s)
{
	switch (s->p->engine) {
	case SIM_ENGINE_WIRECAP:
		return wc_init(s);
	case SIM_ENGINE_DNA:
	case SIM_ENGINE_NETMAP:
		return t2_init(s);
	default:
		return pf_init(s);
	}
}

static void engine_fini(struct sim *s)
{
	if (s->p->engine == SIM_ENGINE_WIRECAP)
		wc_fini(s);
	else if (s->p->engine == SIM_ENGINE_PFRING)
		pf_fini(s);
}

int sim_run(const struct sim_params *p, struct sim_queue_stats *qs, struct sim_result *res)
{
	struct sim s;
	uint64_t per_queue[WC_GROUP_MAX] = { 0 };
	uint32_t i, k;
	int err;

	memset(res, 0, sizeof(*res));
	err = check_params(p);
	if (err)
		return res->error = err;
	memset(&s, 0, sizeof(s));
	s.p = p;
	s.res = res;
	s.nq_total = p->n_nics * p->n_queues;
	err = count_per_queue(&s, per_queue);
	if (err)
		return res->error = err;
	err = -ENOMEM;
	if (sim_heap_init(&s.heap, 256))
		goto out;
	s.q = calloc(s.nq_total, sizeof(*s.q));
	if (!s.q)
		goto out;
	for (k = 0; k < p->n_nics; k++) {
		struct sim_nic *n = &s.nic[k];

		n->id = k;
		n->q0 = k * p->n_queues;
		n->unblock_at = SIM_NEVER;
		/* the buffer holds at most fifo_bytes / (smallest footprint) frames */
		n->fifo_cap = p->fifo_bytes / (p->fifo_unit ? p->fifo_unit : 1) + 1;
		n->fifo = calloc(n->fifo_cap, sizeof(*n->fifo));
		if (!n->fifo)
			goto out;
	}
	for (i = 0; i < s.nq_total; i++) {
		s.q[i].id = i;
		s.q[i].nic = i / p->n_queues;
		if (p->track_flows || (!p->gen_gap_ps && (p->forward || p->engine == SIM_ENGINE_PFRING))) {
			s.q[i].seq_cap = per_queue[i];
			s.q[i].seq_pkt = malloc((per_queue[i] + 1) * sizeof(uint32_t));
			if (!s.q[i].seq_pkt)
				goto out;
		}
	}
	if (p->track_flows && p->n_flows) {
		s.flow_thread = malloc(p->n_flows * sizeof(*s.flow_thread));
		s.flow_split = calloc(p->n_flows, 1);
		if (!s.flow_thread || !s.flow_split)
			goto out;
		memset(s.flow_thread, 0xff, p->n_flows * sizeof(*s.flow_thread));
	}
	err = engine_init(&s);
	if (err)
		goto out;

	/* the loop: arrivals first on ties, then events in (time, seq) order */
	while (!s.err) {
		int64_t te = s.heap.len ? s.heap.ev[0].t : SIM_NEVER;
		int64_t ta = next_arrival(&s, &k);
		struct sim_event ev;

		if (ta != SIM_NEVER && ta <= te) {
			if (p->bulk && bulk_step(&s, k, te))
				continue;
			s.now = ta;
			if (p->gen_gap_ps)
				nic_arrival(&s, s.nic[k].next++ * p->n_nics + k);
			else
				nic_arrival(&s, s.next_pkt++);
			continue;
		}
		if (sim_heap_pop(&s.heap, &ev))
			break;
		s.now = ev.t;
		res->events++;
		dispatch(&s, &ev);
	}
	res->arrivals = p->gen_gap_ps ? s.nic[0].next + (p->n_nics > 1 ? s.nic[1].next : 0) : s.next_pkt;
	res->end_ps = s.now;
	err = s.err;
	for (k = 0; k < p->n_nics && !err; k++)
		if (s.nic[k].fifo_len)
			err = -EDEADLK; /* frames left waiting for descriptors that never came */
	for (i = 0; i < s.nq_total; i++)
		qs[i] = s.q[i].st;
out:
	if (s.q)
		engine_fini(&s);
	if (s.q)
		for (i = 0; i < s.nq_total; i++)
			free(s.q[i].seq_pkt);
	free(s.q);
	for (k = 0; k < 2; k++)
		free(s.nic[k].fifo);
	free(s.flow_thread);
	free(s.flow_split);
	sim_heap_free(&s.heap);
	res->error = err;
	return err;
}
