/* SPDX-License-Identifier: BSD-3-Clause */
/* Finite FIFO with one deterministic server; see ps_fifo.h. */
#include "ps_fifo.h"

#include <errno.h>
#include <stdlib.h>

int64_t ps_fifo__drops(const int64_t *arrivals, int64_t n, uint32_t capacity, double service_ns,
		       uint8_t *dropped)
{
	double *dep, last = -1e300;
	uint32_t head = 0, held = 0;
	int64_t drops = 0;

	if (capacity == 0 || !(service_ns >= 0))
		return -EINVAL;
	for (int64_t i = 1; i < n; i++)
		if (arrivals[i] < arrivals[i - 1])
			return -EINVAL;
	dep = malloc((size_t)capacity * sizeof(*dep));
	if (!dep)
		return -ENOMEM;
	for (int64_t i = 0; i < n; i++) {
		double a = (double)arrivals[i];

		/* release the slots whose service has ended by time a */
		while (held && dep[head] <= a) {
			head = head + 1 == capacity ? 0 : head + 1;
			held--;
		}
		if (held == capacity) {
			drops++;
			if (dropped)
				dropped[i] = 1;
			continue;
		}
		last = (a > last ? a : last) + service_ns;
		dep[(head + held) % capacity] = last;
		held++;
		if (dropped)
			dropped[i] = 0;
	}
	free(dep);
	return drops;
}
