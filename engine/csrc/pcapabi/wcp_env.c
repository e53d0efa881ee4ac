/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Settings of wirecap devices, from the environment: one prefix,
 * WIRECAP_PCAP_, in the manner of PF_RING's libpcap (PCAP_PF_RING_*), so
 * that an unmodified program is configured from its shell. A value out of
 * range, and a WIRECAP_PCAP_ name that is not one of these (a typo would
 * otherwise be silently ignored), fail pcap_activate with a message naming
 * the variable and what it accepts. README.md lists them.
 */
#define _GNU_SOURCE
#include "wcp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wc_balance.h"
#include "wc_pool.h"
#include "wc_xsk.h"

extern char **environ;

/* The defaults are the paper's configuration (§4: M = 256, R = 500,
 * T = 60%, a 1,024-descriptor ring) and the live engine's (engine/live/
 * engine.py): R x M x 2 KB = 256 MB of packet buffer per queue. */
#define DEF_M 256u
#define DEF_R 500u
#define DEF_T 60u
#define DEF_RING 1024u
/* bucket offloading: the simulator's and the live engine's period
 * (engine/models.py BalanceCosts.period_ms) and the 82599's table size */
#define DEF_PERIOD_MS 100u
#define DEF_BUCKETS 128u

static const char *const known[] = {
	"M", "R", "T", "OFFLOAD", "RING", "CPUS", "XDP_MODE", "TIMEOUT_US", "BUCKETS", "PERIOD_MS",
	"BPFFS", "STEER_MAP", "COUNTS_MAP", "SYSTEM_LIB", NULL,
};

static const char *const offloads[] = { "chunk", "bucket", "hybrid" }; /* WC_OFFLOAD_* order */

const char *wcp_offload_name(int offload)
{
	if (offload == WCP_OFFLOAD_NONE)
		return "none";
	return offload >= 0 && offload < 3 ? offloads[offload] : "?";
}

#define FAIL(...)                                               \
	do {                                                    \
		snprintf(errbuf, PCAP_ERRBUF_SIZE, __VA_ARGS__); \
		return -1;                                      \
	} while (0)

/* an unsigned decimal in [lo, hi]; 1 if set, 0 if unset, -1 if bad */
static int get_u32(const char *name, uint32_t lo, uint32_t hi, uint32_t *out)
{
	const char *v = getenv(name);
	char *end;
	unsigned long x;

	if (!v)
		return 0;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (!*v || *end || errno || v[0] == '-' || x < lo || x > hi)
		return -1;
	*out = (uint32_t)x;
	return 1;
}

static int get_path(const char *name, char *out, size_t size)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return 0;
	if (strlen(v) >= size || v[0] != '/')
		return -1;
	strcpy(out, v);
	return 1;
}

static int parse_cpus(const char *v, struct wcp_settings *s)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	char buf[512], *tok, *save = NULL;

	if (strlen(v) >= sizeof(buf))
		return -1;
	strcpy(buf, v);
	s->ncpus = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		long c;

		errno = 0;
		c = strtol(tok, &end, 10);
		if (!*tok || *end || errno || c < -1 || c >= ncpu || s->ncpus >= WC_LIVE_MEMBERS_MAX)
			return -1;
		s->cpus[s->ncpus++] = (int)c;
	}
	return s->ncpus ? 0 : -1;
}

