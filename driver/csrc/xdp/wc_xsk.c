/* SPDX-License-Identifier: BSD-3-Clause */
/* AF_XDP sockets over a shared UMEM; contract in wc_xsk.h. */
#define _GNU_SOURCE
#include "wc_xsk.h"

#include <errno.h>
#include <linux/if_xdp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

/*
 * One end of a single-producer/single-consumer ring shared with the kernel.
 * The memory ordering follows af_xdp.rst: a producer writes entries, then
 * publishes its index with release semantics; a consumer reads the other
 * side's index with acquire semantics before touching entries.
 */
struct ring {
	uint32_t *producer;
	uint32_t *consumer;
	uint32_t *flags;
	void *entries;
	uint32_t size;
	uint32_t mask;
	uint32_t cached_prod;
	uint32_t cached_cons;
	void *map;
	size_t map_len;
};

struct wc_umem {
	uint8_t *area;
	uint64_t frames;
	size_t len;
	int fd;          /* the socket that registered the UMEM (XDP_UMEM_REG), or -1 */
	int owner_gone;  /* that socket was destroyed; its fd closes with the last socket */
	uint32_t nsocks;
};

struct wc_xsk {
	struct wc_umem *umem;
	int fd;
	uint32_t queue;
	int zerocopy;
	int need_wakeup;
	struct ring fill, comp, rx, tx;
};

