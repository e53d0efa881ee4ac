/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A DPDK-style capture engine (beyond the paper; its §7 names DPDK as
 * future work): a poll-mode driver (PMD) and a per-queue mbuf mempool.
 * This is a model of software we do not run here (DPDK needs a NIC bound
 * to vfio-pci/uio); its rules come from DPDK's documentation and the ixgbe
 * PMD's source:
 *
 *  - At queue start the PMD gives every descriptor of the ring an mbuf
 *    from the queue's mempool (drivers/net/ixgbe/ixgbe_rxtx.c,
 *    ixgbe_dev_rx_queue_start() -> ixgbe_alloc_rx_queue_mbufs(): one
 *    rte_mbuf_raw_alloc() per descriptor; it fails the start without
 *    them), and sets the tail one short of the ring (RDT = nb_rx_desc - 1):
 *    N mbufs sit in the ring, N - 1 descriptors are the NIC's (ring_usable).
 *  - rte_eth_rx_burst() (ixgbe_recv_pkts()) reads done descriptors in
 *    order; for each it first allocates a fresh mbuf, re-arms the
 *    descriptor with it and returns the filled one. When the allocation
 *    fails it stops ("if (nmb == NULL) { ... rx_mbuf_alloc_failed++;
 *    break; }"): the packet stays in its descriptor, which is not re-armed.
 *    So the ring runs out of ready descriptors only once the mempool is
 *    empty, and the NIC then drops (SRRCTL.DROP_EN) or holds frames in its
 *    on-chip buffer (DROP_EN clear), as for every other engine.
 *  - The application holds an mbuf until it has processed the packet and
 *    calls rte_pktmbuf_free(), which returns it to the mempool.
 *
 * Threads: per queue an rx lcore runs the PMD (the poll-mode driver of
 * DPDK's pipeline model, examples/distributor and ip_pipeline: one lcore
 * receives and hands mbufs through an rte_ring to a worker), and the
 * queue's pkt_handler worker processes them. With run-to-completion (rx
 * and processing on one lcore, examples/l2fwd) the ring would be the only
 * buffer, which is DNA's model; the pipeline makes the mempool the buffer,
 * and that is what a capture application sizes. Assumptions, stated:
 *  - the rx lcore costs no simulated time: it keeps pace with the wire
 *    (DPDK's ixgbe PMD receives 64-byte line rate on one core, DPDK
 *    performance reports), so a frame reaches the worker's queue as soon
 *    as it is DMA'd, provided there is an mbuf to re-arm its descriptor;
 *  - descriptors are re-armed at once; ixgbe batches the tail write
 *    (rx_free_thresh, 32 by default), which this model leaves out;
 *  - no per-lcore mempool cache (cache_size 0): a freed mbuf is at once
 *    available to the rx lcore;
 *  - the rte_ring between the lcores holds the whole mempool;
 *  - the worker dequeues up to DPDK_BURST mbufs (rte_ring_dequeue_burst,
 *    the customary burst of 32: MAX_PKT_BURST in the examples), processes
 *    them at pkt_handler's cost each and frees them together at the end;
 *    when forwarding (Figure 13), also then, not at transmit completion.
 * The same PMD code says what the model turns on: "holding RX descriptors
 * instead of systematically giving them back to the NIC may lead to RX
 * ring exhaustion situations" (comment above the allocation in
 * ixgbe_recv_pkts()).
 *
 * Per queue, the mbufs are always all in one place:
 *     pool_free + ring_size + in_app == mbufs   (ring_size: the N in the ring)
 *     armed + in_ring == ring_usable            (descriptors the NIC owns or filled)
 * A frame finds a ready descriptor while armed > 0. It then goes to the
 * worker at once (pool_free > 0), or waits in its descriptor (in_ring).
 * Frames buffered at most: mbufs - 1 (mbufs - N in the worker's queue and
 * N - 1 done descriptors). So the ring's size (the ixgbe PMD takes up to
 * IXGBE_MAX_RING_DESC = 4,096) changes only where a frame waits, not how many
 * can: each holds one mbuf either way; it only sets the mempool's floor.
 * Order is kept: frames waiting in descriptors are later than every frame
 * in the worker's queue, and take each freed mbuf first.
 */
#include "sim_engine.h"

#include <errno.h>

/* rte_eth_rx_burst / rte_ring_dequeue_burst size of the DPDK examples
 * (MAX_PKT_BURST 32, e.g. examples/l2fwd/main.c) */
#define DPDK_BURST 32

/* per-queue state (q->eng) */
struct sim_dpdk {
	uint64_t pool_free; /* mbufs in the mempool */
	uint64_t armed;     /* descriptors ready for a frame (the NIC's) */
	uint64_t in_ring;   /* done descriptors waiting for an mbuf to re-arm them */
	uint64_t in_app;    /* mbufs handed to the worker (queued or in its burst) */
	uint64_t next_seq;  /* ring sequence number of the worker's next packet */
};

