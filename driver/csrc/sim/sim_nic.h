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

/* quiet.c: trace mode's quiet frames, counted in a tight loop up to the
 * next event and handed to the engine in one step per queue */
uint64_t quiet_run(struct sim *s);
uint64_t full_buffer_run(struct sim *s, int64_t te);
void quiet_hand_over(struct sim *s);

/* Before an event or a frame that is not quiet: the engines get their
 * quiet frames, and every count read so far is stale (the epoch). */
static inline void quiet_flush(struct sim *s)
{
	if (s->quiet_mask)
		quiet_hand_over(s);
	s->quiet_epoch++;
}

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

/* `count` frames of queue qi, `bytes` each, the first with id pkt, join the
 * tail of the buffer (the caller checked the room). They extend the tail run
 * when no per-frame record is kept (struct sim_fifo_entry). */
static inline void fifo_push(struct sim *s, struct sim_nic *n, uint64_t pkt, uint32_t qi, uint32_t bytes,
			     uint32_t count)
{
	struct sim_fifo_entry *tail = n->fifo_runs ?
		&n->fifo[(n->fifo_head + n->fifo_runs - 1) % n->fifo_cap] : NULL;

	if (!count)
		return;
	if (tail && tail->q == qi && tail->bytes == bytes && !s->q[qi].seq_pkt) {
		tail->n += count;
	} else {
		n->fifo[(n->fifo_head + n->fifo_runs) % n->fifo_cap] =
			(struct sim_fifo_entry){ pkt, qi, bytes, count };
		n->fifo_runs++;
	}
	n->fifo_len += count;
	n->fifo_bytes += (uint64_t)bytes * count;
}

/* The first `count` frames of the buffer leave it. */
static inline void fifo_pop(struct sim_nic *n, uint32_t count)
{
	while (count) {
		struct sim_fifo_entry *e = &n->fifo[n->fifo_head];
		uint32_t k = count < e->n ? count : e->n;

		e->n -= k;
		n->fifo_len -= k;
		n->fifo_bytes -= (uint64_t)e->bytes * k;
		count -= k;
		if (!e->n) {
			n->fifo_head = (n->fifo_head + 1) % n->fifo_cap;
			n->fifo_runs--;
		}
	}
}

#endif /* WC_SIM_NIC_H */
