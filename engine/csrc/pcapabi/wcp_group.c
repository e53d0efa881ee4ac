/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One WireCAP engine per interface and process: the handles a process
 * opens on one interface form one buddy group (paper §3.2.2a: "the
 * capture threads of a multi-threaded application form a buddy group"),
 * and share the engine, its UMEM and the interface's XDP program.
 *
 * Handles come one by one (ndpiReader opens wirecap:IF@0, then @1, ...,
 * then starts a thread per handle), but an engine's queues are fixed at
 * creation (wc_live__create). So each activation rebuilds the engine over
 * the group's queues so far, which loses nothing as long as no handle has
 * read a packet; after that, a new handle on the interface is refused with
 * the reason.
 */
#define _GNU_SOURCE
#include "wcp.h"

#include <dirent.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wc_bpf.h"

/* the live engine's capture threads' priority (engine/live/engine.py
 * RT_PRIORITY: they must re-arm a segment within (N-M)/Pin) */
#define WCP_RT_PRIORITY 20
#define WCP_VERIFIER_LOG 65536
/* Wireshark's dumpcap, started as root, keeps CAP_NET_RAW and CAP_NET_ADMIN
 * only (dumpcap.c, relinquish_privs_except_capture) before it opens a
 * device: BPF and the UMEM's locked pages need two more */
#define WCP_CAPS_HINT                                                                           \
	" (AF_XDP and BPF need root's CAP_BPF, CAP_NET_ADMIN, CAP_NET_RAW and CAP_IPC_LOCK; tshark's " \
	"dumpcap drops all but the last two when run as root: run it as a user given those four as "   \
	"ambient capabilities, README.md \"Capture with tcpdump, tshark or nDPI through WireCAP\")"

static struct wcp_group *groups;

uint32_t wcp_if_queues(const char *ifname)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr = { 0 };
	char path[128];
	uint32_t n = 0;
	DIR *d;
	int fd;

	/* ethtool's channels: combined plus RX-only queues (veth reports
	 * rx_count, most NIC drivers combined_count) */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
		ifr.ifr_data = (void *)&ch;
		if (!ioctl(fd, SIOCETHTOOL, &ifr))
			n = ch.combined_count + ch.rx_count;
		close(fd);
	}
	if (n)
		return n;
	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifname);
	d = opendir(path);
	if (d) {
		struct dirent *e;

		while ((e = readdir(d)))
			n += !strncmp(e->d_name, "rx-", 3);
		closedir(d);
	}
	return n;
}

int wcp_group_member(const struct wcp_group *g, uint32_t q)
{
	uint32_t i;

	for (i = 0; i < g->nq; i++)
		if (g->queues[i] == q)
			return (int)i;
	return -1;
}

static void close_fd(int *fd)
{
	if (*fd > 0)
		close(*fd);
	*fd = -1;
}

static void engine_down(struct wcp_group *g)
{
	uint32_t i;

	if (!g->live)
		return;
	for (i = 0; i < g->nq; i++)
		wc_bpf__map_del(g->map_fd, g->queues[i]);
	wc_live__stop(g->live);
	wc_live__destroy(g->live);
	g->live = NULL;
}

static void group_free(struct wcp_group *g)
{
	struct wcp_group **pp;

	engine_down(g);
	close_fd(&g->link_fd); /* the link is ours alone: closing it detaches the program */
	close_fd(&g->prog_fd);
	close_fd(&g->map_fd);
	close_fd(&g->arrival_fd);
	close_fd(&g->steer_fd);
	close_fd(&g->counts_fd);
	for (pp = &groups; *pp; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	free(g);
}

static const char *create_hint(int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		return WCP_CAPS_HINT;
	case EBUSY:
		return "a queue already has an AF_XDP socket: another program captures it";
	case EOPNOTSUPP:
		return "the driver has no zero-copy AF_XDP: set " WCP_ENV_PREFIX "XDP_MODE=copy or auto";
	case ENOMEM:
	case ENOBUFS:
		/* XDP_UMEM_REG pins the pool's pages, charged to RLIMIT_MEMLOCK
		 * without CAP_IPC_LOCK (tshark's dumpcap drops it when run as root) */
		return "the packet buffer (R x M x 2 KB per queue) does not fit in memory or in the "
		       "locked-memory limit (ulimit -l; no limit with CAP_IPC_LOCK): lower " WCP_ENV_PREFIX "R";
	case EAFNOSUPPORT:
		return "the kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)";
	case ENOENT:
		return "the RSS program steers a bucket to a queue this process does not capture: "
		       "open every queue the steer map uses";
	default:
		return "see README.md, \"Capture with tcpdump, tshark or nDPI through WireCAP\"";
	}
}

