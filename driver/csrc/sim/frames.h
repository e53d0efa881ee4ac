/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frames, and the engines as the NIC sees them: small inline helpers shared
 * by the receive path (nic.c), the bulk steps (bulk.c), forwarding
 * (forward.c) and the main loop (run.c).
 */
#ifndef WC_SIM_FRAMES_H
#define WC_SIM_FRAMES_H

#define WC_SIM_INTERNAL
#include "sim.h"

#include <errno.h>

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

#endif /* WC_SIM_FRAMES_H */
