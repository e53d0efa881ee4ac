/* SPDX-License-Identifier: BSD-3-Clause */
/* The main loop: arrivals and events in time order, and the run's set-up
 * and accounting (sim_run). */
#include "sim_engine.h"
#include "sim_nic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- the main loop ------------------------------------------------------ */

/* Descriptors of q's ring came back (the engine says so): frames waiting
 * in its NIC's receive buffer may go now. */
void sim_ring_space(struct sim *s, struct sim_queue *q)
{
	nic_kick(s, q->nic);
}

static void dispatch(struct sim *s, const struct sim_event *ev)
{
	if (ev->kind == EV_NIC_UNBLOCK) {
		nic_kick(s, ev->q);
		return;
	}
	sim_sync(s, &s->q[ev->q]);
	s->ops->event(s, ev);
}

static int check_params(const struct sim_params *p)
{
	uint64_t i;

	if (!p->n_queues || p->n_nics < 1 || p->n_nics > 2 || p->n_nics * p->n_queues > WC_GROUP_MAX ||
	    p->engine >= sim_n_engines || !sim_engines[p->engine] || p->bus_admit > SIM_BUS_ONE)
		return -EINVAL;
	if (p->gen_gap_ps < 0 || (p->gen_gap_ps && (!p->gen_len || !p->gen_queue || !p->gen_flow)))
		return -EINVAL;
	if (!p->gen_gap_ps && (p->n_nics != 1 ||
			       (p->n_packets && (!p->ts_ns || !p->queue || !p->flow || !p->size))))
		return -EINVAL;
	if (!p->ring_size || p->app_cost_ps < 0 || (p->forward && p->tx_ps_per_byte <= 0))
		return -EINVAL;
	/* a late start is modelled for WireCAP's application threads only */
	if (p->app_start_ps < 0 || (p->app_start_ps && p->engine != SIM_ENGINE_WIRECAP) ||
	    (p->run_log && !p->run_log_cap))
		return -EINVAL;
	if (p->n_packets >= (1ull << 32))
		return -E2BIG; /* frame ids and bulk arithmetic are 32-bit per NIC */
	/* bucket offloading: WireCAP-A on a trace, its frames' buckets given */
	if (p->wc_offload > WC_OFFLOAD_HYBRID || (p->track_order && p->gen_gap_ps))
		return -EINVAL;
	if (p->engine == SIM_ENGINE_WIRECAP && p->wc_advanced && p->wc_offload != WC_OFFLOAD_CHUNK &&
	    (p->gen_gap_ps || !p->bucket || p->bal_period_ps <= 0 || p->bal_move_ps < 0))
		return -EINVAL;
	if (p->bulk && p->gen_gap_ps) {
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
		if (p->queue[i] >= p->n_queues || (i && p->ts_ns[i] < p->ts_ns[i - 1]) ||
		    p->ts_ns[i] > SIM_TS_NS_MAX || p->ts_ns[i] < -SIM_TS_NS_MAX)
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
		return s->next_pkt < p->n_packets ? p->ts_ns[s->next_pkt] * SIM_PS_PER_NS : SIM_NEVER;
	}
	for (i = 0; i < p->n_nics; i++) {
		if (s->nic[i].next < p->n_packets && gen_time(s, s->nic[i].next) < best) {
			best = gen_time(s, s->nic[i].next);
			*k = i;
		}
	}
	return best;
}

