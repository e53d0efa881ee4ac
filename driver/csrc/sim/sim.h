/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The simulated testbed (DESIGN.md §3): a deterministic discrete-event model
 * of a 10 GbE wire, an Intel 82599-class NIC and the capture host, with the
 * capture engines as models on top.
 *
 * Time is an integer number of picoseconds (a 64-byte frame takes exactly
 * 67,200 ps at 10 Gb/s), so runs are bit-identical on every machine. Ties
 * break by event sequence number, arrivals before events.
 *
 * Every constant is a field of struct sim_params, filled by Python from
 * driver/sim/params.py where each default carries its source. The C side
 * holds mechanisms only.
 *
 * Python fills sim_params, calls sim_run() once, and reads one
 * sim_queue_stats per receive queue plus a sim_result.
 */
#ifndef WC_SIM_H
#define WC_SIM_H

#include <stdint.h>

#include "wc_buddy.h"
#include "wc_capture.h"
#include "wc_pool.h"
#include "wc_workq.h"

/* cffi:begin */
enum sim_engine {
	SIM_ENGINE_WIRECAP = 0, /* basic mode, or advanced with buddy groups */
	SIM_ENGINE_DNA = 1,     /* Type-II: the NIC ring is the capture buffer, per-packet release */
	SIM_ENGINE_NETMAP = 2,  /* Type-II: released at each NIOCRXSYNC */
	SIM_ENGINE_PFRING = 3,  /* Type-I (mode 2): NAPI copies into a pf_ring */
};

struct sim_params {
	/* --- workload ------------------------------------------------------ */
	uint32_t n_nics;        /* 1, or 2 (Figure 14: a generator on each) */
	uint32_t n_queues;      /* receive queues per NIC */
	uint64_t n_packets;     /* per NIC */
	/* generator mode (gen_gap_ps > 0): each NIC's frame i arrives at
	 * i * gen_gap_ps, size gen_size, queue gen_queue[i % gen_len] of that
	 * NIC, flow gen_flow[i % gen_len] */
	int64_t gen_gap_ps;
	uint32_t gen_size;
	uint32_t gen_len;
	const uint8_t *gen_queue;
	const int32_t *gen_flow;
	uint8_t bulk;           /* generator mode: count runs of arrivals in closed form */
	/* trace mode (gen_gap_ps == 0, one NIC): per-packet arrays */
	const int64_t *ts_ps;
	const uint8_t *queue;
	const int32_t *flow;
	const uint32_t *size;
	uint32_t n_flows;       /* flow ids are 0..n_flows-1 */
	uint8_t track_flows;    /* count flows processed by more than one thread */

	/* --- NIC (82599 class) --------------------------------------------- */
	uint32_t ring_size;          /* N descriptors per receive ring */
	uint32_t fifo_bytes;         /* on-chip receive packet buffer; 0 = none */
	uint32_t fifo_frame_overhead;/* bytes a frame occupies beyond its length */
	uint32_t fifo_unit;          /* allocation unit of that buffer */
	uint8_t drop_en;             /* SRRCTL.DROP_EN: drop at once when no descriptor */
	/* the shared I/O and memory bus, a fluid server (driver/sim/params.py
	 * BusModel): the fraction of frames its DMA can move, fixed point with
	 * SIM_BUS_ONE = all; the rest overflow the on-chip buffer */
	uint64_t bus_admit;

	/* --- application (pkt_handler) ------------------------------------- */
	int64_t app_cost_ps;         /* per packet, incl. the x filter runs */