int wcp_settings_read(struct wcp_settings *s, char *errbuf)
{
	const char *v;
	const char *geo;
	char **e;
	int rc;

	memset(s, 0, sizeof(*s));
	s->M = DEF_M;
	s->R = DEF_R;
	s->T = DEF_T;
	s->ring = DEF_RING;
	s->offload = WC_OFFLOAD_CHUNK;
	s->xdp_mode = WC_XSK_MODE_AUTO;
	s->timeout_us = WC_LIVE_TIMEOUT_US_DEFAULT;
	s->n_buckets = DEF_BUCKETS;
	s->period_ms = DEF_PERIOD_MS;

	for (e = environ; e && *e; e++) {
		const char *name = *e, *eq = strchr(name, '=');
		size_t plen = strlen(WCP_ENV_PREFIX), n;
		int i, ok = 0;

		if (!eq || strncmp(name, WCP_ENV_PREFIX, plen))
			continue;
		n = (size_t)(eq - name) - plen;
		for (i = 0; known[i]; i++)
			ok |= strlen(known[i]) == n && !strncmp(name + plen, known[i], n);
		if (!ok)
			FAIL("%.*s: not a WireCAP setting; the " WCP_ENV_PREFIX "* variables are M, R, T, OFFLOAD, "
			     "RING, CPUS, XDP_MODE, TIMEOUT_US, BUCKETS, PERIOD_MS, BPFFS, STEER_MAP, COUNTS_MAP, "
			     "SYSTEM_LIB (README.md, \"Capture with tcpdump, tshark or nDPI through WireCAP\")",
			     (int)(eq - name), name);
	}

	if ((rc = get_u32(WCP_ENV_PREFIX "RING", 64, 8192, &s->ring)) < 0 || (s->ring & (s->ring - 1)))
		FAIL(WCP_ENV_PREFIX "RING=%s: the descriptor ring size N is a power of two in 64..8192 "
		     "(AF_XDP rings are powers of two; default %u)", getenv(WCP_ENV_PREFIX "RING"), DEF_RING);
	if (get_u32(WCP_ENV_PREFIX "M", 1, 8192, &s->M) < 0)
		FAIL(WCP_ENV_PREFIX "M=%s: the cells per chunk M is an integer dividing the ring size "
		     "(default %u)", getenv(WCP_ENV_PREFIX "M"), DEF_M);
	if (get_u32(WCP_ENV_PREFIX "R", 1, 1u << 20, &s->R) < 0)
		FAIL(WCP_ENV_PREFIX "R=%s: the chunks per queue R is an integer above N/M (default %u)",
		     getenv(WCP_ENV_PREFIX "R"), DEF_R);
	geo = wc_pool__geometry_error(s->ring, s->M, s->R);
	if (geo) {
		/* the message's first word names N, M or R */
		const char *var = geo[0] == 'N' ? "RING" : geo[0] == 'M' ? "M" : "R";
		uint32_t val = geo[0] == 'N' ? s->ring : geo[0] == 'M' ? s->M : s->R;

		FAIL(WCP_ENV_PREFIX "%s=%u: %s (the pool: RING=%u, M=%u, R=%u)", var, val, geo, s->ring, s->M,
		     s->R);
	}
	if (get_u32(WCP_ENV_PREFIX "T", 1, 100, &s->T) < 0)
		FAIL(WCP_ENV_PREFIX "T=%s: the offloading threshold T is a percentage of R in 1..100 "
		     "(default %u)", getenv(WCP_ENV_PREFIX "T"), DEF_T);
	v = getenv(WCP_ENV_PREFIX "OFFLOAD");
	if (v) {
		int i;

		s->offload = -2;
		if (!strcmp(v, "none"))
			s->offload = WCP_OFFLOAD_NONE;
		for (i = 0; i < 3; i++)
			if (!strcmp(v, offloads[i]))
				s->offload = i;
		if (s->offload == -2)
			FAIL(WCP_ENV_PREFIX "OFFLOAD=%s: one of none (WireCAP-B, basic mode), chunk (WireCAP-A, "
			     "the paper's), bucket or hybrid (flow-preserving; need " WCP_ENV_PREFIX "STEER_MAP "
			     "and " WCP_ENV_PREFIX "COUNTS_MAP)", v);
	}
	v = getenv(WCP_ENV_PREFIX "XDP_MODE");
	if (v) {
		if (!strcmp(v, "auto"))
			s->xdp_mode = WC_XSK_MODE_AUTO;
		else if (!strcmp(v, "copy"))
			s->xdp_mode = WC_XSK_MODE_COPY;
		else if (!strcmp(v, "zerocopy"))
			s->xdp_mode = WC_XSK_MODE_ZEROCOPY;
		else
			FAIL(WCP_ENV_PREFIX "XDP_MODE=%s: one of auto (zero copy where the driver has it), "
			     "copy, zerocopy", v);
	}
	v = getenv(WCP_ENV_PREFIX "CPUS");
	if (v && parse_cpus(v, s) < 0)
		FAIL(WCP_ENV_PREFIX "CPUS=%s: a comma-separated list of CPU numbers in 0..%ld (-1: not "
		     "pinned), one per capture thread in queue order", v, sysconf(_SC_NPROCESSORS_CONF) - 1);
	if (get_u32(WCP_ENV_PREFIX "TIMEOUT_US", 1, 1000000, &s->timeout_us) < 0)
		FAIL(WCP_ENV_PREFIX "TIMEOUT_US=%s: the partial-chunk capture timeout in 1..1000000 us "
		     "(default %u)", getenv(WCP_ENV_PREFIX "TIMEOUT_US"), WC_LIVE_TIMEOUT_US_DEFAULT);
	if (get_u32(WCP_ENV_PREFIX "BUCKETS", 1, WC_BALANCE_BUCKETS_MAX, &s->n_buckets) < 0 ||
	    (s->n_buckets & (s->n_buckets - 1)))
		FAIL(WCP_ENV_PREFIX "BUCKETS=%s: the redirection-table size is a power of two in 1..%u "
		     "(82599: 128), the RSS program's", getenv(WCP_ENV_PREFIX "BUCKETS"), WC_BALANCE_BUCKETS_MAX);
	if (get_u32(WCP_ENV_PREFIX "PERIOD_MS", 1, 10000, &s->period_ms) < 0)
		FAIL(WCP_ENV_PREFIX "PERIOD_MS=%s: the balancing period in 1..10000 ms (default %u)",
		     getenv(WCP_ENV_PREFIX "PERIOD_MS"), DEF_PERIOD_MS);
	if (get_path(WCP_ENV_PREFIX "BPFFS", s->bpffs, sizeof(s->bpffs)) < 0)
		FAIL(WCP_ENV_PREFIX "BPFFS=%s: an absolute directory path where a testbed pinned its "
		     "redirect program (invoke pcap-env prints it)", getenv(WCP_ENV_PREFIX "BPFFS"));
	if (get_path(WCP_ENV_PREFIX "STEER_MAP", s->steer_map, sizeof(s->steer_map)) < 0)
		FAIL(WCP_ENV_PREFIX "STEER_MAP=%s: the absolute path of the RSS program's pinned steer map",
		     getenv(WCP_ENV_PREFIX "STEER_MAP"));
	if (get_path(WCP_ENV_PREFIX "COUNTS_MAP", s->counts_map, sizeof(s->counts_map)) < 0)
		FAIL(WCP_ENV_PREFIX "COUNTS_MAP=%s: the absolute path of the RSS program's pinned counts map",
		     getenv(WCP_ENV_PREFIX "COUNTS_MAP"));
	if ((s->offload == WC_OFFLOAD_BUCKET || s->offload == WC_OFFLOAD_HYBRID) &&
	    (!s->steer_map[0] || !s->counts_map[0]))
		FAIL(WCP_ENV_PREFIX "OFFLOAD=%s moves redirection-table buckets: set " WCP_ENV_PREFIX
		     "STEER_MAP and " WCP_ENV_PREFIX "COUNTS_MAP to the RSS program's pinned maps "
		     "(invoke testbed-up --rss, then invoke pcap-env)", offloads[s->offload]);
	return 0;
}
