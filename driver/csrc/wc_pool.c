/* SPDX-License-Identifier: BSD-3-Clause */
/* The WireCAP ring-buffer pool; the contract is in wc_pool.h. */
#include "wc_pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WC_BARE (-1)

struct wc_pool {
	uint32_t n;     /* ring size N */
	uint32_t m;     /* segment cells M */
	uint32_t r;     /* chunks R */
	uint32_t nseg;  /* N / M */
	uint16_t nic_id;
	uint16_t ring_id;
	int is_open;

	uint32_t head_seg;/* (NIC) the segment of the next descriptor, cell seg_fill[head_seg] */
	uint32_t cap_seg; /* (driver) oldest segment not yet captured */
	uint64_t rx_seq;  /* frames written so far: the next frame's sequence number */

	/* per segment */
	int32_t *seg_chunk;  /* attached chunk or WC_BARE */
	uint32_t *seg_fill;  /* (NIC) cells filled */
	uint32_t *seg_taken; /* (driver) cells already delivered by a partial copy */
	uint64_t *seg_seq;   /* sequence number of the frame in cell 0 */

	/* per chunk */
	uint8_t *state;
	uint32_t *gen;
	uint32_t *cap_first; /* what capture() handed out, checked by recycle() */
	uint32_t *cap_count;
	uint32_t *cap_flags;

	/* FIFO free list, so chunks are reused round-robin (deterministic) */
	uint32_t *freeq;
	uint32_t free_head;
	uint32_t free_len;

	struct wc_pool_stats st;
};

/* (i + 1) mod n for i < n, and i + k mod n for i, k < n, without a
 * division: the pool's rings are walked on every capture and recycle. */
static inline uint32_t wrap_add(uint32_t i, uint32_t k, uint32_t n)
{
	i += k;
	return i >= n ? i - n : i;
}

static uint32_t free_pop(struct wc_pool *p)
{
	uint32_t c = p->freeq[p->free_head];

	p->free_head = wrap_add(p->free_head, 1, p->r);
	p->free_len--;
	return c;
}

static void free_push(struct wc_pool *p, uint32_t c)
{
	p->freeq[wrap_add(p->free_head, p->free_len, p->r)] = c;
	p->free_len++;
}

const char *wc_pool__geometry_error(uint32_t n, uint32_t m, uint32_t r)
{
	/* formatted per call; thread-local so concurrent creators do not mix */
	static _Thread_local char msg[256];

	if (n < 1 || n > WC_RING_SIZE_MAX)
		snprintf(msg, sizeof(msg),
			 "N must be 1..%u descriptors (got N=%u): the receive ring's length "
			 "(82599 RDLEN; paper §3.2.1)", WC_RING_SIZE_MAX, n);
	else if (m < 1)
		snprintf(msg, sizeof(msg),
			 "M must be at least 1 (paper §3.2.1: a chunk is M cells, one per descriptor "
			 "of a segment)");
	else if (n % m)
		snprintf(msg, sizeof(msg),
			 "M must divide the ring size N=%u (paper §3.2.1: \"M is a divisor of N\", "
			 "the ring is cut into N/M descriptor segments of M cells)", n);
	else if (r <= n / m)
		snprintf(msg, sizeof(msg),
			 "R must exceed N/M = %u (paper §3.2.1: \"R is greater than N/M\", one chunk "
			 "stays attached to each descriptor segment)", n / m);
	else
		return NULL;
	return msg;
}

