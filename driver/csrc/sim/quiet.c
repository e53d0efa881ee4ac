/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Quiet frames: trace mode's closed form (the generator's is bulk.c).
 *
 * Most of a trace's frames change nothing in their engine but counters: a
 * WireCAP frame that lands in the head segment without completing it, with
 * the capture thread busy or its timeout armed. The engine says how many
 * of a queue's next frames are such (ops->quiet). Those are taken here in a
 * loop that touches only the queue's counters and its ring record, and
 * handed to the engine later in one deliver_n per queue: before the next
 * event, before any frame that is not quiet, and at the end of the run.
 * A frame that finds no descriptor (DROP_EN set) is only counted too.
 *
 * An engine whose frames' effect depends on when they come (DNA: its
 * application gives descriptors back one by one as it goes) takes them one
 * at a time instead (ops->take), each at once with the clock at its
 * arrival: no call through the NIC model, one look at the ring. Only with
 * DROP_EN set: with it clear (one queue), a full ring sends frames to the
 * NIC's buffer so often that the look is mostly wasted (DNA on one queue
 * ran about 10% slower).
 *
 * NETMAP has neither: its driver leaves DROP_EN clear, so frames wait in
 * the NIC's buffer (where no frame is quiet) so often that asking cost more
 * than it saved (about 8% on the Fermilab-like trace).
 *
 * With the buffer's head blocked and the buffer full, a frame is lost
 * whatever it is (full_buffer_run, at the end): those are only counted too.
 *
 * Same results as frame by frame: quiet frames schedule nothing (so the
 * next event stays the next event), their effect does not depend on when
 * they are handed over (ops->quiet's contract), and the engine's state is
 * read only after they are (every flush bumps the epoch, which makes every
 * queue ask its engine again).
 */
#include "sim_engine.h"
#include "sim_nic.h"

#include <errno.h>

/* q's quiet frames go to its engine; sent and head_seq are counted here,
 * once per queue, not per frame (quiet_run). */
static void hand_over(struct sim *s, struct sim_queue *q)
{
	uint32_t n = q->quiet_pending;

	q->quiet_pending = 0;
	s->quiet_mask &= ~(1ull << q->id);
	q->st.sent += n;
	q->head_seq += n;
	s->ops->deliver_n(s, q, n);
}

/* Hand every queue's quiet frames to its engine (quiet_flush); in any
 * order: quiet frames of one queue touch nothing of another's. */
void quiet_hand_over(struct sim *s)
{
	while (s->quiet_mask)
		hand_over(s, &s->q[__builtin_ctzll(s->quiet_mask)]);
}

/* Lazy hand-over (engines with ops->lazy_sync: WireCAP): an event, or a
 * frame that is not quiet, concerns one queue or two, yet quiet_flush
 * gave every queue its quiet frames and made every queue ask its engine
 * again. Instead q alone gets its frames, and asks again at its next
 * frame, when somebody is about to look at it (sim_sync): an engine's
 * state is read only after its quiet frames are handed over, and quiet
 * frames change nothing that depends on when they are (ops->quiet). */
void quiet_sync(struct sim *s, struct sim_queue *q)
{
	if (q->quiet_pending)
		hand_over(s, q);
	q->quiet_epoch = UINT64_MAX; /* no epoch: ask again */
}

/* A frame's ring record, if the queue keeps them (0 or -EOVERFLOW). */
static inline int record_quiet(struct sim *s, struct sim_queue *q, uint64_t pkt)
{
	if (q->seq_pkt) {
		if (q->seq_len == q->seq_cap) {
			s->err = -EOVERFLOW;
			return -EOVERFLOW;
		}
		q->seq_pkt[q->seq_len++] = ring_record(s, pkt);
	}
	return 0;
}

/* A frame taken in closed form: into the ring (with its record), or a
 * drop for want of a descriptor (DROP_EN): what nic_arrival counts. */
static inline int count_quiet(struct sim *s, struct sim_queue *q, uint64_t pkt, int ring)
{
	q->st.sent++;
	if (!ring) {
		drop(q, &q->st.drops_nodesc, 1);
		return 0;
	}
	if (record_quiet(s, q, pkt))
		return -EOVERFLOW;
	q->head_seq++;
	return 0;
}

/* quiet_run for an engine that takes quiet frames one at a time (DNA:
 * what a frame changes depends on when it comes, so each is applied at
 * once, with the clock at its arrival). */
static uint64_t take_run(struct sim *s, uint64_t first, int64_t te)
{
	const struct sim_params *p = s->p;
	int (*take)(struct sim *, struct sim_queue *) = s->ops->take;
	const int64_t *ts = p->ts_ns;
	const uint8_t *queue = s->queue;
	const uint64_t n = p->n_packets;
	struct sim_queue *qs = s->q;
	int64_t t_last = s->now;
	uint64_t i = first;

	for (; i < n; i++) {
		int64_t t = ts[i] * SIM_PS_PER_NS;
		struct sim_queue *q = &qs[queue[i]];
		int how;

		if (t > te)
			break;
		s->now = t;
		how = take(s, q);
		if (how == SIM_TAKE_NO || count_quiet(s, q, i, how == SIM_TAKE_RING))
			break;
		t_last = t;
	}
	s->now = t_last;
	return i;
}

/* The trace's next frames while each is quiet and none comes after the
 * next event (arrivals first on ties). Returns how many were taken. The
 * caller checked that no frame waits in the receive buffer (it would go
 * first, and a frame is not quiet behind it). */
uint64_t quiet_run(struct sim *s)
{
	const struct sim_params *p = s->p;
	const struct sim_engine_ops *ops = s->ops;
	/* read once: the stores to the queues below could alias them */
	const int64_t *ts = p->ts_ns;
	const uint8_t *queue = s->queue;
	const uint64_t n = p->n_packets, epoch = s->quiet_epoch, first = s->next_pkt;
	const int64_t te = s->heap.len ? s->heap.ev[0].t : SIM_NEVER;
	struct sim_queue *qs = s->q;
	int64_t t_last = s->now;
	uint64_t i = first;

	if (ops->take) {
		i = take_run(s, first, te);
		goto out;
	}
	for (; i < n; i++) {
		int64_t t = ts[i] * SIM_PS_PER_NS;
		struct sim_queue *q = &qs[queue[i]];

		if (t > te)
			break;
		if (q->quiet_epoch != epoch) {
			q->quiet_epoch = epoch;
			q->quiet_left = ops->quiet(s, q);
			q->quiet_drops = !q->quiet_left && p->drop_en && !ops->ready(s, q);
		}
		if (q->quiet_drops) {
			count_quiet(s, q, i, 0);
			t_last = t;
			continue;
		}
		/* into the ring: sent and head_seq are counted at the hand-over */
		if (!q->quiet_left || record_quiet(s, q, i))
			break;
		s->quiet_mask |= 1ull << q->id;
		q->quiet_left--;
		q->quiet_pending++;
		t_last = t;
	}
	s->now = t_last;
out:
	s->next_pkt = i;
	if (i > first)
		s->res->bulk_steps++;
	return i - first;
}

/* Trace mode with the receive buffer's head blocked (DROP_EN clear, one
 * queue: DNA, NETMAP) and the buffer full: every frame up to the next
 * event, or up to the first that fits, is lost, to the bus or to the full
 * buffer, as nic_arrival would count it, without an engine in sight. At
 * one queue DNA loses three frames in four this way. Returns how many. */
uint64_t full_buffer_run(struct sim *s, int64_t te)
{
	const struct sim_params *p = s->p;
	const struct sim_nic *n = &s->nic[0];
	const int64_t *ts = p->ts_ns;
	const uint8_t *queue = s->queue;
	const uint32_t *size = p->size;
	const uint64_t first = s->next_pkt;
	int64_t t_last = s->now;
	uint64_t i = first;

	for (; i < p->n_packets; i++) {
		int64_t t = ts[i] * SIM_PS_PER_NS;
		struct sim_queue *q = &s->q[queue[i]];

		if (t > te || fifo_has_room(s, n, footprint(s, size[i])))
			break;
		q->st.sent++;
		if (!bus_admits(s, q))
			drop(q, &q->st.drops_bus, 1);
		else
			drop(q, &q->st.drops_fifo, 1);
		t_last = t;
	}
	s->now = t_last;
	s->next_pkt = i;
	if (i > first)
		s->res->bulk_steps++;
	return i - first;
}
