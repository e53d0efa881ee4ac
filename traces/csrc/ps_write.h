/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ps_write: produce capture-file records (pcap, or pcapng Enhanced Packet
 * Blocks; little-endian), synthesize frames for traces that have no
 * captured bytes, and rewrite addresses inside captured frames.
 *
 * The caller (traces/pcapio.py) sizes `out` exactly (see the functions) and
 * writes the file header (pcap) or SHB + IDB (pcapng) itself. Functions
 * return the number of bytes written or a negative errno (-ENOSPC: out too
 * small).
 *
 * Synthesized frames (traces without captured bytes, e.g. the Fermilab-like
 * generator) get real headers built from the flow key:
 *
 *   Ethernet  MACs 02:00:a.b.c.d from the low 32 bits of each IP address
 *             (locally administered, IEEE 802 §8.2), the key's ethertype
 *   IPv4      IHL 5, TTL 64, DF (MF for keys marked as fragments),
 *             identification = packet index, header checksum (RFC 791)
 *   IPv6      hop limit 64, no extension headers
 *   TCP       20-byte header, flags ACK, window 65535
 *   UDP       8-byte header
 *   payload   zeros up to the wire length; the TCP/UDP checksum covers the
 *             full (zero) payload, so it is valid even when the record is
 *             cut at cap_len (zeros do not change a ones'-complement sum)
 */
#ifndef PS_WRITE_H
#define PS_WRITE_H

#include <stdint.h>

#include "ps_parse.h"

/* Ethernet 14 + IPv6 40 + TCP 20: the longest header we synthesize */
#define PS_SYNTH_HDR_MAX 74

/* header bytes a synthesized frame with this key needs */
uint32_t ps_synth__header_len(const struct ps_key *key);

/* pcapng draft §4.3: EPB = 28-byte header + data padded to 4 + 4-byte trailer */
#define PS_PCAPNG_EPB_OVERHEAD 32

/*
 * Frames back to back into out (sum of cap_len bytes): headers from
 * keys[key_idx[i]] for a frame of wire_len[i] bytes, cut at cap_len[i].
 * first_index numbers the packets (IPv4 identification).
 */
int64_t ps_synth__frames(uint8_t *out, int64_t out_cap, int64_t n, const uint32_t *wire_len,
			 const uint32_t *cap_len, const struct ps_key *keys, const int32_t *key_idx,
			 int64_t first_index);

/* pcap records (sum of PS_PCAP_REC_HDR_LEN + cap_len bytes) */
int64_t ps_write__pcap(uint8_t *out, int64_t out_cap, int64_t n, int nsec, const int64_t *ts_ns,
		       const uint32_t *wire_len, const uint32_t *cap_len, const uint8_t *data,
		       const int64_t *data_off);

/* pcapng EPBs on interface 0 with nanosecond timestamps (if_tsresol 9);
 * sum of PS_PCAPNG_EPB_OVERHEAD + cap_len rounded up to 4 bytes */
int64_t ps_write__pcapng(uint8_t *out, int64_t out_cap, int64_t n, const int64_t *ts_ns,
			 const uint32_t *wire_len, const uint32_t *cap_len, const uint8_t *data,
			 const int64_t *data_off);

/*
 * Rewrite IP addresses in captured frames: packet i has key old[key_idx[i]]
 * and gets the addresses of new_[key_idx[i]] (same l3). The IP header is at
 * data + data_off[i] + l3_off[i] (PS_NO_L3: skipped). The IPv4 header
 * checksum and, where captured, the TCP, UDP or ICMPv6 checksum are updated
 * incrementally (RFC 1624 eqn. 3). Returns the number of frames rewritten,
 * or -EINVAL if a frame's addresses do not match its key.
 */
int64_t ps_rewrite__addresses(uint8_t *data, const int64_t *data_off, const uint32_t *cap_len,
			      const uint16_t *l3_off, const int32_t *key_idx, int64_t n,
			      const struct ps_key *old, const struct ps_key *new_);

#endif /* PS_WRITE_H */