SIM_ENGINE_STATE(struct sim_dpdk);

static inline struct sim_dpdk *D(struct sim_queue *q)
{
	return (struct sim_dpdk *)q->eng;
}

static int dpdk_init(struct sim *s)
{
	const struct sim_params *p = s->p;
	uint32_t i;

	/* the queue could not start (ixgbe_alloc_rx_queue_mbufs: -ENOMEM) or
	 * would never take a frame out of the ring (Python says so first) */
	if (p->dpdk_mbufs <= p->ring_size || p->ring_usable > p->ring_size || !p->ring_usable)
		return -EINVAL;
	for (i = 0; i < s->nq_total; i++) {
		struct sim_dpdk *d = D(&s->q[i]);

		d->pool_free = p->dpdk_mbufs - p->ring_size;
		d->armed = p->ring_usable;
	}
	return 0;
}

static uint32_t dpdk_ready(struct sim *s, struct sim_queue *q)
{
	uint64_t a = D(q)->armed;

	(void)s;
	return a > UINT32_MAX ? UINT32_MAX : (uint32_t)a;
}

static inline void note_held(struct sim_queue *q, const struct sim_dpdk *d)
{
	uint64_t held = d->in_app + d->in_ring;

	if (held > q->st.max_buffered)
		q->st.max_buffered = held;
}

/* The worker takes its next burst from its queue, if it is idle. */
static void start_burst(struct sim *s, struct sim_queue *q)
{
	struct sim_dpdk *d = D(q);
	struct sim_app *a = &q->app;

	if (a->busy || !d->in_app)
		return;
	a->busy = 1;
	a->gen++;
	a->batch = d->in_app < DPDK_BURST ? d->in_app : DPDK_BURST;
	a->started = s->now;
	sim_schedule(s, a->started + (int64_t)a->batch * s->p->app_cost_ps, EV_APP_DONE, q->id, a->gen);
}

/* A frame was DMA'd into the descriptor: the rx lcore reads it and re-arms
 * the descriptor with a fresh mbuf, or, with the mempool empty, leaves it. */
static inline void take_frame(struct sim_dpdk *d)
{
	if (d->pool_free) {
		d->pool_free--;
		d->in_app++;
	} else {
		d->armed--;
		d->in_ring++;
	}
}

static void dpdk_deliver(struct sim *s, struct sim_queue *q)
{
	struct sim_dpdk *d = D(q);

	take_frame(d);
	note_held(q, d);
	start_burst(s, q);
}

/* Quiet frames (quiet.c, ops->take): while the worker is busy a frame only
 * joins the worker's queue or a descriptor, or finds none (DROP_EN). */
static int dpdk_take(struct sim *s, struct sim_queue *q)
{
	struct sim_dpdk *d = D(q);

	if (!q->app.busy)
		return SIM_TAKE_NO; /* it starts a burst */
	if (!d->armed)
		return s->p->drop_en ? SIM_TAKE_DROP : SIM_TAKE_NO;
	take_frame(d);
	note_held(q, d);
	return SIM_TAKE_RING;
}

/* The worker's burst is processed: rte_pktmbuf_free() of each mbuf; the rx
 * lcore's next rx_burst takes the freed mbufs for the waiting descriptors
 * first (their frames join the worker's queue), the rest go to the pool. */
static void finish_burst(struct sim *s, struct sim_queue *q)
{
	struct sim_dpdk *d = D(q);
	struct sim_app *a = &q->app;
	uint64_t k = a->batch, rearm = k < d->in_ring ? k : d->in_ring;

	sim_processed(s, q->id, q->id, d->next_seq, k, a->started + s->p->app_cost_ps, s->p->app_cost_ps);
	d->next_seq += k;
	d->in_app -= k;
	a->busy = 0;
	q->st.last_done_ps = s->now;
	d->in_ring -= rearm;
	d->armed += rearm;
	d->in_app += rearm;
	d->pool_free += k - rearm;
	if (rearm)
		sim_ring_space(s, q); /* frames held in the NIC's buffer may go */
}

static void dpdk_event(struct sim *s, const struct sim_event *ev)
{
	struct sim_queue *q = &s->q[ev->q];

	if (ev->kind != EV_APP_DONE) {
		s->err = -EPROTO;
		return;
	}
	if (ev->arg != q->app.gen)
		return;
	finish_burst(s, q);
	start_burst(s, q);
}

/* Descriptors come back only at the end of a burst, through sim_ring_space. */
const struct sim_engine_ops sim_engine_dpdk = {
	.init = dpdk_init,
	.ready = dpdk_ready,
	.deliver = dpdk_deliver,
	.take = dpdk_take,
	.event = dpdk_event,
};
