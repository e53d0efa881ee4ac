/* SPDX-License-Identifier: BSD-3-Clause */
/* Bounded MPMC queue of chunk metadata; contract in wc_workq.h. */
#include "wc_workq.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

struct wc_workq_slot {
	_Atomic uint64_t seq;
	struct wc_chunk_meta meta;
};

struct wc_workq {
	uint32_t mask;
	uint32_t flags;  /* WC_WORKQ_SP, WC_WORKQ_SC, WC_WORKQ_LOCAL */
	/* WC_WORKQ_LOCAL: a plain ring of `size` elements (a power of two,
	 * at most mask + 1), `len` of them from `first` on */
	struct wc_chunk_meta *ring;
	uint32_t size, first, len;
	/* producers and the consumer own one index each; keep them on
	 * separate cache lines so capture and application threads do not
	 * false-share */
	_Alignas(64) _Atomic uint64_t tail; /* (producers) next slot to fill */
	_Alignas(64) _Atomic uint64_t head; /* (consumers) next slot to drain */
	_Alignas(64) struct wc_workq_slot *slots;
};

int wc_workq__create(struct wc_workq **out, uint32_t capacity)
{
	return wc_workq__create_flags(out, capacity, 0);
}

/* WC_WORKQ_LOCAL starts with LOCAL_FIRST_SIZE elements; a queue that holds
 * a few chunks at a time (most of them) never grows past its first lines. */
#define LOCAL_FIRST_SIZE 8u

int wc_workq__create_flags(struct wc_workq **out, uint32_t capacity, uint32_t flags)
{
	struct wc_workq *q;
	/* at least two slots: with one, a full slot's sequence (pos + 1)
	 * equals the next producer's position and a push would overwrite it
	 * (Vyukov's bounded MPMC queue needs a buffer of two or more) */
	uint32_t cap = 2, i;

	if (!out || !capacity || capacity > (1u << 30) ||
	    (flags & ~(uint32_t)(WC_WORKQ_SP | WC_WORKQ_SC | WC_WORKQ_LOCAL)))
		return -EINVAL;
	while (cap < capacity)
		cap <<= 1;
	q = aligned_alloc(64, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->mask = cap - 1;
	q->flags = flags;
	q->slots = NULL;
	q->ring = NULL;
	q->size = q->first = q->len = 0;
	atomic_init(&q->tail, 0);
	atomic_init(&q->head, 0);
	if (flags & WC_WORKQ_LOCAL) {
		q->size = cap < LOCAL_FIRST_SIZE ? cap : LOCAL_FIRST_SIZE;
		q->ring = malloc((size_t)q->size * sizeof(*q->ring));
	} else {
		q->slots = calloc(cap, sizeof(*q->slots));
		for (i = 0; q->slots && i < cap; i++)
			atomic_init(&q->slots[i].seq, i);
	}
	if (!q->slots && !q->ring) {
		free(q);
		return -ENOMEM;
	}
	*out = q;
	return 0;
}

void wc_workq__destroy(struct wc_workq *q)
{
	if (!q)
		return;
	free(q->slots);
	free(q->ring);
	free(q);
}

/* A full local ring doubles (up to the capacity), its elements in order
 * from index 0. Returns 0 or -ENOSPC / -ENOMEM. */
static int local_grow(struct wc_workq *q)
{
	uint32_t size = q->size * 2, i;
	struct wc_chunk_meta *ring;

	if (q->size > q->mask)
		return -ENOSPC;
	ring = malloc((size_t)size * sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	for (i = 0; i < q->len; i++)
		ring[i] = q->ring[(q->first + i) & (q->size - 1)];
	free(q->ring);
	q->ring = ring;
	q->size = size;
	q->first = 0;
	return 0;
}

static int local_push(struct wc_workq *q, const struct wc_chunk_meta *m)
{
	if (q->len == q->size) {
		int err = local_grow(q);

		if (err)
			return err;
	}
	q->ring[(q->first + q->len) & (q->size - 1)] = *m;
	q->len++;
	return 0;
}

static int local_pop(struct wc_workq *q, struct wc_chunk_meta *m)
{
	if (!q->len)
		return -EAGAIN;
	*m = q->ring[q->first];
	q->first = (q->first + 1) & (q->size - 1);
	q->len--;
	return 0;
}

/* Claim slot `pos` for its only possible claimant: with one producer (or
 * consumer) at a time nobody else moves the index, so a plain store does
 * what the compare-and-swap does. */
static inline void claim_alone(_Atomic uint64_t *index, uint64_t pos)
{
	atomic_store_explicit(index, pos + 1, memory_order_relaxed);
}

int wc_workq__push(struct wc_workq *q, const struct wc_chunk_meta *m)
{
	uint64_t pos;

	if (q->flags & WC_WORKQ_LOCAL)
		return local_push(q, m);
	pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
	if (q->flags & WC_WORKQ_SP) {
		struct wc_workq_slot *s = &q->slots[pos & q->mask];

		if (atomic_load_explicit(&s->seq, memory_order_acquire) != pos)
			return -ENOSPC; /* the slot still holds an element */
		claim_alone(&q->tail, pos);
		s->meta = *m;
		atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
		return 0;
	}

	for (;;) {
		struct wc_workq_slot *s = &q->slots[pos & q->mask];
		uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		int64_t dif = (int64_t)(seq - pos);

		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed)) {
				s->meta = *m;
				atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
				return 0;
			}
		} else if (dif < 0) {
			return -ENOSPC;
		} else {
			pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
		}
	}
}

int wc_workq__pop(struct wc_workq *q, struct wc_chunk_meta *m)
{
	uint64_t pos;

	if (q->flags & WC_WORKQ_LOCAL)
		return local_pop(q, m);
	pos = atomic_load_explicit(&q->head, memory_order_relaxed);
	if (q->flags & WC_WORKQ_SC) {
		struct wc_workq_slot *s = &q->slots[pos & q->mask];

		if (atomic_load_explicit(&s->seq, memory_order_acquire) != pos + 1)
			return -EAGAIN; /* not yet published */
		claim_alone(&q->head, pos);
		*m = s->meta;
		atomic_store_explicit(&s->seq, pos + q->mask + 1, memory_order_release);
		return 0;
	}

	for (;;) {
		struct wc_workq_slot *s = &q->slots[pos & q->mask];
		uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		int64_t dif = (int64_t)(seq - (pos + 1));

		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed)) {
				*m = s->meta;
				atomic_store_explicit(&s->seq, pos + q->mask + 1,
						      memory_order_release);
				return 0;
			}
		} else if (dif < 0) {
			return -EAGAIN;
		} else {
			pos = atomic_load_explicit(&q->head, memory_order_relaxed);
		}
	}
}

uint32_t wc_workq__len(const struct wc_workq *q)
{
	if (q->flags & WC_WORKQ_LOCAL)
		return q->len;
	uint64_t t = atomic_load_explicit(&((struct wc_workq *)q)->tail, memory_order_acquire);
	uint64_t h = atomic_load_explicit(&((struct wc_workq *)q)->head, memory_order_acquire);

	return t > h ? (uint32_t)(t - h) : 0;
}

uint32_t wc_workq__capacity(const struct wc_workq *q)
{
	return q->mask + 1;
}
