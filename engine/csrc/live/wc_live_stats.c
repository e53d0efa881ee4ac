/* SPDX-License-Identifier: BSD-3-Clause */
/* wc_live: per-member counters; contract in wc_live.h. */
#define _GNU_SOURCE
#include "wc_live_int.h"

#include <errno.h>
#include <string.h>

#include "wc_workq.h"

int wc_live__stats(const struct wc_live *l, uint32_t member, struct wc_live_qstats *o)
{
	struct wc_capture_stats cs;
	struct member *mb;

	if (member >= l->n || !o)
		return -EINVAL;
	mb = &l->m[member];
	wc_capture__stats(mb->cap, &cs);
	memset(o, 0, sizeof(*o));
	o->rx_packets = STAT_GET(mb->rx_packets);
	o->chunks_captured = STAT_GET(mb->pool_captured);
	o->chunks_copied = STAT_GET(mb->pool_copied);
	o->packets_copied = STAT_GET(mb->pool_pkts_copied);
	o->chunks_recycled = STAT_GET(mb->pool_recycled);
	o->recycle_errors = STAT_GET(mb->pool_rec_errors);
	o->recycle_exdev = cs.recycle_exdev;
	o->recycle_erange = cs.recycle_erange;
	o->recycle_ealready = cs.recycle_ealready;
	o->recycle_ebusy = cs.recycle_ebusy;
	o->recycle_einval = cs.recycle_einval;
	o->offloaded_out = cs.offloaded_out;
	o->offloaded_out_packets = cs.offloaded_out_packets;
	o->rx_misordered = STAT_GET(mb->rx_misordered);
	o->fill_waits = STAT_GET(mb->fill_waits);
	/* a failed placement or a full capture queue (wc_capture.h: cannot
	 * happen with these capacities) is a driver error too */
	o->driver_errors = STAT_GET(mb->driver_errors) + STAT_GET(mb->app_driver_errors) +
			   cs.place_errors + cs.overflows;
	o->delivered = STAT_GET(mb->delivered);
	o->filtered = STAT_GET(mb->filtered);
	o->consumed = STAT_GET(mb->consumed);
	o->offloaded_in = STAT_GET(mb->offloaded_in);
	o->offloaded_in_packets = STAT_GET(mb->offloaded_in_packets);
	o->forwarded = STAT_GET(mb->forwarded);
	o->injected = STAT_GET(mb->injected);
	o->tx_completed = STAT_GET(mb->tx_completed);
	o->tx_dropped = STAT_GET(mb->tx_dropped);
	o->free_chunks = STAT_GET(mb->free_chunks);
	o->capture_queue_len = wc_workq__len(mb->capq);
	o->recycle_queue_len = wc_workq__len(mb->recq);
	o->max_capture_queue_len = STAT_GET(mb->max_capq);
	o->max_rx_gap_ns = STAT_GET(mb->max_gap_ns);
	o->capture_sleeps = STAT_GET(mb->sleeps);
	o->realtime = (uint32_t)STAT_GET(mb->realtime);
	o->barrier_active = atomic_load_explicit(&mb->bar_active, memory_order_relaxed) != 0;
	o->bucket_moves_out = STAT_GET(mb->moves_out);
	o->bucket_moves_in = STAT_GET(mb->moves_in);
	o->moved_packets = STAT_GET(mb->moved_packets);
	o->barrier_holds = STAT_GET(mb->barrier_holds);
	o->barrier_hold_ns = STAT_GET(mb->barrier_hold_ns);
	o->barrier_timeouts = STAT_GET(mb->barrier_timeouts);
	o->inflight_timeouts = STAT_GET(mb->inflight_timeouts);
	o->handed = STAT_GET(mb->handed);
	return wc_xsk__stats(mb->xsk, &o->xsk);
}
