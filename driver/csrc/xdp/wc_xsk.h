/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_xsk: AF_XDP sockets over one shared UMEM, on the kernel's uAPI
 * (linux/if_xdp.h; Documentation/networking/af_xdp.rst) without libxdp.
 *
 * WireCAP on AF_XDP (DESIGN.md §4):
 *
 *   ring buffer pool of R chunks x M cells  ->  UMEM frames (2 KB each)
 *   attach a chunk to a descriptor segment  ->  its M frame addresses on
 *                                               the fill ring
 *   the NIC fills the segment's cells        ->  RX descriptors, in fill order
 *   zero-copy forwarding                     ->  the same frame address on a
 *                                               TX ring (shared UMEM)
 *
 * One UMEM per buddy group; every socket of the group shares it
 * (XDP_SHARED_UMEM) and, being bound to its own (device, queue), has its
 * own fill and completion rings ("one FILL ring and one COMPLETION ring
 * per unique netdev,queue_id tuple", af_xdp.rst). Offloading a chunk to a
 * buddy queue therefore moves only metadata.
 *
 * The four rings are single-producer/single-consumer; this library owns
 * one end of each:
 *
 *   ring        producer          consumer         who calls us
 *   fill        us (the driver)   kernel           the capture thread
 *   rx          kernel            us               the capture thread
 *   tx          us                kernel           one application thread
 *   completion  kernel            us               that same thread
 *
 * A socket is therefore used by one thread per direction at a time.
 * Functions return 0 (or a count) or a negative errno; destroy accepts NULL.
 */
#ifndef WC_XSK_H
#define WC_XSK_H

#include <stddef.h>
#include <stdint.h>

/* cffi:begin */

/* paper §5a: "a cell is two Kbytes"; AF_XDP's aligned-mode chunk size */
#define WC_FRAME_SIZE 2048u
/* af_xdp.rst: ring sizes must be powers of two */
#define WC_XSK_RING_DEFAULT 1024u

/* bind modes */
#define WC_XSK_MODE_AUTO 0     /* zero-copy if the driver supports it, else copy */
#define WC_XSK_MODE_COPY 1     /* XDP_COPY: the kernel copies frames into the UMEM */
#define WC_XSK_MODE_ZEROCOPY 2 /* XDP_ZEROCOPY: the NIC DMAs into the UMEM */

/* Same layout as struct xdp_desc (linux/if_xdp.h). */
struct wc_desc {
	uint64_t addr;
	uint32_t len;
	uint32_t options;
};

struct wc_umem_opts {
	size_t sz;            /* sizeof(struct wc_umem_opts) */
	uint64_t frames;      /* number of WC_FRAME_SIZE frames */
	int hugepages;        /* try MAP_HUGETLB first */
};

struct wc_xsk_opts {
	size_t sz;            /* sizeof(struct wc_xsk_opts) */
	uint32_t fill_size;   /* 0: no fill ring (TX-only socket needs one anyway: af_xdp.rst) */
	uint32_t comp_size;
	uint32_t rx_size;     /* 0: no RX ring */
	uint32_t tx_size;     /* 0: no TX ring */
	int mode;             /* WC_XSK_MODE_*, for the UMEM's first socket */
	int need_wakeup;      /* XDP_USE_NEED_WAKEUP */
};

/* XDP_STATISTICS (linux/if_xdp.h) */
struct wc_xsk_stats {
	uint64_t rx_dropped;               /* dropped for other reasons (fill ring empty among them) */
	uint64_t rx_invalid_descs;
	uint64_t tx_invalid_descs;
	uint64_t rx_ring_full;
	uint64_t rx_fill_ring_empty_descs; /* failed to take a frame from the fill ring */
	uint64_t tx_ring_empty_descs;
};

struct wc_umem;
struct wc_xsk;

/* Map the packet area (zeroed). It is registered with the kernel by the
 * first socket created on it. -EINVAL for 0 frames, -ENOMEM. */
int wc_umem__create(struct wc_umem **umem, const struct wc_umem_opts *opts);
/* -EBUSY while sockets still use it. */
int wc_umem__destroy(struct wc_umem *umem);
uint8_t *wc_umem__area(const struct wc_umem *umem);
uint64_t wc_umem__frames(const struct wc_umem *umem);

/*
 * Create a socket on (ifindex, queue_id) in the calling thread's network
 * namespace, sharing umem. The first socket registers the UMEM; later ones
 * bind with XDP_SHARED_UMEM. Errors: the socket(2), setsockopt(2) and
 * bind(2) errnos (-EAFNOSUPPORT: no AF_XDP in this kernel; -EOPNOTSUPP:
 * zero-copy requested but unsupported; -EBUSY: the queue already has a
 * socket).
 */
int wc_xsk__create(struct wc_xsk **xsk, struct wc_umem *umem, int ifindex, uint32_t queue_id,
		   const struct wc_xsk_opts *opts);
void wc_xsk__destroy(struct wc_xsk *xsk);
int wc_xsk__fd(const struct wc_xsk *xsk);
uint32_t wc_xsk__queue(const struct wc_xsk *xsk);
/* 1 if bound in zero-copy mode (XDP_OPTIONS), 0 for copy mode. */
int wc_xsk__zerocopy(const struct wc_xsk *xsk);
int wc_xsk__stats(const struct wc_xsk *xsk, struct wc_xsk_stats *out);

/* Fill ring (producer: us). Put n frames at addr, addr + stride, ...
 * All or nothing: -ENOBUFS if fewer than n slots are free. */
int wc_xsk__fill_range(struct wc_xsk *xsk, uint64_t addr, uint32_t n, uint32_t stride);
int wc_xsk__fill(struct wc_xsk *xsk, const uint64_t *addrs, uint32_t n);
/* Frames on the fill ring not yet taken by the kernel. */
uint32_t wc_xsk__fill_pending(struct wc_xsk *xsk);
/* Kick the driver if it asked for a wakeup on the fill ring (need_wakeup). */
int wc_xsk__fill_wakeup(struct wc_xsk *xsk);

/* RX ring (consumer: us). Copy up to max descriptors out and release
 * their slots; returns the number read. */
uint32_t wc_xsk__rx_burst(struct wc_xsk *xsk, struct wc_desc *out, uint32_t max);
/* The RX ring's producer index as the kernel published it (acquire): the
 * frames it has put on the ring since the socket was made, modulo 2^32.
 * Any thread may read it (the bucket balancer does). */
uint32_t wc_xsk__rx_produced(const struct wc_xsk *xsk);
/* Block until the RX ring is readable or timeout_ms passes (poll(2)):
 * 1 readable, 0 timeout, -errno. */
int wc_xsk__rx_wait(struct wc_xsk *xsk, int timeout_ms);

/* TX ring (producer: us): best effort, returns descriptors queued. */
uint32_t wc_xsk__tx_burst(struct wc_xsk *xsk, const struct wc_desc *d, uint32_t n);
/* Descriptors on the TX ring the kernel has not consumed yet. */
uint32_t wc_xsk__tx_pending(struct wc_xsk *xsk);
/* Ask the kernel to send what is on the TX ring (sendto; copy mode needs
 * it always, zero-copy only when the ring flags ask). 0, -EAGAIN (more
 * left: call again), -errno. */
int wc_xsk__tx_kick(struct wc_xsk *xsk);
/* Completion ring (consumer: us): frame addresses whose send finished. */
uint32_t wc_xsk__comp_burst(struct wc_xsk *xsk, uint64_t *addrs, uint32_t max);

/* cffi:end */
#endif /* WC_XSK_H */
