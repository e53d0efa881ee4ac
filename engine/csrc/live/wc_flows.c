/* SPDX-License-Identifier: BSD-3-Clause */
/* Flow accounting; contract in wc_flows.h. */
#include "wc_flows.h"

#include "wc_bpf.h" /* the steering program's RSS input and table sizes */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ETH_HLEN 14u
#define ETHERTYPE_IPV4 0x0800u
#define ETHERTYPE_VLAN 0x8100u
#define IPPROTO_TCP_ 6u
#define IPPROTO_UDP_ 17u

struct slot {
	uint64_t key;     /* 0 = empty */
	uint64_t max_ts;  /* latest arrival stamp handed so far */
	uint32_t owner;   /* member + 1 of the thread that last took it; 0 = none yet */
	uint16_t split;
	uint16_t pad16;
	uint16_t queue;   /* queue of the flow's first packet */
	uint16_t bucket;
	uint32_t epoch;   /* the last taker's ownership epoch of the bucket when it took the flow */
	uint32_t pad;
};

struct wc_flows {
	struct slot *slots;
	uint32_t mask;
	uint64_t count;
	uint64_t split;
	uint64_t migrated;
	uint64_t reordered;
	uint64_t overflow;
	uint64_t split_q[WC_FLOWS_QUEUES];
	uint64_t migrated_q[WC_FLOWS_QUEUES];
	uint64_t reordered_q[WC_FLOWS_QUEUES];
	/* RSS: Toeplitz table and redirection-table ownership */
	uint32_t *rss;           /* WC_RSS_INPUT_BYTES * 256, or NULL */
	uint32_t n_buckets;
	/* acq[b * WC_FLOWS_QUEUES + m]: the epoch in which member m last became
	 * the owner of bucket b (1: the initial table, then one per move; 0:
	 * never owned it) */
	uint32_t *acq;
	uint32_t epochs;
	int32_t order_off;       /* frame number's offset, or < 0: stamps */
};

int wc_flows__create(struct wc_flows **out, uint32_t capacity)
{
	struct wc_flows *f;
	uint32_t cap = 1;

	if (!out || !capacity || capacity > (1u << 28))
		return -EINVAL;
	while (cap < capacity)
		cap <<= 1;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->slots = calloc(cap, sizeof(*f->slots));
	if (!f->slots) {
		free(f);
		return -ENOMEM;
	}
	f->mask = cap - 1;
	f->n_buckets = 1;
	f->order_off = -1;
	*out = f;
	return 0;
}

void wc_flows__destroy(struct wc_flows *f)
{
	if (!f)
		return;
	free(f->rss);
	free(f->acq);
	free(f->slots);
	free(f);
}

int wc_flows__set_rss(struct wc_flows *f, const uint32_t *table, uint32_t n)
{
	uint32_t *t, *acq;

	if (!f || !table || !n || n > WC_RSS_BUCKETS_MAX || (n & (n - 1)))
		return -EINVAL;
	t = malloc(WC_RSS_INPUT_BYTES * 256 * sizeof(*t));
	acq = calloc((size_t)n * WC_FLOWS_QUEUES, sizeof(*acq));
	if (!t || !acq) {
		free(t);
		free(acq);
		return -ENOMEM;
	}
	memcpy(t, table, WC_RSS_INPUT_BYTES * 256 * sizeof(*t));
	free(f->rss);
	free(f->acq);
	f->rss = t;
	f->acq = acq;
	f->n_buckets = n;
	f->epochs = 1;
	return 0;
}

void wc_flows__order_at(struct wc_flows *f, int32_t offset)
{
	f->order_off = offset;
}

void wc_flows__own(struct wc_flows *f, uint32_t bucket, uint16_t member)
{
	if (f->acq && member < WC_FLOWS_QUEUES)
		__atomic_store_n(&f->acq[(bucket & (f->n_buckets - 1)) * WC_FLOWS_QUEUES + member], 1u,
				 __ATOMIC_RELEASE);
}

void wc_flows__move(struct wc_flows *f, uint32_t bucket, uint16_t src, uint16_t dst)
{
	(void)src; /* src's epoch stays: it owned the bucket until now */
	if (f->acq && dst < WC_FLOWS_QUEUES)
		__atomic_store_n(&f->acq[(bucket & (f->n_buckets - 1)) * WC_FLOWS_QUEUES + dst], ++f->epochs,
				 __ATOMIC_RELEASE);
}

