/* SPDX-License-Identifier: BSD-3-Clause */
/* Flow keys of frames, interned in a hash table; see ps_parse.h. */
#include "ps_parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* BSD socket address families seen in DLT_NULL / DLT_LOOP headers
 * (tcpdump.org/linktypes.html, LINKTYPE_NULL) */
#define PS_AF_INET 2
#define PS_AF_INET6_LINUX 10
#define PS_AF_INET6_BSD 24
#define PS_AF_INET6_FREEBSD 28
#define PS_AF_INET6_DARWIN 30

#define SLL_HLEN 16
#define SLL_PROTO_OFF 14
#define SLL2_HLEN 20
#define SLL2_PROTO_OFF 0

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int ps_linktype__supported(uint32_t linktype)
{
	switch (linktype) {
	case PS_LINKTYPE_NULL:
	case PS_LINKTYPE_ETHERNET:
	case PS_LINKTYPE_RAW:
	case PS_LINKTYPE_LOOP:
	case PS_LINKTYPE_LINUX_SLL:
	case PS_LINKTYPE_IPV4:
	case PS_LINKTYPE_IPV6:
	case PS_LINKTYPE_LINUX_SLL2:
		return 1;
	default:
		return 0;
	}
}

static void l4_ports(const uint8_t *p, uint32_t len, uint8_t proto, struct ps_key *k)
{
	if ((proto == PS_IPPROTO_TCP || proto == PS_IPPROTO_UDP) && len >= 4) {
		k->sport = be16(p);
		k->dport = be16(p + 2);
	}
}

/* IPv4 at p (len bytes available). Returns 1 if the header could be read. */
static int parse_ipv4(const uint8_t *p, uint32_t len, struct ps_key *k)
{
	uint32_t ihl;
	uint16_t frag;

	if (len < 20 || (p[0] >> 4) != 4)
		return 0;
	ihl = (uint32_t)(p[0] & 0x0f) * 4;
	k->l3 = 4;
	k->proto = p[9];
	memcpy(k->src, p + 12, 4);
	memcpy(k->dst, p + 16, 4);
	frag = be16(p + 6);
	/* RFC 791: MF flag 0x2000, fragment offset 0x1fff */
	k->frag = (frag & 0x3fff) != 0;
	if (ihl >= 20 && ihl <= len && (frag & 0x1fff) == 0)
		l4_ports(p + ihl, len - ihl, k->proto, k);
	return 1;
}

/*
 * Walk the IPv6 extension headers RFC 8200 §4 lists, from the fixed header
 * at p. Sets *proto to the upper-layer protocol and *frag for a Fragment
 * header; returns the offset of the upper-layer header, or PS_NO_L3 for a
 * non-first fragment or a chain cut short.
 */
static uint32_t ipv6_walk(const uint8_t *p, uint32_t len, uint8_t *proto, uint8_t *frag)
{
	uint32_t off = 40;
	uint8_t nh = p[6];

	*frag = 0;
	for (int i = 0; i < PS_IPV6_MAX_EXT_HDRS; i++) {
		if (nh == PS_IPPROTO_HOPOPTS || nh == PS_IPPROTO_ROUTING || nh == PS_IPPROTO_DSTOPTS) {
			if (off + 8 > len)
				break;
			nh = p[off];
			off += 8 + 8u * p[off + 1];
		} else if (nh == PS_IPPROTO_AH) {
			if (off + 8 > len)
				break;
			nh = p[off];
			off += 4u * (p[off + 1] + 2u); /* RFC 4302 §2.2 */
		} else if (nh == PS_IPPROTO_FRAGMENT) {
			if (off + 8 > len)
				break;
			*frag = 1;
			nh = p[off];
			/* RFC 8200 §4.5: offset in 8-octet units, upper 13 bits */
			if ((be16(p + off + 2) >> 3) != 0) {
				*proto = nh;
				return PS_NO_L3; /* non-first fragment: no L4 header */
			}
			off += 8;
		} else {
			break;
		}
	}
	*proto = nh;
	return off <= len ? off : PS_NO_L3;
}

static int parse_ipv6(const uint8_t *p, uint32_t len, struct ps_key *k)
{
	uint32_t off;

	if (len < 40 || (p[0] >> 4) != 6)
		return 0;
	k->l3 = 6;
	memcpy(k->src, p + 8, 16);
	memcpy(k->dst, p + 24, 16);
	off = ipv6_walk(p, len, &k->proto, &k->frag);
	if (off != PS_NO_L3)
		l4_ports(p + off, len - off, k->proto, k);
	return 1;
}

