/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NIC model (nic.c, bulk.c): its entry points, which only the main
 * loop (run.c) calls, and the on-chip receive buffer's arithmetic that the
 * receive path and the bulk steps share. Engines never include this: they
 * tell the core when descriptors come back (sim_ring_space) and the loop
 * kicks the NIC.
 */
#ifndef WC_SIM_NIC_H
#define WC_SIM_NIC_H

#include "frames.h"

/* nic.c: the receive path */
void nic_arrival(struct sim *s, uint64_t pkt);
void nic_kick(struct sim *s, uint32_t nic);
/* bulk.c: NIC k's arrivals up to t_lim in closed form; frames counted */
uint64_t bulk_step(struct sim *s, uint32_t nic, int64_t t_lim);

/* Bytes a frame takes in the on-chip receive buffer: its length plus status,
 * rounded up to the allocation unit (driver/sim/params.py NicModel). */
static inline uint32_t footprint(const struct sim *s, uint32_t size)
{
	uint32_t unit = s->p->fifo_unit ? s->p->fifo_unit : 1;

	return (size + s->p->fifo_frame_overhead + unit - 1) / unit * unit;
}

static inline int fifo_has_room(const struct sim *s, const struct sim_nic *n, uint32_t bytes)
{
	return n->fifo_len < n->fifo_cap && n->fifo_bytes + bytes <= s->p->fifo_bytes;
}

#endif /* WC_SIM_NIC_H */
