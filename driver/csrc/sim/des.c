/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The event core: a binary heap of (time, sequence) keys. The sequence
 * number makes ties break in scheduling order, so every run of the same
 * inputs handles the same events in the same order (simpy's
 * (time, priority, id) heap entries, without priorities).
 *
 * The heap is 4-ary: a pop, which every event costs, walks half the levels
 * of a binary heap, and a node's four children (128 bytes) are two cache
 * lines. Any heap pops the same (time, sequence) order.
 */
#include "sim_core.h"

#include <errno.h>
#include <stdlib.h>

#define HEAP_ARITY 4u

int sim_heap_init(struct sim_heap *h, uint32_t cap)
{
	h->ev = malloc((size_t)cap * sizeof(*h->ev));
	if (!h->ev)
		return -ENOMEM;
	h->len = 0;
	h->cap = cap;
	h->next_seq = 0;
	return 0;
}

void sim_heap_free(struct sim_heap *h)
{
	free(h->ev);
	h->ev = NULL;
}

static inline int before(const struct sim_event *a, const struct sim_event *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

int sim_schedule(struct sim *s, int64_t t, uint32_t kind, uint32_t q, uint64_t arg)
{
	struct sim_heap *h = &s->heap;
	struct sim_event e = { t, h->next_seq++, kind, q, arg };
	uint32_t i;

	if (h->len == h->cap) {
		struct sim_event *bigger = realloc(h->ev, (size_t)h->cap * 2 * sizeof(*h->ev));

		if (!bigger) {
			s->err = -ENOMEM;
			return -ENOMEM;
		}
		h->ev = bigger;
		h->cap *= 2;
	}
	i = h->len++;
	while (i > 0) {
		uint32_t parent = (i - 1) / HEAP_ARITY;

		if (!before(&e, &h->ev[parent]))
			break;
		h->ev[i] = h->ev[parent];
		i = parent;
	}
	h->ev[i] = e;
	return 0;
}

int sim_heap_pop(struct sim_heap *h, struct sim_event *out)
{
	struct sim_event last;
	uint32_t i = 0;

	if (!h->len)
		return -EAGAIN;
	*out = h->ev[0];
	last = h->ev[--h->len];
	for (;;) {
		uint32_t c = HEAP_ARITY * i + 1, end, m = i;
		const struct sim_event *best = &last;

		if (c >= h->len)
			break;
		end = c + HEAP_ARITY < h->len ? c + HEAP_ARITY : h->len;
		for (; c < end; c++) {
			if (before(&h->ev[c], best)) {
				m = c;
				best = &h->ev[c];
			}
		}
		if (m == i)
			break;
		h->ev[i] = h->ev[m];
		i = m;
	}
	h->ev[i] = last;
	return 0;
}
