/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frames: which NIC, queue and flow a frame belongs to, its size and
 * arrival time, and what happens to every frame before any engine sees it
 * (the bus admits it or not; capture drops are counted where they happen).
 * Pure functions of the parameters, for the NIC model, forwarding and the
 * engines alike.
 */
#ifndef WC_SIM_FRAMES_H
#define WC_SIM_FRAMES_H

#include "sim_core.h"

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
		return s->queue[pkt];
	return nic_of(s, pkt) * p->n_queues + p->gen_queue[gen_index(s, pkt) % p->gen_len];
}

static inline int32_t flow_of(const struct sim *s, uint64_t pkt)
{
	const struct sim_params *p = s->p;

	return p->gen_gap_ps ? p->gen_flow[gen_index(s, pkt) % p->gen_len] : p->flow[pkt];
}

/* What the ring record keeps for frame pkt (sim_queue.seq_pkt). */
static inline uint32_t ring_record(const struct sim *s, uint64_t pkt)
{
	return s->seq_flows ? (uint32_t)s->p->flow[pkt] : (uint32_t)pkt;
}

/* The flow of the frame a ring record names. */
static inline int32_t record_flow(const struct sim *s, uint32_t rec)
{
	return s->seq_flows ? (int32_t)rec : flow_of(s, rec);
}

static inline int64_t gen_time(const struct sim *s, uint64_t i)
{
	return (int64_t)i * s->p->gen_gap_ps;
}

static inline uint32_t pkt_size(const struct sim *s, uint64_t pkt)
{
	const struct sim_params *p = s->p;

	return p->gen_gap_ps ? p->gen_size : p->size[pkt];
}

/* ---- on the way in -----------------------------------------------------
 * The bus (driver/sim/params.py BusModel) moves a fraction of each queue's
 * frames; the rest overflow the on-chip buffer (nic.c). A frame lost before
 * capture is counted once, under its cause.
 */
static inline void drop(struct sim_queue *q, uint64_t *why, uint64_t n)
{
	q->st.capture_drops += n;
	*why += n;
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
