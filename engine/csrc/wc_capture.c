/* SPDX-License-Identifier: BSD-3-Clause */
/* The capture thread's step, clock-free; contract and decisions in
 * wc_capture.h. */
#include "wc_capture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct wc_capture {
	/* set at create, read-only after */
	struct wc_pool *pool;
	struct wc_workq *capq;
	struct wc_workq *recq;
	struct wc_group *group;
	uint32_t member;
	uint32_t nseg;
	uint32_t chunks;
	uint64_t timeout;
	struct wc_capture_hooks hooks;
	void *user;
	/* capture thread only */
	uint64_t deadline;
	uint32_t *ids;                 /* nseg attach results */
	struct wc_capture_stats st;    /* single writer, relaxed stores */
	/* per chunk, owned by the one application thread holding the chunk */
	uint32_t *tx_pending;
	struct wc_chunk_meta *kept;    /* released with sends in flight */
	uint8_t *kept_valid;
};

/* single-writer counters that other threads read: relaxed atomics make the
 * read race-free and cost a plain store on the writer */
#define ADD(f, v) __atomic_store_n(&(f), __atomic_load_n(&(f), __ATOMIC_RELAXED) + (v), __ATOMIC_RELAXED)

int wc_capture__create(struct wc_capture **out, const struct wc_capture_opts *opts)
{
	struct wc_capture_opts o = { 0 };
	struct wc_capture *c;
	int m = 0;

	if (!out || !opts)
		return -EINVAL;
	*out = NULL;
	memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (!o.pool || !o.capq || !o.recq || !o.timeout)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->pool = o.pool;
	c->capq = o.capq;
	c->recq = o.recq;
	c->group = o.group;
	c->timeout = o.timeout;
	c->user = o.user;
	if (o.hooks)
		c->hooks = *o.hooks;
	c->deadline = WC_CAPTURE_NEVER;
	c->nseg = wc_pool__ring_size(o.pool) / wc_pool__segment_cells(o.pool);
	c->chunks = wc_pool__chunks(o.pool);
	c->ids = calloc(c->nseg, sizeof(*c->ids));
	c->tx_pending = calloc(c->chunks, sizeof(*c->tx_pending));
	c->kept = calloc(c->chunks, sizeof(*c->kept));
	c->kept_valid = calloc(c->chunks, 1);
	if (!c->ids || !c->tx_pending || !c->kept || !c->kept_valid) {
		wc_capture__destroy(c);
		return -ENOMEM;
	}
	if (o.group) {
		/* §3.2.2a: the buddy list; T is a percentage of the pool's R */
		m = wc_group__add(o.group, o.capq, c->chunks);
		if (m < 0) {
			wc_capture__destroy(c);
			return m;
		}
	}
	c->member = (uint32_t)m;
	*out = c;
	return 0;
}

void wc_capture__destroy(struct wc_capture *c)
{
	if (!c)
		return;
	free(c->ids);
	free(c->tx_pending);
	free(c->kept);
	free(c->kept_valid);
	free(c);
}

uint32_t wc_capture__member(const struct wc_capture *c)
{
	return c->member;
}

void *wc_capture__user(const struct wc_capture *c)
{
	return c->user;
}

uint64_t wc_capture__deadline(const struct wc_capture *c)
{
	return c->deadline;
}

int wc_capture__plan(struct wc_capture *c, uint64_t now, struct wc_capture_plan *p)
{
	p->recycles = wc_workq__len(c->recq);
	p->full = wc_pool__full(c->pool);
	p->partial = p->full ? 0 : wc_pool__partial(c->pool);
	if (!p->full && !p->partial)
		c->deadline = WC_CAPTURE_NEVER;   /* case (1): blocks without a timeout */
	else if (!p->full && c->deadline == WC_CAPTURE_NEVER)
		c->deadline = now + c->timeout;   /* case (3): blocked with a timeout, from now */
	/* case (2), full chunks: returns at once; the step's capture ends the timeout */
	p->deadline = c->deadline;
	p->flush = !p->full && p->partial && now >= c->deadline;
	return p->recycles || p->full || p->flush;
}

static void count_recycle_error(struct wc_capture_stats *st, int rc)
{
	switch (-rc) {
	case EXDEV:
		ADD(st->recycle_exdev, 1);
		break;
	case ERANGE:
		ADD(st->recycle_erange, 1);
		break;
	case EALREADY:
		ADD(st->recycle_ealready, 1);
		break;
	case EBUSY:
		ADD(st->recycle_ebusy, 1);
		break;
	default:
		ADD(st->recycle_einval, 1);
		break;
	}
}

/* §3.2.2a steps 1.b-1.d: home, or the least busy buddy; then the push */
static void place(struct wc_capture *c, const struct wc_chunk_meta *m)
{
	uint32_t dst = c->member;
	struct wc_workq *q = c->capq;

	if (c->group) {
		int p = wc_group__place(c->group, c->member);
		struct wc_workq *bq = p < 0 ? NULL : wc_group__queue(c->group, (uint32_t)p);

		if (!bq) {
			ADD(c->st.place_errors, 1); /* the chunk stays home */
		} else {
			dst = (uint32_t)p;
			q = bq;
		}
	}
	if (wc_workq__push(q, m)) {
		ADD(c->st.overflows, 1);
		ADD(c->st.overflow_packets, m->pkt_count);
		wc_pool__recycle(c->pool, m);
		return;
	}
	if (dst != c->member) {
		ADD(c->st.offloaded_out, 1);
		ADD(c->st.offloaded_out_packets, m->pkt_count);
	}
	if (c->hooks.placed)
		c->hooks.placed(c->user, dst, m);
}