uint32_t ps_parse__l4_offset(const uint8_t *ip, uint32_t len)
{
	uint8_t proto, frag;

	if (len >= 20 && (ip[0] >> 4) == 4) {
		uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;

		if (ihl < 20 || ihl > len || (be16(ip + 6) & 0x1fff) != 0)
			return PS_NO_L3;
		return ihl;
	}
	if (len >= 40 && (ip[0] >> 4) == 6)
		return ipv6_walk(ip, len, &proto, &frag);
	return PS_NO_L3;
}

static uint32_t parse_ip(const uint8_t *frame, uint32_t caplen, uint32_t off, uint16_t ethertype,
			 struct ps_key *k)
{
	const uint8_t *p = frame + off;
	uint32_t len = off <= caplen ? caplen - off : 0;
	int ok = 0;

	k->ethertype = ethertype;
	if (ethertype == PS_ETH_P_IPV4)
		ok = parse_ipv4(p, len, k);
	else if (ethertype == PS_ETH_P_IPV6)
		ok = parse_ipv6(p, len, k);
	if (!ok) {
		/* not IP, or an IP header we cannot read: non-IP for RSS */
		k->l3 = 0;
		k->proto = 0;
		k->frag = 0;
		k->sport = k->dport = 0;
		memset(k->src, 0, sizeof(k->src));
		memset(k->dst, 0, sizeof(k->dst));
		return PS_NO_L3;
	}
	return off;
}

static uint16_t ethertype_of_version(const uint8_t *p, uint32_t len)
{
	if (len < 1)
		return 0;
	if ((p[0] >> 4) == 4)
		return PS_ETH_P_IPV4;
	if ((p[0] >> 4) == 6)
		return PS_ETH_P_IPV6;
	return 0;
}

static uint16_t ethertype_of_af(uint32_t af)
{
	if (af == PS_AF_INET)
		return PS_ETH_P_IPV4;
	if (af == PS_AF_INET6_LINUX || af == PS_AF_INET6_BSD || af == PS_AF_INET6_FREEBSD ||
	    af == PS_AF_INET6_DARWIN)
		return PS_ETH_P_IPV6;
	return 0;
}

uint32_t ps_parse__frame(const uint8_t *frame, uint32_t caplen, uint32_t linktype,
			 struct ps_key *key)
{
	uint32_t off, r;
	uint16_t et;

	memset(key, 0, sizeof(*key));
	switch (linktype) {
	case PS_LINKTYPE_ETHERNET:
		if (caplen < PS_ETH_HLEN) {
			/* a runt: whatever MAC bytes exist identify it */
			memcpy(key->dst, frame, caplen < 6 ? caplen : 6);
			if (caplen > 6)
				memcpy(key->src, frame + 6, caplen - 6 < 6 ? caplen - 6 : 6);
			return PS_NO_L3;
		}
		et = be16(frame + 12);
		off = PS_ETH_HLEN;
		for (int i = 0; i < PS_VLAN_MAX_TAGS &&
				(et == PS_ETH_P_8021Q || et == PS_ETH_P_8021AD || et == PS_ETH_P_QINQ_OLD) &&
				off + PS_VLAN_HLEN <= caplen; i++) {
			et = be16(frame + off + 2);
			off += PS_VLAN_HLEN;
		}
		r = parse_ip(frame, caplen, off, et, key);
		if (r == PS_NO_L3) {
			memcpy(key->dst, frame, 6);
			memcpy(key->src, frame + 6, 6);
		}
		return r;
	case PS_LINKTYPE_RAW:
	case PS_LINKTYPE_IPV4:
	case PS_LINKTYPE_IPV6:
		return parse_ip(frame, caplen, 0, ethertype_of_version(frame, caplen), key);
	case PS_LINKTYPE_NULL:
	case PS_LINKTYPE_LOOP: {
		uint32_t af;

		if (caplen < 4)
			return PS_NO_L3;
		af = be32(frame);
		/* DLT_NULL is in the writer's byte order: small values tell */
		if (linktype == PS_LINKTYPE_NULL && af > 0xffff)
			af = ((uint32_t)frame[3] << 24) | ((uint32_t)frame[2] << 16) |
			     ((uint32_t)frame[1] << 8) | frame[0];
		return parse_ip(frame, caplen, 4, ethertype_of_af(af), key);
	}
	case PS_LINKTYPE_LINUX_SLL:
		if (caplen < SLL_HLEN)
			return PS_NO_L3;
		return parse_ip(frame, caplen, SLL_HLEN, be16(frame + SLL_PROTO_OFF), key);
	case PS_LINKTYPE_LINUX_SLL2:
		if (caplen < SLL2_HLEN)
			return PS_NO_L3;
		return parse_ip(frame, caplen, SLL2_HLEN, be16(frame + SLL2_PROTO_OFF), key);
	default:
		return PS_NO_L3;
	}
}

