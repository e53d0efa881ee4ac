/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpcap.so.0.8 with WireCAP behind it (paper §3.2.2e: "WireCAP provides
 * a libpcap-compatible interface ... existing monitoring applications can
 * run on WireCAP unmodified"). Programs linked against the system's
 * libpcap run on it through LD_LIBRARY_PATH; see README.md, "Capture with
 * tcpdump, tshark or nDPI through WireCAP".
 *
 *   wirecap:IFACE     every receive queue of IFACE, one WireCAP engine,
 *                     all queues delivered through this one handle
 *   wirecap:IFACE@Q   receive queue Q only. Handles of one process on the
 *                     same IFACE form one buddy group (the paper's
 *                     multi-threaded application, §3.2.2a): they share one
 *                     engine, so a program with a thread per queue gets
 *                     offloading between its threads
 *
 * Every other device and every call that is not live capture on a wirecap
 * device goes to the system's libpcap unchanged (wcp_forward.c).
 *
 * A wirecap handle is a pcap_t of the system library made by
 * pcap_open_dead(DLT_EN10MB, ...): whatever libpcap does with a handle
 * that is not about capturing (compile a filter, open a dump file, name
 * the link type, hold an error message) it does with this one, and the
 * WireCAP state hangs off it in a table (wcp_capture.c). The engine of a
 * group is (re)built when a handle is activated (so a program that prints
 * "listening" after pcap_activate is truly listening), and may be rebuilt
 * with more queues as long as no handle of the group has read a packet.
 */
#ifndef WCP_H
#define WCP_H

#include <net/if.h>
/* libpcap's functions are this library's exports (the build hides the rest) */
#pragma GCC visibility push(default)
#include <pcap/pcap.h>
#include <pcap/namedb.h>
#pragma GCC visibility pop
#include <pthread.h>
#include <stdint.h>

#include "wc_live.h"

#define WCP_PREFIX "wirecap:"
#define WCP_ENV_PREFIX "WIRECAP_PCAP_"
/* a wirecap handle's largest snapshot: libpcap's MAXIMUM_SNAPLEN (pcap-int.h) */
#define WCP_MAX_SNAPLEN 262144
#define WCP_DEFAULT_TIMEOUT_MS 1000

/* ---- settings (wcp_env.c) ---- */

enum wcp_offload { WCP_OFFLOAD_NONE = -1 }; /* else WC_OFFLOAD_* (wc_balance.h) */

struct wcp_settings {
	uint32_t M, R, T, ring;
	int offload;                /* WCP_OFFLOAD_NONE: basic mode (WireCAP-B) */
	int xdp_mode;               /* WC_XSK_MODE_* */
	int cpus[WC_LIVE_MEMBERS_MAX];
	uint32_t ncpus;
	uint32_t timeout_us;
	uint32_t n_buckets;
	uint32_t period_ms;
	char bpffs[256];            /* where a testbed pinned the redirect program */
	char steer_map[256];        /* the RSS program's pinned maps (bucket, hybrid) */
	char counts_map[256];
};

/* Read every WIRECAP_PCAP_* variable. 0, or -1 with a message naming the
 * variable and its allowed values in errbuf (PCAP_ERRBUF_SIZE). */
int wcp_settings_read(struct wcp_settings *s, char *errbuf);
const char *wcp_offload_name(int offload);

/* ---- groups: one engine per interface and process (wcp_group.c) ---- */

struct wcp_handle;

struct wcp_group {
	char ifname[IF_NAMESIZE];
	int ifindex;
	uint32_t if_queues;         /* receive queues of the interface */
	struct wcp_settings set;    /* of the first handle; later ones must agree */
	struct wc_live *live;
	uint32_t queues[WC_LIVE_MEMBERS_MAX]; /* member i reads queue queues[i] */
	uint32_t nq;
	int started;                /* a handle read: no more rebuilds */
	int deferred;               /* the engine waits for the first read (steered queues not open) */
	int create_err;             /* errno of the last wc_live__create, 0: none */
	/* the XDP redirect program: ours (link_fd > 0) or a testbed's pinned one */
	int map_fd, arrival_fd, prog_fd, link_fd;
	int steer_fd, counts_fd;
	struct wcp_handle *handles[WC_LIVE_MEMBERS_MAX];
	uint32_t nhandles;
	struct wcp_group *next;
};

/* Join h to the group of its interface (creating it), (re)building the
 * engine over the group's queues. 0 or a PCAP_ERROR* with errbuf set. */
int wcp_group_join(struct wcp_handle *h, char *errbuf);
/* h reads its first packet: the group's engine is final (built now if it
 * was deferred). 0 or a PCAP_ERROR with errbuf set. */
int wcp_group_start(struct wcp_handle *h, char *errbuf);
/* h leaves; the last one out destroys the engine and detaches the program. */
void wcp_group_leave(struct wcp_handle *h);
/* member index of queue q in the group's engine (-1: none) */
int wcp_group_member(const struct wcp_group *g, uint32_t q);
/* receive queues of ifname (ETHTOOL_GCHANNELS, else sysfs); 0 on failure */
uint32_t wcp_if_queues(const char *ifname);

/* ---- handles (wcp_capture.c) ---- */

struct wcp_filters {
	struct wc_filter *f;
	struct wcp_filters *next;
};

struct wcp_handle {
	pcap_t *p;                  /* the system library's dead handle: our identity */
	char dev[IF_NAMESIZE + 16];
	char ifname[IF_NAMESIZE];
	int queue;                  /* -1: every queue */
	int activated;
	int ready;                  /* read once: the wait set is built */
	int snaplen, timeout_ms, nonblock, immediate, promisc, rfmon;
	int promisc_fd;
	struct wcp_settings set;
	struct wcp_group *group;
	uint32_t queues[WC_LIVE_MEMBERS_MAX];  /* the receive queues it reads */
	uint32_t nqueues;
	uint32_t members[WC_LIVE_MEMBERS_MAX]; /* their members in the group's engine */
	uint32_t nmembers;
	uint32_t rr;                /* next member to read, for fairness */
	int epfd, break_fd;         /* the selectable fd and its breakloop wake-up */
	int more_fd;                /* readable while packets are left (note_pending) */
	int more_set;               /* more_fd holds a count */
	volatile int break_req;
	struct wc_filter *filter;   /* the one set last */
	struct wcp_filters *filters; /* every one set, freed at close */
	/* pcap_next_ex's packet */
	struct pcap_pkthdr hdr;
	uint8_t tx_ready[WC_LIVE_MEMBERS_MAX]; /* per member: inject attached its TX ring */
	int cur_member;             /* member whose packet the callback holds (-1: none yet) */
};

/* ---- the system's libpcap (wcp_forward.c) ---- */

/* Load it once (idempotent, thread-safe). 0, or -1 with a message in errbuf
 * (may be NULL). */
int wcp_system_load(char *errbuf);
const char *wcp_system_path(void);

/* the system's own function of every name we export, resolved by
 * wcp_system_load(): wcp_real_pcap_close is the system's pcap_close */
#define WCP_REAL_DECL(name) extern __typeof__(name) *wcp_real_##name;
#include "wcp_symbols.h"
/* deprecated or not, a program may call them: they are forwarded */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
WCP_OWN(WCP_REAL_DECL)
WCP_FORWARDED(WCP_REAL_DECL)
#pragma GCC diagnostic pop

/* errbuf of a handle (the dead pcap_t's own) */
#define WCP_ERRBUF(h) (wcp_real_pcap_geterr((h)->p))

#endif /* WCP_H */
