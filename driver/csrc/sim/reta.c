/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The redirection table under bucket offloading (beyond the paper).
 *
 * The 82599 sends a frame to the queue in entry (RSS hash & 0x7f) of its
 * 128-entry redirection table (datasheet §7.1.2.8.3, RETA §8.2.3.7.13).
 * Python steers a trace through ixgbe's default table before the run
 * (traces/rss.py); with bucket offloading the table changes during the
 * run: when the balancer (engine/csrc/wc_balance.c) moves bucket b to
 * queue dst, every later frame of b goes to dst. The run keeps its own
 * copy of the frames' queues and rewrites those of b's frames still to
 * come, found through an index of each bucket's frames in arrival order:
 * a move costs the bucket's remaining frames, nothing is added to the
 * per-frame path.
 *
 * Flows and buckets: a flow's frames share one hash, so one bucket. The
 * thread that owns a bucket's flows changes only when a move's barrier is
 * past (eng_wirecap.c: the old thread has processed every frame it got of
 * the bucket before the new one starts on its frames), and a flow that
 * follows its bucket that way is migrated, not split (forward.c).
 */
#include "frames.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sim_reta {
	uint8_t *queue;        /* the run's copy of the frames' queues (sim.queue) */
	uint32_t *order;       /* frame ids grouped by bucket, each group in arrival order */
	uint64_t *start;       /* bucket b's frames: order[start[b] .. start[b + 1]) */
	uint64_t *cursor;      /* the first of them that may not have arrived yet */
	uint16_t *flow_bucket; /* per flow (SIM_NO_BUCKET: not hashed, or no frame) */
	uint8_t *owner;        /* bucket -> the thread that owns its flows */
	uint64_t *past;        /* bucket -> threads that handed it over (bit = thread) */
	uint64_t expected[WC_GROUP_MAX]; /* frames steered to each queue over the run */
};

int reta_init(struct sim *s, const uint64_t *per_queue)
{
	const struct sim_params *p = s->p;
	const uint32_t nb = p->n_buckets;
	struct sim_reta *r;
	uint64_t i, *fill;
	uint32_t b;

	if (!nb || nb > WC_BALANCE_BUCKETS_MAX || (nb & (nb - 1)) || p->gen_gap_ps || p->n_nics != 1)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	s->reta = r;
	r->queue = malloc(p->n_packets ? p->n_packets : 1);
	r->order = malloc((p->n_packets ? p->n_packets : 1) * sizeof(*r->order));
	r->start = calloc(nb + 1, sizeof(*r->start));
	r->cursor = calloc(nb, sizeof(*r->cursor));
	r->flow_bucket = malloc((p->n_flows ? p->n_flows : 1) * sizeof(*r->flow_bucket));
	r->owner = calloc(nb, 1);
	r->past = calloc(nb, sizeof(*r->past));
	if (!r->queue || !r->order || !r->start || !r->cursor || !r->flow_bucket || !r->owner || !r->past)
		return -ENOMEM;
	memcpy(r->queue, p->queue, p->n_packets);
	memset(r->flow_bucket, 0xff, (p->n_flows ? p->n_flows : 1) * sizeof(*r->flow_bucket));
	for (b = 0; b < nb; b++)
		r->owner[b] = (uint8_t)(b % p->n_queues); /* ixgbe's default RETA: entry j -> j mod n */
	for (i = 0; i < p->n_packets; i++) {
		uint16_t k = p->bucket[i];
		int32_t f = p->flow[i];

		if (k == SIM_NO_BUCKET)
			continue;
		if (k >= nb)
			return -EINVAL;
		/* one queue per bucket, one bucket per flow: what a table means */
		if (r->start[k + 1]++ == 0)
			r->owner[k] = p->queue[i];
		else if (r->owner[k] != p->queue[i])
			return -EINVAL;
		if (f >= 0 && (uint32_t)f < p->n_flows) {
			if (r->flow_bucket[f] == SIM_NO_BUCKET)
				r->flow_bucket[f] = k;
			else if (r->flow_bucket[f] != k)
				return -EINVAL;
		}
	}
	for (b = 0; b < nb; b++)
		r->start[b + 1] += r->start[b];
	fill = r->cursor; /* used as fill positions, then reset */
	for (b = 0; b < nb; b++)
		fill[b] = r->start[b];
	for (i = 0; i < p->n_packets; i++)
		if (p->bucket[i] != SIM_NO_BUCKET)
			r->order[fill[p->bucket[i]]++] = (uint32_t)i;
	for (b = 0; b < nb; b++)
		r->cursor[b] = r->start[b];
	for (b = 0; b < p->n_queues; b++)
		r->expected[b] = per_queue[b];
	s->queue = r->queue;
	s->seq_own = 1; /* a queue's ring records grow when buckets come to it */
	return 0;
}

void reta_fini(struct sim *s)
{
	struct sim_reta *r = s->reta;

	if (!r)
		return;
	free(r->queue);
	free(r->order);
	free(r->start);
	free(r->cursor);
	free(r->flow_bucket);
	free(r->owner);
	free(r->past);
	free(r);
	s->reta = NULL;
}

/* dst's ring records hold every frame that may still come to it */
static int grow_records(struct sim *s, struct sim_queue *q, uint64_t need)
{
	uint32_t *n;

	if (!q->seq_pkt || need <= q->seq_cap)
		return 0;
	n = realloc(q->seq_pkt, (need + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	q->seq_pkt = n;
	q->seq_cap = need;
	return 0;
}

int64_t reta_move(struct sim *s, uint32_t b, uint32_t dst)
{
	struct sim_reta *r = s->reta;
	uint64_t c, end, k;
	uint32_t src;

	if (!r || b >= s->p->n_buckets || dst >= s->nq_total)
		return -EINVAL;
	c = r->cursor[b];
	end = r->start[b + 1];
	while (c < end && r->order[c] < s->next_pkt)
		c++;
	r->cursor[b] = c;
	if (c == end)
		return 0;
	src = r->queue[r->order[c]];
	k = end - c;
	for (; c < end; c++)
		r->queue[r->order[c]] = (uint8_t)dst;
	r->expected[src] -= k;
	r->expected[dst] += k;
	if (grow_records(s, &s->q[dst], r->expected[dst]))
		return -ENOMEM;
	return (int64_t)k;
}

void reta_hand_over(struct sim *s, uint32_t b, uint32_t src, uint32_t dst)
{
	struct sim_reta *r = s->reta;

	r->past[b] |= 1ull << src;
	r->owner[b] = (uint8_t)dst;
}

int reta_migrated(const struct sim *s, int32_t f, uint32_t from, uint32_t to)
{
	const struct sim_reta *r = s->reta;
	uint16_t b;

	if (!r || f < 0 || (uint32_t)f >= s->p->n_flows)
		return 0;
	b = r->flow_bucket[f];
	return b != SIM_NO_BUCKET && r->owner[b] == to && (r->past[b] >> from & 1);
}