/* the epoch in which member last became the owner of bucket (0: never) */
static uint32_t epoch_of(const struct wc_flows *f, uint32_t bucket, uint32_t member)
{
	if (!f->acq || member >= WC_FLOWS_QUEUES)
		return 0;
	return __atomic_load_n(&f->acq[bucket * WC_FLOWS_QUEUES + member], __ATOMIC_ACQUIRE);
}

/* splitmix64's finalizer: a well-mixed 64-bit hash of the packed tuple */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

struct tuple {
	uint64_t key;
	uint32_t bucket;
};

/* the flow of a frame: 0 if it has none (not IPv4). The bucket follows
 * traces/rss.py (and the steering program, wc_bpf.c): TCP, not a fragment,
 * on addresses and ports, everything else IPv4 on the addresses */
static int parse(const struct wc_flows *f, const uint8_t *p, uint32_t caplen, struct tuple *t)
{
	uint32_t off = ETH_HLEN, ihl, i;
	uint64_t ports = 0;
	uint16_t type;
	uint8_t proto;
	int has_ports;

	if (caplen < ETH_HLEN + 20)
		return 0;
	type = be16(p + 12);
	if (type == ETHERTYPE_VLAN && caplen >= ETH_HLEN + 24) {
		type = be16(p + 16);
		off += 4;
	}
	if (type != ETHERTYPE_IPV4 || (p[off] >> 4) != 4)
		return 0;
	ihl = (uint32_t)(p[off] & 0xf) * 4;
	proto = p[off + 9];
	has_ports = (proto == IPPROTO_TCP_ || proto == IPPROTO_UDP_) && caplen >= off + ihl + 4;
	if (has_ports)
		ports = be32(p + off + ihl);
	t->key = mix(mix(((uint64_t)be32(p + off + 12) << 32 | be32(p + off + 16)) ^ proto) ^ (ports << 8));
	if (!t->key)
		t->key = 1;
	t->bucket = 0;
	if (f->rss && off == ETH_HLEN) {
		/* the steering program hashes untagged frames only */
		uint32_t h = 0, n = 8;
		const uint8_t *in = p + off + 12;

		for (i = 0; i < 8; i++)
			h ^= f->rss[i * 256 + in[i]];
		if (proto == IPPROTO_TCP_ && !(be16(p + off + 6) & 0x3fff) && has_ports) {
			for (i = 0; i < 4; i++)
				h ^= f->rss[(n + i) * 256 + p[off + ihl + i]];
		}
		t->bucket = h & (f->n_buckets - 1);
	}
	return 1;
}

int32_t wc_flows__bucket(const struct wc_flows *f, const uint8_t *frame, uint32_t caplen)
{
	struct tuple t;

	return parse(f, frame, caplen, &t) ? (int32_t)t.bucket : -1;
}

static void bump(uint64_t *total, uint64_t *per_q, uint16_t q)
{
	__atomic_fetch_add(total, 1, __ATOMIC_RELAXED);
	if (q < WC_FLOWS_QUEUES)
		__atomic_fetch_add(&per_q[q], 1, __ATOMIC_RELAXED);
}