int wc_pool__create(struct wc_pool **pool, const struct wc_pool_opts *opts)
{
	struct wc_pool_opts o = { 0 };
	struct wc_pool *p;
	uint32_t i;

	if (!pool)
		return -EINVAL;
	*pool = NULL;
	if (opts) {
		size_t sz = opts->sz < sizeof(o) ? opts->sz : sizeof(o);

		if (sz < offsetof(struct wc_pool_opts, ring_size))
			return -EINVAL;
		memcpy(&o, opts, sz);
	}
	if (!o.ring_size)
		o.ring_size = WC_RING_SIZE_DEFAULT;
	if (!o.segment_cells)
		o.segment_cells = WC_SEGMENT_CELLS_DEFAULT;
	if (!o.chunks)
		o.chunks = WC_POOL_CHUNKS_DEFAULT;
	if (wc_pool__geometry_error(o.ring_size, o.segment_cells, o.chunks))
		return -EINVAL;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->n = o.ring_size;
	p->m = o.segment_cells;
	p->r = o.chunks;
	p->nseg = o.ring_size / o.segment_cells;
	p->nic_id = o.nic_id;
	p->ring_id = o.ring_id;

	p->seg_chunk = calloc(p->nseg, sizeof(*p->seg_chunk));
	p->seg_fill = calloc(p->nseg, sizeof(*p->seg_fill));
	p->seg_taken = calloc(p->nseg, sizeof(*p->seg_taken));
	p->seg_seq = calloc(p->nseg, sizeof(*p->seg_seq));
	p->state = calloc(p->r, sizeof(*p->state));
	p->gen = calloc(p->r, sizeof(*p->gen));
	p->cap_first = calloc(p->r, sizeof(*p->cap_first));
	p->cap_count = calloc(p->r, sizeof(*p->cap_count));
	p->cap_flags = calloc(p->r, sizeof(*p->cap_flags));
	p->freeq = calloc(p->r, sizeof(*p->freeq));
	if (!p->seg_chunk || !p->seg_fill || !p->seg_taken || !p->seg_seq || !p->state ||
	    !p->gen || !p->cap_first || !p->cap_count || !p->cap_flags || !p->freeq) {
		wc_pool__destroy(p);
		return -ENOMEM;
	}
	for (i = 0; i < p->nseg; i++)
		p->seg_chunk[i] = WC_BARE;
	for (i = 0; i < p->r; i++)
		free_push(p, i);
	*pool = p;
	return 0;
}

void wc_pool__destroy(struct wc_pool *p)
{
	if (!p)
		return;
	free(p->seg_chunk);
	free(p->seg_fill);
	free(p->seg_taken);
	free(p->seg_seq);
	free(p->state);
	free(p->gen);
	free(p->cap_first);
	free(p->cap_count);
	free(p->cap_flags);
	free(p->freeq);
	free(p);
}

int wc_pool__attach(struct wc_pool *p, uint32_t *out, uint32_t max)
{
	uint32_t s0 = p->head_seg, i;
	int n = 0;

	if (!p->is_open)
		return 0;
	for (i = 0; i < p->nseg && p->free_len; i++) {
		uint32_t s = wrap_add(s0, i, p->nseg);
		uint32_t c;

		if (p->seg_chunk[s] != WC_BARE)
			continue;
		c = free_pop(p);
		p->state[c] = WC_CHUNK_ATTACHED;
		p->seg_chunk[s] = (int32_t)c;
		p->seg_fill[s] = 0;
		p->seg_taken[s] = 0;
		if (out && (uint32_t)n < max)
			out[n] = c;
		n++;
	}
	return n;
}

int wc_pool__open(struct wc_pool *p)
{
	if (p->is_open)
		return -EALREADY;
	p->is_open = 1;
	return wc_pool__attach(p, NULL, 0);
}

int wc_pool__close(struct wc_pool *p)
{
	uint32_t s;
	int n = 0;

	for (s = 0; s < p->nseg; s++) {
		int32_t c = p->seg_chunk[s];

		if (c == WC_BARE)
			continue;
		p->state[c] = WC_CHUNK_FREE;
		free_push(p, (uint32_t)c);
		p->seg_chunk[s] = WC_BARE;
		p->seg_fill[s] = 0;
		p->seg_taken[s] = 0;
		n++;
	}
	p->is_open = 0;
	p->head_seg = 0;
	p->cap_seg = 0;
	return n;
}

/* Descriptors ready from the head on, counted until `enough` (so that
 * wc_pool__rx's check of a few frames looks at one segment, not all). */
