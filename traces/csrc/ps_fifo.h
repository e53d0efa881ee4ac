/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ps_fifo: a finite FIFO in front of one deterministic server, the simplest
 * model of a receive ring (capacity descriptors) drained by a single-threaded
 * application that needs service_ns per packet (paper §2.2: pkt_handler with
 * x = 300 handles 38,844 p/s, i.e. 25,744 ns per packet; the ring holds
 * 1,023 packets).
 *
 * A packet occupies a slot from its arrival until its service ends (the
 * packet being processed still holds its descriptor, as with DNA's
 * zero-copy rings). A packet that arrives while all slots are held is
 * dropped. This is the Lindley recursion with a finite waiting room:
 *
 *   d_k = max(a_k, d_{k-1}) + service      for the k-th admitted packet
 *   packet i is dropped iff d_{k-capacity} > a_i   (capacity slots still held)
 *
 * Departures of admitted packets are increasing, so a ring of the last
 * `capacity` departure times answers "how many are still held" in O(1).
 */
#ifndef PS_FIFO_H
#define PS_FIFO_H

#include <stdint.h>

/*
 * arrivals: n non-decreasing times in ns. dropped (nullable): 1 per dropped
 * packet. Returns the number dropped, -EINVAL for capacity 0, a negative
 * service time or decreasing arrivals, -ENOMEM.
 */
int64_t ps_fifo__drops(const int64_t *arrivals, int64_t n, uint32_t capacity, double service_ns,
		       uint8_t *dropped);

#endif /* PS_FIFO_H */
