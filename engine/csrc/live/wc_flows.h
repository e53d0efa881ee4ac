/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_flows: which application thread saw each flow, and in what order.
 * Offloading trades core affinity for loss (paper §3.1: "when long-term
 * load imbalance occurs, WireCAP has to perform traffic offloading", §5b);
 * multi_pkt_handler reports what it cost. Definitions (the simulator uses
 * the same):
 *
 *  - flows_split: flows whose packets were handed to more than one
 *    application thread WITHOUT a hand-over. A flow first processed by
 *    thread A, later by thread B, is migrated (flows_migrated counts each
 *    such hand-over, as the simulator does), not split,
 *    when B took the flow's bucket from A by a bucket move: A is a past
 *    owner of that bucket, B its current owner (wc_flows__move). Exactly:
 *    B received the packet on its own queue (not offloaded) and became the
 *    bucket's owner after A had it when A took the flow (an epoch per
 *    ownership; "current owner" at take time is not enough, the bucket may
 *    have moved on before B took the packets of its turn). Any other
 *    second thread splits it (chunk offloading, §3.2.2a).
 *  - packets_reordered: packets handed to an application thread after a
 *    later packet of the same flow had been handed to one. "Later" is the
 *    order on the wire: the frame number the generator writes into each
 *    frame when a run asks for it (wc_flows__order_at; driver/xdp/
 *    generator.py, seq), else the XDP program's CLOCK_MONOTONIC stamp
 *    (driver/csrc/xdp/wc_bpf.h, struct wc_xdp_meta). The stamp is the time
 *    at the receive queue's XDP hook, not on the wire: on veth each queue's
 *    NAPI poll runs when its CPU gets to it, so right after a bucket move
 *    the new queue may stamp a frame earlier than an older one still
 *    waiting for the old queue's poll; only the frame number is exact
 *    across queues. A packet with neither is not ordered.
 *
 * The live engine notes each packet when an application thread takes its
 * chunk from its capture queue (wc_flows__take); wc_work notes packets as
 * it processes them (wc_flows__note, no order) for the engines that have no
 * chunks.
 *
 * A flow is the IPv4 5-tuple (addresses, protocol, and ports for TCP/UDP);
 * other frames are not counted. Its bucket is the 82599's: the Toeplitz
 * hash (traces/rss.py; table from wc_flows__set_rss) masked to the
 * redirection table. The table is lock-free (open addressing,
 * compare-and-swap on a 64-bit hash of the tuple) and shared by all
 * application threads of a group; set_rss and move come from one control
 * thread (the balancer), move before the steering changes.
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
/* The Toeplitz table (table[i * 256 + v]: byte value v at input byte i,
 * WC_RSS_INPUT_BYTES rows) and the redirection table's size (power of two
 * <= WC_RSS_BUCKETS_MAX). Every bucket starts with no owner. -EINVAL. */
int wc_flows__set_rss(struct wc_flows *f, const uint32_t *table, uint32_t n_buckets);
/* Order packets by the big-endian 32-bit frame number at byte offset of
 * each frame (the generator's, packets.SEQ_OFFSET); offset < 0: by the
 * arrival stamps given to take(). */
void wc_flows__order_at(struct wc_flows *f, int32_t offset);
/* bucket's current owner is member (initial table). */
void wc_flows__own(struct wc_flows *f, uint32_t bucket, uint16_t member);
/* bucket moved from member src to dst: src becomes a past owner. */
void wc_flows__move(struct wc_flows *f, uint32_t bucket, uint16_t src, uint16_t dst);
/* The bucket of an Ethernet frame (0 if not set up or not IPv4); -1 if it has no flow. */
int32_t wc_flows__bucket(const struct wc_flows *f, const uint8_t *frame, uint32_t caplen);
/* Note that member processed this Ethernet frame, which arrived on queue. */
void wc_flows__note(struct wc_flows *f, const uint8_t *frame, uint32_t caplen, uint16_t member,
		    uint16_t queue);
/* Note that member was handed this frame, which arrived on queue at
 * ts_ns (XDP stamp, CLOCK_MONOTONIC; 0: unknown); offloaded: it came in a
 * chunk of another member's queue (chunk offloading). */
void wc_flows__take(struct wc_flows *f, const uint8_t *frame, uint32_t caplen, uint16_t member,
		    uint16_t queue, uint64_t ts_ns, int offloaded);
uint64_t wc_flows__count(const struct wc_flows *f);     /* distinct flows seen */
uint64_t wc_flows__split(const struct wc_flows *f);     /* flows split (see above) */
uint64_t wc_flows__migrated(const struct wc_flows *f);  /* hand-overs of a flow by a bucket move */
uint64_t wc_flows__reordered(const struct wc_flows *f); /* packets handed after a later one */
/* per queue (< WC_FLOWS_QUEUES), as the simulator counts them
 * (driver/csrc/sim/forward.c): by the queue the packet that showed it
 * arrived on. A flow counts once as split, and no more after; each
 * hand-over counts as a migration. */
uint64_t wc_flows__split_queue(const struct wc_flows *f, uint16_t queue);
uint64_t wc_flows__migrated_queue(const struct wc_flows *f, uint16_t queue);
uint64_t wc_flows__reordered_queue(const struct wc_flows *f, uint16_t queue);
uint64_t wc_flows__overflow(const struct wc_flows *f); /* frames not noted: table full */

/* cffi:end */
#endif /* WC_FLOWS_H */