/* the redirect program: a testbed's pinned one, or our own, attached now */
static int program_up(struct wcp_group *g, char *errbuf)
{
	char path[512], *log;
	int rc;

	if (g->set.bpffs[0]) {
		snprintf(path, sizeof(path), "%s/%s_map", g->set.bpffs, g->ifname);
		g->map_fd = wc_bpf__get(path);
		if (g->map_fd < 0) {
			snprintf(errbuf, PCAP_ERRBUF_SIZE,
				 WCP_ENV_PREFIX "BPFFS=%s: no redirect program pinned for %s there (%s): "
				 "run invoke testbed-up, or unset " WCP_ENV_PREFIX "BPFFS to attach our own",
				 g->set.bpffs, g->ifname, strerror(-g->map_fd));
			return PCAP_ERROR;
		}
		snprintf(path, sizeof(path), "%s/%s_arrivals", g->set.bpffs, g->ifname);
		g->arrival_fd = wc_bpf__get(path); /* optional */
		return 0;
	}
	g->map_fd = wc_bpf__xskmap_create(g->if_queues);
	if (g->map_fd < 0)
		goto bpf_fail;
	g->arrival_fd = wc_bpf__arrival_map_create(g->if_queues);
	if (g->arrival_fd < 0) {
		g->map_fd = g->arrival_fd;
		goto bpf_fail;
	}
	log = calloc(1, WCP_VERIFIER_LOG);
	g->prog_fd = wc_bpf__redirect_prog(g->map_fd, g->arrival_fd, 1, log, log ? WCP_VERIFIER_LOG : 0);
	free(log);
	if (g->prog_fd < 0) {
		g->map_fd = g->prog_fd;
		goto bpf_fail;
	}
	rc = wc_bpf__xdp_link(g->prog_fd, g->ifindex, 0);
	if (rc == -EOPNOTSUPP || rc == -EINVAL)
		rc = wc_bpf__xdp_link(g->prog_fd, g->ifindex, 1); /* no native XDP: the generic hook */
	if (rc < 0) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "attaching WireCAP's XDP program to %s: %s%s", g->ifname,
			 strerror(-rc),
			 rc == -EBUSY || rc == -EEXIST
				 ? " (the interface has an XDP program already: if a testbed pinned it, set "
				   WCP_ENV_PREFIX "BPFFS as invoke pcap-env prints; else remove it with "
				   "ip link set dev IF xdp off)"
				 : rc == -EPERM ? WCP_CAPS_HINT : "");
		return PCAP_ERROR;
	}
	g->link_fd = rc;
	return 0;
bpf_fail:
	snprintf(errbuf, PCAP_ERRBUF_SIZE, "loading WireCAP's XDP redirect program for %s: %s%s", g->ifname,
		 strerror(-g->map_fd), -g->map_fd == EPERM ? WCP_CAPS_HINT : "");
	g->map_fd = -1;
	return PCAP_ERROR;
}

static int steering(const struct wcp_settings *s)
{
	return s->offload == WC_OFFLOAD_BUCKET || s->offload == WC_OFFLOAD_HYBRID;
}

static int steer_up(struct wcp_group *g, char *errbuf)
{
	if (!steering(&g->set))
		return 0;
	g->steer_fd = wc_bpf__get(g->set.steer_map);
	g->counts_fd = g->steer_fd >= 0 ? wc_bpf__get(g->set.counts_map) : -1;
	if (g->steer_fd < 0 || g->counts_fd < 0) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE,
			 WCP_ENV_PREFIX "STEER_MAP=%s / " WCP_ENV_PREFIX "COUNTS_MAP=%s: cannot open the RSS "
			 "program's pinned maps (%s); invoke testbed-up --rss pins them, invoke pcap-env "
			 "prints their paths", g->set.steer_map, g->set.counts_map,
			 strerror(errno ? errno : ENOENT));
		return PCAP_ERROR;
	}
	return 0;
}

static struct wcp_group *group_new(const struct wcp_handle *h, char *errbuf)
{
	struct wcp_group *g = calloc(1, sizeof(*g));

