/* SPDX-License-Identifier: BSD-3-Clause */
/* Record walkers for pcap and pcapng; see ps_capture.h for the contract. */
#include "ps_capture.h"
#include "ps_parse.h"

#include <stdlib.h>
#include <string.h>

#define NSEC_PER_SEC 1000000000LL
#define NSEC_PER_USEC 1000LL

static inline uint16_t rd16(const uint8_t *p, int big)
{
	return big ? (uint16_t)((p[0] << 8) | p[1]) : (uint16_t)((p[1] << 8) | p[0]);
}

static inline uint32_t rd32(const uint8_t *p, int big)
{
	if (big)
		return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
	return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

static inline uint64_t rd64(const uint8_t *p, int big)
{
	uint64_t a = rd32(p, big), b = rd32(p + 4, big);
	return big ? (a << 32) | b : (b << 32) | a;
}

static int fail(struct ps_err *err, int code, int64_t offset, int64_t d0, int64_t d1)
{
	err->code = code;
	err->offset = offset;
	err->d0 = d0;
	err->d1 = d1;
	return code;
}

int ps_err__is_truncation(int code)
{
	return code == PS_E_TRUNC_HDR || code == PS_E_TRUNC_DATA;
}

int ps_pcap__scan(const uint8_t *buf, int64_t len, int big_endian, int nsec, int64_t cap,
		  int64_t *ts_ns, uint32_t *wire_len, uint32_t *cap_len, int64_t *data_off,
		  int64_t *n_out, struct ps_err *err)
{
	const int64_t frac_ns = nsec ? 1 : NSEC_PER_USEC;
	int64_t off = PS_PCAP_FILE_HDR_LEN, n = 0;
	int rc = PS_OK;

	memset(err, 0, sizeof(*err));
	while (off < len) {
		const uint8_t *h = buf + off;
		uint32_t incl, orig;

		if (len - off < PS_PCAP_REC_HDR_LEN) {
			rc = fail(err, PS_E_TRUNC_HDR, off, len - off, PS_PCAP_REC_HDR_LEN);
			break;
		}
		incl = rd32(h + 8, big_endian);
		orig = rd32(h + 12, big_endian);
		if (incl > PS_MAX_CAPLEN) {
			rc = fail(err, PS_E_CAPLEN, off, incl, PS_MAX_CAPLEN);
			break;
		}
		if (len - off - PS_PCAP_REC_HDR_LEN < (int64_t)incl) {
			rc = fail(err, PS_E_TRUNC_DATA, off, incl, len - off - PS_PCAP_REC_HDR_LEN);
			break;
		}
		if (n < cap) {
			ts_ns[n] = (int64_t)rd32(h, big_endian) * NSEC_PER_SEC +
				   (int64_t)rd32(h + 4, big_endian) * frac_ns;
			/* A record whose original length is below its captured
			 * length is inconsistent; the frame had at least incl bytes. */
			wire_len[n] = orig > incl ? orig : incl;
			cap_len[n] = incl;
			data_off[n] = off + PS_PCAP_REC_HDR_LEN;
		}
		n++;
		off += PS_PCAP_REC_HDR_LEN + incl;
	}
	*n_out = n;
	return rc;
}

/* ---- pcapng ---------------------------------------------------------- */

struct iface {
	uint16_t linktype;
	uint32_t snaplen;
	uint8_t tsresol;    /* pcapng draft §4.2 if_tsresol byte */
	int64_t tsoffset_s; /* if_tsoffset, seconds */
};

struct ifaces {
	struct iface *v;
	uint32_t n, cap;
};

static int ifaces_push(struct ifaces *t, const struct iface *f)
{
	if (t->n == t->cap) {
		uint32_t ncap = t->cap ? 2 * t->cap : 8;
		struct iface *nv = realloc(t->v, ncap * sizeof(*nv));

		if (!nv)
			return PS_E_NOMEM;
		t->v = nv;
		t->cap = ncap;
	}
	t->v[t->n++] = *f;
	return PS_OK;
}

/* timestamp units -> ns, per if_tsresol (MSB clear: 10^-v s, set: 2^-v s) */
static int64_t ts_to_ns(uint64_t t, uint8_t tsresol)
{
	uint8_t e = tsresol & 0x7f;

	if (tsresol & 0x80) {
		unsigned __int128 frac = (unsigned __int128)(t & ((e ? (1ULL << e) : 1ULL) - 1)) * NSEC_PER_SEC;

		return (int64_t)((t >> e) * NSEC_PER_SEC + (uint64_t)(frac >> e));
	}
	if (e <= 9) {
		int64_t mul = 1;

		for (int i = e; i < 9; i++)
			mul *= 10;
		return (int64_t)t * mul;
	}
	{
		uint64_t div = 1;

		for (int i = 9; i < e; i++)
			div *= 10;
		return (int64_t)(t / div);
	}
}

static int tsresol_supported(uint8_t tsresol)
{
	uint8_t e = tsresol & 0x7f;

	/* 10^-19 and 2^-64 no longer fit in 64-bit arithmetic */
	return (tsresol & 0x80) ? e <= 63 : e <= 18;
}

/* Parse an IDB body (fixed fields already checked to exist). */
static int parse_idb(const uint8_t *body, int64_t body_len, int big, int64_t block_off,
		     struct iface *f, struct ps_err *err)
{
	int64_t o = 8;

	f->linktype = rd16(body, big);
	f->snaplen = rd32(body + 4, big);
	f->tsresol = PS_TSRESOL_DEFAULT;
	f->tsoffset_s = 0;
	if (!ps_linktype__supported(f->linktype))
		return fail(err, PS_E_LINKTYPE, block_off, f->linktype, 0);
	while (o + 4 <= body_len) {
		uint16_t code = rd16(body + o, big), olen = rd16(body + o + 2, big);
		int64_t padded = ((int64_t)olen + 3) & ~3LL;

		if (code == PS_OPT_ENDOFOPT)
			break;
		if (o + 4 + padded > body_len)
			return fail(err, PS_E_OPTION, block_off, code, olen);
		if (code == PS_OPT_IF_TSRESOL) {
			if (olen != 1)
				return fail(err, PS_E_OPTION, block_off, code, olen);
			f->tsresol = body[o + 4];
			if (!tsresol_supported(f->tsresol))
				return fail(err, PS_E_TSRESOL, block_off, f->tsresol, 0);
		} else if (code == PS_OPT_IF_TSOFFSET) {
			if (olen != 8)
				return fail(err, PS_E_OPTION, block_off, code, olen);
			f->tsoffset_s = (int64_t)rd64(body + o + 4, big);
		}
		o += 4 + padded;
	}
	return PS_OK;
}

int ps_pcapng__scan(const uint8_t *buf, int64_t len, int64_t cap, int64_t *ts_ns,
		    uint32_t *wire_len, uint32_t *cap_len, int64_t *data_off, uint16_t *linktype,
		    int64_t *n_out, struct ps_err *err)
{
	struct ifaces ifs = { 0 };
	int64_t off = 0, n = 0, last_ts = 0;
	int big = -1, rc = PS_OK;

	memset(err, 0, sizeof(*err));
	while (off < len) {
		const uint8_t *b = buf + off;
		uint32_t type, blen;
		const uint8_t *body;
		int64_t body_len;

		if (len - off < 12) {
			rc = fail(err, PS_E_TRUNC_HDR, off, len - off, 12);
			break;
		}
		/* the SHB type reads the same in both byte orders */
		type = rd32(b, 0);
		if (type == PS_PCAPNG_SHB) {
			uint32_t bom_le = rd32(b + 8, 0);

			if (bom_le == PS_PCAPNG_BOM)
				big = 0;
			else if (rd32(b + 8, 1) == PS_PCAPNG_BOM)
				big = 1;
			else {
				rc = fail(err, PS_E_BOM, off + 8, bom_le, 0);
				break;
			}
		} else if (big < 0) {
			rc = fail(err, PS_E_NO_SHB, off, type, 0);
			break;
		} else {
			type = rd32(b, big);
		}
		blen = rd32(b + 4, big);
		if (blen < 12 || blen % 4) {
			rc = fail(err, PS_E_BLOCK_LEN, off, blen, 0);
			break;
		}
		if ((int64_t)blen > len - off) {
			rc = fail(err, PS_E_TRUNC_DATA, off, blen, len - off);
			break;
		}
		if (rd32(b + blen - 4, big) != blen) {
			rc = fail(err, PS_E_TRAILER, off, blen, rd32(b + blen - 4, big));
			break;
		}
		body = b + 8;
		body_len = (int64_t)blen - 12;

		if (type == PS_PCAPNG_SHB) {
			/* body: BOM(4) major(2) minor(2) section length(8) options */
			if (body_len < 16) {
				rc = fail(err, PS_E_BODY, off, body_len, 16);
				break;
			}
			if (rd16(body + 4, big) != 1) {
				rc = fail(err, PS_E_VERSION, off, rd16(body + 4, big), 0);
				break;
			}
			ifs.n = 0; /* interface ids restart in each section */
		} else if (type == PS_PCAPNG_IDB) {
			struct iface f;

			if (body_len < 8) {
				rc = fail(err, PS_E_BODY, off, body_len, 8);
				break;
			}
			rc = parse_idb(body, body_len, big, off, &f, err);
			if (rc)
				break;
			rc = ifaces_push(&ifs, &f);
			if (rc) {
				fail(err, rc, off, 0, 0);
				break;
			}
		} else if (type == PS_PCAPNG_EPB || type == PS_PCAPNG_PB || type == PS_PCAPNG_SPB) {
			uint32_t ifid, incl, orig, hdr;
			int64_t ts;

			if (type == PS_PCAPNG_SPB) {
				hdr = 4;
				if (body_len < hdr) {
					rc = fail(err, PS_E_BODY, off, body_len, hdr);
					break;
				}
				ifid = 0;
				orig = rd32(body, big);
				incl = orig;
				if (ifs.n && ifs.v[0].snaplen && incl > ifs.v[0].snaplen)
					incl = ifs.v[0].snaplen;
				if ((int64_t)incl > body_len - hdr)
					incl = (uint32_t)(body_len - hdr);
			} else {
				hdr = 20;
				if (body_len < hdr) {
					rc = fail(err, PS_E_BODY, off, body_len, hdr);
					break;
				}
				ifid = type == PS_PCAPNG_EPB ? rd32(body, big) : rd16(body, big);
				incl = rd32(body + 12, big);
				orig = rd32(body + 16, big);
				if ((int64_t)incl > body_len - hdr) {
					rc = fail(err, PS_E_PKT_LEN, off, incl, body_len - hdr);
					break;
				}
			}
			if (ifid >= ifs.n) {
				rc = fail(err, PS_E_IFACE, off, ifid, ifs.n);
				break;
			}
			if (incl > PS_MAX_CAPLEN) {
				rc = fail(err, PS_E_CAPLEN, off, incl, PS_MAX_CAPLEN);
				break;
			}
			if (type == PS_PCAPNG_SPB) {
				ts = last_ts;
			} else {
				uint64_t raw = ((uint64_t)rd32(body + 4, big) << 32) | rd32(body + 8, big);

				ts = ts_to_ns(raw, ifs.v[ifid].tsresol) + ifs.v[ifid].tsoffset_s * NSEC_PER_SEC;
			}
			last_ts = ts;
			if (n < cap) {
				ts_ns[n] = ts;
				wire_len[n] = orig > incl ? orig : incl;
				cap_len[n] = incl;
				data_off[n] = off + 8 + hdr;
				linktype[n] = ifs.v[ifid].linktype;
			}
			n++;
		}
		off += blen;
	}
	free(ifs.v);
	*n_out = n;
	return rc;
}