	/* --- engine -------------------------------------------------------- */
	uint32_t engine;             /* enum sim_engine */
	/* WireCAP */
	uint32_t wc_m;               /* M */
	uint32_t wc_r;               /* R */
	uint32_t wc_t_pct;           /* T; 100 = never offload */
	uint8_t wc_advanced;
	const uint8_t *wc_group;     /* buddy group of each queue (advanced mode) */
	int64_t wc_capture_ps;       /* fixed cost of one capture ioctl */
	int64_t wc_recycle_ps;       /* fixed cost of one recycle ioctl */
	int64_t wc_chunk_ps;         /* per chunk moved by either */
	int64_t wc_copy_ps;          /* per packet copied on a capture timeout */
	int64_t wc_timeout_ps;       /* partial-chunk capture timeout */
	/* Type-II */
	uint32_t ring_usable;        /* descriptors usable (ixgbe keeps one empty) */
	int64_t nm_sync_ps;          /* NETMAP NIOCRXSYNC */
	int64_t nm_wakeup_ps;        /* NETMAP poll() wake-up */
	/* PF_RING */
	uint32_t pf_slots;           /* pf_ring size */
	int64_t pf_copy_ps;          /* NAPI copy, fixed part per packet */
	int64_t pf_copy_byte_ps;     /* NAPI copy, per byte */
	int64_t pf_irq_ps;           /* hard interrupt cost */
	int64_t pf_itr_ps;           /* at most one interrupt per this interval */
	uint32_t pf_napi_weight;     /* packets per NAPI poll */
	uint32_t pf_softirq_pkts;    /* softirq work before deferring to ksoftirqd */
	int64_t pf_softirq_ps;       /*   ... or this much time */
	int64_t pf_slice_ps;         /* CFS slice when ksoftirqd and the app compete */

	/* --- forwarding through a second NIC (paper §4, Figure 13) --------- */
	uint8_t forward;             /* each processed frame goes out of NIC2 */
	int64_t tx_ps_per_byte;      /* NIC2's wire: 800 ps per byte at 10 Gb/s */
	uint32_t tx_overhead_bytes;  /* preamble + inter-frame gap per frame */
	uint32_t *fwd_log;           /* optional: frame ids in the receiver's order */
	uint64_t fwd_log_cap;
	uint64_t *offload_matrix;    /* optional n x n: frames of queue i processed by thread j */
	/* --- instrumentation ----------------------------------------------- */
	int64_t app_start_ps;        /* WireCAP: application threads start reading then (0: at once) */
	struct sim_run_rec *run_log; /* optional: each run of packets an application thread processed */
	uint64_t run_log_cap;
};

/* One run of packets processed by one application thread (a WireCAP chunk,
 * a Type-II batch): `thread` processed frames seq .. seq+n-1 of `owner`'s
 * ring, in the order the threads finished them. */
struct sim_run_rec {
	uint32_t thread;
	uint32_t owner;
	uint64_t seq;
	uint64_t n;
};

#define SIM_BUS_ONE (1ull << 32)

struct sim_queue_stats {
	uint64_t sent;            /* frames RSS put on this queue */
	uint64_t delivered;       /* of those, processed by an application thread */
	uint64_t capture_drops;   /* lost before capture: */
	uint64_t drops_fifo;      /*   on-chip buffer overflow */
	uint64_t drops_nodesc;    /*   no ready descriptor with DROP_EN set */
	uint64_t drops_bus;       /*   the bus could not move it (overflow under saturation) */
	uint64_t delivery_drops;  /* captured, then lost (pf_ring full) */
	uint64_t processed;       /* packets this queue's application thread processed */
	uint64_t offloaded_out;   /* packets of this queue processed by a buddy */
	uint64_t offloaded_in;    /* packets of buddies processed by this queue's thread */
	uint64_t chunks_copied;   /* WireCAP partial-chunk copies */
	uint64_t max_buffered;    /* most frames held by the engine at once */
	uint64_t received;        /* frames of this queue counted by the receiver (forwarding) */
	uint64_t flows_split;     /* flows of this queue processed by more than one thread */
	int64_t last_done_ps;     /* when this queue's thread finished its last packet */
};