static uint32_t ready_upto(const struct wc_pool *p, uint32_t enough)
{
	uint32_t s0 = p->head_seg, i, total = 0;

	for (i = 0; i < p->nseg && total < enough; i++) {
		uint32_t s = wrap_add(s0, i, p->nseg), r;

		if (p->seg_chunk[s] == WC_BARE)
			break;
		r = p->m - p->seg_fill[s];
		total += r;
		/* only the head segment can be partly filled; a full one (not
		 * yet captured) or the end of a partial one stops the NIC */
		if (r == 0 || (i > 0 && r < p->m))
			break;
	}
	return total;
}

uint32_t wc_pool__ready(const struct wc_pool *p)
{
	return ready_upto(p, UINT32_MAX);
}

int wc_pool__rx(struct wc_pool *p, uint32_t n)
{
	uint32_t done = 0;

	if (n > ready_upto(p, n))
		return -ENOSPC;
	while (n) {
		uint32_t s = p->head_seg;
		uint32_t room = p->m - p->seg_fill[s];
		uint32_t k = n < room ? n : room;

		if (p->seg_fill[s] == 0)
			p->seg_seq[s] = p->rx_seq;
		p->seg_fill[s] += k;
		p->rx_seq += k;
		p->st.rx_packets += k;
		n -= k;
		if (p->seg_fill[s] == p->m) {
			p->head_seg = wrap_add(s, 1, p->nseg);
			done++;
		}
	}
	return (int)done;
}

int wc_pool__head(const struct wc_pool *p, uint32_t *chunk_id, uint32_t *cell)
{
	uint32_t s = p->head_seg;

	if (p->seg_chunk[s] == WC_BARE || p->seg_fill[s] == p->m)
		return -EAGAIN;
	if (chunk_id)
		*chunk_id = (uint32_t)p->seg_chunk[s];
	if (cell)
		*cell = p->seg_fill[s];
	return 0;
}

uint32_t wc_pool__full(const struct wc_pool *p)
{
	uint32_t i, n = 0;

	for (i = 0; i < p->nseg; i++) {
		uint32_t s = wrap_add(p->cap_seg, i, p->nseg);

		if (p->seg_chunk[s] == WC_BARE || p->seg_fill[s] < p->m)
			break;
		n++;
	}
	return n;
}

uint32_t wc_pool__partial(const struct wc_pool *p)
{
	uint32_t s = p->cap_seg;

	if (p->seg_chunk[s] == WC_BARE || p->seg_fill[s] == p->m)
		return 0;
	return p->seg_fill[s] - p->seg_taken[s];
}

static void hand_out(struct wc_pool *p, struct wc_chunk_meta *m, uint32_t c, uint32_t first,
		     uint32_t count, uint64_t seq, uint32_t flags)
{
	p->state[c] = WC_CHUNK_CAPTURED;
	p->gen[c]++;
	p->cap_first[c] = first;
	p->cap_count[c] = count;
	p->cap_flags[c] = flags;
	memset(m, 0, sizeof(*m));
	m->nic_id = p->nic_id;
	m->ring_id = p->ring_id;
	m->chunk_id = c;
	m->first_cell = first;
	m->pkt_count = count;
	m->seq = seq;
	m->gen = p->gen[c];
	m->flags = flags;
}

