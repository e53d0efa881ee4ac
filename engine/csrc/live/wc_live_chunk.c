/* SPDX-License-Identifier: BSD-3-Clause */
/* wc_live: chunk-level API and recycle routing; contract in wc_live.h. */
#define _GNU_SOURCE
#include "wc_live_int.h"

#include <errno.h>

#include "wc_sys.h"
#include "wc_workq.h"

/* hand a used chunk to a capture thread's recycle queue; wake it if asleep */
int live_push_recycle(struct member *mb, const struct wc_chunk_meta *m)
{
	int err = wc_capture__recycle_push(mb->cap, m);

	if (err)
		return err;
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&mb->cap_sleeping, memory_order_relaxed))
		wake(mb->wake_fd);
	return 0;
}

/* to the recycle queue of the pool named by {nic_id, ring_id} (the owner
 * table of wc_capture.h), whichever thread processed it */
int live_recycle_to_owner(struct wc_live *l, const struct wc_chunk_meta *m)
{
	struct member *owner = owner_of(l, m);

	return owner ? live_push_recycle(owner, m) : -EXDEV;
}

/* the application is done with m: recycle it now, or, with zero-copy sends
 * from it in flight, when the last completion comes back (live_tx_reap;
 * §3.2.2b: the cells are the transmit buffers) */
int live_release(struct wc_live *l, const struct wc_chunk_meta *m)
{
	struct member *owner = owner_of(l, m);
	int rc;

	if (!owner)
		return -EXDEV;
	/* the balancer's count of this pool's frames processed (ordering barrier) */
	STAT_ADD_MW(owner->handed, m->pkt_count);
	rc = wc_capture__release(owner->cap, m);
	if (rc <= 0)
		return rc;
	return live_push_recycle(owner, m);
}

int wc_live__chunk_get(struct wc_live *l, uint32_t member, struct wc_chunk_meta *m, int timeout_ms)
{
	struct member *mb;
	uint64_t deadline;
	struct member *owner;

	if (member >= l->n || !m)
		return -EINVAL;
	mb = &l->m[member];
	deadline = wc_sys__mono_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;
	while (!live_next_chunk(l, mb, m)) {
		uint64_t now = wc_sys__mono_ns();

		if (timeout_ms == 0 || now >= deadline)
			return 0;
		live_wait_chunk(mb, (int)((deadline - now + 999999) / 1000000));
	}
	owner = owner_of(l, m);
	if (owner) {
		STAT_ADD_MW(owner->delivered, m->pkt_count);
		if (l->flows)
			live_note_flows(l, mb, owner, chunk_first_frame(l, owner, m), m->pkt_count);
	}
	STAT_ADD(mb->consumed, m->pkt_count);
	return 1;
}

const uint8_t *wc_live__chunk_packet(const struct wc_live *l, const struct wc_chunk_meta *m,
				     uint32_t i, uint32_t *len)
{
	const struct member *owner;
	uint64_t f;

	if (!m || i >= m->pkt_count || m->chunk_id >= l->chunks)
		return NULL;
	owner = owner_of(l, m);
	if (!owner)
		return NULL;
	f = chunk_first_frame(l, owner, m) + i;
	if (f >= frame_of(l, owner, l->chunks, 0)) /* past the end of the owner's pool */
		return NULL;
	if (len)
		*len = l->cells[f].len;
	return l->area + l->cells[f].addr;
}

int wc_live__chunk_stamps(const struct wc_live *l, const struct wc_chunk_meta *m, uint64_t *ts,
			  uint32_t *len, uint32_t max)
{
	uint32_t i, n;

	if (!m || !ts || !len)
		return -EINVAL;
	n = m->pkt_count < max ? m->pkt_count : max;
	for (i = 0; i < n; i++) {
		uint32_t l_i = 0;
		const uint8_t *p = wc_live__chunk_packet(l, m, i, &l_i);

		if (!p)
			return -EINVAL;
		len[i] = l_i;
		ts[i] = take_stamp(l, (uint64_t)(p - l->area));
	}
	return (int)n;
}

int wc_live__chunk_put(struct wc_live *l, const struct wc_chunk_meta *m)
{
	if (!m)
		return -EINVAL;
	return live_release(l, m);
}

int wc_live__recycle_into(struct wc_live *l, uint32_t member, const struct wc_chunk_meta *m)
{
	if (member >= l->n || !m)
		return -EINVAL;
	return live_push_recycle(&l->m[member], m);
}

int wc_live__check(struct wc_live *l, uint32_t member)
{
	struct member *mb;
	uint64_t deadline;

	if (member >= l->n)
		return -EINVAL;
	mb = &l->m[member];
	if (!mb->running)
		return wc_pool__check(mb->pool);
	atomic_store_explicit(&mb->check_req, 1, memory_order_release);
	wake(mb->wake_fd);
	deadline = wc_sys__mono_ns() + 2000000000ull;
	while (atomic_load_explicit(&mb->check_req, memory_order_acquire)) {
		if (wc_sys__mono_ns() > deadline)
			return -ETIMEDOUT;
		wc_sys__sleep_until(wc_sys__mono_ns() + 100000);
	}
	return mb->check_res;
}
