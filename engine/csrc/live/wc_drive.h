/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_drive: the application loop of the baselines (afxdp-ring,
 * afpacket-copy, libpcap), pcap_loop() with bounds, in C so that the
 * per-packet path never enters Python: dispatch until max_packets, max_ns
 * or *stop, calling idle() whenever a dispatch found nothing, then
 * dispatching again with a poll_ms timeout. WireCAP's wc_live__consume()
 * is the same loop over wc_live__dispatch().
 */
#ifndef WC_DRIVE_H
#define WC_DRIVE_H

#include <stddef.h>
#include <stdint.h>

#include "wc_pcap.h"
#include "wc_pkt.h"
#include "wc_tpacket.h"
#include "wc_xring.h"

/* cffi:begin */

struct wc_consume_opts {
	size_t sz;                   /* sizeof(struct wc_consume_opts) */
	uint64_t max_packets;        /* 0: no bound in packets */
	uint64_t max_ns;             /* bound in time (required) */
	const volatile int *stop;    /* optional: non-zero ends the loop */
	int poll_ms;                 /* wait per empty dispatch; 0 = 10 */
};

struct wc_consume_result {
	uint64_t packets;
	uint64_t first_ns;           /* CLOCK_MONOTONIC of the first and last packet */
	uint64_t last_ns;
	int stopped_by;              /* 0 max_packets, 1 time, 2 stop flag, -errno */
};

typedef void (*wc_idle_cb)(void *user);
/* a pcap_dispatch()-like call on src: timeout_ms 0 = do not wait */
typedef int (*wc_dispatch_fn)(void *src, int cnt, wc_pkt_cb cb, void *user, int timeout_ms);

/* the bounded loop over any such dispatch */
int wc_drive__run(wc_dispatch_fn fn, void *src, wc_pkt_cb cb, void *user, wc_idle_cb idle,
		  const struct wc_consume_opts *opts, struct wc_consume_result *res);

int wc_drive__xring(struct wc_xring *r, wc_pkt_cb cb, void *user, wc_idle_cb idle,
		    const struct wc_consume_opts *opts, struct wc_consume_result *res);
int wc_drive__tpacket(struct wc_tpacket *t, wc_pkt_cb cb, void *user, wc_idle_cb idle,
		      const struct wc_consume_opts *opts, struct wc_consume_result *res);
int wc_drive__pcap(struct wc_pcap *p, wc_pkt_cb cb, void *user, wc_idle_cb idle,
		   const struct wc_consume_opts *opts, struct wc_consume_result *res);

/* cffi:end */
#endif /* WC_DRIVE_H */
