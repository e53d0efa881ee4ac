/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Type-II engines (DNA, NETMAP): the per-queue state that the event model
 * (eng_typeii.c) and DNA's closed form for bulk steps (eng_dna_bulk.c)
 * share. Nothing outside these two files includes it.
 */
#ifndef WC_SIM_ENG_TYPEII_H
#define WC_SIM_ENG_TYPEII_H

#include "sim_core.h"

/* per-queue state (q->eng) */
struct sim_t2 {
	uint64_t in_ring;        /* frames DMA'd into the ring */
	uint64_t released;       /* descriptors given back (completed batches) */
	int sleeping;            /* NETMAP: blocked in poll() */
	int wake_pending;
};

SIM_ENGINE_STATE(struct sim_t2);

static inline struct sim_t2 *T2(struct sim_queue *q)
{
	return (struct sim_t2 *)q->eng;
}

/* eng_dna_bulk.c: DNA's entries for bulk steps (sim_engine.h) */
uint64_t dna_bulk_cut(struct sim *s, struct sim_queue *q, uint64_t f);
uint64_t dna_bulk_count(struct sim *s, struct sim_queue *q, uint64_t f, uint64_t c);

#endif /* WC_SIM_ENG_TYPEII_H */
