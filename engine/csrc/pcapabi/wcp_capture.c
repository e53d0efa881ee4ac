/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpcap's capture calls on wirecap devices (wcp.h): create, the set_*
 * options, activate, loop / dispatch / next_ex / next, breakloop,
 * setfilter, stats, the selectable fd, non-blocking mode, inject, close.
 * Each takes a handle of the system library's too, and then is the
 * system's function.
 *
 * A handle reads its members' capture queues (engine/csrc/live, the
 * pcap-like calls of wc_live.h) round robin, from the one thread that
 * calls it; a handle of one queue in a buddy group is what the paper's
 * multi-threaded application has per thread (§3.2.2a). It waits on an
 * epoll set of its members' consumer eventfds, which is also what
 * pcap_get_selectable_fd hands out.
 */
#define _GNU_SOURCE
#include "wcp.h"

#include <errno.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wc_balance.h"
#include "wc_pcap.h"
#include "wc_sys.h"

#define WCP_HANDLES_MAX 256
/* a handle waiting for packets re-checks its queues at least this often:
 * bucket offloading's ordering barrier lifts without waking anyone
 * (wc_live_app.c live_wait_chunk does the same) */
#define WCP_BARRIER_RECHECK_MS 1
#define WCP_WAIT_SLICE_MS 1000
#define WCP_INJECT_WAIT_MS 100

/* ---- which pcap_t is ours ---- */

static struct wcp_handle *_Atomic table[WCP_HANDLES_MAX];
static _Atomic uint32_t n_handles; /* 0: every call is the system's at once */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static struct wcp_handle *ours(pcap_t *p)
{
	uint32_t i;

	if (!p || !atomic_load_explicit(&n_handles, memory_order_acquire))
		return NULL;
	for (i = 0; i < WCP_HANDLES_MAX; i++) {
		struct wcp_handle *h = atomic_load_explicit(&table[i], memory_order_acquire);

		if (h && h->p == p)
			return h;
	}
	return NULL;
}

static int table_add(struct wcp_handle *h)
{
	uint32_t i;
	int rc = -1;

	pthread_mutex_lock(&table_lock);
	for (i = 0; i < WCP_HANDLES_MAX && rc; i++)
		if (!atomic_load(&table[i])) {
			atomic_store_explicit(&table[i], h, memory_order_release);
			atomic_fetch_add(&n_handles, 1);
			rc = 0;
		}
	pthread_mutex_unlock(&table_lock);
	return rc;
}

static void table_del(struct wcp_handle *h)
{
	uint32_t i;

	pthread_mutex_lock(&table_lock);
	for (i = 0; i < WCP_HANDLES_MAX; i++)
		if (atomic_load(&table[i]) == h) {
			atomic_store(&table[i], NULL);
			atomic_fetch_sub(&n_handles, 1);
		}
	pthread_mutex_unlock(&table_lock);
}

#define SETERR(h, ...) snprintf(WCP_ERRBUF(h), PCAP_ERRBUF_SIZE, __VA_ARGS__)

/* ---- create, options, activate ---- */

/* "wirecap:IF" or "wirecap:IF@Q" */
static int parse_device(struct wcp_handle *h, const char *source, char *errbuf)
{
	const char *name = source + strlen(WCP_PREFIX), *at = strchr(name, '@');
	size_t n = at ? (size_t)(at - name) : strlen(name);

	h->queue = -1;
	if (!n || n >= IF_NAMESIZE)
		goto bad;
	memcpy(h->ifname, name, n);
	h->ifname[n] = 0;
	if (at) {
		char *end;
		long q;

		errno = 0;
		q = strtol(at + 1, &end, 10);
		if (!at[1] || *end || errno || q < 0 || q >= (long)WC_LIVE_MEMBERS_MAX)
			goto bad;
		h->queue = (int)q;
	}
	snprintf(h->dev, sizeof(h->dev), "%s", source);
	return 0;
bad:
	snprintf(errbuf, PCAP_ERRBUF_SIZE,
		 "%s: a WireCAP device is wirecap:IFACE (every receive queue) or wirecap:IFACE@Q (queue Q "
		 "in 0..%u), IFACE shorter than %d characters", source, WC_LIVE_MEMBERS_MAX - 1, IF_NAMESIZE);
	return -1;
}

