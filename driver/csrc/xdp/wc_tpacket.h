/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_tpacket: an AF_PACKET TPACKET_V3 receive ring
 * (Documentation/networking/packet_mmap.rst). Two uses:
 *
 *   - the `afpacket-copy` baseline: the kernel copies every frame into a
 *     ring the application reads, a Type-I engine like PF_RING in mode 2
 *     (paper §2.1, §2.2). When the ring is full the kernel drops the frame
 *     and counts it in tp_drops: a delivery drop in the paper's terms;
 *   - the sink of the forwarding testbed, which counts and keeps what
 *     arrives.
 *
 * TPACKET_V3 packs frames into blocks, so its capacity in packets depends
 * on their size. wc_tpacket__slot_bytes() gives the bytes one frame of a
 * given length takes in a block (af_packet.c: tpacket_rcv() places the MAC
 * header at TPACKET_ALIGN(hdrlen + 16) - 14 and advances by the 8-byte
 * aligned total), so a ring can be sized to hold exactly S frames of the
 * experiment's size: "a pf_ring of 10,240 slots" (paper §2.2).
 */
#ifndef WC_TPACKET_H
#define WC_TPACKET_H

#include <stddef.h>
#include <stdint.h>

#include "wc_pkt.h"

/* cffi:begin */

/* paper §2.2: "the size of pf_ring buffer is set to 10,240" */
#define WC_TPACKET_SLOTS_DEFAULT 10240u
/* the smallest block (one page) sizes the ring most precisely */
#define WC_TPACKET_BLOCK_DEFAULT 4096u

struct wc_tpacket_opts {
	size_t sz;            /* sizeof(struct wc_tpacket_opts) */
	uint32_t block_size;  /* bytes, a multiple of the page size */
	uint32_t block_nr;
	uint32_t retire_ms;   /* a partly filled block is handed over after this */
	uint32_t snaplen;     /* 0: whole frames */
	uint32_t fanout_id;   /* > 0: join this PACKET_FANOUT group in mode QM, so
			       * that member i of n gets receive queue q with
			       * q % n == i: one ring per queue, like PF_RING's */
};

struct wc_tpacket_stats {
	uint64_t packets;     /* tp_packets: frames that passed to the socket */
	uint64_t drops;       /* tp_drops: dropped because the ring was full */
	uint64_t freeze_q;    /* tp_freeze_q_cnt */
	uint64_t delivered;   /* frames handed to the callback */
};

struct wc_tpacket;

/* Bytes one frame of frame_len occupies in a TPACKET_V3 block. */
uint32_t wc_tpacket__slot_bytes(uint32_t frame_len);
/* Blocks of block_size needed for slots frames of frame_len. */
uint32_t wc_tpacket__blocks_for(uint32_t slots, uint32_t frame_len, uint32_t block_size);

/* Bind to ifindex (in the calling thread's namespace); outgoing frames are
 * ignored (PACKET_IGNORE_OUTGOING). */
int wc_tpacket__create(struct wc_tpacket **t, int ifindex, const struct wc_tpacket_opts *opts);
void wc_tpacket__destroy(struct wc_tpacket *t);
/* Hand packets of retired blocks to cb (at most cnt if cnt > 0, whole
 * blocks otherwise: a block is released when all its packets are done).
 * Waits up to timeout_ms (poll) when none is ready. Returns packets. */
int wc_tpacket__dispatch(struct wc_tpacket *t, int cnt, wc_pkt_cb cb, void *user, int timeout_ms);
/* PACKET_STATISTICS, accumulated (the kernel resets them on each read). */
int wc_tpacket__stats(struct wc_tpacket *t, struct wc_tpacket_stats *out);
/* Capacity in frames of frame_len. */
uint64_t wc_tpacket__capacity(const struct wc_tpacket *t, uint32_t frame_len);

/* cffi:end */
#endif /* WC_TPACKET_H */
