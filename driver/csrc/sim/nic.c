/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The receive path of the 82599-class NICs, and the bus in front of it.
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
 * Engines take frames through their operations table (sim_engine.h) and
 * say when descriptors come back (sim_ring_space); the loop then calls
 * nic_kick.
 *
 * Other NICs (driver/sim/nics.py: XL710, E810, ConnectX-5) run through the
 * same path with their own parameters: drop_en stands for whatever the NIC
 * does with a frame that finds no descriptor (those three drop it at once,
 * counted as GLV_RDPC or rx_out_of_buffer), and the line rate is the
 * generator's gap, set by Python. No constant of any NIC lives here.
 */
#include "sim_engine.h"
#include "sim_nic.h"

#include <errno.h>

/* ---- the receive buffer ----------------------------------------------- */

/* A frame is DMA'd into queue q's ring: it gets the next ring sequence
 * number (the order the application will see it in). */
static inline void engine_deliver(struct sim *s, struct sim_queue *q, uint64_t pkt)
{
	if (q->seq_pkt) {
		if (q->seq_len == q->seq_cap) {
			s->err = -EOVERFLOW;
			return;
		}
		q->seq_pkt[q->seq_len++] = ring_record(s, pkt);
	}
	q->head_seq++;
	s->ops->deliver(s, q);
}

/* Without per-frame records, frames of one queue at the head of the
 * buffer go into its ring in one step, as many as the engine takes at
 * once (WireCAP: up to the end of the segment). */
static inline uint32_t drain_run(struct sim_nic *n, struct sim_queue *q, uint32_t room)
{
	uint32_t k = 0, r;

	for (r = 0; k < room && r < n->fifo_runs; r++) {
		const struct sim_fifo_entry *e = &n->fifo[(n->fifo_head + r) % n->fifo_cap];

		if (e->q != q->id)
			break;
		k += e->n;
	}
	return k < room ? k : room;
}

/* Drain the receive buffer's head while its frames find descriptors. */
void nic_kick(struct sim *s, uint32_t k)
{
	const struct sim_engine_ops *ops = s->ops;
	struct sim_nic *n = &s->nic[k];

	while (n->fifo_len) {
		struct sim_fifo_entry *e = &n->fifo[n->fifo_head];
		struct sim_queue *q = &s->q[e->q];
		uint32_t room;

		sim_sync(s, q); /* its quiet frames came before this one */
		room = ops->room && !q->seq_pkt ? ops->room(s, q) : 0;

		if (room) {
			uint32_t run = drain_run(n, q, room);

			q->head_seq += run;
			fifo_pop(n, run);
			ops->deliver_n(s, q, run);
			continue;
		}
		if (ops->ready(s, q) > 0) {
			engine_deliver(s, q, e->pkt);
		} else if (s->p->drop_en) {
			drop(q, &q->st.drops_nodesc, 1);
		} else {
			/* blocked; an engine that gives descriptors back one at
			 * a time without telling anyone (DNA) says when */
			if (ops->next_release) {
				int64_t t = ops->next_release(s, q);

				if (t != SIM_NEVER && (n->unblock_at <= s->now || t < n->unblock_at)) {
					n->unblock_at = t;
					sim_schedule(s, t, EV_NIC_UNBLOCK, k, 0);
				}
			}
			return;
		}
		fifo_pop(n, 1);
	}
}

void nic_arrival(struct sim *s, uint64_t pkt)
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
		if (s->ops->ready(s, q) > 0) {
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
	fifo_push(s, n, pkt, qi, bytes, 1);
	if (n->fifo_len == 1)
		nic_kick(s, q->nic); /* a blocked head may need an unblock event */
}
