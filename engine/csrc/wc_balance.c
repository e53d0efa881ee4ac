/* SPDX-License-Identifier: BSD-3-Clause */
/* Bucket offloading's decision; contract in wc_balance.h. */
#include "wc_balance.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct wc_balance {
	uint32_t n_buckets;
	uint32_t n_members;
	uint32_t threshold_pct;
	uint32_t imbalance_pct;
	uint64_t moves;
	uint8_t *table;     /* bucket -> member */
	uint64_t *count;    /* bucket -> packets this period */
	uint64_t *load;     /* bucket -> smoothed packets per period (x 2 in steady state) */
};

int wc_balance__create(struct wc_balance **out, const struct wc_balance_opts *opts)
{
	struct wc_balance_opts o = { 0 };
	struct wc_balance *b;
	uint32_t i;

	if (!out || !opts)
		return -EINVAL;
	*out = NULL;
	memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (o.n_buckets < WC_BALANCE_BUCKETS_MIN || o.n_buckets > WC_BALANCE_BUCKETS_MAX ||
	    (o.n_buckets & (o.n_buckets - 1)) || !o.n_members || o.n_members > WC_BALANCE_MEMBERS_MAX ||
	    !o.threshold_pct || o.threshold_pct > 100)
		return -EINVAL;
	if (o.table)
		for (i = 0; i < o.n_buckets; i++)
			if (o.table[i] >= o.n_members)
				return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->table = malloc(o.n_buckets);
	b->count = calloc(o.n_buckets, sizeof(*b->count));
	b->load = calloc(o.n_buckets, sizeof(*b->load));
	if (!b->table || !b->count || !b->load) {
		wc_balance__destroy(b);
		return -ENOMEM;
	}
	b->n_buckets = o.n_buckets;
	b->n_members = o.n_members;
	b->threshold_pct = o.threshold_pct;
	b->imbalance_pct = o.imbalance_pct ? o.imbalance_pct : WC_BALANCE_IMBALANCE_PCT_DEFAULT;
	for (i = 0; i < o.n_buckets; i++)
		b->table[i] = o.table ? o.table[i] : (uint8_t)(i % o.n_members);
	*out = b;
	return 0;
}

void wc_balance__destroy(struct wc_balance *b)
{
	if (!b)
		return;
	free(b->table);
	free(b->count);
	free(b->load);
	free(b);
}

uint32_t wc_balance__member(const struct wc_balance *b, uint32_t bucket)
{
	return b->table[bucket & (b->n_buckets - 1)];
}

void wc_balance__count(struct wc_balance *b, uint32_t bucket, uint64_t n)
{
	b->count[bucket & (b->n_buckets - 1)] += n;
}

uint64_t wc_balance__moves(const struct wc_balance *b)
{
	return b->moves;
}

uint32_t wc_balance__spill_pct(uint32_t t)
{
	return t + (100u - t) / 2u;
}

/* Does member m give buckets away: its load above the mean by more than
 * imbalance_pct (mean = total / n, compared without a division), and its
 * backlog short: the member that takes a bucket waits, in order, for the
 * giver's backlog (the barrier), so a move from a long backlog idles the
 * taker for as long; at most one period of the giver's arrivals (its
 * smoothed load is two periods' worth). */
static int gives(const struct wc_balance *b, const struct wc_balance_member *mem, const uint64_t *load,
		 uint64_t total, uint32_t m)
{
	if (!load[m] || mem[m].backlog * 2 > load[m])
		return 0;
	return load[m] * b->n_members * 100 > total * (100 + (uint64_t)b->imbalance_pct);
}

/* May member m take buckets: not in a move, its capture queue at most half
 * of T full ("when a capture queue is empty or shorter, the corresponding
 * core is idle or less busy", §3.2.2a), and no buckets taken from another
 * member in this solve. */
static int takes(const struct wc_balance *b, const struct wc_balance_member *mem, const int32_t *taken_from,
		 uint32_t m, uint32_t a)
{
	return m != a && !mem[m].locked && mem[m].fill_pct * 2 <= b->threshold_pct &&
	       (taken_from[m] < 0 || taken_from[m] == (int32_t)a);
}

int wc_balance__solve(struct wc_balance *b, const struct wc_balance_member *mem,
		      struct wc_bucket_move *moves, uint32_t max)
{
	uint64_t load[WC_BALANCE_MEMBERS_MAX] = { 0 }, total = 0;
	int32_t taken_from[WC_BALANCE_MEMBERS_MAX];
	uint8_t done[WC_BALANCE_MEMBERS_MAX] = { 0 };
	uint32_t i, m, n = 0;

	/* the period's counts join the smoothed loads: a bucket's load halves
	 * every period it is quiet (an exponential average, weight 1/2), so a
	 * decision rests on more than one period's few packets */
	for (i = 0; i < b->n_buckets; i++) {
		b->load[i] = b->load[i] / 2 + b->count[i];
		b->count[i] = 0;
	}
	for (m = 0; m < b->n_members; m++)
		taken_from[m] = -1;
	for (i = 0; i < b->n_buckets; i++)
		load[b->table[i]] += b->load[i];
	for (m = 0; m < b->n_members; m++)
		total += load[m];

	while (n < max) {
		uint32_t a = UINT32_MAX, to = UINT32_MAX, best = UINT32_MAX;
		uint64_t c = 0;

		/* the busiest member that gives; one that has taken buckets in
		 * this solve gives none (one barrier per member) */
		for (m = 0; m < b->n_members; m++)
			if (!mem[m].locked && !done[m] && taken_from[m] < 0 && gives(b, mem, load, total, m) &&
			    (a == UINT32_MAX || load[m] > load[a]))
				a = m;
		if (a == UINT32_MAX)
			break;
		/* the least loaded member that may take from a */
		for (m = 0; m < b->n_members; m++)
			if (takes(b, mem, taken_from, m, a) && (to == UINT32_MAX || load[m] < load[to]))
				to = m;
		/* a's heaviest bucket that still leaves a more loaded than to */
		for (i = 0; to != UINT32_MAX && i < b->n_buckets; i++) {
			uint64_t k = b->load[i];

			if (b->table[i] == a && k > c && 2 * k < load[a] - load[to]) {
				best = i;
				c = k;
			}
		}
		if (best == UINT32_MAX) {
			done[a] = 1;
			continue;
		}
		b->table[best] = (uint8_t)to;
		load[a] -= c;
		load[to] += c;
		taken_from[to] = (int32_t)a;
		moves[n++] = (struct wc_bucket_move){ best, a, to, c };
		b->moves++;
	}
	return (int)n;
}
