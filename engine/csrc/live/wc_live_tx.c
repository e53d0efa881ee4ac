/* SPDX-License-Identifier: BSD-3-Clause */
/* wc_live: forwarding (paper §3.2.2b); contract in wc_live.h. */
#define _GNU_SOURCE
#include "wc_live_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wc_sys.h"

/* TX frames queued before a kick (copy mode sends at most 32 per sendmsg) */
#define TX_KICK_BATCH 32u

int wc_live__tx_attach(struct wc_live *l, uint32_t member, int ifindex, uint32_t queue)
{
	/* af_xdp.rst: a socket on another (netdev, queue) sharing the UMEM needs
	 * its own fill and completion rings, even if it only transmits */
	struct wc_xsk_opts xo = { .sz = sizeof(xo), .fill_size = 64, .comp_size = l->tx_size,
				  .tx_size = l->tx_size };
	struct member *mb;
	uint32_t i;
	int err;

	if (member >= l->n)
		return -EINVAL;
	mb = &l->m[member];
	if (mb->tx)
		return -EALREADY;
	mb->inj_free = calloc(l->tx_frames, sizeof(*mb->inj_free));
	if (!mb->inj_free)
		return -ENOMEM;
	if (l->tx_on_rx && ifindex == l->ifindex && queue == mb->queue) {
		mb->tx = mb->xsk; /* its TX and completion rings are the application thread's */
		mb->tx_is_rx = 1;
		err = 0;
	} else {
		err = wc_xsk__create(&mb->tx, l->umem, ifindex, queue, &xo);
	}
	if (err) {
		free(mb->inj_free);
		mb->inj_free = NULL;
		return err;
	}
	for (i = 0; i < l->tx_frames; i++)
		mb->inj_free[i] = l->tx_frames - 1 - i;
	mb->inj_nfree = l->tx_frames;
	return 0;
}

int live_tx_reap(struct wc_live *l, struct member *mb)
{
	uint64_t addrs[64];
	uint32_t n, i;
	int total = 0;

	while ((n = wc_xsk__comp_burst(mb->tx, addrs, 64)) > 0) {
		for (i = 0; i < n; i++) {
			uint64_t f = addrs[i] / WC_FRAME_SIZE;

			if (f >= l->pool_frames) {
				mb->inj_free[mb->inj_nfree++] = (uint32_t)(f - mb->inj_base);
				continue;
			}
			{
				struct wc_chunk_meta m;
				struct member *owner = frame_owner(l, f);

				/* the last send of a released chunk: recycle it now */
				if (wc_capture__tx_done(owner->cap, frame_chunk_id(l, f), &m) == 1 &&
				    live_recycle_to_owner(l, &m))
					STAT_ADD(mb->app_driver_errors, 1);
			}
		}
		STAT_ADD(mb->tx_completed, n);
		total += (int)n;
	}
	return total;
}

int wc_live__inject(struct wc_live *l, uint32_t member, const uint8_t *data, uint32_t len,
		    int timeout_ms)
{
	struct member *mb;
	struct wc_desc d;
	uint64_t deadline = 0;
	int zero_copy;

	if (member >= l->n || !data)
		return -EINVAL;
	mb = &l->m[member];
	if (!mb->tx)
		return -ENOTCONN;
	zero_copy = data >= l->area && data < l->area + l->pool_frames * WC_FRAME_SIZE;
	if (zero_copy) {
		d.addr = (uint64_t)(data - l->area);
		if (d.addr % WC_FRAME_SIZE + len > WC_FRAME_SIZE)
			return -EMSGSIZE;
	} else {
		uint32_t fi;

		if (len > WC_FRAME_SIZE)
			return -EMSGSIZE;
		while (!mb->inj_nfree) {
			live_tx_reap(l, mb);
			if (mb->inj_nfree)
				break;
			wc_xsk__tx_kick(mb->tx);
			if (!deadline)
				deadline = wc_sys__mono_ns() + (uint64_t)timeout_ms * 1000000ull;
			if (wc_sys__mono_ns() >= deadline) {
				STAT_ADD(mb->tx_dropped, 1);
				return -EAGAIN;
			}
			cpu_relax();
		}
		fi = mb->inj_free[--mb->inj_nfree];
		d.addr = (mb->inj_base + fi) * WC_FRAME_SIZE;
		memcpy(l->area + d.addr, data, len);
	}
	d.len = len;
	d.options = 0;
	while (wc_xsk__tx_burst(mb->tx, &d, 1) == 0) {
		wc_xsk__tx_kick(mb->tx);
		live_tx_reap(l, mb);
		if (!deadline)
			deadline = wc_sys__mono_ns() + (uint64_t)timeout_ms * 1000000ull;
		if (wc_sys__mono_ns() >= deadline) {
			if (!zero_copy)
				mb->inj_free[mb->inj_nfree++] =
					(uint32_t)(d.addr / WC_FRAME_SIZE - mb->inj_base);
			STAT_ADD(mb->tx_dropped, 1);
			return -EAGAIN;
		}
		cpu_relax();
	}
	if (zero_copy) {
		uint64_t f = d.addr / WC_FRAME_SIZE;

		wc_capture__tx_hold(frame_owner(l, f)->cap, frame_chunk_id(l, f));
		STAT_ADD(mb->forwarded, 1);
	} else {
		STAT_ADD(mb->injected, 1);
	}
	if (++mb->tx_unkicked >= TX_KICK_BATCH) {
		mb->tx_unkicked = 0;
		wc_xsk__tx_kick(mb->tx);
		live_tx_reap(l, mb);
	}
	return 0;
}

int wc_live__tx_flush(struct wc_live *l, uint32_t member, int timeout_ms)
{
	struct member *mb;
	uint64_t deadline;

	if (member >= l->n)
		return -EINVAL;
	mb = &l->m[member];
	if (!mb->tx)
		return 0;
	deadline = wc_sys__mono_ns() + (uint64_t)timeout_ms * 1000000ull;
	mb->tx_unkicked = 0;
	for (;;) {
		uint64_t out = STAT_GET(mb->forwarded) + STAT_GET(mb->injected) -
			       STAT_GET(mb->tx_completed);

		if (!out)
			return 0;
		wc_xsk__tx_kick(mb->tx);
		live_tx_reap(l, mb);
		if (wc_sys__mono_ns() >= deadline)
			return (int)out;
		wc_sys__sleep_until(wc_sys__mono_ns() + 50000);
	}
}
