/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The wire and the 82599-class NIC, and the main loop.
 *
 * Receive path (82599 datasheet §7.1 "Receive Functionality"): a frame off
 * the wire enters the shared on-chip receive packet buffer, then DMA moves
 * it into host memory through the next descriptor of its queue's ring.
 *  - With a ready descriptor and nothing queued ahead of it, the frame goes
 *    straight through (DMA is not the bottleneck below the bus limit).
 *  - With no ready descriptor and SRRCTL.DROP_EN set, the frame is dropped
 *    at once (§8.2.3.8.7; counted as a capture drop, "no descriptor").
 *  - With DROP_EN clear the frame waits in the buffer, which is one FIFO
 *    shared by all queues: a waiting frame blocks every frame behind it,
 *    whatever their queue (82598/I210 datasheets: frames are held "if
 *    there is space in the FIFO and Drop_En is clear"). A frame that finds
 *    the buffer full is dropped (capture drop, "FIFO overflow").
 * Engines tell the NIC when descriptors come back (nic_kick).
 */
#define WC_SIM_INTERNAL
#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static inline uint32_t queue_of(const struct sim *s, uint64_t pkt)
{
	const struct sim_params *p = s->p;

	return p->gen_gap_ps ? p->gen_queue[pkt % p->gen_len] : p->queue[pkt];
}

static inline int32_t flow_of(const struct sim *s, uint64_t pkt)
{
	const struct sim_params *p = s->p;

	return p->gen_gap_ps ? p->gen_flow[pkt % p->gen_len] : p->flow[pkt];
}

uint32_t pkt_size(const struct sim *s, uint64_t pkt)
{
	const struct sim_params *p = s->p;

	return p->gen_gap_ps ? p->gen_size : p->size[pkt];
}

static inline int64_t arrival_time(const struct sim *s, uint64_t pkt)
{
	const struct sim_params *p = s->p;

	return p->gen_gap_ps ? (int64_t)pkt * p->gen_gap_ps : p->ts_ps[pkt];
}

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

/* Drain the receive buffer's head while its frames find descriptors. */
void nic_kick(struct sim *s)
{
	while (s->fifo_len) {
		struct sim_fifo_entry *e = &s->fifo[s->fifo_head];
		struct sim_queue *q = &s->q[e->q];

		if (engine_ready(s, q) > 0) {
			engine_deliver(s, q, e->pkt);
		} else if (s->p->drop_en) {
			q->st.capture_drops++;
			q->st.drops_nodesc++;
		} else {
			/* blocked; DNA gives descriptors back one at a time
			 * without telling anyone, so ask it when */
			if (s->p->engine == SIM_ENGINE_DNA) {
				int64_t t = t2_next_release(s, q);

				if (t != SIM_NEVER && (s->unblock_at <= s->now || t < s->unblock_at)) {
					s->unblock_at = t;
					sim_schedule(s, t, EV_NIC_UNBLOCK, e->q, 0);
				}
			}
			return;
		}
		s->fifo_bytes -= e->bytes;
		s->fifo_head = (s->fifo_head + 1) % s->fifo_cap;
		s->fifo_len--;
	}
}

static inline void nic_arrival(struct sim *s, uint64_t pkt)
{
	uint32_t qi = queue_of(s, pkt);
	struct sim_queue *q = &s->q[qi];
	uint32_t bytes;

	q->st.sent++;
	if (!s->fifo_len) {
		if (engine_ready(s, q) > 0) {
			engine_deliver(s, q, pkt);
			return;
		}
		if (s->p->drop_en) {
			q->st.capture_drops++;
			q->st.drops_nodesc++;
			return;
		}
	}
	bytes = footprint(s, pkt_size(s, pkt));
	if (s->fifo_len == s->fifo_cap || s->fifo_bytes + bytes > s->p->fifo_bytes) {
		q->st.capture_drops++;
		q->st.drops_fifo++;
		return;
	}
	s->fifo[(s->fifo_head + s->fifo_len) % s->fifo_cap] = (struct sim_fifo_entry){ pkt, qi, bytes };
	s->fifo_len++;
	s->fifo_bytes += bytes;
	if (s->fifo_len == 1)
		nic_kick(s); /* a DNA queue may need an unblock event */
}

/*
 * Generator-mode shortcut: while the only queue can take nothing and the
 * buffer cannot either, every arrival before the next event is a capture
 * drop, and nothing else changes. Count them in one step.
 */
static uint64_t bulk_drops(struct sim *s, int64_t until)
{
	const struct sim_params *p = s->p;
	struct sim_queue *q = &s->q[0];
	uint64_t first = s->next_pkt, last, n;
	int64_t t0 = arrival_time(s, first);

	if (!p->gen_gap_ps || p->n_queues != 1 || until == SIM_NEVER || t0 > until)
		return 0;
	if (engine_ready(s, q) > 0)
		return 0;
	if (p->engine == SIM_ENGINE_DNA) {
		/* DNA frees descriptors along its batch without events */
		int64_t t = t2_next_release(s, q);

		if (t != SIM_NEVER && t - 1 < until)
			until = t - 1;
	}
	if (!p->drop_en) {
		uint32_t bytes = footprint(s, p->gen_size);

		if (s->fifo_len < s->fifo_cap && s->fifo_bytes + bytes <= p->fifo_bytes)
			return 0;
	}
	last = (uint64_t)(until / p->gen_gap_ps); /* last arrival at or before `until` */
	if (last >= p->n_packets)
		last = p->n_packets - 1;
	if (last < first)
		return 0;
	n = last - first + 1;
	q->st.sent += n;
	q->st.capture_drops += n;
	if (p->drop_en && !s->fifo_len)
		q->st.drops_nodesc += n;
	else
		q->st.drops_fifo += n;
	s->next_pkt += n;
	return n;
}

/* Forwarding (paper §3.2.2b, §4 "Packet forwarding"): each processed frame
 * is queued on a transmit queue of NIC2 (one per application thread) when
 * its processing completes (t_first, then one every dt), and leaves at line
 * rate to a receiver that counts it. The NIC serves its transmit queues
 * round robin; the frames they carry arrived at most at line rate, so each
 * queue is modelled as draining at line rate on its own, and the transmit
 * ring as unbounded: the run reports the largest backlog of any queue
 * (tx_backlog_max) so that this stays checked. Returns when the last of the
 * n frames has left (its transmit completion). */
static int64_t forward(struct sim *s, uint32_t thread, uint32_t owner, uint64_t seq, uint64_t n,
		       int64_t t_first, int64_t dt)
{
	const struct sim_params *p = s->p;
	struct sim_queue *o = &s->q[owner];
	int64_t t = s->q[thread].tx_free, enq = t_first;
	int64_t min_wire = (int64_t)(60 + p->tx_overhead_bytes) * p->tx_ps_per_byte;
	uint64_t i, backlog;

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
		s->p->offload_matrix[(uint64_t)owner * s->p->n_queues + thread] += n;
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

static void dispatch(struct sim *s, const struct sim_event *ev)
{
	if (ev->kind == EV_NIC_UNBLOCK) {
		nic_kick(s);
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
	if (!p->n_queues || p->n_queues > WC_GROUP_MAX || p->engine > SIM_ENGINE_PFRING)
		return -EINVAL;
	if (p->gen_gap_ps < 0 || (p->gen_gap_ps && (!p->gen_len || !p->gen_queue || !p->gen_flow)))
		return -EINVAL;
	if (!p->gen_gap_ps && p->n_packets && (!p->ts_ps || !p->queue || !p->flow || !p->size))
		return -EINVAL;
	if (!p->ring_size || p->app_cost_ps < 0 || (p->forward && p->tx_ps_per_byte <= 0))
		return -EINVAL;
	return 0;
}

static int count_per_queue(struct sim *s, uint64_t *per_queue)
{
	const struct sim_params *p = s->p;
	uint64_t i;

	if (p->gen_gap_ps) {
		uint64_t full = p->n_packets / p->gen_len, rest = p->n_packets % p->gen_len;

		for (i = 0; i < p->gen_len; i++) {
			if (p->gen_queue[i] >= p->n_queues)
				return -EINVAL;
			per_queue[p->gen_queue[i]] += full + (i < rest);
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

int sim_run(const struct sim_params *p, struct sim_queue_stats *qs, struct sim_result *res)
{
	struct sim s;
	uint64_t per_queue[WC_GROUP_MAX] = { 0 };
	uint32_t i;
	int err;

	memset(res, 0, sizeof(*res));
	err = check_params(p);
	if (err)
		return res->error = err;
	memset(&s, 0, sizeof(s));
	s.p = p;
	s.res = res;
	s.unblock_at = SIM_NEVER;
	err = count_per_queue(&s, per_queue);
	if (err)
		return res->error = err;
	err = -ENOMEM;
	if (sim_heap_init(&s.heap, 256))
		goto out;
	s.q = calloc(p->n_queues, sizeof(*s.q));
	/* the buffer can hold at most fifo_bytes / (smallest footprint) frames */
	s.fifo_cap = p->fifo_bytes / (p->fifo_unit ? p->fifo_unit : 1) + 1;
	s.fifo = calloc(s.fifo_cap, sizeof(*s.fifo));
	if (!s.q || !s.fifo)
		goto out;
	for (i = 0; i < p->n_queues; i++) {
		s.q[i].id = i;
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
	switch (p->engine) {
	case SIM_ENGINE_WIRECAP:
		err = wc_init(&s);
		break;
	case SIM_ENGINE_DNA:
	case SIM_ENGINE_NETMAP:
		err = t2_init(&s);
		break;
	default:
		err = pf_init(&s);
		break;
	}
	if (err)
		goto out;

	/* the loop: arrivals first on ties, then events in (time, seq) order */
	while (!s.err) {
		int64_t te = s.heap.len ? s.heap.ev[0].t : SIM_NEVER;
		struct sim_event ev;

		if (s.next_pkt < p->n_packets) {
			int64_t ta = arrival_time(&s, s.next_pkt);

			if (ta <= te) {
				if (bulk_drops(&s, te))
					continue;
				s.now = ta;
				nic_arrival(&s, s.next_pkt++);
				continue;
			}
		}
		if (sim_heap_pop(&s.heap, &ev))
			break;
		s.now = ev.t;
		res->events++;
		dispatch(&s, &ev);
	}
	res->arrivals = s.next_pkt;
	res->end_ps = s.now;
	err = s.err;
	if (!err && s.fifo_len)
		err = -EDEADLK; /* frames left waiting for descriptors that never came */
	for (i = 0; i < p->n_queues; i++)
		qs[i] = s.q[i].st;
out:
	if (p->engine == SIM_ENGINE_WIRECAP && s.q)
		wc_fini(&s);
	if (p->engine == SIM_ENGINE_PFRING && s.q)
		pf_fini(&s);
	if (s.q)
		for (i = 0; i < p->n_queues; i++)
			free(s.q[i].seq_pkt);
	free(s.q);
	free(s.fifo);
	free(s.flow_thread);
	free(s.flow_split);
	sim_heap_free(&s.heap);
	res->error = err;
	return err;
}
