/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The simulator's core (DESIGN.md §3): the state of one run, its events,
 * and the services every model calls: scheduling an event (des.c),
 * counting processed frames (forward.c), saying that descriptors came
 * back (run.c). The NIC model and the engine models both include this
 * header; it includes neither, so neither depends on the other through it.
 */
#ifndef WC_SIM_CORE_H
#define WC_SIM_CORE_H

#include "sim.h"

#define SIM_NEVER INT64_MAX
#define SIM_NO_SEQ UINT64_MAX /* sim_processed(): packets not tracked by ring order */
#define FLOW_UNSEEN 0xffu     /* flow_state: no thread processed the flow yet */
#define FLOW_SPLIT 0x80u      /* flow_state: a second thread did (threads < WC_GROUP_MAX <= 0x7f) */
_Static_assert(WC_GROUP_MAX <= 0x7f, "thread ids must fit flow_state's low bits");

/* Room for an engine's per-queue state in the queue itself (sim_queue.eng),
 * as sk_buff's cb[] holds a layer's private data: opaque to everyone else,
 * and reached without a pointer to follow on every frame. */
#define SIM_QUEUE_ENGINE_BYTES 128
/* An engine's per-queue state type: it must fit there. */
#define SIM_ENGINE_STATE(type) \
	_Static_assert(sizeof(type) <= SIM_QUEUE_ENGINE_BYTES, #type " outgrows sim_queue.eng")

/* The core's event kinds. Each engine numbers its own from EV_ENGINE on
 * (they only ever reach that engine's ops->event). */
enum sim_event_kind {
	EV_NIC_UNBLOCK = 1, /* the receive buffer's head frame may find a descriptor */
	EV_APP_DONE,        /* an application thread finished a work item */
	EV_ENGINE,          /* first kind private to an engine model */
};

struct sim_event {
	int64_t t;
	uint64_t seq;
	uint32_t kind;
	uint32_t q;
	uint64_t arg; /* generation stamp or payload */
};

struct sim_heap {
	struct sim_event *ev;
	uint32_t len, cap;
	uint64_t next_seq;
};

/* An application thread's current work item (a run of packets). */
struct sim_app {
	int busy;
	uint64_t gen;
	int64_t started;       /* when the item (re)started running */
	int64_t remaining_ps;  /* work left when it (re)started */
	uint64_t batch;        /* packets in the item */
	struct wc_chunk_meta meta; /* WireCAP: the chunk being processed */
};

struct sim_queue {
	uint32_t id;
	struct sim_queue_stats st;
	struct sim_app app;
	/* the engine's own per-queue state (SIM_ENGINE_STATE), zeroed before
	 * ops->init; nobody but the engine reads it */
	_Alignas(8) char eng[SIM_QUEUE_ENGINE_BYTES];
	/* ring sequence number -> packet index (or, where nothing but flows is
	 * asked of it, the packet's flow id: sim.seq_flows), for flow tracking,
	 * frame sizes and the forwarding log */
	uint32_t *seq_pkt;
	uint64_t seq_len, seq_cap;
	uint64_t head_seq;   /* next sequence number a frame entering the ring gets */
	int64_t tx_free;     /* forwarding: when this thread's transmit queue drains */
	uint64_t bus_acc;    /* bus admission accumulator (< SIM_BUS_ONE) */
	uint32_t nic;        /* the NIC this queue belongs to */
	/* bulk steps: the engine's last answer to bulk_cut, a frame index,
	 * good until the engine says the queue changed (sim_bulk.h) */
	uint64_t cut_at;
	uint8_t cut_known;
	/* trace mode's quiet frames (quiet.c): taken, not yet given to the
	 * engine; how many more may be; whether the next ones are drops (no
	 * descriptor, DROP_EN); the epoch these were read in */
	uint32_t quiet_pending, quiet_left;
	uint8_t quiet_drops;
	uint64_t quiet_epoch;
};

/* A run of frames waiting in a NIC's receive buffer: n frames of queue q,
 * `bytes` each, in arrival order. Frames whose ids nobody records (the
 * queue keeps no per-frame record: q->seq_pkt is NULL) join the run at the
 * tail, so a buffer of one queue's frames is one entry however full it is
 * (Figure 14 at one queue per NIC keeps it full for 10^9 frames); `pkt` is
 * then only the run's first frame. With records, every run is one frame. */
struct sim_fifo_entry {
	uint64_t pkt;
	uint32_t q;
	uint32_t bytes;
	uint32_t n;
};

/* One NIC's receive side: its generator cursor and on-chip buffer. */
struct sim_nic {
	uint32_t id;
	uint32_t q0;          /* its queues are q0 .. q0 + n_queues - 1 */
	uint64_t next;        /* generator mode: index of its next frame */
	struct sim_fifo_entry *fifo; /* runs, a ring of fifo_cap entries */
	uint32_t fifo_cap;    /* most frames (and so runs) the buffer can hold */
	uint32_t fifo_head;   /* first run */
	uint32_t fifo_runs;   /* runs held */
	uint32_t fifo_len;    /* frames held */
	uint64_t fifo_bytes;
	int64_t unblock_at;
	/* bulk steps: the least of its queues' cuts, while none is stale */
	uint64_t cut_min;
	uint8_t cut_min_known;
};

struct sim_engine_ops; /* sim_engine.h */

struct sim {
	const struct sim_params *p;
	const struct sim_engine_ops *ops; /* the engine of this run */
	int64_t now;
	struct sim_heap heap;
	struct sim_queue *q;     /* n_nics * n_queues */
	uint32_t nq_total;
	uint64_t nq_recip;       /* ceil(2^32 / n_queues), for bulk.c's divisions */
	struct sim_nic nic[2];
	struct sim_result *res;
	uint64_t next_pkt;       /* trace mode: next frame */
	/* trace mode: each frame's queue (sim_params.queue, or with bucket
	 * offloading the run's own copy, rewritten by bucket moves: reta.c) */
	const uint8_t *queue;
	struct sim_reta *reta;   /* bucket offloading's redirection table (reta.c); NULL: none */
	/* track_order: per flow, 1 + the latest frame id handed to a thread */
	uint32_t *order_max;
	uint8_t seq_own;         /* ring records are per-queue allocations that reta.c may grow */
	uint64_t quiet_epoch;    /* trace mode: bumped whenever an engine's state may change (quiet.c;
				  * with lazy_quiet, a queue's own is reset instead) */
	/* trace mode, flows tracked and nothing else read from the ring
	 * record: it holds flow ids, read at arrival with the trace's other
	 * columns instead of once more, out of order, when a chunk is processed */
	uint8_t seq_flows;
	uint64_t quiet_mask;     /* trace mode: the queues holding quiet frames (bit = queue) */
	int lazy_quiet;          /* trace mode: quiet frames wait for sim_sync (quiet.c) */
	/* flows */
	/* per flow: the thread that processed it first (FLOW_UNSEEN: none),
	 * FLOW_SPLIT once another one did; one byte, so the table of a trace's
	 * flows stays in cache */
	uint8_t *flow_state;
	/* the block seq_pkt and flow_state live in (sim_scratch_get) */
	void *scratch;
	/* the engine's whole-run state: ops->init allocates it, ops->fini
	 * frees it; nobody but the engine reads it */
	void *eng_run;
	int err;
};

/* scratch.c: memory for a run's largest arrays, kept by the thread for its
 * next run (NULL: out of memory); give it back with sim_scratch_put */
void *sim_scratch_get(size_t size);
void sim_scratch_put(void *p);

/* des.c: the event heap */
int sim_heap_init(struct sim_heap *h, uint32_t cap);
void sim_heap_free(struct sim_heap *h);
int sim_schedule(struct sim *s, int64_t t, uint32_t kind, uint32_t q, uint64_t arg);
int sim_heap_pop(struct sim_heap *h, struct sim_event *out);

/* forward.c: an application thread finished n frames of queue `owner` */
int64_t sim_processed(struct sim *s, uint32_t thread, uint32_t owner, uint64_t seq, uint64_t n,
		      int64_t t_first, int64_t dt);

/* forward.c: an application thread was handed n frames of queue `owner`
 * (a chunk taken from its capture queue): counts those that come after a
 * later frame of their flow (track_order) */
void sim_handed(struct sim *s, uint32_t owner, uint64_t seq, uint64_t n);

/* reta.c: bucket offloading's redirection table (sim_params.bucket) */
struct sim_reta;
int reta_init(struct sim *s, const uint64_t *per_queue);
void reta_fini(struct sim *s);
/* bucket b's frames from the next arrival on go to queue dst; returns how
 * many (0 or more; a negative errno if dst's ring records cannot grow) */
int64_t reta_move(struct sim *s, uint32_t b, uint32_t dst);
/* dst's thread takes over bucket b's flows from src (the move's barrier is
 * past): a flow of b first processed by src and then by dst is migrated,
 * not split */
void reta_hand_over(struct sim *s, uint32_t b, uint32_t src, uint32_t dst);
/* Was flow f handed from thread `from` to thread `to` with its bucket? */
int reta_migrated(const struct sim *s, int32_t f, uint32_t from, uint32_t to);

/* quiet.c: q's quiet frames, handed to its engine now, and q's count of
 * them asked again later (lazy hand-over) */
void quiet_sync(struct sim *s, struct sim_queue *q);

/* Whoever is about to read or change q's receive side (its ring, its
 * capture thread) calls this first: the core before an event of q and
 * before one of its frames arrives, an engine with ops->lazy_sync before it
 * touches a queue other than the event's. A no-op unless q's quiet frames
 * wait for it (trace mode, quiet.c). */
static inline void sim_sync(struct sim *s, struct sim_queue *q)
{
	if (s->lazy_quiet)
		quiet_sync(s, q);
}

/* run.c: the engine gave descriptors of q's ring back, so frames waiting in
 * its NIC's buffer may go now. Engines call this, never the NIC. */
void sim_ring_space(struct sim *s, struct sim_queue *q);

#endif /* WC_SIM_CORE_H */