int wc_pool__capture(struct wc_pool *p, struct wc_chunk_meta *out, uint32_t max, int flush)
{
	uint32_t k = 0;

	while (k < max) {
		uint32_t s = p->cap_seg;
		int32_t c = p->seg_chunk[s];
		uint32_t taken;

		if (c == WC_BARE || p->seg_fill[s] < p->m)
			break;
		taken = p->seg_taken[s];
		hand_out(p, &out[k], (uint32_t)c, taken, p->m - taken, p->seg_seq[s] + taken, 0);
		p->seg_chunk[s] = WC_BARE;
		p->seg_fill[s] = 0;
		p->seg_taken[s] = 0;
		p->cap_seg = wrap_add(s, 1, p->nseg);
		p->st.chunks_captured++;
		k++;
	}
	/* §3.2.1 case (3): the timeout expired with the head chunk only partly
	 * filled: copy its frames into a free chunk and deliver that one, so
	 * frames do not sit in the receive ring for too long. */
	if (k == 0 && flush && max > 0) {
		uint32_t s = p->cap_seg;
		int32_t c = p->seg_chunk[s];

		if (c != WC_BARE && p->seg_fill[s] > p->seg_taken[s] && p->free_len) {
			uint32_t taken = p->seg_taken[s], cnt = p->seg_fill[s] - taken;
			uint32_t d = free_pop(p);

			hand_out(p, &out[0], d, 0, cnt, p->seg_seq[s] + taken, WC_META_COPIED);
			out[0].src_chunk = (uint32_t)c;
			out[0].src_cell = taken;
			p->seg_taken[s] = p->seg_fill[s];
			p->st.chunks_copied++;
			p->st.packets_copied += cnt;
			k = 1;
		}
	}
	return (int)k;
}

int wc_pool__recycle(struct wc_pool *p, const struct wc_chunk_meta *m)
{
	uint32_t c;
	int err = 0;

	if (!m || m->nic_id != p->nic_id || m->ring_id != p->ring_id)
		err = -EXDEV;
	else if (m->chunk_id >= p->r)
		err = -ERANGE;
	else if (p->state[m->chunk_id] == WC_CHUNK_FREE)
		err = -EALREADY;
	else if (p->state[m->chunk_id] == WC_CHUNK_ATTACHED)
		err = -EBUSY;
	else if (m->gen != p->gen[m->chunk_id] || m->first_cell != p->cap_first[m->chunk_id] ||
		 m->pkt_count != p->cap_count[m->chunk_id] || m->flags != p->cap_flags[m->chunk_id])
		err = -EINVAL;
	if (err) {
		p->st.recycle_errors++;
		return err;
	}
	c = m->chunk_id;
	p->state[c] = WC_CHUNK_FREE;
	free_push(p, c);
	p->st.chunks_recycled++;
	return 0;
}

int wc_pool__chunk_state(const struct wc_pool *p, uint32_t c)
{
	if (c >= p->r)
		return -ERANGE;
	return p->state[c];
}

uint32_t wc_pool__free_chunks(const struct wc_pool *p)
{
	return p->free_len;
}

uint32_t wc_pool__captured_chunks(const struct wc_pool *p)
{
	uint32_t c, n = 0;

	for (c = 0; c < p->r; c++)
		n += p->state[c] == WC_CHUNK_CAPTURED;
	return n;
}

uint32_t wc_pool__bare_segments(const struct wc_pool *p)
{
	uint32_t s, n = 0;

	for (s = 0; s < p->nseg; s++)
		n += p->seg_chunk[s] == WC_BARE;
	return n;
}

void wc_pool__stats(const struct wc_pool *p, struct wc_pool_stats *out)
{
	*out = p->st;
}

int wc_pool__check(const struct wc_pool *p)
{
	uint32_t c, s, attached = 0, per_state[3] = { 0 };

	for (c = 0; c < p->r; c++)
		per_state[p->state[c]]++;
	for (s = 0; s < p->nseg; s++) {
		if (p->seg_chunk[s] == WC_BARE)
			continue;
		attached++;
		if (p->state[p->seg_chunk[s]] != WC_CHUNK_ATTACHED ||
		    p->seg_taken[s] > p->seg_fill[s] || p->seg_fill[s] > p->m)
			return -EFAULT;
	}
	if (attached != per_state[WC_CHUNK_ATTACHED] || per_state[WC_CHUNK_FREE] != p->free_len)
		return -EFAULT;
	return 0;
}

uint32_t wc_pool__ring_size(const struct wc_pool *p)
{
	return p->n;
}

uint32_t wc_pool__segment_cells(const struct wc_pool *p)
{
	return p->m;
}

uint32_t wc_pool__chunks(const struct wc_pool *p)
{
	return p->r;
}
