/* SPDX-License-Identifier: BSD-3-Clause */
/* TPACKET_V3 receive ring; contract in wc_tpacket.h. */
#define _GNU_SOURCE
#include "wc_tpacket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

/* af_packet.c: TPACKET3_HDRLEN and the 8-byte alignment of V3 frames */
#define V3_ALIGNMENT 8u
#define ALIGN_UP(x, a) (((x) + (a) - 1) / (a) * (a))
#define BLK_HDR_LEN ALIGN_UP((uint32_t)sizeof(struct tpacket_block_desc), V3_ALIGNMENT)
#define FRAME_SIZE 2048u

struct wc_tpacket {
	int fd;
	uint8_t *map;
	size_t map_len;
	uint32_t block_size;
	uint32_t block_nr;
	/* cursor: block being read and the next packet in it */
	uint32_t blk;
	uint32_t pkt_left;
	struct tpacket3_hdr *pkt;
	struct wc_tpacket_stats st;
};

uint32_t wc_tpacket__slot_bytes(uint32_t frame_len)
{
	uint32_t hdrlen = (uint32_t)TPACKET3_HDRLEN;
	/* tpacket_rcv(): netoff = TPACKET_ALIGN(hdrlen + max(maclen, 16)),
	 * macoff = netoff - maclen; the next frame starts at
	 * ALIGN(macoff + snaplen, V3_ALIGNMENT) */
	uint32_t netoff = TPACKET_ALIGN(hdrlen + 16u);
	uint32_t macoff = netoff - ETH_HLEN;

	return ALIGN_UP(macoff + frame_len, V3_ALIGNMENT);
}

uint32_t wc_tpacket__blocks_for(uint32_t slots, uint32_t frame_len, uint32_t block_size)
{
	uint32_t per = (block_size - BLK_HDR_LEN) / wc_tpacket__slot_bytes(frame_len);

	if (!per)
		return 0;
	return (slots + per - 1) / per;
}

uint64_t wc_tpacket__capacity(const struct wc_tpacket *t, uint32_t frame_len)
{
	uint32_t per = (t->block_size - BLK_HDR_LEN) / wc_tpacket__slot_bytes(frame_len);

	return (uint64_t)per * t->block_nr;
}

int wc_tpacket__create(struct wc_tpacket **out, int ifindex, const struct wc_tpacket_opts *opts)
{
	struct wc_tpacket_opts o = { 0 };
	struct tpacket_req3 req;
	struct sockaddr_ll sll;
	struct wc_tpacket *t;
	int v = TPACKET_V3, one = 1, err;

	if (!out || !opts)
		return -EINVAL;
	*out = NULL;
	memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (!o.block_size)
		o.block_size = WC_TPACKET_BLOCK_DEFAULT;
	if (!o.block_nr || o.block_size % (uint32_t)getpagesize() || o.block_size < FRAME_SIZE)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	/* protocol 0: receive nothing until the ring is set up and bound */
	t->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		err = -errno;
		goto err_free;
	}
	if (setsockopt(t->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0 ||
	    setsockopt(t->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0) {
		err = -errno;
		goto err_close;
	}
	memset(&req, 0, sizeof(req));
	req.tp_block_size = o.block_size;
	req.tp_block_nr = o.block_nr;
	req.tp_frame_size = FRAME_SIZE;
	req.tp_frame_nr = (o.block_size / FRAME_SIZE) * o.block_nr;
	req.tp_retire_blk_tov = o.retire_ms ? o.retire_ms : 1;
	if (setsockopt(t->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0) {
		err = -errno;
		goto err_close;
	}
	t->map_len = (size_t)o.block_size * o.block_nr;
	t->map = mmap(NULL, t->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, t->fd, 0);
	if (t->map == MAP_FAILED) {
		err = -errno;
		goto err_close;
	}
	t->block_size = o.block_size;
	t->block_nr = o.block_nr;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifindex;
	if (bind(t->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		err = -errno;
		goto err_unmap;
	}
	if (o.fanout_id) {
		/* packet(7): PACKET_FANOUT_QM picks the member by the receive
		 * queue the frame arrived on (skb_get_rx_queue), in join order */
		int arg = (int)((o.fanout_id & 0xffff) | (PACKET_FANOUT_QM << 16));

		if (setsockopt(t->fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) < 0) {
			err = -errno;
			goto err_unmap;
		}
	}
	*out = t;
	return 0;

err_unmap:
	munmap(t->map, t->map_len);
err_close:
	close(t->fd);
err_free:
	free(t);
	return err;
}

void wc_tpacket__destroy(struct wc_tpacket *t)
{
	if (!t)
		return;
	munmap(t->map, t->map_len);
	close(t->fd);
	free(t);
}

static struct tpacket_block_desc *block(struct wc_tpacket *t, uint32_t i)
{
	return (struct tpacket_block_desc *)(t->map + (size_t)i * t->block_size);
}

int wc_tpacket__dispatch(struct wc_tpacket *t, int cnt, wc_pkt_cb cb, void *user, int timeout_ms)
{
	int n = 0, waited = 0;

	for (;;) {
		struct tpacket_block_desc *b = block(t, t->blk);

		if (!t->pkt) {
			if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
				struct pollfd p = { .fd = t->fd, .events = POLLIN | POLLERR };

				if (n || waited || !timeout_ms)
					break;
				waited = 1;
				poll(&p, 1, timeout_ms);
				continue;
			}
			t->pkt_left = b->hdr.bh1.num_pkts;
			t->pkt = (struct tpacket3_hdr *)((uint8_t *)b + b->hdr.bh1.offset_to_first_pkt);
		}
		while (t->pkt_left && (cnt <= 0 || n < cnt)) {
			struct tpacket3_hdr *h = t->pkt;
			struct wc_pkthdr hdr = {
				.ts_ns = (uint64_t)h->tp_sec * 1000000000ull + h->tp_nsec,
				.caplen = h->tp_snaplen,
				.len = h->tp_len,
			};

			if (cb)
				cb(user, &hdr, (uint8_t *)h + h->tp_mac);
			t->st.delivered++;
			n++;
			t->pkt_left--;
			t->pkt = (struct tpacket3_hdr *)((uint8_t *)h + h->tp_next_offset);
		}
		if (t->pkt_left)
			break; /* cnt reached inside the block */
		/* packet_mmap.rst: give the whole block back to the kernel */
		__atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		t->pkt = NULL;
		t->blk = (t->blk + 1) % t->block_nr;
		if (cnt > 0 && n >= cnt)
			break;
	}
	return n;
}

int wc_tpacket__stats(struct wc_tpacket *t, struct wc_tpacket_stats *out)
{
	struct tpacket_stats_v3 st;
	socklen_t len = sizeof(st);

	memset(&st, 0, sizeof(st));
	if (getsockopt(t->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
		return -errno;
	/* af_packet.c: tp_packets counts drops too; keep the delivered part */
	t->st.packets += st.tp_packets - st.tp_drops;
	t->st.drops += st.tp_drops;
	t->st.freeze_q += st.tp_freeze_q_cnt;
	*out = t->st;
	return 0;
}
