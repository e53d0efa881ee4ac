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
	if (!b->table || !b->count) {
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
	free(b);
}

uint32_t wc_balance__buckets(const struct wc_balance *b)
{
	return b->n_buckets;
}

uint32_t wc_balance__member(const struct wc_balance *b, uint32_t bucket)
{
	return b->table[bucket & (b->n_buckets - 1)];
}

void wc_balance__count(struct wc_balance *b, uint32_t bucket, uint64_t n)
{
	b->count[bucket & (b->n_buckets - 1)] += n;
}

uint64_t wc_balance__counted(const struct wc_balance *b, uint32_t bucket)
{
	return b->count[bucket & (b->n_buckets - 1)];
}

uint64_t wc_balance__moves(const struct wc_balance *b)
{
	return b->moves;
}

/* Does member m shed buckets: its capture queue fuller than T, or its work
 * above the mean by more than imbalance_pct (mean = total / n, compared
 * without a division). */
static int sheds(const struct wc_balance *b, const struct wc_balance_member *mem, const uint64_t *work,
		 uint64_t total, uint32_t m)
{
	uint64_t lhs = work[m] * b->n_members * 100;

	if (!work[m])
		return 0;
	return mem[m].fill_pct > b->threshold_pct || lhs > total * (100 + (uint64_t)b->imbalance_pct);
}

int wc_balance__solve(struct wc_balance *b, const struct wc_balance_member *mem,
		      struct wc_bucket_move *moves, uint32_t max)
{
	uint64_t work[WC_BALANCE_MEMBERS_MAX] = { 0 }, total = 0;
	int32_t taken_from[WC_BALANCE_MEMBERS_MAX];
	uint8_t done[WC_BALANCE_MEMBERS_MAX] = { 0 };
	uint32_t i, m, n = 0;

	for (m = 0; m < b->n_members; m++) {
		work[m] = mem[m].backlog;
		taken_from[m] = -1;
	}
	for (i = 0; i < b->n_buckets; i++)
		work[b->table[i]] += b->count[i];
	for (m = 0; m < b->n_members; m++)
		total += work[m];

	while (n < max) {
		uint32_t a = UINT32_MAX, to = UINT32_MAX, best = UINT32_MAX;
		uint64_t c = 0;

		/* the busiest member that sheds */
		for (m = 0; m < b->n_members; m++)
			if (!mem[m].locked && !done[m] && sheds(b, mem, work, total, m) &&
			    (a == UINT32_MAX || work[m] > work[a]))
				a = m;
		if (a == UINT32_MAX)
			break;
		/* its work at or below the mean: nothing left to shed */
		if (work[a] * b->n_members <= total) {
			done[a] = 1;
			continue;
		}
		/* the least busy member that may take from a */
		for (m = 0; m < b->n_members; m++)
			if (m != a && !mem[m].locked && (taken_from[m] < 0 || taken_from[m] == (int32_t)a) &&
			    taken_from[a] < 0 && (to == UINT32_MAX || work[m] < work[to]))
				to = m;
		/* a member that has taken buckets this solve gives none (one
		 * barrier per member) */
		if (to == UINT32_MAX || taken_from[a] >= 0) {
			done[a] = 1;
			continue;
		}
		/* a's heaviest bucket that still leaves a busier than to */
		for (i = 0; i < b->n_buckets; i++) {
			uint64_t k = b->count[i];

			if (b->table[i] == a && k && k > c && 2 * k < work[a] - work[to]) {
				best = i;
				c = k;
			}
		}
		if (best == UINT32_MAX) {
			done[a] = 1;
			continue;
		}
		b->table[best] = (uint8_t)to;
		work[a] -= c;
		work[to] += c;
		taken_from[to] = (int32_t)a;
		moves[n++] = (struct wc_bucket_move){ best, a, to, c };
		b->moves++;
		/* the bucket is spoken for: it does not move twice in a solve */
		b->count[best] = 0;
	}
	memset(b->count, 0, b->n_buckets * sizeof(*b->count));
	return (int)n;
}
