/* SPDX-License-Identifier: BSD-3-Clause */
/* pcap record writers and in-frame address rewriting; see ps_write.h. */
#include "ps_write.h"
#include "ps_capture.h"

#include <errno.h>
#include <string.h>

#define NSEC_PER_SEC 1000000000LL
#define NSEC_PER_USEC 1000LL
#define IPV4_HLEN 20
#define IPV6_HLEN 40
#define TCP_HLEN 20
#define UDP_HLEN 8
#define IP_TTL_DEFAULT 64   /* RFC 1700 / Linux net.ipv4.ip_default_ttl */
#define IPV4_DF 0x4000      /* RFC 791 */
#define IPV4_MF 0x2000
#define TCP_FLAG_ACK 0x10   /* RFC 793 */
#define TCP_WINDOW 65535
#define TCP_CSUM_OFF 16
#define UDP_CSUM_OFF 6
#define ICMPV6_CSUM_OFF 2  /* RFC 4443 §2.1; the checksum covers a pseudo-header (§2.3) */

static inline void wr16be(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wr32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint16_t rd16be(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* RFC 1071 ones'-complement sum of 16-bit big-endian words (len even) */
static uint32_t sum16(const uint8_t *p, uint32_t len, uint32_t acc)
{
	for (uint32_t i = 0; i + 1 < len; i += 2)
		acc += rd16be(p + i);
	if (len & 1)
		acc += (uint32_t)p[len - 1] << 8;
	return acc;
}

static uint16_t fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

static void record_header(uint8_t *h, int64_t ts, int nsec, uint32_t cap, uint32_t wire)
{
	int64_t sec = ts / NSEC_PER_SEC, frac = ts % NSEC_PER_SEC;

	if (frac < 0) {
		frac += NSEC_PER_SEC;
		sec -= 1;
	}
	wr32le(h, (uint32_t)sec);
	wr32le(h + 4, (uint32_t)(nsec ? frac : frac / NSEC_PER_USEC));
	wr32le(h + 8, cap);
	wr32le(h + 12, wire);
}

int64_t ps_write__pcap(uint8_t *out, int64_t out_cap, int64_t n, int nsec, const int64_t *ts_ns,
		       const uint32_t *wire_len, const uint32_t *cap_len, const uint8_t *data,
		       const int64_t *data_off)
{
	int64_t o = 0;

	for (int64_t i = 0; i < n; i++) {
		if (o + PS_PCAP_REC_HDR_LEN + (int64_t)cap_len[i] > out_cap)
			return -ENOSPC;
		record_header(out + o, ts_ns[i], nsec, cap_len[i], wire_len[i]);
		memcpy(out + o + PS_PCAP_REC_HDR_LEN, data + data_off[i], cap_len[i]);
		o += PS_PCAP_REC_HDR_LEN + cap_len[i];
	}
	return o;
}

uint32_t ps_synth__header_len(const struct ps_key *k)
{
	uint32_t len = PS_ETH_HLEN;

	if (k->l3 == 4)
		len += IPV4_HLEN;
	else if (k->l3 == 6)
		len += IPV6_HLEN;
	else
		return len;
	if (k->proto == PS_IPPROTO_TCP)
		len += TCP_HLEN;
	else if (k->proto == PS_IPPROTO_UDP)
		len += UDP_HLEN;
	return len;
}

static void mac_of(uint8_t *mac, const uint8_t *addr, int l3)
{
	const uint8_t *low = l3 == 6 ? addr + 12 : addr;

	mac[0] = 0x02; /* locally administered, unicast */
	mac[1] = 0x00;
	memcpy(mac + 2, low, 4);
}

/* Build the headers of one frame into h (PS_SYNTH_HDR_MAX bytes). */
static uint32_t synth_headers(uint8_t *h, const struct ps_key *k, uint32_t wire, int64_t index)
{
	uint32_t hl = ps_synth__header_len(k), alen = k->l3 == 6 ? 16 : 4, l4len, o;
	uint32_t acc;

	memset(h, 0, PS_SYNTH_HDR_MAX);
	if (k->l3 == 0) {
		memcpy(h, k->dst, 6);
		memcpy(h + 6, k->src, 6);
		wr16be(h + 12, k->ethertype);
		return hl;
	}
	mac_of(h, k->dst, k->l3);
	mac_of(h + 6, k->src, k->l3);
	wr16be(h + 12, k->l3 == 6 ? PS_ETH_P_IPV6 : PS_ETH_P_IPV4);
	o = PS_ETH_HLEN;
	if (k->l3 == 4) {
		uint8_t *ip = h + o;

		ip[0] = 0x45;
		wr16be(ip + 2, (uint16_t)(wire - PS_ETH_HLEN));
		wr16be(ip + 4, (uint16_t)index);
		wr16be(ip + 6, k->frag ? IPV4_MF : IPV4_DF);
		ip[8] = IP_TTL_DEFAULT;
		ip[9] = k->proto;
		memcpy(ip + 12, k->src, 4);
		memcpy(ip + 16, k->dst, 4);
		wr16be(ip + 10, (uint16_t)~fold(sum16(ip, IPV4_HLEN, 0)));
		o += IPV4_HLEN;
	} else {
		uint8_t *ip = h + o;

		ip[0] = 0x60;
		wr16be(ip + 4, (uint16_t)(wire - PS_ETH_HLEN - IPV6_HLEN));
		ip[6] = k->proto;
		ip[7] = IP_TTL_DEFAULT;
		memcpy(ip + 8, k->src, 16);
		memcpy(ip + 24, k->dst, 16);
		o += IPV6_HLEN;
	}
	l4len = wire - o;
	if (k->proto != PS_IPPROTO_TCP && k->proto != PS_IPPROTO_UDP)
		return hl;
	/* pseudo-header: RFC 793 §3.1 (IPv4), RFC 8200 §8.1 (IPv6) */
	acc = sum16(k->src, alen, 0);
	acc = sum16(k->dst, alen, acc);
	acc += k->proto + (l4len & 0xffff) + (l4len >> 16);
	if (k->proto == PS_IPPROTO_TCP) {
		uint8_t *t = h + o;

		wr16be(t, k->sport);
		wr16be(t + 2, k->dport);
		t[12] = (TCP_HLEN / 4) << 4;
		t[13] = TCP_FLAG_ACK;
		wr16be(t + 14, TCP_WINDOW);
		wr16be(t + TCP_CSUM_OFF, (uint16_t)~fold(sum16(t, TCP_HLEN, acc)));
	} else {
		uint8_t *u = h + o;
		uint16_t c;

		wr16be(u, k->sport);
		wr16be(u + 2, k->dport);
		wr16be(u + 4, (uint16_t)l4len);
		c = (uint16_t)~fold(sum16(u, UDP_HLEN, acc));
		wr16be(u + UDP_CSUM_OFF, c ? c : 0xffff); /* RFC 768: 0 means "none" */
	}
	return hl;
}

int64_t ps_synth__frames(uint8_t *out, int64_t out_cap, int64_t n, const uint32_t *wire_len,
			 const uint32_t *cap_len, const struct ps_key *keys, const int32_t *key_idx,
			 int64_t first_index)
{
	uint8_t hdr[PS_SYNTH_HDR_MAX];
	int64_t o = 0;

	for (int64_t i = 0; i < n; i++) {
		uint32_t cap = cap_len[i], hl, c;

		if (o + (int64_t)cap > out_cap)
			return -ENOSPC;
		hl = synth_headers(hdr, &keys[key_idx[i]], wire_len[i], first_index + i);
		c = hl < cap ? hl : cap;
		memcpy(out + o, hdr, c);
		if (cap > c)
			memset(out + o + c, 0, cap - c);
		o += cap;
	}
	return o;
}

int64_t ps_write__pcapng(uint8_t *out, int64_t out_cap, int64_t n, const int64_t *ts_ns,
			 const uint32_t *wire_len, const uint32_t *cap_len, const uint8_t *data,
			 const int64_t *data_off)
{
	int64_t o = 0;

	for (int64_t i = 0; i < n; i++) {
		uint32_t padded = (cap_len[i] + 3u) & ~3u, blen = PS_PCAPNG_EPB_OVERHEAD + padded;
		uint64_t ts = (uint64_t)ts_ns[i];
		uint8_t *b = out + o;

		if (o + (int64_t)blen > out_cap)
			return -ENOSPC;
		wr32le(b, PS_PCAPNG_EPB);
		wr32le(b + 4, blen);
		wr32le(b + 8, 0); /* interface 0 */
		wr32le(b + 12, (uint32_t)(ts >> 32));
		wr32le(b + 16, (uint32_t)ts);
		wr32le(b + 20, cap_len[i]);
		wr32le(b + 24, wire_len[i]);
		memcpy(b + 28, data + data_off[i], cap_len[i]);
		memset(b + 28 + cap_len[i], 0, padded - cap_len[i]);
		wr32le(b + 28 + padded, blen);
		o += blen;
	}
	return o;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for each changed 16-bit word */
static uint16_t csum_update(uint16_t hc, const uint8_t *old, const uint8_t *new_, uint32_t len)
{
	uint32_t acc = (uint16_t)~hc;

	for (uint32_t i = 0; i < len; i += 2) {
		acc += (uint16_t)~rd16be(old + i);
		acc += rd16be(new_ + i);
	}
	return (uint16_t)~fold(acc);
}

int64_t ps_rewrite__addresses(uint8_t *data, const int64_t *data_off, const uint32_t *cap_len,
			      const uint16_t *l3_off, const int32_t *key_idx, int64_t n,
			      const struct ps_key *old, const struct ps_key *new_)
{
	int64_t done = 0;

	for (int64_t i = 0; i < n; i++) {
		const struct ps_key *ko = &old[key_idx[i]], *kn = &new_[key_idx[i]];
		uint8_t *ip, *src, *dst;
		uint32_t avail, alen, l4, coff;

		if (l3_off[i] == PS_NO_L3 || ko->l3 == 0)
			continue;
		ip = data + data_off[i] + l3_off[i];
		avail = cap_len[i] - l3_off[i];
		alen = ko->l3 == 6 ? 16 : 4;
		src = ip + (ko->l3 == 6 ? 8 : 12);
		dst = src + alen;
		if (memcmp(src, ko->src, alen) || memcmp(dst, ko->dst, alen))
			return -EINVAL;
		memcpy(src, kn->src, alen);
		memcpy(dst, kn->dst, alen);
		if (ko->l3 == 4) {
			uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;

			/* the header checksum: recompute when the whole header is there */
			if (ihl >= IPV4_HLEN && ihl <= avail) {
				ip[10] = ip[11] = 0;
				wr16be(ip + 10, (uint16_t)~fold(sum16(ip, ihl, 0)));
			}
		}
		done++;
		/* transport checksums that cover a pseudo-header with both addresses */
		if (ko->proto == PS_IPPROTO_TCP)
			coff = TCP_CSUM_OFF;
		else if (ko->proto == PS_IPPROTO_UDP)
			coff = UDP_CSUM_OFF;
		else if (ko->proto == PS_IPPROTO_ICMPV6 && ko->l3 == 6)
			coff = ICMPV6_CSUM_OFF;
		else
			continue;
		l4 = ps_parse__l4_offset(ip, avail);
		if (l4 == PS_NO_L3 || l4 + coff + 2 > avail)
			continue;
		{
			uint16_t hc = rd16be(ip + l4 + coff);

			/* UDP over IPv4 may carry no checksum (RFC 768) */
			if (ko->proto == PS_IPPROTO_UDP && hc == 0 && ko->l3 == 4)
				continue;
			hc = csum_update(hc, ko->src, kn->src, alen);
			hc = csum_update(hc, ko->dst, kn->dst, alen);
			if (ko->proto == PS_IPPROTO_UDP && hc == 0)
				hc = 0xffff;
			wr16be(ip + l4 + coff, hc);
		}
	}
	return done;
}
