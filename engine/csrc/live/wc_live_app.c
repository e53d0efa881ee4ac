/* SPDX-License-Identifier: BSD-3-Clause */
/* wc_live: the pcap-like API of an application thread; contract in wc_live.h. */
#define _GNU_SOURCE
#include "wc_live_int.h"

#include <errno.h>
#include <poll.h>

#include "wc_drive.h"
#include "wc_sys.h"
#include "wc_workq.h"

/* wait for a captured chunk; 1 if one may be there, 0 on timeout */
int live_wait_chunk(struct member *mb, int timeout_ms)
{
	struct pollfd p = { .fd = mb->cons_fd, .events = POLLIN };
	int rc;

	atomic_store(&mb->cons_sleeping, 1);
	atomic_thread_fence(memory_order_seq_cst);
	if (mb->break_req) {
		atomic_store(&mb->cons_sleeping, 0);
		return 1;
	}
	/* a length with nothing to pop yet: a push is being published; wait
	 * a moment rather than spin (see capture_sleep, wc_live_capture.c) */
	if (wc_workq__len(mb->capq) || mb->held_n)
		timeout_ms = timeout_ms < 1 ? timeout_ms : 1; /* or a barrier may lift any moment */
	rc = poll(&p, 1, timeout_ms);
	atomic_store(&mb->cons_sleeping, 0);
	drain_fd(mb->cons_fd);
	return rc > 0 || wc_workq__len(mb->capq) > 0;
}

static void finish_chunk(struct wc_live *l, struct member *mb)
{
	struct cursor *c = &mb->cur;
	struct member *owner = &l->m[c->owner];

	if (c->delivered)
		STAT_ADD_MW(owner->delivered, c->delivered);
	if (c->filtered)
		STAT_ADD_MW(owner->filtered, c->filtered);
	c->active = 0;
	if (live_release(l, &c->m))
		STAT_ADD(mb->app_driver_errors, 1);
}

/* the XDP stamp of the frame at addr, CLOCK_MONOTONIC, left in place for
 * fill_hdr (0: none) */
static uint64_t peek_stamp(const struct wc_live *l, uint64_t addr)
{
	const struct wc_xdp_meta *mt;

	if (!l->timestamps || addr % WC_FRAME_SIZE < META_LEN)
		return 0;
	mt = (const void *)(l->area + addr - META_LEN);
	return mt->magic == WC_XDP_META_MAGIC ? mt->ts_ns : 0;
}

/* the chunk is handed to mb's thread: note its packets' flows */
void live_note_flows(struct wc_live *l, struct member *mb, const struct member *owner, uint64_t frame0,
		     uint32_t count)
{
	uint32_t i;

	for (i = 0; i < count; i++) {
		const struct cell *cl = &l->cells[frame0 + i];

		wc_flows__take(l->flows, l->area + cl->addr, cl->len, (uint16_t)mb->idx, (uint16_t)owner->queue,
			       peek_stamp(l, cl->addr), owner != mb);
	}
}

static int begin_chunk(struct wc_live *l, struct member *mb)
{
	struct cursor *c = &mb->cur;
	const struct member *owner;

	if (!live_next_chunk(l, mb, &c->m))
		return 0;
	owner = owner_of(l, &c->m);
	if (!owner) {
		STAT_ADD(mb->app_driver_errors, 1);
		return 0;
	}
	c->owner = owner->idx;
	c->frame0 = chunk_first_frame(l, owner, &c->m);
	if (l->flows)
		live_note_flows(l, mb, owner, c->frame0, c->m.pkt_count);
	c->i = 0;
	c->delivered = 0;
	c->filtered = 0;
	c->active = 1;
	return 1;
}

static void fill_hdr(struct wc_live *l, const struct member *mb, const struct cursor *c,
		     const struct cell *cl, struct wc_pkthdr *h)
{
	h->caplen = cl->len;
	h->len = cl->len;
	h->queue = (uint16_t)l->m[c->owner].queue;
	h->member = (uint16_t)mb->idx;
	h->flags = c->owner != mb->idx ? WC_PKT_OFFLOADED : 0;
	h->seq = c->m.seq + c->i;
	h->ts_ns = l->timestamps ? take_stamp(l, cl->addr) : 0;
}

