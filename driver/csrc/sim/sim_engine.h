/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engines as the rest of the simulator sees them: one table of
 * operations per engine model (DESIGN.md §3: "each a small module with the
 * same interface"), in the manner of a driver's device ops. The NIC model
 * and the main loop call engines through it only; they never read an
 * engine's per-queue state (q->eng) nor ask which engine runs.
 *
 * Adding an engine: one file under engine/csrc/sim/ defining its table,
 * its declaration below, and its entry in sim_engines[] (engines.c).
 */
#ifndef WC_SIM_ENGINE_H
#define WC_SIM_ENGINE_H

#include "sim_core.h"

enum sim_take { SIM_TAKE_NO = 0, SIM_TAKE_RING, SIM_TAKE_DROP };

struct sim_engine_ops {
	/* trace mode: the model reads each frame's size by its ring sequence
	 * number (q->seq_pkt), so the run records one per frame */
	int frame_ids;

	/* set-up and tear-down of the run; fini (optional) also runs after a
	 * failed set-up or init, on the zeroed or partly built state */
	/* trace mode: the engine calls sim_sync(s, q) before it reads or
	 * changes the receive side (ring, capture thread) of a queue other
	 * than the one whose event it handles; its quiet frames may then wait
	 * until then (quiet.c, lazy hand-over) */
	int lazy_sync;

	int (*init)(struct sim *s);
	void (*fini)(struct sim *s);

	/* ---- the receive path (nic.c) ---- */
	/* descriptors of q's ring ready for a frame now */
	uint32_t (*ready)(struct sim *s, struct sim_queue *q);
	/* a frame was DMA'd into q's ring (ring sequence number already taken) */
	void (*deliver)(struct sim *s, struct sim_queue *q);
	/* optional: frames q can take in one deliver_n step (0: one at a time)
	 * and that step, n <= room; used when no per-frame record is kept */
	uint32_t (*room)(struct sim *s, struct sim_queue *q);
	void (*deliver_n)(struct sim *s, struct sim_queue *q, uint32_t n);
	/* optional, trace mode: how many of q's next frames, each finding a
	 * ready descriptor, change nothing but counters whenever they come
	 * before the next event (no wake-up, no event, no time-dependent
	 * count): they are handed over later in one deliver_n (quiet.c). An
	 * engine that has it promises too that ready() changes only through
	 * its events and deliveries, so that with none ready every frame up to
	 * the next event is a drop (DROP_EN). */
	uint32_t (*quiet)(struct sim *s, struct sim_queue *q);
	/* optional, trace mode, for an engine whose quiet frames are so one at
	 * a time (their effect depends on when they come): a frame of q
	 * arrives now; if it only joins the ring (the engine counts it in) or
	 * finds no descriptor with DROP_EN set, say which and the core counts
	 * the rest; else SIM_TAKE_NO, and it goes the usual way */
	int (*take)(struct sim *s, struct sim_queue *q);
	/* optional: an engine that gives descriptors back without calling
	 * sim_ring_space says when the next one comes back (or SIM_NEVER), so
	 * that a blocked buffer head can wake then */
	int64_t (*next_release)(struct sim *s, struct sim_queue *q);

	/* ---- the main loop (run.c) ---- */
	/* an event of a kind the engine scheduled (everything but EV_NIC_UNBLOCK) */
	void (*event)(struct sim *s, const struct sim_event *ev);
	/* optional: every event is handled; the engine's last counts, before
	 * the run's results are read */
	void (*finish)(struct sim *s);

	/* ---- bulk steps (bulk.c, sim_bulk.h), optional ---- */
	/* Of q's frames f, f + nq, f + 2nq, ... of a run, the first that changes
	 * q's state (it is then handled frame by frame), or SIM_NO_CUT. NULL:
	 * f (no closed form, every frame one by one). */
	uint64_t (*bulk_cut)(struct sim *s, struct sim_queue *q, uint64_t f);
	/* Count c of q's frames (f, then one every nq) in closed form, bus
	 * included (bulk_admit), none beyond the cut. Returns how many it
	 * counted: c, or fewer when the next one must go to the NIC's buffer.
	 * NULL: only runs that the bus drops entirely are counted. */
	uint64_t (*bulk_count)(struct sim *s, struct sim_queue *q, uint64_t f, uint64_t c);
};

/* engine/csrc/sim/: one table per engine model */
extern const struct sim_engine_ops sim_engine_wirecap; /* eng_wirecap.c */
extern const struct sim_engine_ops sim_engine_dna;     /* eng_typeii.c */
extern const struct sim_engine_ops sim_engine_netmap;  /* eng_typeii.c */
extern const struct sim_engine_ops sim_engine_pfring;  /* eng_pfring.c */
extern const struct sim_engine_ops sim_engine_dpdk;    /* eng_dpdk.c */

/* engines.c: the table of each enum sim_engine */
extern const struct sim_engine_ops *const sim_engines[];
extern const uint32_t sim_n_engines;

#endif /* WC_SIM_ENGINE_H */
