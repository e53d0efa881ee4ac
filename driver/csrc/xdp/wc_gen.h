/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_gen: the traffic generator's sending loop, on an AF_PACKET socket.
 *
 * Frames go through the qdisc path (no PACKET_QDISC_BYPASS), where the
 * kernel picks the transmit queue by flow hash (net/core/dev.c:
 * netdev_pick_tx -> skb_tx_hash); a veth hands a frame to the peer's
 * receive queue of the same index (drivers/net/veth.c: veth_xmit), which
 * gives RSS-like spreading by flow across the capture side's queues
 * (DESIGN.md §4).
 *
 * The loop is bounded in frames and in time, and paces frames on an
 * absolute schedule: frame k is due at t0 + k / rate, or at t0 + due_ns[k]
 * for a replay; whatever is due is sent in one sendmmsg() batch, and the
 * loop sleeps until the next frame is due. Average rates are exact to the
 * clock; frames leave in small bursts when the loop wakes late.
 *
 * A frame the kernel refuses (ENOBUFS from a full qdisc, ENETDOWN from a
 * stopped virtual device) is not counted and is offered again after a
 * short back-off: `sent` counts exactly the frames the kernel accepted.
 */
#ifndef WC_GEN_H
#define WC_GEN_H

#include <stddef.h>
#include <stdint.h>

/* cffi:begin */

/* a batch of 64 matches NAPI_POLL_WEIGHT, the receive side's batch */
#define WC_GEN_BATCH_DEFAULT 64u
#define WC_GEN_BATCH_MAX 1024u
/* below this gap to the next due frame the loop does not sleep */
#define WC_GEN_SPIN_NS 20000u
/* back-off after the kernel refused a frame */
#define WC_GEN_BACKOFF_NS 50000u
/* the largest frame without FCS on a 1500-byte MTU */
#define WC_GEN_FRAME_MAX 1514u

struct wc_gen_opts {
	size_t sz;              /* sizeof(struct wc_gen_opts) */
	uint64_t count;         /* frames to send: the bound in packets (required) */
	uint64_t max_ns;        /* the bound in time (required) */
	double rate_pps;        /* 0: as fast as the kernel takes them */
	const uint64_t *due_ns; /* replay: frame k is due at t0 + due_ns[k] (count entries) */
	uint32_t batch;         /* frames per sendmmsg(); 0 = WC_GEN_BATCH_DEFAULT */
	int32_t seq_offset;     /* >= 0: write frame number k (big endian, 32 bit) there */
	const volatile int *stop; /* optional: set non-zero to stop early */
	const uint32_t *tpl_idx; /* optional: frame k is template tpl_idx[k] (else k % ntemplates) */
	const uint16_t *frame_len; /* optional: frame k has frame_len[k] bytes, the template's
				  * bytes followed by zeros (a replay's headers-only templates) */
};

struct wc_gen_result {
	uint64_t sent;          /* frames the kernel accepted */
	uint64_t refused;       /* refusals (each retried) */
	uint64_t first_ns;      /* CLOCK_MONOTONIC of the first and last send */
	uint64_t last_ns;
	int stopped_by;         /* 0 count reached, 1 time bound, 2 stop flag, -errno */
};

/* An AF_PACKET raw socket bound to ifindex (in the calling thread's
 * namespace); qdisc_bypass sets PACKET_QDISC_BYPASS (the queue then follows
 * the sending CPU). Returns the fd. */
int wc_gen__socket(int ifindex, int qdisc_bypass);

/*
 * Send frames k = 0 .. count-1; frame k is template t = k % ntemplates (or
 * tpl_idx[k]), which lies at templates + t * stride with lens[t] bytes (at
 * most stride), extended with zeros to frame_len[k] if given (at most
 * WC_GEN_FRAME_MAX). Returns 0 (see result->stopped_by) or -errno.
 */
int wc_gen__send(int fd, const uint8_t *templates, const uint32_t *lens, uint32_t ntemplates,
		 uint32_t stride, const struct wc_gen_opts *opts, struct wc_gen_result *result);

/* cffi:end */
#endif /* WC_GEN_H */
