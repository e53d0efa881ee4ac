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

#include "wc_balance.h"
#include "wc_buddy.h"
#include "wc_pool.h"
#include "wc_workq.h"

/* cffi:begin */
enum sim_engine {
	SIM_ENGINE_WIRECAP = 0, /* basic mode, or advanced with buddy groups */
	SIM_ENGINE_DNA = 1,     /* Type-II: the NIC ring is the capture buffer, per-packet release */
	SIM_ENGINE_NETMAP = 2,  /* Type-II: released at each NIOCRXSYNC */
	SIM_ENGINE_PFRING = 3,  /* Type-I (mode 2): NAPI copies into a pf_ring */
	SIM_ENGINE_DPDK = 4,    /* beyond the paper: poll-mode driver + per-queue mbuf mempool */
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
	uint8_t bulk;           /* count runs of arrivals in closed form: generator
				 * mode's bulk steps (bulk.c), trace mode's quiet
				 * frames (quiet.c); 0: every frame one by one */
	/* trace mode (gen_gap_ps == 0, one NIC): per-packet arrays; arrival
	 * times in ns as traces keep them (the model's ps are ns *
	 * SIM_PS_PER_NS, taken on the fly: no 8-byte-per-frame copy per run) */
	const int64_t *ts_ns;
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
	/* count packets handed to an application thread after a later packet
	 * of their flow (trace mode; the ring records then hold frame ids) */
	uint8_t track_order;

	/* --- WireCAP-A's offloading policy (beyond the paper) --------------- */
	uint32_t wc_offload;         /* WC_OFFLOAD_CHUNK (the paper's), _BUCKET, _HYBRID */
	/* bucket and hybrid (trace mode, one buddy group): the redirection
	 * table (82599 RETA, datasheet §7.1.2.8.3) in front of the queues */
	const uint16_t *bucket;      /* per packet: its bucket, SIM_NO_BUCKET if RSS does not hash it */
	uint32_t n_buckets;          /* table entries (a power of two) */
	int64_t bal_period_ps;       /* the balancer re-solves this often */
	int64_t bal_move_ps;         /* a decided move takes effect this much later (RETA write) */
	uint32_t bal_imbalance_pct;  /* wc_balance_opts.imbalance_pct */

	/* --- DPDK-style engine (beyond the paper, eng_dpdk.c) --------------- */
	uint64_t dpdk_mbufs;         /* mbufs in each queue's mempool (> ring_size) */
};

/* a frame RSS does not hash (non-IP): its queue is fixed, no bucket moves it */
#define SIM_NO_BUCKET 0xffffu

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
#define SIM_PS_PER_NS 1000
/* the latest trace time in ns that is a time in ps (about 106 days) */
#define SIM_TS_NS_MAX (INT64_MAX / SIM_PS_PER_NS)

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
	uint64_t flows_migrated;  /* flows handed to another thread with their bucket (not split) */
	uint64_t packets_reordered; /* handed to a thread after a later packet of their flow (track_order) */
	uint64_t bucket_moves;    /* redirection-table buckets moved away from this queue */
	int64_t last_done_ps;     /* when this queue's thread finished its last packet */
};

struct sim_result {
	uint64_t events;          /* discrete events handled (arrivals not counted) */
	uint64_t arrivals;
	uint64_t bulk_steps;      /* runs of arrivals counted in closed form (bulk
				   * steps, or runs of a trace's quiet frames) */
	int64_t end_ps;           /* time of the last event */
	uint64_t flows_split;     /* flows processed by more than one thread */
	uint64_t flows_migrated;  /* flows handed over with their bucket */
	uint64_t packets_reordered;
	uint64_t bucket_moves;    /* redirection-table buckets moved */
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
/* They are in private headers of driver/csrc/sim/, one job each:
 *   sim_core.h    the run's state, the event heap, processed frames
 *   frames.h      frame ids: queue, flow, size, arrival time
 *   sim_engine.h  the engines' operations table (all the NIC knows of them)
 *   sim_bulk.h    closed-form counting of generator runs (bulk steps)
 *   sim_nic.h     the NIC model's entry points, for the main loop
 */
#endif /* WC_SIM_H */
