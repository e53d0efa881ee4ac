/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ps_parse: find the flow key of each packet (link layer -> IPv4/IPv6 ->
 * TCP/UDP ports) and intern the keys into a table, so that a trace of
 * millions of packets becomes one int32 per packet plus a small table of
 * distinct keys. RSS, flow ids and address rewriting then work on the table.
 *
 * What a key holds (struct ps_key, mirrored by traces.trace.KEY_DTYPE):
 *
 *   l3         0 (not IP, or an IP header too short to read), 4 or 6
 *   proto      IP protocol; for IPv6 the one after the extension headers
 *   frag       1 for an IP fragment: IPv4 with MF set or a non-zero offset,
 *              IPv6 with a Fragment header. 82599 datasheet §7.1.2.8.1:
 *              fragmented IPv4 is hashed on the addresses only.
 *   sport/dport TCP or UDP ports (host order) when the L4 header is present
 *              (not in non-first fragments); 0 otherwise
 *   ethertype  after any 802.1Q / 802.1ad tags (which are skipped)
 *   src/dst    IPv4: 4 bytes then zeros; IPv6: 16 bytes (network order);
 *              non-IP Ethernet: the MAC addresses (6 bytes then zeros)
 *
 * Per packet, ps_parse__packets also reports the offset of the IP header in
 * the frame (0xffff when there is none), which the address rewrite uses.
 */
#ifndef PS_PARSE_H
#define PS_PARSE_H

#include <stdint.h>

/* tcpdump.org/linktypes.html */
#define PS_LINKTYPE_NULL 0          /* BSD loopback, 4-byte AF in host order */
#define PS_LINKTYPE_ETHERNET 1
#define PS_LINKTYPE_RAW 101         /* raw IPv4 or IPv6 */
#define PS_LINKTYPE_LOOP 108        /* OpenBSD loopback, 4-byte AF in network order */
#define PS_LINKTYPE_LINUX_SLL 113   /* Linux cooked v1, 16-byte header */
#define PS_LINKTYPE_IPV4 228
#define PS_LINKTYPE_IPV6 229
#define PS_LINKTYPE_LINUX_SLL2 276  /* Linux cooked v2, 20-byte header */

/* IEEE 802.3 / IANA ethertypes */
#define PS_ETH_P_IPV4 0x0800
#define PS_ETH_P_IPV6 0x86dd
#define PS_ETH_P_8021Q 0x8100
#define PS_ETH_P_8021AD 0x88a8
#define PS_ETH_P_QINQ_OLD 0x9100
#define PS_ETH_HLEN 14
#define PS_VLAN_HLEN 4
#define PS_VLAN_MAX_TAGS 4

/* IANA protocol numbers */
#define PS_IPPROTO_HOPOPTS 0
#define PS_IPPROTO_TCP 6
#define PS_IPPROTO_UDP 17
#define PS_IPPROTO_ROUTING 43
#define PS_IPPROTO_FRAGMENT 44
#define PS_IPPROTO_AH 51
#define PS_IPPROTO_DSTOPTS 60
#define PS_IPPROTO_ICMPV6 58
#define PS_IPV6_MAX_EXT_HDRS 8

#define PS_NO_L3 0xffffu

struct ps_key {
	uint8_t l3;
	uint8_t proto;
	uint8_t frag;
	uint8_t pad0;
	uint16_t sport;
	uint16_t dport;
	uint16_t ethertype;
	uint16_t pad1;
	uint8_t src[16];
	uint8_t dst[16];
}; /* 44 bytes, no implicit padding */

/* 1 if ps_parse knows how to find the network layer in this link type */
int ps_linktype__supported(uint32_t linktype);

/*
 * Offset of the transport header from the start of an IP header of len
 * bytes (IPv4 options and IPv6 extension headers skipped), or PS_NO_L3 when
 * there is none to find: a non-first fragment or a header cut short.
 */
uint32_t ps_parse__l4_offset(const uint8_t *ip, uint32_t len);

/* Parse one frame into *key; returns the offset of the IP header or PS_NO_L3. */
uint32_t ps_parse__frame(const uint8_t *frame, uint32_t caplen, uint32_t linktype,
			 struct ps_key *key);

/*
 * The key table: an open-addressing hash set of keys, each with a dense
 * index in insertion order (so the same file always gives the same
 * indexes).
 */
struct ps_keytab;
int ps_keytab__create(struct ps_keytab **tab);
void ps_keytab__destroy(struct ps_keytab *tab);
/* index of key, inserting it if new; negative errno on allocation failure */
int64_t ps_keytab__intern(struct ps_keytab *tab, const struct ps_key *key);
int64_t ps_keytab__count(const struct ps_keytab *tab);
/* copy the keys, in index order, into out[0 .. count) */
void ps_keytab__copy(const struct ps_keytab *tab, struct ps_key *out);

/*
 * Parse n frames at buf + data_off[i] (cap_len[i] bytes each). linktype is
 * per packet (NULL: every packet has linktype_all). Writes key_idx[i] and,
 * if l3_off is not NULL, the IP header offset. Returns 0 or a negative
 * errno (allocation failure).
 */
int ps_parse__packets(const uint8_t *buf, const int64_t *data_off, const uint32_t *cap_len,
		      const uint16_t *linktype, uint32_t linktype_all, int64_t n,
		      struct ps_keytab *tab, int32_t *key_idx, uint16_t *l3_off);

#endif /* PS_PARSE_H */
