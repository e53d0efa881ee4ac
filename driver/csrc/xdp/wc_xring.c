/* SPDX-License-Identifier: BSD-3-Clause */
/* Ring-only AF_XDP receiver (afxdp-ring baseline); contract in wc_xring.h. */
#include "wc_xring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wc_bpf.h"
#include "wc_sys.h"

struct wc_xring {
	struct wc_umem *umem;
	struct wc_xsk *xsk;
	uint32_t batch;
	uint64_t mono_to_real; /* CLOCK_REALTIME - CLOCK_MONOTONIC at create */
	struct wc_desc *descs;
	uint64_t *addrs;
	uint64_t delivered;
};

int wc_xring__create(struct wc_xring **out, int ifindex, uint32_t queue_id,
		     const struct wc_xring_opts *opts)
{
	struct wc_xring_opts o = { 0 };
	struct wc_umem_opts uo = { .sz = sizeof(uo) };
	struct wc_xsk_opts xo = { .sz = sizeof(xo) };
	struct wc_xring *r;
	int err;

	if (!out || !opts)
		return -EINVAL;
	*out = NULL;
	memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (!o.ring_size)
		o.ring_size = WC_XSK_RING_DEFAULT;
	if (o.ring_size & (o.ring_size - 1))
		return -EINVAL;
	if (!o.batch)
		o.batch = WC_XRING_BATCH_DEFAULT;
	if (o.batch > o.ring_size)
		o.batch = o.ring_size;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->batch = o.batch;
	r->descs = calloc(o.batch, sizeof(*r->descs));
	r->addrs = calloc(o.batch, sizeof(*r->addrs));
	if (!r->descs || !r->addrs) {
		err = -ENOMEM;
		goto err_free;
	}
	uo.frames = o.ring_size; /* the UMEM is the ring: no buffer beyond it */
	err = wc_umem__create(&r->umem, &uo);
	if (err)
		goto err_free;
	xo.fill_size = o.ring_size;
	xo.comp_size = o.ring_size;
	xo.rx_size = o.ring_size;
	xo.mode = o.mode;
	xo.need_wakeup = o.need_wakeup;
	err = wc_xsk__create(&r->xsk, r->umem, ifindex, queue_id, &xo);
	if (err)
		goto err_umem;
	err = wc_xsk__fill_range(r->xsk, 0, o.ring_size, WC_FRAME_SIZE);
	if (err)
		goto err_xsk;
	r->mono_to_real = wc_sys__real_ns() - wc_sys__mono_ns();
	*out = r;
	return 0;

err_xsk:
	wc_xsk__destroy(r->xsk);
err_umem:
	wc_umem__destroy(r->umem);
err_free:
	free(r->descs);
	free(r->addrs);
	free(r);
	return err;
}

void wc_xring__destroy(struct wc_xring *r)
{
	if (!r)
		return;
	wc_xsk__destroy(r->xsk);
	wc_umem__destroy(r->umem);
	free(r->descs);
	free(r->addrs);
	free(r);
}

int wc_xring__fd(const struct wc_xring *r)
{
	return wc_xsk__fd(r->xsk);
}

int wc_xring__zerocopy(const struct wc_xring *r)
{
	return wc_xsk__zerocopy(r->xsk);
}

int wc_xring__dispatch(struct wc_xring *r, int cnt, wc_pkt_cb cb, void *user, int timeout_ms)
{
	uint8_t *area = wc_umem__area(r->umem);
	uint32_t max = r->batch, n, i;
	int done = 0;

	if (cnt > 0 && (uint32_t)cnt < max)
		max = (uint32_t)cnt;
	n = wc_xsk__rx_burst(r->xsk, r->descs, max);
	if (!n && timeout_ms) {
		wc_xsk__fill_wakeup(r->xsk);
		if (wc_xsk__rx_wait(r->xsk, timeout_ms) > 0)
			n = wc_xsk__rx_burst(r->xsk, r->descs, max);
	}
	for (i = 0; i < n; i++) {
		const struct wc_desc *d = &r->descs[i];

		if (cb) {
			struct wc_xdp_meta *m = (struct wc_xdp_meta *)(area + d->addr - sizeof(*m));
			struct wc_pkthdr h = { .caplen = d->len, .len = d->len };

			if (d->addr % WC_FRAME_SIZE >= sizeof(*m) && m->magic == WC_XDP_META_MAGIC) {
				h.ts_ns = m->ts_ns + r->mono_to_real;
				h.queue = (uint16_t)m->rx_queue;
				m->magic = 0; /* consumed: never show a stale stamp */
			}
			cb(user, &h, area + d->addr);
		}
		/* the frame goes back to the ring only after processing */
		r->addrs[i] = d->addr - d->addr % WC_FRAME_SIZE;
		done++;
	}
	if (n) {
		/* cannot fail: the kernel handed out n frames, so n slots are free */
		wc_xsk__fill(r->xsk, r->addrs, n);
		wc_xsk__fill_wakeup(r->xsk);
	}
	r->delivered += (uint64_t)done;
	return done;
}

int wc_xring__stats(const struct wc_xring *r, struct wc_xring_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->delivered = r->delivered;
	return wc_xsk__stats(r->xsk, &out->xsk);
}
