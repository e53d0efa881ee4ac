/* SPDX-License-Identifier: BSD-3-Clause */
/* Flow-split accounting; contract in wc_flows.h. */
#include "wc_flows.h"

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
	uint32_t owner;   /* member + 1; 0 = none yet */
	uint16_t split;
	uint16_t queue;   /* queue of the flow's first packet */
};

struct wc_flows {
	struct slot *slots;
	uint32_t mask;
	uint64_t count;
	uint64_t split;
	uint64_t overflow;
	uint64_t split_q[WC_FLOWS_QUEUES];
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
	*out = f;
	return 0;
}

void wc_flows__destroy(struct wc_flows *f)
{
	if (!f)
		return;
	free(f->slots);
	free(f);
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

void wc_flows__note(struct wc_flows *f, const uint8_t *p, uint32_t caplen, uint16_t member,
		    uint16_t queue)
{
	uint32_t off = ETH_HLEN, ihl, i;
	uint64_t key, ports = 0;
	uint16_t type;
	uint8_t proto;

	if (caplen < ETH_HLEN + 20)
		return;
	type = be16(p + 12);
	if (type == ETHERTYPE_VLAN && caplen >= ETH_HLEN + 24) {
		type = be16(p + 16);
		off += 4;
	}
	if (type != ETHERTYPE_IPV4 || (p[off] >> 4) != 4)
		return;
	ihl = (uint32_t)(p[off] & 0xf) * 4;
	proto = p[off + 9];
	if ((proto == IPPROTO_TCP_ || proto == IPPROTO_UDP_) && caplen >= off + ihl + 4)
		ports = be32(p + off + ihl);
	key = mix(mix(((uint64_t)be32(p + off + 12) << 32 | be32(p + off + 16)) ^ proto) ^
		  (ports << 8));
	if (!key)
		key = 1;
	for (i = 0; i <= f->mask; i++) {
		struct slot *s = &f->slots[(key + i) & f->mask];
		uint64_t cur = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE), zero = 0;
		uint32_t none = 0, who = (uint32_t)member + 1, owner;

		if (cur == 0) {
			if (!__atomic_compare_exchange_n(&s->key, &zero, key, 0, __ATOMIC_ACQ_REL,
							 __ATOMIC_ACQUIRE)) {
				cur = zero;
			} else {
				__atomic_fetch_add(&f->count, 1, __ATOMIC_RELAXED);
				cur = key;
			}
		}
		if (cur != key)
			continue;
		owner = __atomic_load_n(&s->owner, __ATOMIC_ACQUIRE);
		if (owner == 0) {
			if (__atomic_compare_exchange_n(&s->owner, &none, who, 0, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE)) {
				__atomic_store_n(&s->queue, queue, __ATOMIC_RELAXED);
				return;
			}
			owner = none;
		}
		if (owner != who && !__atomic_exchange_n(&s->split, 1, __ATOMIC_ACQ_REL)) {
			uint16_t q = __atomic_load_n(&s->queue, __ATOMIC_RELAXED);

			__atomic_fetch_add(&f->split, 1, __ATOMIC_RELAXED);
			if (q < WC_FLOWS_QUEUES)
				__atomic_fetch_add(&f->split_q[q], 1, __ATOMIC_RELAXED);
		}
		return;
	}
	__atomic_fetch_add(&f->overflow, 1, __ATOMIC_RELAXED);
}

uint64_t wc_flows__count(const struct wc_flows *f)
{
	return __atomic_load_n(&f->count, __ATOMIC_RELAXED);
}

uint64_t wc_flows__split(const struct wc_flows *f)
{
	return __atomic_load_n(&f->split, __ATOMIC_RELAXED);
}

uint64_t wc_flows__split_queue(const struct wc_flows *f, uint16_t queue)
{
	return queue < WC_FLOWS_QUEUES ? __atomic_load_n(&f->split_q[queue], __ATOMIC_RELAXED) : 0;
}

uint64_t wc_flows__overflow(const struct wc_flows *f)
{
	return __atomic_load_n(&f->overflow, __ATOMIC_RELAXED);
}