int wc_live__dispatch(struct wc_live *l, uint32_t member, int cnt, wc_pkt_cb cb, void *user,
		      int timeout_ms)
{
	struct member *mb;
	struct cursor *c;
	uint64_t deadline = 0;
	int n = 0;

	if (member >= l->n)
		return -EINVAL;
	mb = &l->m[member];
	c = &mb->cur;
	if (timeout_ms > 0)
		deadline = wc_sys__mono_ns() + (uint64_t)timeout_ms * 1000000ull;
	mb->break_req = 0;
	for (;;) {
		if (!c->active && !begin_chunk(l, mb)) {
			int wait_ms;

			if (n > 0 || timeout_ms == 0 || mb->break_req)
				break;
			if (timeout_ms < 0) {
				wait_ms = 100;
			} else {
				uint64_t now = wc_sys__mono_ns();

				if (now >= deadline)
					break;
				wait_ms = (int)((deadline - now + 999999) / 1000000);
			}
			if (mb->tx)
				live_tx_reap(l, mb);
			live_wait_chunk(mb, wait_ms);
			continue;
		}
		while (c->i < c->m.pkt_count && (cnt <= 0 || n < cnt) && !mb->break_req) {
			const struct cell *cl = &l->cells[c->frame0 + c->i];
			const uint8_t *data = l->area + cl->addr;

			if (mb->filter && !wc_filter__run(mb->filter, data, cl->len, cl->len)) {
				c->filtered++;
			} else {
				struct wc_pkthdr h;

				fill_hdr(l, mb, c, cl, &h);
				if (cb)
					cb(user, &h, data);
				c->delivered++;
				n++;
			}
			c->i++;
		}
		if (c->i == c->m.pkt_count)
			finish_chunk(l, mb);
		if ((cnt > 0 && n >= cnt) || mb->break_req)
			break;
	}
	if (n)
		STAT_ADD(mb->consumed, (uint64_t)n);
	if (mb->tx && mb->tx_unkicked) {
		mb->tx_unkicked = 0;
		wc_xsk__tx_kick(mb->tx);
		live_tx_reap(l, mb);
	}
	return n;
}

int wc_live__next(struct wc_live *l, uint32_t member, struct wc_pkthdr *h, const uint8_t **data,
		  int timeout_ms)
{
	struct member *mb;
	struct cursor *c;
	uint64_t deadline;

	if (member >= l->n || !h || !data)
		return -EINVAL;
	mb = &l->m[member];
	c = &mb->cur;
	deadline = wc_sys__mono_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;
	mb->break_req = 0;
	for (;;) {
		if (c->active && c->i == c->m.pkt_count)
			finish_chunk(l, mb); /* the previous call's packet is done with */
		if (!c->active && !begin_chunk(l, mb)) {
			uint64_t now = wc_sys__mono_ns();

			if (timeout_ms == 0 || mb->break_req || (timeout_ms > 0 && now >= deadline))
				return 0;
			live_wait_chunk(mb, timeout_ms < 0 ? 100 : (int)((deadline - now + 999999) / 1000000));
			continue;
		}
		while (c->i < c->m.pkt_count) {
			const struct cell *cl = &l->cells[c->frame0 + c->i];
			const uint8_t *p = l->area + cl->addr;

			if (mb->filter && !wc_filter__run(mb->filter, p, cl->len, cl->len)) {
				c->filtered++;
				c->i++;
				continue;
			}
			fill_hdr(l, mb, c, cl, h);
			*data = p;
			c->delivered++;
			c->i++;
			STAT_ADD(mb->consumed, 1);
			return 1;
		}
	}
}

int wc_live__consumer_fd(struct wc_live *l, uint32_t member)
{
	if (member >= l->n)
		return -EINVAL;
	atomic_store(&l->m[member].cons_watched, 1);
	return l->m[member].cons_fd;
}

int wc_live__pending(const struct wc_live *l, uint32_t member)
{
	const struct member *mb;

	if (member >= l->n)
		return 0;
	mb = &l->m[member];
	return (mb->cur.active && mb->cur.i < mb->cur.m.pkt_count) || wc_workq__len(mb->capq) > 0;
}

void wc_live__breakloop(struct wc_live *l, uint32_t member)
{
	if (member >= l->n)
		return;
	l->m[member].break_req = 1;
	atomic_thread_fence(memory_order_seq_cst);
	wake(l->m[member].cons_fd);
}

int wc_live__setfilter(struct wc_live *l, uint32_t member, const struct wc_filter *f)
{
	if (member >= l->n)
		return -EINVAL;
	l->m[member].filter = f;
	return 0;
}

struct live_src {
	struct wc_live *l;
	uint32_t member;
};

/* with a timeout, wc_live__dispatch reaps TX completions and sleeps on the
 * consumer's eventfd until a chunk is captured (live_wait_chunk) */
static int d_live(void *s, int cnt, wc_pkt_cb cb, void *user, int timeout_ms)
{
	const struct live_src *src = s;

	return wc_live__dispatch(src->l, src->member, cnt, cb, user, timeout_ms);
}

int wc_live__consume(struct wc_live *l, uint32_t member, wc_pkt_cb cb, void *user,
		     wc_idle_cb idle, const struct wc_consume_opts *opts,
		     struct wc_consume_result *res)
{
	struct live_src src = { l, member };

	if (member >= l->n)
		return -EINVAL;
	return wc_drive__run(d_live, &src, cb, user, idle, opts, res);
}
