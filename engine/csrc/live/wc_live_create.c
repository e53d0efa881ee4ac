/* SPDX-License-Identifier: BSD-3-Clause */
/* wc_live: create/destroy and accessors; contract in wc_live.h. */
#define _GNU_SOURCE
#include "wc_live_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "wc_buddy.h"
#include "wc_sys.h"
#include "wc_workq.h"

static void drop_tx(struct member *mb)
{
	if (!mb->tx_is_rx)
		wc_xsk__destroy(mb->tx);
	mb->tx = NULL;
	mb->tx_is_rx = 0;
}

static void member_cleanup(struct member *mb)
{
	drop_tx(mb);
	if (mb->pool)
		wc_pool__close(mb->pool);
	wc_pool__destroy(mb->pool);
	wc_workq__destroy(mb->capq);
	wc_workq__destroy(mb->recq);
	if (mb->wake_fd > 0)
		close(mb->wake_fd);
	if (mb->cons_fd > 0)
		close(mb->cons_fd);
	free(mb->descs);
	wc_capture__destroy(mb->cap);
	free(mb->inj_free);
}

int wc_live__create(struct wc_live **out, int ifindex, const uint32_t *queues, uint32_t nq,
		    const struct wc_live_opts *opts)
{
	struct wc_live_opts o = { 0 };
	struct wc_umem_opts uo = { .sz = sizeof(uo) };
	struct wc_xsk_opts xo = { .sz = sizeof(xo) };
	uint64_t total_chunks;
	uint32_t capq_cap, i;
	struct wc_live *l;
	int err;

	if (!out || !queues || !nq || nq > WC_LIVE_MEMBERS_MAX || !opts)
		return -EINVAL;
	*out = NULL;
	memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (!o.ring_size)
		o.ring_size = WC_RING_SIZE_DEFAULT;
	if (!o.segment_cells)
		o.segment_cells = WC_SEGMENT_CELLS_DEFAULT;
	if (!o.chunks)
		o.chunks = WC_POOL_CHUNKS_DEFAULT;
	if (o.ring_size & (o.ring_size - 1))
		return -EINVAL; /* af_xdp.rst: ring sizes are powers of two */
	if (!o.tx_frames)
		o.tx_frames = WC_LIVE_TX_FRAMES_DEFAULT;
	if (!o.tx_size)
		o.tx_size = WC_XSK_RING_DEFAULT;
	for (i = 0; i < nq; i++)
		if (queues[i] >= OWNER_MAX)
			return -EINVAL;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->n = nq;
	l->ring_size = o.ring_size;
	l->seg = o.segment_cells;
	l->chunks = o.chunks;
	l->advanced = o.advanced;
	l->timestamps = o.timestamps;
	l->rt_priority = o.rt_priority;
	l->need_wakeup = o.need_wakeup;
	l->nic_id = o.nic_id;
	l->timeout_ns = (uint64_t)(o.timeout_us ? o.timeout_us : WC_LIVE_TIMEOUT_US_DEFAULT) * 1000u;
	l->spin_ns = (uint64_t)o.spin_us * 1000u;
	l->rx_batch = o.rx_batch ? o.rx_batch : WC_LIVE_RX_BATCH_DEFAULT;
	l->tx_frames = o.tx_frames;
	l->tx_size = o.tx_size;
	l->tx_on_rx = o.tx_on_rx;
	l->ifindex = ifindex;
	l->pool_frames = (uint64_t)nq * o.chunks * o.segment_cells;
	total_chunks = (uint64_t)nq * o.chunks;

	l->m = aligned_alloc(64, sizeof(*l->m) * nq);
	l->cells = calloc(l->pool_frames, sizeof(*l->cells));
	if (!l->m || !l->cells) {
		err = -ENOMEM;
		goto err_free;
	}
	memset(l->m, 0, sizeof(*l->m) * nq);

	uo.frames = l->pool_frames + (uint64_t)nq * o.tx_frames;
	err = wc_umem__create(&l->umem, &uo);
	if (err)
		goto err_free;
	l->area = wc_umem__area(l->umem);

	if (o.advanced && o.offload != WC_OFFLOAD_BUCKET) {
		/* chunk offloading (§3.2.2a) places chunks above T; hybrid spills
		 * only in an emergency (wc_balance__spill_pct), bucket moves
		 * handling the rest */
		uint32_t t = o.threshold_pct ? o.threshold_pct : WC_THRESHOLD_PCT_DEFAULT;
		struct wc_group_opts go = {
			.sz = sizeof(go),
			.threshold_pct = o.offload == WC_OFFLOAD_HYBRID ? wc_balance__spill_pct(t) : t,
		};

		err = wc_group__create(&l->group, &go);
		if (err)
			goto err_umem;
	}

	/* a capture queue may hold chunks of every member (offloading) */
	capq_cap = (uint32_t)(l->group ? total_chunks : o.chunks);
	xo.fill_size = o.ring_size;
	xo.comp_size = o.ring_size;
	xo.rx_size = o.ring_size;
	xo.tx_size = o.tx_on_rx ? o.tx_size : 0;
	xo.mode = o.mode;
	xo.need_wakeup = o.need_wakeup;
	for (i = 0; i < nq; i++) {
		struct member *mb = &l->m[i];
		struct wc_pool_opts po = {
			.sz = sizeof(po), .ring_size = o.ring_size, .segment_cells = o.segment_cells,
			.chunks = o.chunks, .nic_id = o.nic_id, .ring_id = (uint16_t)queues[i],
		};

		mb->live = l;
		mb->idx = i;
		mb->queue = queues[i];
		mb->cpu = -1;
		mb->frame_base = (uint64_t)i * o.chunks * o.segment_cells;
		mb->inj_base = l->pool_frames + (uint64_t)i * o.tx_frames;
		mb->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		mb->cons_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		mb->descs = calloc(l->rx_batch, sizeof(*mb->descs));
		if (mb->wake_fd < 0 || mb->cons_fd < 0 || !mb->descs) {
			err = -ENOMEM;
			goto err_members;
		}
		err = wc_pool__create(&mb->pool, &po);
		if (!err)
			err = wc_workq__create(&mb->capq, capq_cap);
		if (!err)
			err = wc_workq__create(&mb->recq, o.chunks);
		if (!err)
			err = wc_xsk__create(&mb->xsk, l->umem, ifindex, queues[i], &xo);
		if (err)
			goto err_members;
		{
			/* the capture step both backends run; in advanced mode it
			 * joins the buddy group as member i */
			struct wc_capture_opts co = {
				.sz = sizeof(co), .pool = mb->pool, .capq = mb->capq, .recq = mb->recq,
				.group = l->group, .timeout = l->timeout_ns,
				.hooks = &live_capture_hooks, .user = mb,
			};

			err = wc_capture__create(&mb->cap, &co);
			if (err)
				goto err_members;
			err = wc_capture_set__add(&l->owners, o.nic_id, (uint16_t)queues[i], mb->cap);
			if (err) {
				err = -EINVAL; /* the same queue twice */
				goto err_members;
			}
		}
		/* open (§3.2.1) attaches a free chunk to every segment; on a fresh
		 * pool the FIFO free list gives segment s chunk s (wc_pool.c), and
		 * the segment's frames go on the fill ring in ring order */
		err = wc_pool__open(mb->pool);
		if (err < 0)
			goto err_members;
		{
			uint32_t s;

			for (s = 0; s < (uint32_t)err; s++) {
				uint64_t frame = frame_of(l, mb, s, 0);

				if (wc_pool__chunk_state(mb->pool, s) != WC_CHUNK_ATTACHED ||
				    wc_xsk__fill_range(mb->xsk, frame * WC_FRAME_SIZE, l->seg,
						       WC_FRAME_SIZE)) {
					err = -EFAULT;
					goto err_members;
				}
			}
		}
		mb->free_chunks = wc_pool__free_chunks(mb->pool);
	}
	err = live_balance_create(l, &o);
	if (err)
		goto err_members;
	l->mono_to_real = wc_sys__real_ns() - wc_sys__mono_ns();
	*out = l;
	return 0;

err_members:
	live_balance_destroy(l);
	for (i = nq; i-- > 0;) {
		wc_xsk__destroy(l->m[i].xsk);
		l->m[i].xsk = NULL;
	}
	for (i = 0; i < nq; i++)
		member_cleanup(&l->m[i]);
	wc_group__destroy(l->group);
err_umem:
	wc_umem__destroy(l->umem);
err_free:
	free(l->m);
	free(l->cells);
	free(l);
	return err;
}

void wc_live__destroy(struct wc_live *l)
{
	uint32_t i;

	if (!l)
		return;
	wc_live__stop(l);
	live_balance_destroy(l);
	for (i = 0; i < l->n; i++)
		drop_tx(&l->m[i]);
	for (i = l->n; i-- > 0;) {
		wc_xsk__destroy(l->m[i].xsk);
		l->m[i].xsk = NULL;
	}
	for (i = 0; i < l->n; i++)
		member_cleanup(&l->m[i]);
	wc_group__destroy(l->group);
	wc_umem__destroy(l->umem);
	free(l->m);
	free(l->cells);
	free(l);
}

uint32_t wc_live__members(const struct wc_live *l)
{
	return l->n;
}

int wc_live__xsk_fd(const struct wc_live *l, uint32_t member)
{
	if (member >= l->n)
		return -EINVAL;
	return wc_xsk__fd(l->m[member].xsk);
}

int wc_live__zerocopy(const struct wc_live *l)
{
	return wc_xsk__zerocopy(l->m[0].xsk);
}

uint8_t *wc_live__area(const struct wc_live *l)
{
	return l->area;
}
