/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Closed-form counting of generator runs (bulk steps, bulk.c): the
 * arithmetic that bulk.c and the engines' bulk entries (sim_engine.h,
 * bulk_cut and bulk_count) share. A queue's frames in a run are one every
 * nq arrival indexes (bulk mode requires the plain round-robin pattern).
 */
#ifndef WC_SIM_BULK_H
#define WC_SIM_BULK_H

#include "frames.h"

#define SIM_NO_CUT UINT64_MAX /* bulk_cut: no frame of the run changes the queue's state */

/* An engine whose bulk_cut answer depends on state it just changed says
 * so: bulk.c keeps each queue's cut (an absolute frame index, which frames
 * counted before it do not move), and the least of its NIC's, until then,
 * and asks again. */
static inline void bulk_cut_stale(struct sim *s, struct sim_queue *q)
{
	q->cut_known = 0;
	s->nic[q->nic].cut_min_known = 0;
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

/* Queue q's c frames of the run reach the bus: count them sent, the ones
 * it cannot move as bus drops. Returns how many it moves. */
static inline uint64_t bulk_admit(const struct sim *s, struct sim_queue *q, uint64_t c)
{
	uint64_t a = admit_run(q, s->p->bus_admit, c);

	q->st.sent += c;
	drop(q, &q->st.drops_bus, c - a);
	return a;
}

#endif /* WC_SIM_BULK_H */
