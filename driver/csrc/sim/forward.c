/* SPDX-License-Identifier: BSD-3-Clause */
/* Processed frames: counting, flow affinity, and forwarding through a
 * second NIC (paper §3.2.2b). */
#include "frames.h"

#include <errno.h>

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
	if (s->p->run_log && n) {
		if (s->res->runs_logged == s->p->run_log_cap)
			s->err = -EOVERFLOW;
		else
			s->p->run_log[s->res->runs_logged++] = (struct sim_run_rec){ thread, owner, seq, n };
	}
	if (s->p->offload_matrix)
		s->p->offload_matrix[(uint64_t)owner * s->nq_total + thread] += n;
	if (thread != owner) {
		o->st.offloaded_out += n;
		s->q[thread].st.offloaded_in += n;
	}
	if (s->flow_state && o->seq_pkt && seq != SIM_NO_SEQ) {
		for (i = 0; i < n; i++) {
			int32_t f = record_flow(s, o->seq_pkt[seq + i]);
			uint8_t st;

			if (f < 0 || (uint32_t)f >= s->p->n_flows)
				continue;
			st = s->flow_state[f];
			if (st == FLOW_UNSEEN) {
				s->flow_state[f] = (uint8_t)thread;
			} else if (!(st & FLOW_SPLIT) && st != thread) {
				if (s->reta && reta_migrated(s, f, st, thread)) {
					/* followed its bucket, the old thread done with it */
					s->flow_state[f] = (uint8_t)thread;
					s->res->flows_migrated++;
					o->st.flows_migrated++;
					continue;
				}
				s->flow_state[f] = st | FLOW_SPLIT;
				s->res->flows_split++;
				o->st.flows_split++;
			}
		}
	}
	if (!s->p->forward || !n)
		return s->now;
	return forward(s, thread, owner, seq, n, t_first, dt);
}

/* Reordering (beyond the paper): a frame handed to an application thread
 * after a later frame of its flow was handed to one (chunk offloading: a
 * buddy may take a later chunk of the queue before the home thread takes
 * an earlier one). Frame ids are arrival order. */
void sim_handed(struct sim *s, uint32_t owner, uint64_t seq, uint64_t n)
{
	struct sim_queue *o = &s->q[owner];
	uint64_t i;

	if (!s->order_max || !o->seq_pkt || seq == SIM_NO_SEQ)
		return;
	for (i = 0; i < n; i++) {
		uint32_t pkt = o->seq_pkt[seq + i];
		int32_t f = flow_of(s, pkt);

		if (f < 0 || (uint32_t)f >= s->p->n_flows)
			continue;
		if (pkt + 1 < s->order_max[f]) {
			o->st.packets_reordered++;
			s->res->packets_reordered++;
		} else {
			s->order_max[f] = pkt + 1;
		}
	}
}
