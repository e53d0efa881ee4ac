/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_pkt: what every capture path of the real backend hands to a packet
 * callback: WireCAP (engine/csrc/live), the ring-only AF_XDP baseline, the
 * AF_PACKET copy ring and libpcap. Shaped like libpcap's pcap_handler
 * (user, header, bytes) so that a pcap user feels at home; the header
 * carries nanoseconds and the receive queue instead of a struct timeval.
 *
 * This header includes neither pcap/pcap.h nor linux/bpf.h (they clash on
 * struct bpf_insn), so both sides can use it.
 */
#ifndef WC_PKT_H
#define WC_PKT_H

#include <stdint.h>

/* cffi:begin */

struct wc_pkthdr {
	uint64_t ts_ns;   /* CLOCK_REALTIME, ns; 0 when the path gives no stamp */
	uint32_t caplen;  /* bytes at data */
	uint32_t len;     /* bytes on the wire */
	uint16_t queue;   /* receive queue the packet arrived on */
	uint16_t member;  /* consumer (application thread) it is delivered to */
	uint32_t flags;   /* WC_PKT_* */
	uint64_t seq;     /* position in its receive ring's stream (WireCAP), else 0 */
};

/* the packet reached this consumer through buddy-group offloading */
#define WC_PKT_OFFLOADED 0x1u

typedef void (*wc_pkt_cb)(void *user, const struct wc_pkthdr *h, const uint8_t *data);

/* cffi:end */
#endif /* WC_PKT_H */