static uint32_t load_acq(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_rel(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* producer side: free slots */
static uint32_t prod_free(struct ring *r, uint32_t want)
{
	uint32_t free_slots = r->size - (r->cached_prod - r->cached_cons);

	if (free_slots >= want)
		return free_slots;
	r->cached_cons = load_acq(r->consumer);
	return r->size - (r->cached_prod - r->cached_cons);
}

/* consumer side: entries available */
static uint32_t cons_avail(struct ring *r)
{
	uint32_t avail = r->cached_prod - r->cached_cons;

	if (avail)
		return avail;
	r->cached_prod = load_acq(r->producer);
	return r->cached_prod - r->cached_cons;
}

/* producer side: publish n entries written after cached_prod */
static void prod_submit(struct ring *r, uint32_t n)
{
	r->cached_prod += n;
	store_rel(r->producer, r->cached_prod);
}

/* consumer side: hand n entries read at cached_cons back to the kernel */
static void cons_release(struct ring *r, uint32_t n)
{
	if (!n)
		return;
	r->cached_cons += n;
	store_rel(r->consumer, r->cached_cons);
}

/* producer side: entries the kernel has not consumed yet */
static uint32_t prod_pending(struct ring *r)
{
	if (!r->map)
		return 0;
	r->cached_cons = load_acq(r->consumer);
	return r->cached_prod - r->cached_cons;
}

int wc_umem__create(struct wc_umem **out, const struct wc_umem_opts *opts)
{
	struct wc_umem_opts o = { 0 };
	struct wc_umem *u;
	void *area = MAP_FAILED;
	size_t len;

	if (!out || !opts)
		return -EINVAL;
	*out = NULL;
	memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (!o.frames || o.frames > (1ull << 32))
		return -EINVAL;
	len = (size_t)o.frames * WC_FRAME_SIZE;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	if (o.hugepages && len % (2u << 20) == 0)
		area = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
	if (area == MAP_FAILED)
		area = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (area == MAP_FAILED) {
		free(u);
		return -ENOMEM;
	}
	u->area = area;
	u->frames = o.frames;
	u->len = len;
	u->fd = -1;
	*out = u;
	return 0;
}

int wc_umem__destroy(struct wc_umem *u)
{
	if (!u)
		return 0;
	if (u->nsocks)
		return -EBUSY;
	if (u->fd >= 0)
		close(u->fd);
	munmap(u->area, u->len);
	free(u);
	return 0;
}

uint8_t *wc_umem__area(const struct wc_umem *u)
{
	return u->area;
}

uint64_t wc_umem__frames(const struct wc_umem *u)
{
	return u->frames;
}

static int ring_map(struct ring *r, int fd, const struct xdp_ring_offset *off, uint32_t size,
		    size_t entry_size, off_t pgoff)
{
	size_t len = off->desc + (size_t)size * entry_size;
	uint8_t *map;

	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff);
	if (map == MAP_FAILED)
		return -errno;
	r->map = map;
	r->map_len = len;
	r->producer = (uint32_t *)(map + off->producer);
	r->consumer = (uint32_t *)(map + off->consumer);
	r->flags = (uint32_t *)(map + off->flags);
	r->entries = map + off->desc;
	r->size = size;
	r->mask = size - 1;
	r->cached_prod = *r->producer;
	r->cached_cons = *r->consumer;
	return 0;
}

static void ring_unmap(struct ring *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	memset(r, 0, sizeof(*r));
}

static int set_ring(int fd, int opt, uint32_t size)
{
	if (!size)
		return 0;
	if (size & (size - 1))
		return -EINVAL;
	return setsockopt(fd, SOL_XDP, opt, &size, sizeof(size)) < 0 ? -errno : 0;
}

int wc_xsk__create(struct wc_xsk **out, struct wc_umem *u, int ifindex, uint32_t queue_id,
		   const struct wc_xsk_opts *opts)
{
	struct wc_xsk_opts o = { 0 };
	struct xdp_mmap_offsets off;
	struct sockaddr_xdp sxdp;
	struct xdp_options xopt;
	socklen_t optlen;
	struct wc_xsk *x;
	int first, err;

	if (!out || !u || !opts)
		return -EINVAL;
	*out = NULL;
	memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (!o.rx_size && !o.tx_size)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->umem = u;
	x->queue = queue_id;
	x->fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (x->fd < 0) {
		err = -errno;
		goto err_free;
	}
	first = u->fd < 0;
	if (first) {
		struct xdp_umem_reg reg = {
			.addr = (uint64_t)(uintptr_t)u->area,
			.len = u->len,
			.chunk_size = WC_FRAME_SIZE,
			.headroom = 0,
		};

		if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) < 0) {
			err = -errno;
			goto err_close;
		}
	}
	/* af_xdp.rst: a socket bound to another (netdev, queue) than the
	 * UMEM's first one needs its own fill and completion rings */
	err = set_ring(x->fd, XDP_UMEM_FILL_RING, o.fill_size ? o.fill_size : WC_XSK_RING_DEFAULT);
	if (!err)
		err = set_ring(x->fd, XDP_UMEM_COMPLETION_RING,
			       o.comp_size ? o.comp_size : WC_XSK_RING_DEFAULT);
	if (!err)
		err = set_ring(x->fd, XDP_RX_RING, o.rx_size);
	if (!err)
		err = set_ring(x->fd, XDP_TX_RING, o.tx_size);
	if (err)
		goto err_close;

	optlen = sizeof(off);
	if (getsockopt(x->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &optlen) < 0) {
		err = -errno;
		goto err_close;
	}
	err = ring_map(&x->fill, x->fd, &off.fr, o.fill_size ? o.fill_size : WC_XSK_RING_DEFAULT,
		       sizeof(uint64_t), (off_t)XDP_UMEM_PGOFF_FILL_RING);
	if (err)
		goto err_rings;
	err = ring_map(&x->comp, x->fd, &off.cr, o.comp_size ? o.comp_size : WC_XSK_RING_DEFAULT,
		       sizeof(uint64_t), (off_t)XDP_UMEM_PGOFF_COMPLETION_RING);
	if (err)
		goto err_rings;
	if (o.rx_size) {
		err = ring_map(&x->rx, x->fd, &off.rx, o.rx_size, sizeof(struct xdp_desc),
			       XDP_PGOFF_RX_RING);
		if (err)
			goto err_rings;
	}
	if (o.tx_size) {
		err = ring_map(&x->tx, x->fd, &off.tx, o.tx_size, sizeof(struct xdp_desc),
			       XDP_PGOFF_TX_RING);
		if (err)
			goto err_rings;
	}

	memset(&sxdp, 0, sizeof(sxdp));
	sxdp.sxdp_family = AF_XDP;
	sxdp.sxdp_ifindex = (uint32_t)ifindex;
	sxdp.sxdp_queue_id = queue_id;
	if (first) {
		if (o.mode == WC_XSK_MODE_COPY)
			sxdp.sxdp_flags |= XDP_COPY;
		else if (o.mode == WC_XSK_MODE_ZEROCOPY)
			sxdp.sxdp_flags |= XDP_ZEROCOPY;
		if (o.need_wakeup)
			sxdp.sxdp_flags |= XDP_USE_NEED_WAKEUP;
	} else {
		/* mode and need_wakeup are the UMEM owner's */
		sxdp.sxdp_flags = XDP_SHARED_UMEM;
		sxdp.sxdp_shared_umem_fd = (uint32_t)u->fd;
	}
	if (bind(x->fd, (struct sockaddr *)&sxdp, sizeof(sxdp)) < 0) {
		err = -errno;
		goto err_rings;
	}
	optlen = sizeof(xopt);
	if (getsockopt(x->fd, SOL_XDP, XDP_OPTIONS, &xopt, &optlen) == 0)
		x->zerocopy = !!(xopt.flags & XDP_OPTIONS_ZEROCOPY);
	x->need_wakeup = first ? o.need_wakeup : 0;
	if (first)
		u->fd = x->fd;
	u->nsocks++;
	*out = x;
	return 0;

