/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_xring: the `afxdp-ring` baseline, a ring-only AF_XDP receiver: a UMEM
 * exactly as large as the receive ring, so the ring's frames are the only
 * buffer. The application reads packets in place from the RX ring and
 * gives each batch's frames back to the fill ring once it has processed
 * them: the buffering semantics of NETMAP and DNA, which "use ring buffers
 * as data capture buffers, which has a limited buffering capability"
 * (paper §2.2). When the application falls behind, the fill ring runs dry
 * and the kernel drops (XDP_STATISTICS rx_fill_ring_empty_descs): capture
 * drops.
 *
 * With a NULL callback the loop touches no packet data: that is the bare
 * AF_XDP drop loop (xdpsock's "rxdrop") the benchmark compares against.
 */
#ifndef WC_XRING_H
#define WC_XRING_H

#include <stddef.h>
#include <stdint.h>

#include "wc_pkt.h"
#include "wc_xsk.h"

/* cffi:begin */

/* NAPI_POLL_WEIGHT: the batch a netmap/DNA application syncs per call */
#define WC_XRING_BATCH_DEFAULT 64u

struct wc_xring_opts {
	size_t sz;           /* sizeof(struct wc_xring_opts) */
	uint32_t ring_size;  /* N: fill ring, RX ring and UMEM frames (power of two) */
	uint32_t batch;      /* packets per RX burst and per fill-ring return */
	int mode;            /* WC_XSK_MODE_* */
	int need_wakeup;
};

struct wc_xring_stats {
	uint64_t delivered;
	struct wc_xsk_stats xsk;
};

struct wc_xring;

/* In the calling thread's namespace. The caller puts wc_xring__fd() into
 * the interface's XSKMAP at queue_id. */
int wc_xring__create(struct wc_xring **r, int ifindex, uint32_t queue_id,
		     const struct wc_xring_opts *opts);
void wc_xring__destroy(struct wc_xring *r);
int wc_xring__fd(const struct wc_xring *r);
int wc_xring__zerocopy(const struct wc_xring *r);
/* Process up to cnt packets (cnt <= 0: what one burst holds), waiting up
 * to timeout_ms when none is there. Returns packets processed. */
int wc_xring__dispatch(struct wc_xring *r, int cnt, wc_pkt_cb cb, void *user, int timeout_ms);
int wc_xring__stats(const struct wc_xring *r, struct wc_xring_stats *out);

/* cffi:end */
#endif /* WC_XRING_H */