void wc_flows__take(struct wc_flows *f, const uint8_t *p, uint32_t caplen, uint16_t member,
		    uint16_t queue, uint64_t ts, int offloaded)
{
	struct tuple t;
	uint32_t i;

	if (!parse(f, p, caplen, &t))
		return;
	if (f->order_off >= 0)
		/* the frame number, + 1 so that frame 0 is ordered too */
		ts = caplen >= (uint32_t)f->order_off + 4 ? (uint64_t)be32(p + f->order_off) + 1 : 0;
	for (i = 0; i <= f->mask; i++) {
		struct slot *s = &f->slots[(t.key + i) & f->mask];
		uint64_t cur = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE), zero = 0;
		uint32_t none = 0, who = (uint32_t)member + 1, owner;

		if (cur == 0) {
			if (!__atomic_compare_exchange_n(&s->key, &zero, t.key, 0, __ATOMIC_ACQ_REL,
							 __ATOMIC_ACQUIRE)) {
				cur = zero;
			} else {
				__atomic_fetch_add(&f->count, 1, __ATOMIC_RELAXED);
				cur = t.key;
			}
		}
		if (cur != t.key)
			continue;
		/* order: a packet older than one already handed is reordered */
		if (ts) {
			uint64_t mx = __atomic_load_n(&s->max_ts, __ATOMIC_RELAXED);

			if (ts < mx)
				bump(&f->reordered, f->reordered_q, queue);
			while (ts > mx && !__atomic_compare_exchange_n(&s->max_ts, &mx, ts, 1, __ATOMIC_RELAXED,
									__ATOMIC_RELAXED))
				;
		}
		owner = __atomic_load_n(&s->owner, __ATOMIC_ACQUIRE);
		if (owner == 0) {
			if (__atomic_compare_exchange_n(&s->owner, &none, who, 0, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE)) {
				__atomic_store_n(&s->queue, queue, __ATOMIC_RELAXED);
				__atomic_store_n(&s->bucket, (uint16_t)t.bucket, __ATOMIC_RELAXED);
				__atomic_store_n(&s->epoch, offloaded ? UINT32_MAX : epoch_of(f, t.bucket, member),
						 __ATOMIC_RELAXED);
				return;
			}
			owner = none;
		}
		/* once split, a flow counts no more (as the simulator, forward.c) */
		if (owner != who && !__atomic_load_n(&s->split, __ATOMIC_ACQUIRE)) {
			uint32_t e = epoch_of(f, t.bucket, member);
			/* a hand-over: the packet arrived on who's own queue, and who
			 * took the bucket by a move after the last taker held it
			 * (its epoch then). "B is the bucket's current owner" is
			 * not enough: the bucket may have moved on again before B
			 * took the packets of its turn */
			int handed = !offloaded && e > __atomic_load_n(&s->epoch, __ATOMIC_RELAXED);

			/* counted for the queue the packet arrived on, each hand-over */
			if (handed)
				bump(&f->migrated, f->migrated_q, queue);
			else if (!__atomic_exchange_n(&s->split, 1, __ATOMIC_ACQ_REL))
				bump(&f->split, f->split_q, queue);
			/* a thread that took the flow in another queue's chunk never
			 * owned it: no later thread takes it over from there */
			__atomic_store_n(&s->epoch, offloaded ? UINT32_MAX : e, __ATOMIC_RELAXED);
			__atomic_store_n(&s->owner, who, __ATOMIC_RELEASE);
		}
		return;
	}
	__atomic_fetch_add(&f->overflow, 1, __ATOMIC_RELAXED);
}

void wc_flows__note(struct wc_flows *f, const uint8_t *p, uint32_t caplen, uint16_t member,
		    uint16_t queue)
{
	wc_flows__take(f, p, caplen, member, queue, 0, 0);
}

uint64_t wc_flows__count(const struct wc_flows *f)
{
	return __atomic_load_n(&f->count, __ATOMIC_RELAXED);
}

uint64_t wc_flows__split(const struct wc_flows *f)
{
	return __atomic_load_n(&f->split, __ATOMIC_RELAXED);
}

uint64_t wc_flows__migrated(const struct wc_flows *f)
{
	return __atomic_load_n(&f->migrated, __ATOMIC_RELAXED);
}

uint64_t wc_flows__reordered(const struct wc_flows *f)
{
	return __atomic_load_n(&f->reordered, __ATOMIC_RELAXED);
}

static uint64_t per_q(const uint64_t *a, uint16_t q)
{
	return q < WC_FLOWS_QUEUES ? __atomic_load_n(&a[q], __ATOMIC_RELAXED) : 0;
}

uint64_t wc_flows__split_queue(const struct wc_flows *f, uint16_t queue)
{
	return per_q(f->split_q, queue);
}

uint64_t wc_flows__migrated_queue(const struct wc_flows *f, uint16_t queue)
{
	return per_q(f->migrated_q, queue);
}

uint64_t wc_flows__reordered_queue(const struct wc_flows *f, uint16_t queue)
{
	return per_q(f->reordered_q, queue);
}

uint64_t wc_flows__overflow(const struct wc_flows *f)
{
	return __atomic_load_n(&f->overflow, __ATOMIC_RELAXED);
}