err_rings:
	ring_unmap(&x->fill);
	ring_unmap(&x->comp);
	ring_unmap(&x->rx);
	ring_unmap(&x->tx);
err_close:
	close(x->fd);
err_free:
	free(x);
	return err;
}

void wc_xsk__destroy(struct wc_xsk *x)
{
	struct wc_umem *u;

	if (!x)
		return;
	u = x->umem;
	ring_unmap(&x->fill);
	ring_unmap(&x->comp);
	ring_unmap(&x->rx);
	ring_unmap(&x->tx);
	/* the registering socket's fd keeps the UMEM registered for the
	 * sockets that share it; it is closed with the last one */
	if (x->fd == u->fd)
		u->owner_gone = 1;
	else
		close(x->fd);
	u->nsocks--;
	if (!u->nsocks && u->owner_gone) {
		close(u->fd);
		u->fd = -1;
		u->owner_gone = 0;
	}
	free(x);
}

int wc_xsk__fd(const struct wc_xsk *x)
{
	return x->fd;
}

uint32_t wc_xsk__queue(const struct wc_xsk *x)
{
	return x->queue;
}

int wc_xsk__zerocopy(const struct wc_xsk *x)
{
	return x->zerocopy;
}

int wc_xsk__stats(const struct wc_xsk *x, struct wc_xsk_stats *out)
{
	struct xdp_statistics st;
	socklen_t len = sizeof(st);

	memset(&st, 0, sizeof(st));
	if (getsockopt(x->fd, SOL_XDP, XDP_STATISTICS, &st, &len) < 0)
		return -errno;
	memset(out, 0, sizeof(*out));
	out->rx_dropped = st.rx_dropped;
	out->rx_invalid_descs = st.rx_invalid_descs;
	out->tx_invalid_descs = st.tx_invalid_descs;
	out->rx_ring_full = st.rx_ring_full;
	out->rx_fill_ring_empty_descs = st.rx_fill_ring_empty_descs;
	out->tx_ring_empty_descs = st.tx_ring_empty_descs;
	return 0;
}

int wc_xsk__fill_range(struct wc_xsk *x, uint64_t addr, uint32_t n, uint32_t stride)
{
	struct ring *r = &x->fill;
	uint64_t *e = r->entries;
	uint32_t i;

	if (!r->map)
		return -ENOTCONN;
	if (prod_free(r, n) < n)
		return -ENOBUFS;
	for (i = 0; i < n; i++)
		e[(r->cached_prod + i) & r->mask] = addr + (uint64_t)i * stride;
	prod_submit(r, n);
	return 0;
}