pcap_t *pcap_create(const char *source, char *errbuf)
{
	struct wcp_handle *h;

	if (wcp_system_load(errbuf) < 0)
		return NULL;
	if (!source || strncmp(source, WCP_PREFIX, strlen(WCP_PREFIX)))
		return wcp_real_pcap_create(source, errbuf);
	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "out of memory");
		return NULL;
	}
	if (parse_device(h, source, errbuf))
		goto fail;
	h->p = wcp_real_pcap_open_dead_with_tstamp_precision(DLT_EN10MB, WCP_MAX_SNAPLEN,
							     PCAP_TSTAMP_PRECISION_MICRO);
	if (!h->p) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: out of memory", source);
		goto fail;
	}
	h->snaplen = WCP_MAX_SNAPLEN;
	h->timeout_ms = 0; /* libpcap's default: no packet buffer timeout */
	h->epfd = h->break_fd = h->more_fd = h->promisc_fd = -1;
	h->cur_member = -1;
	if (table_add(h)) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: more than %d wirecap handles open", source,
			 WCP_HANDLES_MAX);
		wcp_real_pcap_close(h->p);
		goto fail;
	}
	return h->p;
fail:
	free(h);
	return NULL;
}

/* an option of a handle not yet activated */
#define OPTION(h, p, call)                             \
	struct wcp_handle *h = ours(p);                \
	if (!h)                                        \
		return call;                           \
	if (h->activated) {                            \
		SETERR(h, "%s: already activated", h->dev); \
		return PCAP_ERROR_ACTIVATED;           \
	}

int pcap_set_snaplen(pcap_t *p, int snaplen)
{
	OPTION(h, p, wcp_real_pcap_set_snaplen(p, snaplen));
	/* libpcap's rule: out of range means the largest */
	h->snaplen = snaplen <= 0 || snaplen > WCP_MAX_SNAPLEN ? WCP_MAX_SNAPLEN : snaplen;
	return 0;
}

int pcap_set_promisc(pcap_t *p, int promisc)
{
	OPTION(h, p, wcp_real_pcap_set_promisc(p, promisc));
	h->promisc = !!promisc;
	return 0;
}

int pcap_set_timeout(pcap_t *p, int to_ms)
{
	OPTION(h, p, wcp_real_pcap_set_timeout(p, to_ms));
	h->timeout_ms = to_ms < 0 ? 0 : to_ms;
	return 0;
}

/* the packet buffer is the pool, R x M cells per queue (WIRECAP_PCAP_R, _M) */
int pcap_set_buffer_size(pcap_t *p, int size)
{
	OPTION(h, p, wcp_real_pcap_set_buffer_size(p, size));
	return 0;
}

int pcap_set_immediate_mode(pcap_t *p, int immediate)
{
	OPTION(h, p, wcp_real_pcap_set_immediate_mode(p, immediate));
	h->immediate = !!immediate;
	return 0;
}

/* stamps are the host's: CLOCK_REALTIME at the XDP hook */
int pcap_set_tstamp_type(pcap_t *p, int type)
{
	OPTION(h, p, wcp_real_pcap_set_tstamp_type(p, type));
	return type == PCAP_TSTAMP_HOST || type == PCAP_TSTAMP_HOST_LOWPREC ? 0
									   : PCAP_WARNING_TSTAMP_TYPE_NOTSUP;
}

int pcap_set_tstamp_precision(pcap_t *p, int precision)
{
	OPTION(h, p, wcp_real_pcap_set_tstamp_precision(p, precision));
	if (precision == PCAP_TSTAMP_PRECISION_MICRO)
		return 0;
	SETERR(h, "%s: WireCAP devices give microsecond time stamps", h->dev);
	return PCAP_ERROR_TSTAMP_PRECISION_NOTSUP;
}

int pcap_set_rfmon(pcap_t *p, int rfmon)
{
	OPTION(h, p, wcp_real_pcap_set_rfmon(p, rfmon));
	h->rfmon = !!rfmon;
	return 0;
}

int pcap_set_protocol_linux(pcap_t *p, int protocol)
{
	OPTION(h, p, wcp_real_pcap_set_protocol_linux(p, protocol));
	return 0;
}

int pcap_can_set_rfmon(pcap_t *p)
{
	struct wcp_handle *h = ours(p);

	return h ? 0 : wcp_real_pcap_can_set_rfmon(p);
}