int sim_run(const struct sim_params *p, struct sim_queue_stats *qs, struct sim_result *res)
{
	struct sim s;
	uint64_t per_queue[WC_GROUP_MAX] = { 0 }, cells = 0, used = 0, flows;
	uint32_t i, k;
	int err, bulk, quiet, trace_bulk, records;

	memset(res, 0, sizeof(*res));
	err = check_params(p);
	if (err)
		return res->error = err;
	memset(&s, 0, sizeof(s));
	s.p = p;
	s.ops = sim_engines[p->engine];
	s.res = res;
	s.nq_total = p->n_nics * p->n_queues;
	s.nq_recip = ((1ull << 32) + p->n_queues - 1) / p->n_queues;
	err = count_per_queue(&s, per_queue);
	if (err)
		return res->error = err;
	err = -ENOMEM;
	if (sim_heap_init(&s.heap, 256))
		goto out;
	s.q = calloc(s.nq_total, sizeof(*s.q));
	if (!s.q)
		goto out;
	s.queue = p->queue;
	if (p->engine == SIM_ENGINE_WIRECAP && p->wc_advanced && p->wc_offload != WC_OFFLOAD_CHUNK) {
		err = reta_init(&s, per_queue);
		if (err)
			goto out;
		err = -ENOMEM;
	}
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
	records = p->track_flows || p->track_order || (!p->gen_gap_ps && (p->forward || s.ops->frame_ids));
	flows = p->track_flows ? p->n_flows : 0;
	if (p->track_order) {
		s.order_max = calloc(p->n_flows ? p->n_flows : 1, sizeof(*s.order_max));
		if (!s.order_max)
			goto out;
	}
	/* the ring records of every queue, then the flow table: one block
	 * (with bucket moves, each queue's records are its own: they grow) */
	if (records && !s.seq_own)
		for (i = 0; i < s.nq_total; i++)
			cells += per_queue[i] + 1;
	if (cells || flows) {
		s.scratch = sim_scratch_get(cells * sizeof(uint32_t) + flows);
		if (!s.scratch)
			goto out;
	}
	for (i = 0; i < s.nq_total; i++) {
		s.q[i].id = i;
		s.q[i].nic = i / p->n_queues;
		if (records && s.seq_own) {
			s.q[i].seq_cap = per_queue[i];
			s.q[i].seq_pkt = malloc((per_queue[i] + 1) * sizeof(uint32_t));
			if (!s.q[i].seq_pkt)
				goto out;
		} else if (records) {
			s.q[i].seq_cap = per_queue[i];
			s.q[i].seq_pkt = (uint32_t *)s.scratch + used;
			used += per_queue[i] + 1;
		}
	}
	if (flows) {
		s.flow_state = (uint8_t *)s.scratch + cells * sizeof(uint32_t);
		memset(s.flow_state, FLOW_UNSEEN, flows);
	}
	s.seq_flows = !p->gen_gap_ps && p->track_flows && !p->forward && !s.ops->frame_ids && !p->track_order;
	err = s.ops->init(&s);
	if (err)
		goto out;
	/* closed forms: generator runs in bulk steps (bulk.c); a trace's quiet
	 * frames (quiet.c), where the engine says which they are */
	bulk = p->bulk && p->gen_gap_ps;
	trace_bulk = p->bulk && !p->gen_gap_ps;
	quiet = p->bulk && !p->gen_gap_ps && p->bus_admit == SIM_BUS_ONE &&
		((s.ops->quiet && s.ops->deliver_n) || (s.ops->take && p->drop_en));
	s.lazy_quiet = quiet && s.ops->quiet && s.ops->lazy_sync;

	/* the loop: arrivals first on ties, then events in (time, seq) order */
	while (!s.err) {
		int64_t te = s.heap.len ? s.heap.ev[0].t : SIM_NEVER;
		int64_t ta = next_arrival(&s, &k);
		struct sim_event ev;

		if (ta != SIM_NEVER && ta <= te) {
			if (bulk && bulk_step(&s, k, te))
				continue;
			/* no frame is quiet while one waits in the receive buffer */
			if (quiet && !s.nic[0].fifo_len && quiet_run(&s))
				continue;
			/* a trace's frames that find the buffer full (quiet.c) */
			if (trace_bulk && s.nic[0].fifo_len && full_buffer_run(&s, te))
				continue;
			if (s.lazy_quiet && !s.nic[0].fifo_len)
				quiet_sync(&s, &s.q[s.queue[s.next_pkt]]); /* its queue's earlier frames */
			else if (quiet)
				quiet_flush(&s); /* the engine sees every frame before this one */
			s.now = ta;
			if (p->gen_gap_ps)
				nic_arrival(&s, s.nic[k].next++ * p->n_nics + k);
			else
				nic_arrival(&s, s.next_pkt++);
			continue;
		}
		if (quiet && !s.lazy_quiet)
			quiet_flush(&s); /* and before any event (lazily: dispatch syncs) */
		if (sim_heap_pop(&s.heap, &ev))
			break;
		s.now = ev.t;
		res->events++;
		dispatch(&s, &ev);
	}
	if (quiet)
		quiet_flush(&s); /* lazy hand-over: what is still waiting */
	if (!s.err && s.ops->finish)
		s.ops->finish(&s);
	res->arrivals = p->gen_gap_ps ? s.nic[0].next + (p->n_nics > 1 ? s.nic[1].next : 0) : s.next_pkt;
	res->end_ps = s.now;
	err = s.err;
	for (k = 0; k < p->n_nics && !err; k++)
		if (s.nic[k].fifo_len)
			err = -EDEADLK; /* frames left waiting for descriptors that never came */
	for (i = 0; i < s.nq_total; i++)
		qs[i] = s.q[i].st;
out:
	if (s.q && s.ops->fini)
		s.ops->fini(&s);
	sim_scratch_put(s.scratch);
	for (i = 0; s.q && s.seq_own && i < s.nq_total; i++)
		free(s.q[i].seq_pkt);
	reta_fini(&s);
	free(s.order_max);
	free(s.q);
	for (k = 0; k < 2; k++)
		free(s.nic[k].fifo);
	sim_heap_free(&s.heap);
	res->error = err;
	return err;
}
