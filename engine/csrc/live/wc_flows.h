/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_flows: which application thread saw each flow. Offloading trades core
 * affinity for loss (paper §3.1: "when long-term load imbalance occurs,
 * WireCAP has to perform traffic offloading"): a flow whose packets were
 * processed by more than one thread has been split. multi_pkt_handler
 * reports how many.
 *
 * A flow is the IPv4 5-tuple (addresses, protocol, and ports for TCP/UDP);
 * other frames are not counted. The table is lock-free (open addressing,
 * compare-and-swap on a 64-bit hash of the tuple) and shared by all
 * application threads of a group.
 */
#ifndef WC_FLOWS_H
#define WC_FLOWS_H

#include <stdint.h>

/* cffi:begin */

#define WC_FLOWS_QUEUES 64u

struct wc_flows;

/* capacity: slots, rounded up to a power of two (keep it >= 2x the flows) */
int wc_flows__create(struct wc_flows **f, uint32_t capacity);
void wc_flows__destroy(struct wc_flows *f);
/* Note that member processed this Ethernet frame, which arrived on queue. */
void wc_flows__note(struct wc_flows *f, const uint8_t *frame, uint32_t caplen, uint16_t member,
		    uint16_t queue);
uint64_t wc_flows__count(const struct wc_flows *f);   /* distinct flows seen */
uint64_t wc_flows__split(const struct wc_flows *f);   /* flows seen by > 1 thread */
/* split flows whose first packet arrived on queue (< WC_FLOWS_QUEUES) */
uint64_t wc_flows__split_queue(const struct wc_flows *f, uint16_t queue);
uint64_t wc_flows__overflow(const struct wc_flows *f); /* frames not noted: table full */

/* cffi:end */
#endif /* WC_FLOWS_H */
