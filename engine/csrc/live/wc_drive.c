/* SPDX-License-Identifier: BSD-3-Clause */
/* Bounded application loops of the baselines; contract in wc_drive.h. */
#include "wc_drive.h"

#include <errno.h>
#include <string.h>

#include "wc_sys.h"

int wc_drive__run(wc_dispatch_fn fn, void *src, wc_pkt_cb cb, void *user, wc_idle_cb idle,
		  const struct wc_consume_opts *opts, struct wc_consume_result *res)
{
	struct wc_consume_opts o = { 0 };
	uint64_t t0;
	int poll_ms;

	if (!opts || !res)
		return -EINVAL;
	memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	memset(res, 0, sizeof(*res));
	if (!o.max_ns)
		return -EINVAL; /* bounded in time (DESIGN.md §5) */
	poll_ms = o.poll_ms > 0 ? o.poll_ms : 10;
	t0 = wc_sys__mono_ns();
	for (;;) {
		uint64_t now;
		int want = 0, n;

		if (o.max_packets) {
			if (res->packets >= o.max_packets) {
				res->stopped_by = 0;
				break;
			}
			want = (int)(o.max_packets - res->packets < (1u << 30) ?
					     o.max_packets - res->packets : (1u << 30));
		}
		if (o.stop && *o.stop) {
			res->stopped_by = 2;
			break;
		}
		n = fn(src, want, cb, user, 0);
		now = wc_sys__mono_ns();
		if (n > 0) {
			if (!res->first_ns)
				res->first_ns = now;
			res->last_ns = now;
			res->packets += (uint64_t)n;
			continue;
		}
		if (n < 0) {
			res->stopped_by = n;
			break;
		}
		if (now - t0 >= o.max_ns) {
			res->stopped_by = 1;
			break;
		}
		if (idle)
			idle(user);
		n = fn(src, want, cb, user, poll_ms);
		if (n > 0) {
			now = wc_sys__mono_ns();
			if (!res->first_ns)
				res->first_ns = now;
			res->last_ns = now;
			res->packets += (uint64_t)n;
		}
	}
	return 0;
}

static int d_xring(void *s, int c, wc_pkt_cb cb, void *u, int t)
{
	return wc_xring__dispatch(s, c, cb, u, t);
}

static int d_tpacket(void *s, int c, wc_pkt_cb cb, void *u, int t)
{
	return wc_tpacket__dispatch(s, c, cb, u, t);
}

static int d_pcap(void *s, int c, wc_pkt_cb cb, void *u, int t)
{
	return wc_pcap__dispatch(s, c, cb, u, t);
}

int wc_drive__xring(struct wc_xring *r, wc_pkt_cb cb, void *user, wc_idle_cb idle,
		    const struct wc_consume_opts *opts, struct wc_consume_result *res)
{
	return wc_drive__run(d_xring, r, cb, user, idle, opts, res);
}

int wc_drive__tpacket(struct wc_tpacket *t, wc_pkt_cb cb, void *user, wc_idle_cb idle,
		      const struct wc_consume_opts *opts, struct wc_consume_result *res)
{
	return wc_drive__run(d_tpacket, t, cb, user, idle, opts, res);
}

int wc_drive__pcap(struct wc_pcap *p, wc_pkt_cb cb, void *user, wc_idle_cb idle,
		   const struct wc_consume_opts *opts, struct wc_consume_result *res)
{
	return wc_drive__run(d_pcap, p, cb, user, idle, opts, res);
}
