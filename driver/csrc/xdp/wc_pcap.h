/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_pcap: everything that needs libpcap, behind opaque handles so that
 * callers never include pcap/pcap.h (which clashes with linux/bpf.h on
 * struct bpf_insn).
 *
 *   wc_filter  a BPF filter compiled by libpcap (pcap_compile_nopcap) and
 *              run by libpcap's bpf_filter(): the pcap_setfilter() of the
 *              WireCAP API, and the per-packet work of pkt_handler ("the
 *              BPF filter ... is applied x times", paper §2.2);
 *   wc_pcap    a libpcap live capture on an interface: the reference
 *              engine (what tcpdump uses underneath: AF_PACKET TPACKET_V3).
 */
#ifndef WC_PCAP_H
#define WC_PCAP_H

#include <stdint.h>

#include "wc_pkt.h"

/* the paper's §2.2 filter (one Fermilab /24 and UDP), moved into RFC 2544's benchmark range
 * (a string: cffi's declarations take integer macros only, so it stays
 * outside the marked part) */
#define WC_PAPER_FILTER "net 198.18.2.0/24 and udp"

/* cffi:begin */

/* PCAP_ERRBUF_SIZE */
#define WC_ERRBUF_SIZE 256u

struct wc_filter;
struct wc_pcap;

/* Compile expr for Ethernet frames (DLT_EN10MB), optimized. -EINVAL with
 * libpcap's message in errbuf for a bad expression. */
int wc_filter__compile(struct wc_filter **f, const char *expr, int snaplen, char *errbuf);
/* A filter from a compiled program (pcap_setfilter's struct bpf_program:
 * insns are n struct bpf_insn), copied. -EINVAL unless bpf_validate()
 * accepts it. */
int wc_filter__copy(struct wc_filter **f, const void *insns, uint32_t n);
void wc_filter__destroy(struct wc_filter *f);
/* libpcap's bpf_filter(): the filter's return value (0 = reject). */
uint32_t wc_filter__run(const struct wc_filter *f, const uint8_t *pkt, uint32_t wirelen,
			uint32_t caplen);
/* Number of BPF instructions after optimization. */
uint32_t wc_filter__insns(const struct wc_filter *f);

/* Open ifname (in the calling thread's network namespace). buffer_bytes 0:
 * libpcap's default; timeout_ms: the packet buffer timeout. */
int wc_pcap__open(struct wc_pcap **p, const char *ifname, int snaplen, int buffer_bytes,
		  int timeout_ms, char *errbuf);
void wc_pcap__close(struct wc_pcap *p);
/* pcap_setfilter with a compiled expression (kernel-side filter). */
int wc_pcap__setfilter(struct wc_pcap *p, const char *expr, char *errbuf);
/* pcap_dispatch(); queue in the header is 0. Blocks at most timeout_ms
 * (poll on pcap_get_selectable_fd) when nothing is buffered. Returns the
 * number of packets processed, or -errno. */
int wc_pcap__dispatch(struct wc_pcap *p, int cnt, wc_pkt_cb cb, void *user, int timeout_ms);
/* pcap_stats(): ps_recv, ps_drop, ps_ifdrop. */
int wc_pcap__stats(struct wc_pcap *p, uint64_t *recv, uint64_t *drop, uint64_t *ifdrop);
/* libpcap's version string */
const char *wc_pcap__version(void);

/* cffi:end */
#endif /* WC_PCAP_H */