int wc_xsk__fill(struct wc_xsk *x, const uint64_t *addrs, uint32_t n)
{
	struct ring *r = &x->fill;
	uint64_t *e = r->entries;
	uint32_t i;

	if (!r->map)
		return -ENOTCONN;
	if (prod_free(r, n) < n)
		return -ENOBUFS;
	for (i = 0; i < n; i++)
		e[(r->cached_prod + i) & r->mask] = addrs[i];
	prod_submit(r, n);
	return 0;
}

uint32_t wc_xsk__fill_pending(struct wc_xsk *x)
{
	return prod_pending(&x->fill);
}

int wc_xsk__fill_wakeup(struct wc_xsk *x)
{
	/* af_xdp.rst, XDP_USE_NEED_WAKEUP: when the flag is set on the fill
	 * ring, the driver waits for a recvfrom()/poll() before it takes new
	 * frames */
	if (!x->need_wakeup || !x->fill.map)
		return 0;
	if (!(load_acq(x->fill.flags) & XDP_RING_NEED_WAKEUP))
		return 0;
	if (recvfrom(x->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL) < 0 && errno != EAGAIN)
		return -errno;
	return 1;
}

uint32_t wc_xsk__rx_produced(const struct wc_xsk *x)
{
	return x->rx.map ? load_acq(x->rx.producer) : 0;
}

uint32_t wc_xsk__rx_burst(struct wc_xsk *x, struct wc_desc *out, uint32_t max)
{
	struct ring *r = &x->rx;
	const struct xdp_desc *e = r->entries;
	uint32_t n, i;

	if (!r->map)
		return 0;
	n = cons_avail(r);
	if (n > max)
		n = max;
	for (i = 0; i < n; i++) {
		const struct xdp_desc *d = &e[(r->cached_cons + i) & r->mask];

		out[i].addr = d->addr;
		out[i].len = d->len;
		out[i].options = d->options;
	}
	cons_release(r, n);
	return n;
}

int wc_xsk__rx_wait(struct wc_xsk *x, int timeout_ms)
{
	struct pollfd p = { .fd = x->fd, .events = POLLIN };
	int rc;

	if (cons_avail(&x->rx))
		return 1;
	rc = poll(&p, 1, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	return rc > 0 ? 1 : 0;
}

uint32_t wc_xsk__tx_burst(struct wc_xsk *x, const struct wc_desc *d, uint32_t n)
{
	struct ring *r = &x->tx;
	struct xdp_desc *e = r->entries;
	uint32_t room, i;

	if (!r->map)
		return 0;
	room = prod_free(r, n);
	if (n > room)
		n = room;
	for (i = 0; i < n; i++) {
		struct xdp_desc *s = &e[(r->cached_prod + i) & r->mask];

		s->addr = d[i].addr;
		s->len = d[i].len;
		s->options = 0;
	}
	if (n)
		prod_submit(r, n);
	return n;
}

uint32_t wc_xsk__tx_pending(struct wc_xsk *x)
{
	return prod_pending(&x->tx);
}

int wc_xsk__tx_kick(struct wc_xsk *x)
{
	/* copy mode transmits only from sendmsg(); zero-copy drivers need the
	 * kick only when they set XDP_RING_NEED_WAKEUP on the TX ring */
	if (x->zerocopy && x->need_wakeup && !(load_acq(x->tx.flags) & XDP_RING_NEED_WAKEUP))
		return 0;
	if (sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0)
		return 0;
	switch (errno) {
	case EAGAIN:
	case EBUSY:
	case ENOBUFS:
		return -EAGAIN;
	default:
		return -errno;
	}
}

uint32_t wc_xsk__comp_burst(struct wc_xsk *x, uint64_t *addrs, uint32_t max)
{
	struct ring *r = &x->comp;
	const uint64_t *e = r->entries;
	uint32_t n, i;

	if (!r->map)
		return 0;
	n = cons_avail(r);
	if (n > max)
		n = max;
	for (i = 0; i < n; i++)
		addrs[i] = e[(r->cached_cons + i) & r->mask];
	cons_release(r, n);
	return n;
}