/* promiscuous mode as libpcap does it: a packet-socket membership, which
 * the kernel counts and drops with the socket (no flag left behind) */
static int promisc_on(struct wcp_handle *h)
{
	struct packet_mreq mr = { .mr_type = PACKET_MR_PROMISC };

	mr.mr_ifindex = (int)if_nametoindex(h->ifname);
	h->promisc_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: receives nothing */
	if (h->promisc_fd < 0 ||
	    setsockopt(h->promisc_fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		SETERR(h, "%s: promiscuous mode: %s", h->dev, strerror(errno));
		return errno == EPERM ? PCAP_ERROR_PERM_DENIED : PCAP_ERROR;
	}
	return 0;
}

int pcap_activate(pcap_t *p)
{
	struct wcp_handle *h = ours(p);
	int rc;

	if (!h)
		return wcp_real_pcap_activate(p);
	if (h->activated) {
		SETERR(h, "%s: already activated", h->dev);
		return PCAP_ERROR_ACTIVATED;
	}
	if (wcp_settings_read(&h->set, WCP_ERRBUF(h)))
		return PCAP_ERROR;
	if (h->rfmon) {
		SETERR(h, "%s: WireCAP captures Ethernet receive queues: no monitor mode", h->dev);
		return PCAP_ERROR_RFMON_NOTSUP;
	}
	rc = wcp_group_join(h, WCP_ERRBUF(h));
	if (rc)
		return rc;
	if (h->promisc && (rc = promisc_on(h))) {
		wcp_group_leave(h);
		return rc;
	}
	h->activated = 1;
	return 0;
}

pcap_t *pcap_open_live(const char *device, int snaplen, int promisc, int to_ms, char *errbuf)
{
	pcap_t *p;
	int rc;

	if (wcp_system_load(errbuf) < 0)
		return NULL;
	if (!device || strncmp(device, WCP_PREFIX, strlen(WCP_PREFIX)))
		return wcp_real_pcap_open_live(device, snaplen, promisc, to_ms, errbuf);
	p = pcap_create(device, errbuf);
	if (!p)
		return NULL;
	pcap_set_snaplen(p, snaplen);
	pcap_set_promisc(p, promisc);
	pcap_set_timeout(p, to_ms);
	rc = pcap_activate(p);
	if (rc < 0) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s", wcp_real_pcap_geterr(p));
		pcap_close(p);
		return NULL;
	}
	return p;
}

/* ---- reading ---- */

static void drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

static void apply_filter(struct wcp_handle *h, const struct wc_filter *f)
{
	uint32_t i;

	for (i = 0; i < h->nmembers; i++)
		wc_live__setfilter(h->group->live, h->members[i], f);
}

