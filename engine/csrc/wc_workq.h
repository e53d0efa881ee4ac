/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_workq: one queue of a WireCAP work-queue pair (paper §3.2.2a): a
 * bounded FIFO of chunk metadata.
 *
 *   capture queue  producers: the capture threads of the buddy group (a
 *                  chunk may be offloaded into a buddy's queue);
 *                  consumer:  the application thread of this receive queue.
 *   recycle queue  producers: the application threads of the buddy group
 *                  (whoever processed a chunk returns it to its owner);
 *                  consumer:  the capture thread that owns the pool.
 *
 * Hence multi-producer; the implementation (a bounded array with a
 * sequence number per slot, after D. Vyukov's MPMC queue) is lock-free for
 * any number of producers and consumers. Its one locked instruction per
 * operation (the compare-and-swap that claims a slot) is the only cost a
 * caller with one producer or one consumer at a time need not pay: such a
 * queue is created with WC_WORKQ_SP / WC_WORKQ_SC, as DPDK's rings take
 * RING_F_SP_ENQ / RING_F_SC_DEQ. The live engine sets neither.
 *
 * The simulator, whose threads are events of one loop, creates its queues
 * with WC_WORKQ_LOCAL: every push and pop comes from one thread, so the
 * queue is a plain ring, and one that starts small and doubles when full
 * (up to the capacity). A capture queue must be able to hold every chunk
 * of its buddy group (R x queues: 8,192 slots, 384 KB, at R = 500 and 12
 * queues) yet mostly holds a few; a ring that cycled through all its slots
 * would miss the cache on every push and pop.
 *
 * _push/_pop are all-or-nothing (DPDK's "_bulk" sense, one element).
 */
#ifndef WC_WORKQ_H
#define WC_WORKQ_H

#include <stdint.h>

#include "wc_pool.h"

/* cffi:begin */

struct wc_workq;

/* the caller promises one producer (SP) or one consumer (SC) at a time */
#define WC_WORKQ_SP 1
#define WC_WORKQ_SC 2
/* one thread only, producer and consumer alike (implies SP and SC) */
#define WC_WORKQ_LOCAL 4

/* capacity is rounded up to a power of two, at least 2; -EINVAL for 0 or
 * an unknown flag, -ENOMEM. _create is _create_flags with no flag. */
int wc_workq__create(struct wc_workq **q, uint32_t capacity);
int wc_workq__create_flags(struct wc_workq **q, uint32_t capacity, uint32_t flags);
void wc_workq__destroy(struct wc_workq *q);
/* 0, or -ENOSPC when full (nothing is written); WC_WORKQ_LOCAL also
 * -ENOMEM when its ring cannot grow (nothing is written). */
int wc_workq__push(struct wc_workq *q, const struct wc_chunk_meta *m);
/* 0, or -EAGAIN when empty. */
int wc_workq__pop(struct wc_workq *q, struct wc_chunk_meta *m);
/* Elements queued (exact when no push/pop runs concurrently; otherwise a
 * snapshot, which is all the offloading decision needs). */
uint32_t wc_workq__len(const struct wc_workq *q);
uint32_t wc_workq__capacity(const struct wc_workq *q);

/* cffi:end */
#endif /* WC_WORKQ_H */