int wc_capture__step(struct wc_capture *c, const struct wc_capture_plan *p, uint64_t now)
{
	struct wc_chunk_meta metas[WC_CAPTURE_BATCH];
	int flush = p->flush, moved = 0, n, i;
	uint32_t r;

	/* (3) recycle used chunks, after strict validation (§3.2.1) */
	for (r = 0; r < p->recycles; r++) {
		struct wc_chunk_meta m;
		int rc;

		if (wc_workq__pop(c->recq, &m))
			break; /* live: a producer has claimed a slot, not yet published it */
		rc = wc_pool__recycle(c->pool, &m);
		if (rc < 0)
			count_recycle_error(&c->st, rc);
		else
			ADD(c->st.recycled, 1);
		moved++; /* a rejected entry is handled too */
	}
	/* (1) capture: full chunks in ring order; the copy only if none */
	while ((n = wc_pool__capture(c->pool, metas, WC_CAPTURE_BATCH, flush)) > 0) {
		for (i = 0; i < n; i++) {
			if (metas[i].flags & WC_META_COPIED) {
				ADD(c->st.copied, 1);
				ADD(c->st.packets_copied, metas[i].pkt_count);
				if (c->hooks.copy)
					c->hooks.copy(c->user, &metas[i]);
			} else {
				ADD(c->st.captured, 1);
			}
			place(c, &metas[i]);
		}
		moved += n;
		flush = 0;
		c->deadline = WC_CAPTURE_NEVER;
	}
	if (flush) {
		/* no free chunk to copy into: the frames stay, try again later */
		ADD(c->st.copy_no_chunk, 1);
		c->deadline = now + c->timeout;
	}
	/* re-arm bare segments (§3.2.1: "attached with a new free chunk") */
	n = wc_pool__attach(c->pool, c->ids, c->nseg);
	if (n > 0) {
		ADD(c->st.attached, (uint64_t)n);
		if (c->hooks.attached)
			c->hooks.attached(c->user, c->ids, (uint32_t)n);
		moved += n;
	}
	ADD(c->st.steps, 1);
	return moved;
}

uint64_t wc_capture__faults(const struct wc_capture *c)
{
	const struct wc_capture_stats *st = &c->st;

	return __atomic_load_n(&st->recycle_exdev, __ATOMIC_RELAXED) +
	       __atomic_load_n(&st->recycle_erange, __ATOMIC_RELAXED) +
	       __atomic_load_n(&st->recycle_ealready, __ATOMIC_RELAXED) +
	       __atomic_load_n(&st->recycle_ebusy, __ATOMIC_RELAXED) +
	       __atomic_load_n(&st->recycle_einval, __ATOMIC_RELAXED) +
	       __atomic_load_n(&st->overflows, __ATOMIC_RELAXED) +
	       __atomic_load_n(&st->place_errors, __ATOMIC_RELAXED);
}

void wc_capture__stats(const struct wc_capture *c, struct wc_capture_stats *out)
{
	const uint64_t *src = (const uint64_t *)&c->st;
	uint64_t *dst = (uint64_t *)out;
	size_t i;

	/* every field is a uint64_t counter */
	for (i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

int wc_capture__recycle_push(struct wc_capture *c, const struct wc_chunk_meta *m)
{
	return wc_workq__push(c->recq, m) ? -ENOSPC : 0;
}

int wc_capture__tx_hold(struct wc_capture *c, uint32_t chunk_id)
{
	if (chunk_id >= c->chunks)
		return -ERANGE;
	c->tx_pending[chunk_id]++;
	return 0;
}

int wc_capture__release(struct wc_capture *c, const struct wc_chunk_meta *m)
{
	if (m->chunk_id >= c->chunks)
		return -ERANGE;
	if (!c->tx_pending[m->chunk_id])
		return 1;
	c->kept[m->chunk_id] = *m;
	c->kept_valid[m->chunk_id] = 1;
	return 0;
}

int wc_capture__tx_done(struct wc_capture *c, uint32_t chunk_id, struct wc_chunk_meta *m)
{
	if (chunk_id >= c->chunks)
		return -ERANGE;
	if (!c->tx_pending[chunk_id] || --c->tx_pending[chunk_id] || !c->kept_valid[chunk_id])
		return 0;
	c->kept_valid[chunk_id] = 0;
	*m = c->kept[chunk_id];
	return 1;
}

int wc_capture_set__add(struct wc_capture_set *s, uint16_t nic_id, uint16_t ring_id,
			struct wc_capture *c)
{
	if (ring_id >= WC_CAPTURE_RINGS_MAX || !c)
		return -EINVAL;
	if (s->by_ring[ring_id])
		return -EEXIST;
	s->by_ring[ring_id] = c;
	s->nic_of[ring_id] = nic_id;
	return 0;
}

struct wc_capture *wc_capture_set__owner(const struct wc_capture_set *s,
					 const struct wc_chunk_meta *m)
{
	if (m->ring_id >= WC_CAPTURE_RINGS_MAX || s->nic_of[m->ring_id] != m->nic_id)
		return NULL;
	return s->by_ring[m->ring_id];
}
