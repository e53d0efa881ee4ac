/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Devices and names: pcap_findalldevs lists a wirecap:IFACE device for
 * every interface the system's libpcap lists (loopback and pseudo-devices
 * aside), pcap_lookupnet answers for wirecap:IFACE[@Q] what it answers for
 * IFACE, pcap_lib_version names WireCAP and the system libpcap behind it;
 * and libpcap's two data symbols.
 */
#define _GNU_SOURCE
#include "wcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef WCP_SYSTEM_VERSION
#error "the build defines WCP_SYSTEM_VERSION: the system libpcap's version number"
#endif
#define WCP_VERSION "1.0"

/* libpcap exports these two arrays; no header declares them. A program
 * that uses one has a copy made at load time, before any code runs, so
 * they are data here too: the version number of the system library, and
 * Ethernet protocol names with their EtherType (IEEE 802 registry), as
 * many entries as Debian 12's libpcap has (13 with the end marker). */
__attribute__((visibility("default"))) char pcap_version[] = WCP_SYSTEM_VERSION;

struct wcp_eproto {
	const char *s;
	unsigned short p;
};
__attribute__((visibility("default"))) struct wcp_eproto eproto_db[] = {
	{ "ip", 0x0800 },     { "ip6", 0x86dd },  { "arp", 0x0806 },  { "rarp", 0x8035 },
	{ "pup", 0x0200 },    { "xns", 0x0600 },  { "sprite", 0x0500 }, { "mopdl", 0x6001 },
	{ "moprc", 0x6002 },  { "decnet", 0x6003 }, { "lat", 0x6004 }, { "sca", 0x6007 },
	{ NULL, 0 },
};

static char version[256];

static void version_init(void)
{
	snprintf(version, sizeof(version), "WireCAP libpcap-ABI library %s (devices wirecap:IFACE and "
		 "wirecap:IFACE@Q) over %s", WCP_VERSION,
		 wcp_system_load(NULL) ? "no system libpcap" : wcp_real_pcap_lib_version());
}

const char *pcap_lib_version(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, version_init);
	return version;
}

/* the interface part of wirecap:IFACE[@Q] */
static const char *iface_of(const char *dev, char *buf, size_t size)
{
	const char *name = dev + strlen(WCP_PREFIX);
	size_t n = strcspn(name, "@");

	snprintf(buf, size, "%.*s", (int)n, name);
	return buf;
}

int pcap_lookupnet(const char *device, bpf_u_int32 *net, bpf_u_int32 *mask, char *errbuf)
{
	char ifname[IF_NAMESIZE + 1];

	if (wcp_system_load(errbuf) < 0)
		return PCAP_ERROR;
	if (device && !strncmp(device, WCP_PREFIX, strlen(WCP_PREFIX)))
		device = iface_of(device, ifname, sizeof(ifname));
	return wcp_real_pcap_lookupnet(device, net, mask, errbuf);
}

int pcap_findalldevs(pcap_if_t **alldevs, char *errbuf)
{
	pcap_if_t *d, *last = NULL, *added = NULL, **tail = &added;
	int rc;

	if (wcp_system_load(errbuf) < 0)
		return PCAP_ERROR;
	rc = wcp_real_pcap_findalldevs(alldevs, errbuf);
	if (rc < 0)
		return rc;
	for (d = *alldevs; d; d = d->next) {
		pcap_if_t *w;
		uint32_t nq;

		last = d;
		/* interfaces only: no loopback, no "any", no pseudo-devices */
		if ((d->flags & PCAP_IF_LOOPBACK) || !if_nametoindex(d->name) || strchr(d->name, ':'))
			continue;
		nq = wcp_if_queues(d->name);
		/* freed by the system's pcap_freealldevs: malloc'd the way it frees */
		w = calloc(1, sizeof(*w));
		if (!w)
			break;
		if (asprintf(&w->name, WCP_PREFIX "%s", d->name) < 0 ||
		    asprintf(&w->description, "WireCAP capture on %s: all %u receive queue(s), or "
			     WCP_PREFIX "%s@Q for queue Q", d->name, nq ? nq : 1, d->name) < 0) {
			free(w->name);
			free(w);
			break;
		}
		w->flags = d->flags & (PCAP_IF_UP | PCAP_IF_RUNNING | PCAP_IF_CONNECTION_STATUS);
		*tail = w;
		tail = &w->next;
	}
	/* after the system's devices: a program that takes the first device
	 * by default keeps taking the one it took before */
	if (last)
		last->next = added;
	else
		*alldevs = added;
	return 0;
}