/* ---- key table -------------------------------------------------------- */

struct ps_keytab {
	struct ps_key *keys; /* dense, insertion order */
	int64_t n, cap;
	int32_t *slots;      /* open addressing: index + 1, 0 = empty */
	uint64_t nslots;     /* power of two, kept >= 2 * cap */
};

static uint64_t key_hash(const struct ps_key *k)
{
	/* FNV-1a, 64-bit (Fowler/Noll/Vo, IETF draft-eastlake-fnv) */
	const uint8_t *p = (const uint8_t *)k;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < sizeof(*k); i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

int ps_keytab__create(struct ps_keytab **out)
{
	struct ps_keytab *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->cap = 1024;
	t->nslots = 2048;
	t->keys = malloc(t->cap * sizeof(*t->keys));
	t->slots = calloc(t->nslots, sizeof(*t->slots));
	if (!t->keys || !t->slots) {
		ps_keytab__destroy(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void ps_keytab__destroy(struct ps_keytab *t)
{
	if (!t)
		return;
	free(t->keys);
	free(t->slots);
	free(t);
}

static int grow(struct ps_keytab *t)
{
	int64_t ncap = 2 * t->cap;
	uint64_t nslots = 2 * t->nslots, mask = nslots - 1;
	struct ps_key *nk = realloc(t->keys, ncap * sizeof(*nk));
	int32_t *ns;

	if (!nk)
		return -ENOMEM;
	t->keys = nk;
	ns = calloc(nslots, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (int64_t i = 0; i < t->n; i++) {
		uint64_t s = key_hash(&t->keys[i]) & mask;

		while (ns[s])
			s = (s + 1) & mask;
		ns[s] = (int32_t)(i + 1);
	}
	free(t->slots);
	t->slots = ns;
	t->nslots = nslots;
	t->cap = ncap;
	return 0;
}

int64_t ps_keytab__intern(struct ps_keytab *t, const struct ps_key *k)
{
	uint64_t mask = t->nslots - 1, s = key_hash(k) & mask;

	while (t->slots[s]) {
		int64_t i = t->slots[s] - 1;

		if (!memcmp(&t->keys[i], k, sizeof(*k)))
			return i;
		s = (s + 1) & mask;
	}
	if (t->n == t->cap) {
		int rc = grow(t);

		if (rc)
			return rc;
		return ps_keytab__intern(t, k);
	}
	t->keys[t->n] = *k;
	t->slots[s] = (int32_t)(t->n + 1);
	return t->n++;
}

int64_t ps_keytab__count(const struct ps_keytab *t)
{
	return t->n;
}

void ps_keytab__copy(const struct ps_keytab *t, struct ps_key *out)
{
	memcpy(out, t->keys, t->n * sizeof(*out));
}

int ps_parse__packets(const uint8_t *buf, const int64_t *data_off, const uint32_t *cap_len,
		      const uint16_t *linktype, uint32_t linktype_all, int64_t n,
		      struct ps_keytab *tab, int32_t *key_idx, uint16_t *l3_off)
{
	struct ps_key k;

	for (int64_t i = 0; i < n; i++) {
		uint32_t lt = linktype ? linktype[i] : linktype_all;
		uint32_t l3 = ps_parse__frame(buf + data_off[i], cap_len[i], lt, &k);
		int64_t idx = ps_keytab__intern(tab, &k);

		if (idx < 0)
			return (int)idx;
		key_idx[i] = (int32_t)idx;
		if (l3_off)
			l3_off[i] = (uint16_t)(l3 > 0xffff ? PS_NO_L3 : l3);
	}
	return 0;
}