/* first read: the group's engine is final; set up the wait set */
static int ready(struct wcp_handle *h)
{
	struct epoll_event ev = { .events = EPOLLIN };
	uint32_t i;
	int rc;

	if (h->ready)
		return 0;
	if (!h->activated || !h->group) {
		SETERR(h, "%s: not activated (pcap_activate first)", h->dev);
		return PCAP_ERROR_NOT_ACTIVATED;
	}
	rc = wcp_group_start(h, WCP_ERRBUF(h));
	if (rc)
		return rc;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	h->break_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	h->more_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->epfd < 0 || h->break_fd < 0 || h->more_fd < 0)
		goto fail;
	ev.data.fd = h->break_fd;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->break_fd, &ev) < 0)
		goto fail;
	ev.data.fd = h->more_fd;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->more_fd, &ev) < 0)
		goto fail;
	for (i = 0; i < h->nmembers; i++) {
		ev.data.fd = wc_live__consumer_fd(h->group->live, h->members[i]);
		if (ev.data.fd < 0 || epoll_ctl(h->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
			goto fail;
	}
	if (h->filter)
		apply_filter(h, h->filter);
	h->ready = 1;
	return 0;
fail:
	SETERR(h, "%s: setting up the wait set: %s", h->dev, strerror(errno));
	return PCAP_ERROR;
}

/* wait until a member may have packets, breakloop, or timeout_ms (< 0: a slice) */
static void wait_some(struct wcp_handle *h, int timeout_ms)
{
	struct epoll_event evs[WC_LIVE_MEMBERS_MAX + 1];
	int i, n;

	if (h->set.offload == WC_OFFLOAD_BUCKET || h->set.offload == WC_OFFLOAD_HYBRID)
		timeout_ms = WCP_BARRIER_RECHECK_MS;
	else if (timeout_ms < 0 || timeout_ms > WCP_WAIT_SLICE_MS)
		timeout_ms = WCP_WAIT_SLICE_MS;
	n = epoll_wait(h->epfd, evs, WC_LIVE_MEMBERS_MAX + 1, timeout_ms);
	for (i = 0; i < n; i++) {
		drain(evs[i].data.fd);
		if (evs[i].data.fd == h->more_fd)
			h->more_set = 0;
	}
}

/* The selectable fd is level-triggered, as libpcap's are: readable while
 * packets wait. The members' eventfds say "a chunk came" once, and a
 * caller that takes fewer packets than there are (pcap_dispatch(p, 1, ...)
 * after each select(), as dumpcap does) would find it quiet with packets
 * left: so a read that leaves packets behind says so on more_fd, and a read
 * that finds none empties it. */
static void note_pending(struct wcp_handle *h)
{
	uint64_t one = 1;
	uint32_t i;
	int pending = 0;

	for (i = 0; i < h->nmembers && !pending; i++)
		pending = wc_live__pending(h->group->live, h->members[i]);
	/* a system call only when the fd's state changes (pcap_loop's batches
	 * usually leave nothing behind: none at all then) */
	if (pending == h->more_set)
		return;
	if (pending) {
		ssize_t rc = write(h->more_fd, &one, sizeof(one));

		(void)rc; /* only fails when the counter is full: readable anyway */
	} else {
		drain(h->more_fd);
	}
	h->more_set = pending;
}

struct deliver {
	struct wcp_handle *h;
	pcap_handler cb;
	u_char *user;
};

/* libpcap's header of a packet the engine handed: the XDP stamp (now, if
 * the path gave none) in microseconds, the capture cut at the snapshot */
static void to_pcap_hdr(const struct wcp_handle *h, const struct wc_pkthdr *wh, struct pcap_pkthdr *ph)
{
	uint64_t ns = wh->ts_ns;

	if (!ns) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	}
	ph->ts.tv_sec = (time_t)(ns / 1000000000ull);
	ph->ts.tv_usec = (suseconds_t)(ns % 1000000000ull / 1000ull);
	ph->len = wh->len;
	ph->caplen = wh->caplen < (uint32_t)h->snaplen ? wh->caplen : (uint32_t)h->snaplen;
}

static void deliver(void *user, const struct wc_pkthdr *wh, const uint8_t *data)
{
	struct deliver *d = user;
	struct pcap_pkthdr ph;

	to_pcap_hdr(d->h, wh, &ph);
	d->h->cur_member = wh->member;
	d->cb(d->user, &ph, data);
}

static uint64_t now_ms(void)
{
	return wc_sys__mono_ns() / 1000000ull;
}

/* How long dispatch and next_ex wait for a first packet, as read_some
 * takes it: libpcap's packet buffer timeout (set_timeout 0: none, wait for
 * packets; -1 here), none in non-blocking mode */
static int buffer_wait_ms(const struct wcp_handle *h)
{
	return h->nonblock ? 0 : h->timeout_ms > 0 ? h->timeout_ms : -1;
}

/* Nothing was there. 1: give up (timeout_ms 0, or its deadline passed);
 * else wait for the wait set (timeout_ms < 0: a slice at a time) and 0. */
static int nothing_there(struct wcp_handle *h, int timeout_ms, uint64_t deadline)
{
	uint64_t now;

	if (timeout_ms == 0)
		return 1;
	if (timeout_ms < 0) {
		wait_some(h, -1);
		return 0;
	}
	now = now_ms();
	if (now >= deadline)
		return 1;
	wait_some(h, (int)(deadline - now));
	return 0;
}

/* Deliver up to cnt packets (cnt <= 0: what is there), waiting timeout_ms
 * for the first (0: not at all, < 0: until one comes or breakloop). The
 * packets delivered, PCAP_ERROR_BREAK, or PCAP_ERROR. */
