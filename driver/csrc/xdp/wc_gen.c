/* SPDX-License-Identifier: BSD-3-Clause */
/* Bounded, paced AF_PACKET sender; contract in wc_gen.h. */
#define _GNU_SOURCE
#include "wc_gen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wc_sys.h"

int wc_gen__socket(int ifindex, int qdisc_bypass)
{
	struct sockaddr_ll sll;
	int fd, err;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: send only */
	if (fd < 0)
		return -errno;
	if (qdisc_bypass &&
	    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &qdisc_bypass, sizeof(qdisc_bypass)) < 0) {
		err = -errno;
		goto err_close;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = ifindex;
	sll.sll_protocol = 0;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		err = -errno;
		goto err_close;
	}
	return fd;

err_close:
	close(fd);
	return err;
}

static uint64_t due_of(const struct wc_gen_opts *o, uint64_t k, double ns_per_frame)
{
	if (o->due_ns)
		return o->due_ns[k];
	return (uint64_t)((double)k * ns_per_frame);
}

int wc_gen__send(int fd, const uint8_t *templates, const uint32_t *lens, uint32_t ntemplates,
		 uint32_t stride, const struct wc_gen_opts *opts, struct wc_gen_result *res)
{
	struct wc_gen_opts o = { 0 };
	struct mmsghdr *msgs = NULL;
	struct iovec *iov = NULL;
	uint8_t *bufs = NULL;
	double ns_per_frame;
	uint64_t t0, k = 0;
	uint32_t batch, i, buf_len;
	int err = 0;

	if (!templates || !lens || !ntemplates || !opts || !res)
		return -EINVAL;
	memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	memset(res, 0, sizeof(*res));
	if (!o.count || !o.max_ns)
		return -EINVAL; /* unbounded loops are not allowed (DESIGN.md §5) */
	for (i = 0; i < ntemplates; i++)
		if (lens[i] > stride || lens[i] < ETH_HLEN ||
		    (o.seq_offset >= 0 && (uint32_t)o.seq_offset + 4 > lens[i]))
			return -EINVAL;
	buf_len = stride > WC_GEN_FRAME_MAX ? stride : WC_GEN_FRAME_MAX;
	batch = o.batch ? o.batch : WC_GEN_BATCH_DEFAULT;
	if (batch > WC_GEN_BATCH_MAX)
		batch = WC_GEN_BATCH_MAX;
	ns_per_frame = o.rate_pps > 0 ? 1e9 / o.rate_pps : 0;

	msgs = calloc(batch, sizeof(*msgs));
	iov = calloc(batch, sizeof(*iov));
	bufs = calloc(batch, buf_len);
	if (!msgs || !iov || !bufs) {
		err = -ENOMEM;
		goto out;
	}
	t0 = wc_sys__mono_ns();
	while (k < o.count) {
		uint64_t now = wc_sys__mono_ns(), rel = now - t0;
		uint32_t n = 0;
		int rc;

		if (rel >= o.max_ns) {
			res->stopped_by = 1;
			break;
		}
		if (o.stop && *o.stop) {
			res->stopped_by = 2;
			break;
		}
		/* frames due by now, at most one batch */
		if (!o.due_ns && ns_per_frame == 0) {
			n = o.count - k < batch ? (uint32_t)(o.count - k) : batch;
		} else {
			while (n < batch && k + n < o.count && due_of(&o, k + n, ns_per_frame) <= rel)
				n++;
		}
		if (!n) {
			uint64_t next = due_of(&o, k, ns_per_frame);

			if (next > o.max_ns)
				next = o.max_ns;
			if (next - rel > WC_GEN_SPIN_NS)
				wc_sys__sleep_until(t0 + next - WC_GEN_SPIN_NS / 2);
			continue;
		}
		for (i = 0; i < n; i++) {
			uint32_t tpl = o.tpl_idx ? o.tpl_idx[k + i] : (uint32_t)((k + i) % ntemplates);
			uint8_t *b = bufs + (size_t)i * buf_len;
			uint32_t len;

			if (tpl >= ntemplates) {
				err = -EINVAL;
				res->stopped_by = err;
				goto done;
			}
			len = lens[tpl];
			memcpy(b, templates + (size_t)tpl * stride, len);
			if (o.frame_len && o.frame_len[k + i] > len) {
				uint32_t want = o.frame_len[k + i] < buf_len ? o.frame_len[k + i] : buf_len;

				memset(b + len, 0, want - len);
				len = want;
			}
			if (o.seq_offset >= 0) {
				uint32_t be = htonl((uint32_t)(k + i));

				memcpy(b + o.seq_offset, &be, sizeof(be));
			}
			iov[i].iov_base = b;
			iov[i].iov_len = len;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		rc = sendmmsg(fd, msgs, n, 0);
		if (rc > 0) {
			if (!res->first_ns)
				res->first_ns = now;
			res->last_ns = wc_sys__mono_ns();
			k += (uint64_t)rc;
		}
		if (rc < 0 || (uint32_t)rc < n) {
			int e = rc < 0 ? errno : EAGAIN;

			if (e == ENOBUFS || e == EAGAIN || e == ENETDOWN || e == EBUSY || e == EINTR) {
				/* the kernel refused the next frame: back off, offer it again */
				res->refused++;
				wc_sys__sleep_until(wc_sys__mono_ns() + WC_GEN_BACKOFF_NS);
				continue;
			}
			err = -e;
			res->stopped_by = err;
			break;
		}
	}
done:
	res->sent = k;
out:
	free(msgs);
	free(iov);
	free(bufs);
	return err;
}
