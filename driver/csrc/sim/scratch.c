/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Scratch memory for a run's largest arrays (the ring records and the flow
 * table, run.c), kept by each thread from one run to the next.
 *
 * A run of the 5 M-packet trace on 6 queues asks for 20 MB of ring records;
 * fresh from malloc every run, that is fresh pages from the kernel, which
 * zeroes them: about 8% of the run went to clear_page. Experiments run
 * thousands of points one after another in the same thread, so the block
 * is kept for the next run instead, up to SCRATCH_KEEP_MAX: a run larger
 * than that gets its own block, freed at its end, so a thread never holds
 * more than that once it is idle. Per thread (a pthread key, freed when the
 * thread ends): runs in concurrent threads never share a block, and
 * sim_run never runs inside itself.
 */
#include "sim_core.h"

#include <pthread.h>
#include <stdlib.h>

#define SCRATCH_KEEP_MAX ((size_t)64 << 20)

struct scratch {
	void *p;
	size_t size;
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_ok;

static void scratch_release(void *v)
{
	struct scratch *sc = v;

	free(sc->p);
	free(sc);
}

static void scratch_init(void)
{
	scratch_ok = pthread_key_create(&scratch_key, scratch_release) == 0;
}

void *sim_scratch_get(size_t size)
{
	struct scratch *sc;

	pthread_once(&scratch_once, scratch_init);
	if (!scratch_ok || size > SCRATCH_KEEP_MAX)
		return malloc(size ? size : 1);
	sc = pthread_getspecific(scratch_key);
	if (!sc) {
		sc = calloc(1, sizeof(*sc));
		if (!sc)
			return NULL;
		if (pthread_setspecific(scratch_key, sc)) {
			free(sc);
			return malloc(size ? size : 1);
		}
	}
	if (sc->size < size) {
		free(sc->p);
		sc->size = 0;
		sc->p = malloc(size);
		if (!sc->p)
			return NULL;
		sc->size = size;
	}
	return sc->p;
}

void sim_scratch_put(void *p)
{
	struct scratch *sc = scratch_ok ? pthread_getspecific(scratch_key) : NULL;

	if (!sc || p != sc->p)
		free(p); /* not the kept block: a large run's own */
}