	if (!g) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "out of memory");
		return NULL;
	}
	g->map_fd = g->arrival_fd = g->prog_fd = g->link_fd = g->steer_fd = g->counts_fd = -1;
	snprintf(g->ifname, sizeof(g->ifname), "%s", h->ifname);
	g->set = h->set;
	g->ifindex = (int)if_nametoindex(h->ifname);
	if (!g->ifindex) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE,
			 "%s: no interface %s in this network namespace (ip link shows them; on a testbed, "
			 "run the program with ip netns exec in the capture namespace)", h->dev, h->ifname);
		free(g);
		return NULL;
	}
	g->if_queues = wcp_if_queues(h->ifname);
	if (!g->if_queues)
		g->if_queues = 1;
	if (g->if_queues > WC_LIVE_MEMBERS_MAX)
		g->if_queues = WC_LIVE_MEMBERS_MAX;
	g->next = groups;
	groups = g;
	if (program_up(g, errbuf) || steer_up(g, errbuf)) {
		group_free(g);
		return NULL;
	}
	return g;
}

/* (re)create the engine over queues[0..nq), attach its sockets, start it */
static int engine_up(struct wcp_group *g, const uint32_t *queues, uint32_t nq, char *errbuf)
{
	struct wc_live_opts o = { .sz = sizeof(o) };
	const struct wcp_settings *s = &g->set;
	int cpus[WC_LIVE_MEMBERS_MAX];
	uint32_t i;
	int rc;

	o.ring_size = s->ring;
	o.segment_cells = s->M;
	o.chunks = s->R;
	o.advanced = s->offload != WCP_OFFLOAD_NONE;
	o.threshold_pct = o.advanced ? s->T : 0;
	o.timeout_us = s->timeout_us;
	o.mode = s->xdp_mode;
	o.need_wakeup = 1;
	o.timestamps = 1;
	o.rt_priority = WCP_RT_PRIORITY;
	o.tx_on_rx = 1; /* pcap_inject */
	o.offload = o.advanced ? s->offload : WC_OFFLOAD_CHUNK;
	o.steer_fd = o.counts_fd = o.arrival_fd = -1;
	if (s->offload == WC_OFFLOAD_BUCKET || s->offload == WC_OFFLOAD_HYBRID) {
		o.n_buckets = s->n_buckets;
		o.period_us = s->period_ms * 1000u;
		o.steer_fd = g->steer_fd;
		o.counts_fd = g->counts_fd;
		o.arrival_fd = g->arrival_fd;
	}
	for (rc = -EBUSY, i = 0; rc == -EBUSY && i < 50; i++) {
		/* a socket just closed on these queues is released by the kernel
		 * after an RCU grace period: retry EBUSY for a moment */
		rc = wc_live__create(&g->live, g->ifindex, queues, nq, &o);
		if (rc == -EBUSY)
			usleep(20000);
	}
	g->create_err = rc < 0 ? -rc : 0;
	if (rc < 0) {
		g->live = NULL;
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "WireCAP on %s, %u queue(s) (M=%u, R=%u, N=%u, offload %s): "
			 "%s: %s", g->ifname, nq, s->M, s->R, s->ring, wcp_offload_name(s->offload),
			 strerror(-rc), create_hint(-rc));
		return rc == -EPERM || rc == -EACCES ? PCAP_ERROR_PERM_DENIED : PCAP_ERROR;
	}
	for (i = 0; i < nq; i++) {
		rc = wc_bpf__map_set(g->map_fd, queues[i], wc_live__xsk_fd(g->live, i));
		if (rc < 0) {
			snprintf(errbuf, PCAP_ERRBUF_SIZE, "XSKMAP[%u] of %s: %s", queues[i], g->ifname,
				 strerror(-rc));
			goto fail;
		}
		cpus[i] = i < s->ncpus ? s->cpus[i] : -1;
	}
	memcpy(g->queues, queues, nq * sizeof(*queues));
	g->nq = nq;
	rc = wc_live__start(g->live, cpus);
	if (rc < 0) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "starting WireCAP's capture threads on %s: %s%s", g->ifname,
			 strerror(-rc), rc == -EINVAL ? " (check " WCP_ENV_PREFIX "CPUS)" : "");
		goto fail;
	}
	return 0;
fail:
	g->nq = nq;
	memcpy(g->queues, queues, nq * sizeof(*queues));
	engine_down(g);
	g->nq = 0;
	return PCAP_ERROR;
}