static int read_some(struct wcp_handle *h, int cnt, pcap_handler cb, u_char *user, int timeout_ms)
{
	struct deliver d = { h, cb, user };
	uint64_t deadline = timeout_ms > 0 ? now_ms() + (uint64_t)timeout_ms : 0;
	int n = 0, rc;

	if ((rc = ready(h)))
		return rc;
	for (;;) {
		uint32_t k;

		if (h->break_req) {
			h->break_req = 0;
			return n ? n : PCAP_ERROR_BREAK;
		}
		for (k = 0; k < h->nmembers && !h->break_req; k++) {
			uint32_t m = h->members[(h->rr + k) % h->nmembers];

			rc = wc_live__dispatch(h->group->live, m, cnt > 0 ? cnt - n : -1, deliver, &d, 0);
			if (rc < 0) {
				SETERR(h, "%s: reading queue %u: %s", h->dev, h->queues[(h->rr + k) % h->nmembers],
				       strerror(-rc));
				return PCAP_ERROR;
			}
			n += rc;
			if (cnt > 0 && n >= cnt)
				break;
		}
		h->rr++;
		note_pending(h);
		if (n > 0)
			return n;
		if (nothing_there(h, h->nonblock ? 0 : timeout_ms, deadline))
			return 0;
	}
}

int pcap_dispatch(pcap_t *p, int cnt, pcap_handler cb, u_char *user)
{
	struct wcp_handle *h = ours(p);

	if (!h)
		return wcp_real_pcap_dispatch(p, cnt, cb, user);
	return read_some(h, cnt, cb, user, buffer_wait_ms(h));
}

int pcap_loop(pcap_t *p, int cnt, pcap_handler cb, u_char *user)
{
	struct wcp_handle *h = ours(p);
	int n = 0;

	if (!h)
		return wcp_real_pcap_loop(p, cnt, cb, user);
	for (;;) {
		int rc = read_some(h, cnt > 0 ? cnt - n : -1, cb, user, -1);

		if (rc < 0)
			return rc;
		n += rc;
		if (cnt > 0 && n >= cnt)
			return 0;
	}
}

int pcap_next_ex(pcap_t *p, struct pcap_pkthdr **hdr, const u_char **data)
{
	struct wcp_handle *h = ours(p);
	uint64_t deadline;
	int rc, wait_ms;

	if (!h)
		return wcp_real_pcap_next_ex(p, hdr, data);
	if ((rc = ready(h)))
		return rc;
	wait_ms = buffer_wait_ms(h);
	deadline = now_ms() + (uint64_t)(wait_ms > 0 ? wait_ms : 0);
	for (;;) {
		uint32_t k;

		if (h->break_req) {
			h->break_req = 0;
			return PCAP_ERROR_BREAK;
		}
		for (k = 0; k < h->nmembers; k++) {
			uint32_t m = h->members[(h->rr + k) % h->nmembers];
			struct wc_pkthdr wh;
			const uint8_t *d;

			rc = wc_live__next(h->group->live, m, &wh, &d, 0);
			if (rc < 0) {
				SETERR(h, "%s: reading: %s", h->dev, strerror(-rc));
				return PCAP_ERROR;
			}
			if (rc) {
				to_pcap_hdr(h, &wh, &h->hdr);
				h->cur_member = (int)m;
				h->rr++;
				note_pending(h);
				*hdr = &h->hdr;
				*data = d;
				return 1;
			}
		}
		note_pending(h);
		if (nothing_there(h, wait_ms, deadline))
			return 0;
	}
}

const u_char *pcap_next(pcap_t *p, struct pcap_pkthdr *hdr)
{
	struct pcap_pkthdr *hp;
	const u_char *data;
	struct wcp_handle *h = ours(p);

	if (!h)
		return wcp_real_pcap_next(p, hdr);
	if (pcap_next_ex(p, &hp, &data) != 1)
		return NULL;
	*hdr = *hp;
	return data;
}

void pcap_breakloop(pcap_t *p)
{
	struct wcp_handle *h = ours(p);
	uint64_t one = 1;
	uint32_t i;

	if (!h) {
		wcp_real_pcap_breakloop(p);
		return;
	}
	h->break_req = 1;
	if (h->group && h->group->live)
		for (i = 0; i < h->nmembers; i++)
			wc_live__breakloop(h->group->live, h->members[i]);
	/* a full counter means a wake-up is pending anyway */
	if (h->break_fd >= 0 && write(h->break_fd, &one, sizeof(one)) < 0)
		return;
}

/* ---- filter, stats, fds, modes ---- */

