/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_buddy: buddy groups and the offloading decision (paper §3.2.1
 * "Buddy-group-based offloading", §3.2.2a advanced mode steps 1.b-1.d).
 *
 * The receive queues read by the threads of one application form a buddy
 * group; a capture thread may place a captured chunk only in the capture
 * queue of a member of its own group, so offloading never crosses
 * applications (§3.2.2c).
 *
 * Decision (wc_group__place): a capture thread that has just captured a
 * chunk looks at its own capture queue. While its length does not exceed
 * T percent of its capacity in chunks (R), the chunk stays home (1.b).
 * Otherwise (1.c, 1.d) it goes to the shortest capture queue of the group,
 * "the assumption [being] that, when a capture queue is empty or shorter,
 * the corresponding core is idle or less busy". Ties go home first, then
 * to the lowest member index, so the choice is deterministic.
 */
#ifndef WC_BUDDY_H
#define WC_BUDDY_H

#include <stddef.h>
#include <stdint.h>

#include "wc_workq.h"

/* cffi:begin */

/* a 64-queue group covers every multi-queue NIC of the paper's era (the
 * 82599 has 128 receive queues, RSS uses at most 16) */
#define WC_GROUP_MAX 64u
/* paper §4 (Figure 14): WireCAP-A-(256, 500, 60%) */
#define WC_THRESHOLD_PCT_DEFAULT 60u

struct wc_group_opts {
	size_t sz;             /* sizeof(struct wc_group_opts) */
	uint32_t threshold_pct; /* T in (0, 100]; 0 = WC_THRESHOLD_PCT_DEFAULT */
};

struct wc_group;

/* -EINVAL if T is outside (0, 100]; -ENOMEM. */
int wc_group__create(struct wc_group **g, const struct wc_group_opts *opts);
void wc_group__destroy(struct wc_group *g);
/* Add a receive queue's capture queue, whose pool holds capacity_chunks (R).
 * Returns the member index, -ENOSPC if the group is full, -EINVAL. */
int wc_group__add(struct wc_group *g, struct wc_workq *capture_q, uint32_t capacity_chunks);
/* The member whose capture queue should receive a chunk captured by
 * member `self` (possibly self). -EINVAL for an unknown member. */
int wc_group__place(const struct wc_group *g, uint32_t self);
uint32_t wc_group__size(const struct wc_group *g);
/* Member m's capture queue (NULL for an unknown member). */
struct wc_workq *wc_group__queue(const struct wc_group *g, uint32_t m);
uint32_t wc_group__threshold_pct(const struct wc_group *g);

/* cffi:end */
#endif /* WC_BUDDY_H */
