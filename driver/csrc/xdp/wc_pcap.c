/* SPDX-License-Identifier: BSD-3-Clause */
/* libpcap behind opaque handles; contract in wc_pcap.h. This is the only
 * file that includes pcap/pcap.h (see wc_bpf.h for why). */
#include "wc_pcap.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wc_filter {
	struct bpf_program prog;
};

struct wc_pcap {
	pcap_t *p;
	int fd;
	wc_pkt_cb cb;
	void *user;
};

int wc_filter__compile(struct wc_filter **out, const char *expr, int snaplen, char *errbuf)
{
	struct wc_filter *f;
	pcap_t *dead;
	int err = 0;

	if (!out || !expr)
		return -EINVAL;
	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	dead = pcap_open_dead(DLT_EN10MB, snaplen > 0 ? snaplen : 65535);
	if (!dead) {
		free(f);
		return -ENOMEM;
	}
	if (pcap_compile(dead, &f->prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		if (errbuf)
			snprintf(errbuf, WC_ERRBUF_SIZE, "%s", pcap_geterr(dead));
		err = -EINVAL;
	}
	pcap_close(dead);
	if (err) {
		free(f);
		return err;
	}
	*out = f;
	return 0;
}

int wc_filter__copy(struct wc_filter **out, const void *insns, uint32_t n)
{
	struct wc_filter *f;

	if (!out || !insns || !n || !bpf_validate(insns, (int)n))
		return -EINVAL;
	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	/* malloc'd like pcap_compile's, so that pcap_freecode frees it */
	f->prog.bf_insns = malloc(n * sizeof(struct bpf_insn));
	if (!f->prog.bf_insns) {
		free(f);
		return -ENOMEM;
	}
	memcpy(f->prog.bf_insns, insns, n * sizeof(struct bpf_insn));
	f->prog.bf_len = n;
	*out = f;
	return 0;
}

void wc_filter__destroy(struct wc_filter *f)
{
	if (!f)
		return;
	pcap_freecode(&f->prog);
	free(f);
}

uint32_t wc_filter__run(const struct wc_filter *f, const uint8_t *pkt, uint32_t wirelen,
			uint32_t caplen)
{
	return bpf_filter(f->prog.bf_insns, pkt, wirelen, caplen);
}

uint32_t wc_filter__insns(const struct wc_filter *f)
{
	return f->prog.bf_len;
}

int wc_pcap__open(struct wc_pcap **out, const char *ifname, int snaplen, int buffer_bytes,
		  int timeout_ms, char *errbuf)
{
	char eb[PCAP_ERRBUF_SIZE] = "";
	struct wc_pcap *w;
	int rc;

	if (!out || !ifname)
		return -EINVAL;
	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->p = pcap_create(ifname, eb);
	if (!w->p) {
		rc = -ENODEV;
		goto err_free;
	}
	pcap_set_snaplen(w->p, snaplen > 0 ? snaplen : 65535);
	pcap_set_promisc(w->p, 1);
	pcap_set_timeout(w->p, timeout_ms > 0 ? timeout_ms : 1);
	pcap_set_tstamp_precision(w->p, PCAP_TSTAMP_PRECISION_NANO);
	if (buffer_bytes > 0)
		pcap_set_buffer_size(w->p, buffer_bytes);
	rc = pcap_activate(w->p);
	if (rc < 0) {
		snprintf(eb, sizeof(eb), "%s", pcap_geterr(w->p));
		rc = rc == PCAP_ERROR_PERM_DENIED ? -EPERM : rc == PCAP_ERROR_NO_SUCH_DEVICE ? -ENODEV : -EIO;
		goto err_close;
	}
	if (pcap_setnonblock(w->p, 1, eb) < 0) {
		rc = -EIO;
		goto err_close;
	}
	w->fd = pcap_get_selectable_fd(w->p);
	*out = w;
	return 0;

err_close:
	pcap_close(w->p);
err_free:
	if (errbuf)
		snprintf(errbuf, WC_ERRBUF_SIZE, "%s", eb);
	free(w);
	return rc;
}

void wc_pcap__close(struct wc_pcap *w)
{
	if (!w)
		return;
	pcap_close(w->p);
	free(w);
}

int wc_pcap__setfilter(struct wc_pcap *w, const char *expr, char *errbuf)
{
	struct bpf_program prog;
	int rc = 0;

	if (pcap_compile(w->p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		if (errbuf)
			snprintf(errbuf, WC_ERRBUF_SIZE, "%s", pcap_geterr(w->p));
		return -EINVAL;
	}
	if (pcap_setfilter(w->p, &prog) < 0) {
		if (errbuf)
			snprintf(errbuf, WC_ERRBUF_SIZE, "%s", pcap_geterr(w->p));
		rc = -EIO;
	}
	pcap_freecode(&prog);
	return rc;
}

static void trampoline(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct wc_pcap *w = (struct wc_pcap *)user;
	struct wc_pkthdr hdr = {
		/* PCAP_TSTAMP_PRECISION_NANO: tv_usec holds nanoseconds */
		.ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec,
		.caplen = h->caplen,
		.len = h->len,
	};

	w->cb(w->user, &hdr, bytes);
}

int wc_pcap__dispatch(struct wc_pcap *w, int cnt, wc_pkt_cb cb, void *user, int timeout_ms)
{
	int n;

	w->cb = cb;
	w->user = user;
	n = pcap_dispatch(w->p, cnt, trampoline, (u_char *)w);
	if (n == 0 && timeout_ms != 0 && w->fd >= 0) {
		struct pollfd p = { .fd = w->fd, .events = POLLIN };

		if (poll(&p, 1, timeout_ms) > 0)
			n = pcap_dispatch(w->p, cnt, trampoline, (u_char *)w);
	}
	if (n == PCAP_ERROR_BREAK)
		return 0;
	return n < 0 ? -EIO : n;
}

int wc_pcap__stats(struct wc_pcap *w, uint64_t *recv, uint64_t *drop, uint64_t *ifdrop)
{
	struct pcap_stat st;

	if (pcap_stats(w->p, &st) < 0)
		return -EIO;
	*recv = st.ps_recv;
	*drop = st.ps_drop;
	*ifdrop = st.ps_ifdrop;
	return 0;
}

const char *wc_pcap__version(void)
{
	return pcap_lib_version();
}