int pcap_setfilter(pcap_t *p, struct bpf_program *fp)
{
	struct wcp_handle *h = ours(p);
	struct wcp_filters *old;
	struct wc_filter *f;
	int rc;

	if (!h)
		return wcp_real_pcap_setfilter(p, fp);
	if (!fp || !fp->bf_insns) {
		SETERR(h, "%s: no filter program", h->dev);
		return PCAP_ERROR;
	}
	/* a BPF program for user space: libpcap's bpf_filter() runs it on
	 * each packet the handle's application thread takes (wc_live.h) */
	rc = wc_filter__copy(&f, fp->bf_insns, fp->bf_len);
	if (rc < 0) {
		SETERR(h, "%s: setfilter: %s", h->dev, rc == -EINVAL ? "not a valid BPF program" : strerror(-rc));
		return PCAP_ERROR;
	}
	/* the engine reads the old filter until this call returns (one
	 * thread per handle): keep every filter until close */
	old = malloc(sizeof(*old));
	if (!old) {
		wc_filter__destroy(f);
		SETERR(h, "%s: setfilter: out of memory", h->dev);
		return PCAP_ERROR;
	}
	old->f = f;
	old->next = h->filters;
	h->filters = old;
	h->filter = f;
	if (h->ready)
		apply_filter(h, f);
	return 0;
}

int pcap_stats(pcap_t *p, struct pcap_stat *ps)
{
	struct wcp_handle *h = ours(p);
	uint32_t i;

	if (!h)
		return wcp_real_pcap_stats(p, ps);
	if (!h->activated || !h->group) {
		SETERR(h, "%s: not activated", h->dev);
		return PCAP_ERROR_NOT_ACTIVATED;
	}
	memset(ps, 0, sizeof(*ps));
	if (!h->group->live)
		return 0; /* built at the first read (wcp_group_start): nothing captured yet */
	/* ps_recv: frames the engine took off this handle's queues (delivered,
	 * filtered or still waiting); ps_drop: the engine's capture drops on
	 * them, frames the kernel could not place in a free cell
	 * (XDP_STATISTICS; engine/live/engine.py capture_drops). So frames
	 * that reached the queues = ps_recv + ps_drop. */
	for (i = 0; i < h->nmembers; i++) {
		struct wc_live_qstats st;

		if (wc_live__stats(h->group->live, h->members[i], &st) < 0)
			continue;
		ps->ps_recv += (u_int)st.rx_packets;
		ps->ps_drop += (u_int)(st.xsk.rx_dropped + st.xsk.rx_ring_full + st.xsk.rx_invalid_descs);
	}
	return 0;
}

int pcap_get_selectable_fd(pcap_t *p)
{
	struct wcp_handle *h = ours(p);

	if (!h)
		return wcp_real_pcap_get_selectable_fd(p);
	return ready(h) ? PCAP_ERROR : h->epfd;
}

const struct timeval *pcap_get_required_select_timeout(pcap_t *p)
{
	static const struct timeval recheck = { 0, WCP_BARRIER_RECHECK_MS * 1000 };
	struct wcp_handle *h = ours(p);

	if (!h)
		return wcp_real_pcap_get_required_select_timeout(p);
	return h->set.offload == WC_OFFLOAD_BUCKET || h->set.offload == WC_OFFLOAD_HYBRID ? &recheck : NULL;
}

int pcap_fileno(pcap_t *p)
{
	struct wcp_handle *h = ours(p);

	if (!h)
		return wcp_real_pcap_fileno(p);
	return ready(h) ? PCAP_ERROR : h->epfd;
}

int pcap_setnonblock(pcap_t *p, int nonblock, char *errbuf)
{
	struct wcp_handle *h = ours(p);

	if (!h)
		return wcp_real_pcap_setnonblock(p, nonblock, errbuf);
	h->nonblock = !!nonblock;
	return 0;
}

int pcap_getnonblock(pcap_t *p, char *errbuf)
{
	struct wcp_handle *h = ours(p);

	return h ? h->nonblock : wcp_real_pcap_getnonblock(p, errbuf);
}

int pcap_snapshot(pcap_t *p)
{
	struct wcp_handle *h = ours(p);

	return h ? h->snaplen : wcp_real_pcap_snapshot(p);
}