/* every handle's member indices in the (re)built engine */
static void renumber(struct wcp_group *g)
{
	uint32_t i, j;

	for (i = 0; i < g->nhandles; i++) {
		struct wcp_handle *o = g->handles[i];

		for (j = 0; j < o->nqueues; j++)
			o->members[j] = (uint32_t)wcp_group_member(g, o->queues[j]);
		o->nmembers = o->nqueues;
	}
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

int wcp_group_join(struct wcp_handle *h, char *errbuf)
{
	uint32_t want[WC_LIVE_MEMBERS_MAX], nwant = 0, old[WC_LIVE_MEMBERS_MAX], nold, i;
	struct wcp_group *g;
	int rc = PCAP_ERROR;

	pthread_mutex_lock(&lock);
	for (g = groups; g; g = g->next)
		if (!strcmp(g->ifname, h->ifname))
			break;
	if (!g && !(g = group_new(h, errbuf)))
		goto out;
	if (memcmp(&g->set, &h->set, sizeof(g->set))) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: the " WCP_ENV_PREFIX "* settings changed since this "
			 "process opened %s; every handle of one interface shares one engine", h->dev, g->ifname);
		goto out_free;
	}
	if (g->started) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: another handle of this process already reads from %s; "
			 "open every wirecap:%s@Q device before reading from any (they share one engine)",
			 h->dev, g->ifname, g->ifname);
		goto out_free;
	}
	if (g->nhandles == WC_LIVE_MEMBERS_MAX) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: at most %u handles per interface", h->dev,
			 WC_LIVE_MEMBERS_MAX);
		goto out_free;
	}
	if (h->queue >= 0 && (uint32_t)h->queue >= g->if_queues) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: %s has %u receive queue(s), 0..%u", h->dev, g->ifname,
			 g->if_queues, g->if_queues - 1);
		goto out_free;
	}
	nold = g->nq;
	memcpy(old, g->queues, nold * sizeof(*old));
	memcpy(want, old, nold * sizeof(*old));
	nwant = nold;
	for (i = 0; i < g->if_queues; i++) {
		if (h->queue >= 0 && i != (uint32_t)h->queue)
			continue;
		if (wcp_group_member(g, i) >= 0) {
			snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: queue %u of %s is already captured by another "
				 "handle of this process", h->dev, i, g->ifname);
			goto out_free;
		}
		want[nwant++] = i;
	}
	engine_down(g);
	g->deferred = 0;
	rc = engine_up(g, want, nwant, errbuf);
	if (rc && g->create_err == ENOENT && steering(&g->set) && h->queue >= 0) {
		/* The steer map sends buckets to queues no handle has opened
		 * yet: a program opening wirecap:IF@0, @1, ... one by one (as
		 * ndpiReader does) may open them next. The engine is built
		 * when a handle first reads (wcp_group_start), over the
		 * queues opened by then, and fails there if some still lack
		 * a handle. */
		memcpy(g->queues, want, nwant * sizeof(*want));
		g->nq = nwant;
		g->deferred = 1;
		rc = 0;
	}
	if (rc) {
		char ignored[PCAP_ERRBUF_SIZE];

		/* keep the handles already there capturing */
		if (nold)
			engine_up(g, old, nold, ignored);
		goto out_free;
	}
	h->nqueues = nwant - nold;
	memcpy(h->queues, want + nold, h->nqueues * sizeof(*want));
	g->handles[g->nhandles++] = h;
	h->group = g;
	renumber(g);
	rc = 0;
	goto out;
out_free:
	if (!g->nhandles)
		group_free(g);
out:
	pthread_mutex_unlock(&lock);
	return rc;
}

void wcp_group_leave(struct wcp_handle *h)
{
	struct wcp_group *g = h->group;
	uint32_t i;

	if (!g)
		return;
	pthread_mutex_lock(&lock);
	for (i = 0; i < g->nhandles; i++)
		if (g->handles[i] == h) {
			g->handles[i] = g->handles[--g->nhandles];
			break;
		}
	h->group = NULL;
	if (!g->nhandles)
		group_free(g);
	pthread_mutex_unlock(&lock);
}

int wcp_group_start(struct wcp_handle *h, char *errbuf)
{
	struct wcp_group *g = h->group;
	int rc = 0;

	pthread_mutex_lock(&lock);
	if (g) {
		g->started = 1;
		if (g->deferred) {
			rc = engine_up(g, g->queues, g->nq, errbuf);
			g->deferred = rc != 0;
		}
	}
	pthread_mutex_unlock(&lock);
	return rc;
}
