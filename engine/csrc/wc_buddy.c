/* SPDX-License-Identifier: BSD-3-Clause */
/* Buddy groups and the offloading decision; contract in wc_buddy.h. */
#include "wc_buddy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct wc_group {
	uint32_t threshold_pct;
	uint32_t n;
	struct wc_workq *capture_q[WC_GROUP_MAX];
	uint32_t capacity[WC_GROUP_MAX];
};

int wc_group__create(struct wc_group **out, const struct wc_group_opts *opts)
{
	struct wc_group_opts o = { 0 };
	struct wc_group *g;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts) {
		size_t sz = opts->sz < sizeof(o) ? opts->sz : sizeof(o);

		memcpy(&o, opts, sz);
	}
	if (!o.threshold_pct)
		o.threshold_pct = WC_THRESHOLD_PCT_DEFAULT;
	if (o.threshold_pct > 100)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->threshold_pct = o.threshold_pct;
	*out = g;
	return 0;
}

void wc_group__destroy(struct wc_group *g)
{
	free(g);
}

int wc_group__add(struct wc_group *g, struct wc_workq *q, uint32_t capacity_chunks)
{
	if (!q || !capacity_chunks)
		return -EINVAL;
	if (g->n == WC_GROUP_MAX)
		return -ENOSPC;
	g->capture_q[g->n] = q;
	g->capacity[g->n] = capacity_chunks;
	return (int)g->n++;
}

int wc_group__place(const struct wc_group *g, uint32_t self)
{
	uint64_t len, best_len;
	uint32_t i, best;

	if (self >= g->n)
		return -EINVAL;
	len = wc_workq__len(g->capture_q[self]);
	/* 1.b: "If the queue length does not exceed [T], the thread will
	 * place the chunk into its own capture queue." */
	if (len * 100 <= (uint64_t)g->threshold_pct * g->capacity[self])
		return (int)self;
	/* 1.c-1.d: the idle or least busy buddy; home wins ties */
	best = self;
	best_len = len;
	for (i = 0; i < g->n; i++) {
		uint64_t l = wc_workq__len(g->capture_q[i]);

		if (l < best_len) {
			best = i;
			best_len = l;
		}
	}
	return (int)best;
}

uint32_t wc_group__size(const struct wc_group *g)
{
	return g->n;
}

struct wc_workq *wc_group__queue(const struct wc_group *g, uint32_t m)
{
	return m < g->n ? g->capture_q[m] : NULL;
}

uint32_t wc_group__threshold_pct(const struct wc_group *g)
{
	return g->threshold_pct;
}