int pcap_bufsize(pcap_t *p)
{
	struct wcp_handle *h = ours(p);
	uint64_t b;

	if (!h)
		return wcp_real_pcap_bufsize(p);
	b = (uint64_t)h->set.R * h->set.M * 2048u * (h->nqueues ? h->nqueues : 1);
	return b > 0x7fffffff ? 0x7fffffff : (int)b;
}

int pcap_get_tstamp_precision(pcap_t *p)
{
	struct wcp_handle *h = ours(p);

	return h ? PCAP_TSTAMP_PRECISION_MICRO : wcp_real_pcap_get_tstamp_precision(p);
}

/* AF_XDP sockets see the frames a queue receives only */
int pcap_setdirection(pcap_t *p, pcap_direction_t d)
{
	struct wcp_handle *h = ours(p);

	if (!h)
		return wcp_real_pcap_setdirection(p, d);
	if (d == PCAP_D_IN || d == PCAP_D_INOUT)
		return 0;
	SETERR(h, "%s: WireCAP captures received frames only (direction in)", h->dev);
	return PCAP_ERROR;
}

int pcap_set_datalink(pcap_t *p, int dlt)
{
	struct wcp_handle *h = ours(p);

	if (!h)
		return wcp_real_pcap_set_datalink(p, dlt);
	if (dlt == DLT_EN10MB)
		return 0;
	SETERR(h, "%s: WireCAP devices are Ethernet (EN10MB) only", h->dev);
	return PCAP_ERROR;
}

/* ---- sending ---- */

/* A frame this handle was handed goes out from the UMEM by its address,
 * zero copy (paper §3.2.2b), once the kernel has sent it its chunk is
 * recycled; other bytes are copied into a TX frame. It leaves by the
 * capture interface, on the queue of the member whose packet the handle
 * was handed last (the handle's first before any), from that queue's own
 * socket (wc_live_opts.tx_on_rx). */
int pcap_inject(pcap_t *p, const void *buf, size_t size)
{
	struct wcp_handle *h = ours(p);
	uint32_t m;
	int rc;

	if (!h)
		return wcp_real_pcap_inject(p, buf, size);
	if ((rc = ready(h)))
		return rc;
	m = h->cur_member >= 0 ? (uint32_t)h->cur_member : h->members[0];
	if (!h->tx_ready[m]) {
		rc = wc_live__tx_attach(h->group->live, m, h->group->ifindex, h->group->queues[m]);
		if (rc < 0 && rc != -EALREADY) {
			SETERR(h, "%s: a TX ring on queue %u: %s", h->dev, h->group->queues[m], strerror(-rc));
			return PCAP_ERROR;
		}
		h->tx_ready[m] = 1;
	}
	if (size > UINT32_MAX) {
		SETERR(h, "%s: inject: %zu bytes is too long", h->dev, size);
		return PCAP_ERROR;
	}
	rc = wc_live__inject(h->group->live, m, buf, (uint32_t)size, WCP_INJECT_WAIT_MS);
	if (rc < 0) {
		SETERR(h, "%s: inject: %s", h->dev,
		       rc == -EMSGSIZE ? "frame larger than a 2 KB frame" : rc == -EAGAIN ? "TX ring full" : strerror(-rc));
		return PCAP_ERROR;
	}
	return (int)size;
}

int pcap_sendpacket(pcap_t *p, const u_char *buf, int size)
{
	struct wcp_handle *h = ours(p);

	if (!h)
		return wcp_real_pcap_sendpacket(p, buf, size);
	return size >= 0 && pcap_inject(p, buf, (size_t)size) == size ? 0 : PCAP_ERROR;
}

/* ---- close ---- */

void pcap_close(pcap_t *p)
{
	struct wcp_handle *h = ours(p);
	struct wcp_filters *f, *next;

	if (!h) {
		wcp_real_pcap_close(p);
		return;
	}
	table_del(h);
	if (h->ready && h->group && h->group->live)
		apply_filter(h, NULL);
	wcp_group_leave(h);
	if (h->epfd >= 0)
		close(h->epfd);
	if (h->break_fd >= 0)
		close(h->break_fd);
	if (h->more_fd >= 0)
		close(h->more_fd);
	if (h->promisc_fd >= 0)
		close(h->promisc_fd);
	for (f = h->filters; f; f = next) {
		next = f->next;
		wc_filter__destroy(f->f);
		free(f);
	}
	wcp_real_pcap_close(h->p);
	free(h);
}