struct sim_result {
	uint64_t events;          /* discrete events handled (arrivals not counted) */
	uint64_t arrivals;
	uint64_t bulk_steps;      /* runs of arrivals counted in closed form */
	int64_t end_ps;           /* time of the last event */
	uint64_t flows_split;     /* flows processed by more than one thread */
	uint64_t forwarded;       /* frames put on NIC2's wire */
	uint64_t fwd_logged;      /* entries written to fwd_log */
	uint64_t tx_backlog_max;  /* most frames waiting for NIC2's wire at once */
	uint64_t runs_logged;     /* entries written to run_log */
	int32_t error;            /* 0, or a negative errno from the engine core */
};

/* Runs the model to completion (every buffered frame processed). Returns 0
 * or a negative errno (-EINVAL for inconsistent parameters, -ENOMEM). */
int sim_run(const struct sim_params *p, struct sim_queue_stats *qs, struct sim_result *res);
/* cffi:end */

/* ------------------------------------------------------------------------
 * Internals shared by the simulator files (not exported to Python).
 */
#ifdef WC_SIM_INTERNAL

#define SIM_NEVER INT64_MAX
#define SIM_NO_SEQ UINT64_MAX /* sim_processed(): packets not tracked by ring order */

enum sim_event_kind {
	EV_CT_RUN = 1,      /* WireCAP capture thread starts an operation */
	EV_CT_DONE,         /* ... and finishes it */
	EV_CT_TIMEOUT,      /* partial-chunk capture timeout */
	EV_APP_DONE,        /* an application thread finished a work item */
	EV_APP_WAKE,        /* NETMAP poll() returns; WireCAP: an application starts reading */
	EV_NIC_UNBLOCK,     /* the receive buffer's head frame may find a descriptor */
	EV_PF_IRQ,          /* PF_RING: interrupt */
	EV_PF_POLL,         /* PF_RING: a NAPI poll starts */
	EV_PF_POLL_DONE,    /* PF_RING: a NAPI poll finished copying */
	EV_PF_SLICE,        /* PF_RING: CFS slice boundary */
	EV_TX_DONE,         /* WireCAP: a forwarded chunk's last frame left NIC2 */
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

/* WireCAP per-queue state */
struct sim_wc {
	struct wc_pool *pool;
	struct wc_workq *capq;   /* capture queue (consumer: this queue's app) */
	struct wc_workq *recq;   /* recycle queue (consumer: this queue's capture thread) */
	struct wc_group *group;  /* shared by the buddies; NULL in basic mode */
	int member;              /* index in the group */
	uint32_t ready;          /* cached wc_pool__ready() */
	uint32_t seg_left;       /* cells left in the head segment */
	uint32_t pending_rx;     /* frames written but not yet told to the pool */
	/* capture thread */
	struct sim *s;
	struct wc_capture *cap;  /* the capture step both backends run (wc_capture.h) */
	struct wc_capture_plan plan; /* the running operation's work, priced at its start */
	int ct_busy;
	int ct_timer_pending;    /* a timeout event is in the heap */
	int attached;            /* the step re-armed segments (hook) */
	uint64_t buffered;       /* frames captured or in the ring, not yet processed */
};

/* Type-II (DNA, NETMAP) per-queue state */
struct sim_t2 {
	uint64_t in_ring;        /* frames DMA'd into the ring */
	uint64_t released;       /* descriptors given back (completed batches) */
	int sleeping;            /* NETMAP: blocked in poll() */
	int wake_pending;
};

/* PF_RING per-queue state */
struct sim_pf {
	uint64_t in_ring, released;       /* NIC ring: frames in, descriptors given back */
	uint64_t pf_in, pf_out;           /* pf_ring: inserts, removes */
	int irq_enabled, irq_pending;
	int64_t last_irq;
	int napi_ctx;                     /* NAPI scheduled, and where it runs */
	int running;                      /* who holds the core */
	int turn;                         /* whose CFS turn while both compete */
	int64_t turn_end;
	int64_t softirq_start;
	uint64_t softirq_pkts;
	uint32_t poll_batch;
	uint64_t *slot_seq;               /* ring sequence number held by each pf_ring slot */
};

struct sim_queue {
	uint32_t id;
	struct sim_queue_stats st;
	struct sim_app app;
	union {
		struct sim_wc wc;
		struct sim_t2 t2;
		struct sim_pf pf;
	} e;
	/* ring sequence number -> packet index, for flow tracking */
	uint32_t *seq_pkt;
	uint64_t seq_len, seq_cap;
	uint64_t head_seq;   /* next sequence number a frame entering the ring gets */
	int64_t tx_free;     /* forwarding: when this thread's transmit queue drains */
	uint64_t bus_acc;    /* bus admission accumulator (< SIM_BUS_ONE) */
	uint32_t nic;        /* the NIC this queue belongs to */
};

struct sim_fifo_entry {
	uint64_t pkt;
	uint32_t q;
	uint32_t bytes;
};

/* One NIC's receive side: its generator cursor and on-chip buffer. */
struct sim_nic {
	uint32_t id;
	uint32_t q0;          /* its queues are q0 .. q0 + n_queues - 1 */
	uint64_t next;        /* generator mode: index of its next frame */
	struct sim_fifo_entry *fifo;
	uint32_t fifo_cap, fifo_head, fifo_len;
	uint64_t fifo_bytes;
	int64_t unblock_at;
};

struct sim {
	const struct sim_params *p;
	int64_t now;
	struct sim_heap heap;
	struct sim_queue *q;     /* n_nics * n_queues */
	uint32_t nq_total;
	struct sim_nic nic[2];
	struct sim_result *res;
	uint64_t next_pkt;       /* trace mode: next frame */
	/* flows */
	int16_t *flow_thread;
	uint8_t *flow_split;
	/* WireCAP buddy groups */
	struct wc_group **groups;
	uint32_t n_groups;
	uint32_t member_queue[WC_GROUP_MAX][WC_GROUP_MAX]; /* group, member -> queue */
	struct wc_capture_set owners;  /* {nic_id, ring_id} -> the queue's capture step */
	int err;
};

/* des.c */
int sim_heap_init(struct sim_heap *h, uint32_t cap);
void sim_heap_free(struct sim_heap *h);
int sim_schedule(struct sim *s, int64_t t, uint32_t kind, uint32_t q, uint64_t arg);
int sim_heap_pop(struct sim_heap *h, struct sim_event *out);

/* nic.c: the receive path; the engines call nic_kick */
void nic_kick(struct sim *s, uint32_t nic);
void nic_arrival(struct sim *s, uint64_t pkt);
/* bulk.c */
uint64_t bulk_step(struct sim *s, uint32_t nic, int64_t t_lim);
int64_t sim_processed(struct sim *s, uint32_t thread, uint32_t owner, uint64_t seq, uint64_t n,
		      int64_t t_first, int64_t dt);
uint32_t pkt_size(const struct sim *s, uint64_t pkt);

/* engine models: one file each under engine/csrc/sim/ */
int wc_init(struct sim *s);
void wc_fini(struct sim *s);
uint32_t wc_ready(struct sim *s, struct sim_queue *q);
void wc_deliver(struct sim *s, struct sim_queue *q);
void wc_deliver_n(struct sim *s, struct sim_queue *q, uint32_t n);
void wc_event(struct sim *s, const struct sim_event *ev);

int t2_init(struct sim *s);
uint32_t t2_ready(struct sim *s, struct sim_queue *q);
void t2_deliver(struct sim *s, struct sim_queue *q);
void t2_event(struct sim *s, const struct sim_event *ev);
int64_t t2_next_release(struct sim *s, struct sim_queue *q);

int pf_init(struct sim *s);
uint32_t pf_ready(struct sim *s, struct sim_queue *q);
void pf_deliver(struct sim *s, struct sim_queue *q);
void pf_event(struct sim *s, const struct sim_event *ev);
void pf_fini(struct sim *s);

#endif /* WC_SIM_INTERNAL */
#endif /* WC_SIM_H */
