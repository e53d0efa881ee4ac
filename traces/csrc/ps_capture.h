/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ps_capture: walk the records of a pcap or pcapng file that is already in
 * memory (mmap) and report, per packet, where its bytes are and what its
 * record header says. No allocation per packet, no parsing of packet
 * contents (that is ps_parse's job).
 *
 * Two-pass use, from traces/pcapio.py:
 *
 *   1. count:  ps_pcap__scan(buf, len, ..., cap = 0, outputs NULL, &n, &err)
 *   2. fill:   allocate n entries per column, call again with cap = n
 *
 * Both passes see the same file, so they stop at the same record and report
 * the same error. On error the function returns the negative code, *n_out
 * holds the packets before the bad record, and err says where and what.
 * Codes marked "truncation" mean the file simply ends early (a capture that
 * was cut off): the packets before it are good and the caller keeps them.
 * Every other code means the file is corrupt at err->offset.
 *
 * Formats (byte order taken from the file's own magic, never from the host):
 *   pcap   libpcap savefile: 24-byte file header, 16-byte record headers,
 *          microsecond (0xa1b2c3d4) or nanosecond (0xa1b23c4d) timestamps.
 *          https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html
 *   pcapng Section Header (SHB), Interface Description (IDB), Enhanced
 *          Packet (EPB), Simple Packet (SPB) and the obsolete Packet Block
 *          (PB); other blocks are skipped. Several sections and several
 *          interfaces (each with its own link type and if_tsresol /
 *          if_tsoffset) are supported.
 *          https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html
 */
#ifndef PS_CAPTURE_H
#define PS_CAPTURE_H

#include <stdint.h>

/* pcap draft §4: the file header is 24 bytes, each record header 16 */
#define PS_PCAP_FILE_HDR_LEN 24
#define PS_PCAP_REC_HDR_LEN 16
/* pcap draft §4: magic numbers as read in the writer's byte order */
#define PS_PCAP_MAGIC_USEC 0xa1b2c3d4u
#define PS_PCAP_MAGIC_NSEC 0xa1b23c4du
/* pcapng draft §4.1: block type of the SHB (a palindrome) and its
 * byte-order magic */
#define PS_PCAPNG_SHB 0x0a0d0d0au
#define PS_PCAPNG_BOM 0x1a2b3c4du
#define PS_PCAPNG_IDB 0x00000001u
#define PS_PCAPNG_PB 0x00000002u  /* obsolete Packet Block, pcapng draft appendix A */
#define PS_PCAPNG_SPB 0x00000003u
#define PS_PCAPNG_EPB 0x00000006u
/* libpcap pcap-int.h MAXIMUM_SNAPLEN: no record may hold more */
#define PS_MAX_CAPLEN 262144u
/* pcapng draft §4.2: IDB options */
#define PS_OPT_ENDOFOPT 0
#define PS_OPT_IF_TSRESOL 9
#define PS_OPT_IF_TSOFFSET 14
/* pcapng draft §4.2: "if this option is not present, a resolution of
 * 10^-6 is assumed" */
#define PS_TSRESOL_DEFAULT 6

/* error codes (negative return values) */
enum ps_error_code {
	PS_OK = 0,
	PS_E_TRUNC_HDR = -1,    /* truncation: record/block header cut off; d0 = bytes left */
	PS_E_TRUNC_DATA = -2,   /* truncation: record data cut off; d0 = claimed, d1 = left */
	PS_E_CAPLEN = -3,       /* record claims d0 captured bytes > d1 (maximum) */
	PS_E_BLOCK_LEN = -4,    /* block length d0 < 12 or not a multiple of 4 */
	PS_E_TRAILER = -5,      /* block trailer length d1 != header length d0 */
	PS_E_NO_SHB = -6,       /* the first block is not a Section Header Block */
	PS_E_BOM = -7,          /* SHB byte-order magic d0 unknown */
	PS_E_VERSION = -8,      /* SHB major version d0 unsupported */
	PS_E_IFACE = -9,        /* packet names interface d0, section has d1 */
	PS_E_LINKTYPE = -10,    /* unsupported link type d0 */
	PS_E_TSRESOL = -11,     /* unsupported if_tsresol d0 */
	PS_E_BODY = -12,        /* block body too short for its fixed fields / caplen d0 > body d1 */
	PS_E_OPTION = -13,      /* malformed option list */
	PS_E_NOMEM = -14,       /* out of memory */
	PS_E_PKT_LEN = -15,     /* packet block: captured length d0 > the d1 bytes its body holds */
};

struct ps_err {
	int64_t offset; /* byte offset in the file of the bad record or block */
	int32_t code;   /* enum ps_error_code */
	int64_t d0;     /* details, see the codes */
	int64_t d1;
};

/* 1 if the code only means "the file ends early" */
int ps_err__is_truncation(int code);

/*
 * pcap: records from byte PS_PCAP_FILE_HDR_LEN to len. big_endian: the
 * file's byte order; nsec: nanosecond timestamps. Outputs (cap entries
 * each; NULL when cap == 0): absolute timestamp in ns since the epoch, the
 * original (wire) length, the captured length, and the offset of the packet
 * bytes in buf.
 */
int ps_pcap__scan(const uint8_t *buf, int64_t len, int big_endian, int nsec, int64_t cap,
		  int64_t *ts_ns, uint32_t *wire_len, uint32_t *cap_len, int64_t *data_off,
		  int64_t *n_out, struct ps_err *err);

/*
 * pcapng: the whole file. Same outputs as ps_pcap__scan plus the link type
 * of each packet's interface. A Simple Packet Block carries no timestamp:
 * it gets the timestamp of the packet before it (0 for the first).
 */
int ps_pcapng__scan(const uint8_t *buf, int64_t len, int64_t cap, int64_t *ts_ns,
		    uint32_t *wire_len, uint32_t *cap_len, int64_t *data_off, uint16_t *linktype,
		    int64_t *n_out, struct ps_err *err);

#endif /* PS_CAPTURE_H */
