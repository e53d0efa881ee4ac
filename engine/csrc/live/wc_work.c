/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-packet work of pkt_handler; contract in wc_work.h. */
#include "wc_work.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wc_flows.h"
#include "wc_live.h"
#include "wc_sys.h"

struct wc_work {
	struct wc_work_opts o;
	uint64_t vt;      /* PACE: virtual time at which the last packet ends */
	int idle;         /* PACE: restart the virtual clock at the next packet */
	struct wc_work_stats st;
};

#define RELAXED __ATOMIC_RELAXED
#define STAT_SET(f, v) __atomic_store_n(&(f), (v), RELAXED)
#define STAT_ADD(f, v) STAT_SET(f, __atomic_load_n(&(f), RELAXED) + (v))

int wc_work__create(struct wc_work **out, const struct wc_work_opts *opts)
{
	struct wc_work *w;

	if (!out || !opts)
		return -EINVAL;
	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	memcpy(&w->o, opts, opts->sz < sizeof(w->o) ? opts->sz : sizeof(w->o));
	if (w->o.kind < WC_WORK_NULL || w->o.kind > WC_WORK_PACE ||
	    (w->o.kind == WC_WORK_BPF && !w->o.filter) ||
	    ((w->o.kind == WC_WORK_BURN || w->o.kind == WC_WORK_PACE) && !w->o.cost_ns)) {
		free(w);
		return -EINVAL;
	}
	if (!w->o.slack_ns)
		w->o.slack_ns = WC_WORK_PACE_SLACK_NS;
	w->idle = 1;
	*out = w;
	return 0;
}

void wc_work__destroy(struct wc_work *w)
{
	free(w);
}

void wc_work__null_cb(void *user, const struct wc_pkthdr *h, const uint8_t *data)
{
	(void)user;
	(void)h;
	(void)data;
}

void wc_work__idle(void *user)
{
	((struct wc_work *)user)->idle = 1;
}

void wc_work__cb(void *user, const struct wc_pkthdr *h, const uint8_t *data)
{
	struct wc_work *w = user;
	uint64_t start = wc_sys__mono_ns(), end = start;
	uint32_t i, hits = 0;

	switch (w->o.kind) {
	case WC_WORK_BPF:
		for (i = 0; i < w->o.x; i++)
			hits = wc_filter__run(w->o.filter, data, h->len, h->caplen) != 0;
		end = wc_sys__mono_ns();
		break;
	case WC_WORK_BURN:
		end = start + w->o.cost_ns;
		while (wc_sys__mono_ns() < end)
			;
		break;
	case WC_WORK_PACE:
		/* after an idle spell the virtual clock catches up with the wall
		 * clock (no credit banked for idle time), but never goes back: a
		 * packet still "being processed" (vt ahead of now) keeps the
		 * thread busy until vt */
		if (w->idle || w->vt == 0) {
			if (w->vt < start)
				w->vt = start;
			w->idle = 0;
		}
		w->vt += w->o.cost_ns;
		if (w->vt > start + w->o.slack_ns) {
			wc_sys__sleep_until(w->vt);
			STAT_ADD(w->st.slept_ns, wc_sys__mono_ns() - start);
		}
		end = w->vt;
		if (!w->st.packets)
			start = w->vt - w->o.cost_ns;
		break;
	default:
		break;
	}
	if (w->o.flows)
		wc_flows__note(w->o.flows, data, h->caplen, h->member, h->queue);
	if (w->o.forward &&
	    wc_live__inject(w->o.forward, h->member, data, h->caplen, w->o.forward_timeout_ms) < 0)
		STAT_ADD(w->st.forward_errors, 1);
	if (!w->st.packets)
		STAT_SET(w->st.first_ns, start);
	STAT_SET(w->st.last_ns, end);
	STAT_ADD(w->st.matched, hits);
	STAT_ADD(w->st.packets, 1);
}

void wc_work__stats(const struct wc_work *w, struct wc_work_stats *out)
{
	out->packets = __atomic_load_n(&w->st.packets, RELAXED);
	out->matched = __atomic_load_n(&w->st.matched, RELAXED);
	out->forward_errors = __atomic_load_n(&w->st.forward_errors, RELAXED);
	out->first_ns = __atomic_load_n(&w->st.first_ns, RELAXED);
	out->last_ns = __atomic_load_n(&w->st.last_ns, RELAXED);
	out->slept_ns = __atomic_load_n(&w->st.slept_ns, RELAXED);
}
