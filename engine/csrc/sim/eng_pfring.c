/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PF_RING in mode 2, a Type-I engine (paper §2.1): NAPI polling copies each
 * frame from the NIC's ring buffer into the pf_ring (10,240 slots, §2.2),
 * which the application reads. This is a model of a kernel module we do
 * not run; its mechanisms are Linux's:
 *
 *  - The NIC interrupts (at most once per ITR interval) when a frame
 *    arrives and NAPI is idle. The hard interrupt preempts the application
 *    on the queue's core, then softirq context runs NAPI polls of up to
 *    `weight` frames, each frame costing a copy (fixed + per byte). A copy
 *    into a full pf_ring is a delivery drop (the frame was captured, then
 *    lost). Copied descriptors go back to the NIC at the end of each poll.
 *  - A poll that finds less than its weight of work completes NAPI and
 *    re-enables interrupts (napi_complete_done()).
 *  - Softirq work past a packet or time budget (net.core.netdev_budget and
 *    its 2 ms limit, times the softirq restarts) is deferred to ksoftirqd,
 *    a normal thread that must share the core with the application (the
 *    receive livelock of §2.1 [24]): while both are runnable they take
 *    turns of one CFS slice each, the application first. While the
 *    application holds the core, nobody empties the NIC ring: frames
 *    arriving then are capture drops; while ksoftirqd holds it, nobody
 *    empties the pf_ring: copies into it are delivery drops.
 *  - Turns change at work-item boundaries (one packet for the application,
 *    one poll for ksoftirqd), tens of microseconds against a slice of
 *    milliseconds.
 *
 * How the model runs, not what it models: "Each queue on its own clock"
 * below. The numbers are those of scheduling every interrupt, poll and
 * packet through the main loop's event heap, which the model still does
 * when its queues are not independent.
 */
#include "frames.h"
#include "sim_engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { RUN_IDLE = 0, RUN_APP, RUN_SOFTIRQ, RUN_KSOFTIRQD };
enum { NAPI_OFF = 0, NAPI_SOFTIRQ, NAPI_KSOFTIRQD };

enum {
	EV_PF_IRQ = EV_ENGINE, /* interrupt */
	EV_PF_POLL,            /* a NAPI poll starts */
	EV_PF_POLL_DONE,       /* a NAPI poll finished copying */
	EV_PF_WAKE,            /* run a queue's own events (its clock, below) */
	EV_PF_TAIL,            /* a queue's last event: the run ends no earlier */
};

/* per-queue state (q->eng) */
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
	uint32_t in_slot, out_slot;       /* pf_in, pf_out modulo the pf_ring's size */
	uint64_t *slot_seq;               /* ring sequence number held by each pf_ring slot;
					   * NULL: nobody asks which (pf_keeps_seq()) */
};
SIM_ENGINE_STATE(struct sim_pf);

static inline struct sim_pf *P(struct sim_queue *q)
{
	return (struct sim_pf *)q->eng;
}

/* ---- Each queue on its own clock ------------------------------------------
 * A PF_RING queue's interrupts, polls and packets touch nothing of another
 * queue when its NIC drops frames at once rather than buffer them
 * (DROP_EN, which ixgbe sets with more than one queue) or the queue has
 * its NIC to itself, and the run keeps no record whose order spans queues
 * (run log, forwarding log, flow affinity). Then the order of two queues'
 * events does not matter, only each queue's own order: its events by
 * (time, scheduling order), its arrivals before its events of the same
 * time (sim.h).
 *
 * So the model keeps such a queue's pending events itself, one of each
 * kind at most (an interrupt, a NAPI poll's start or end, the
 * application's packet), and handles them in that order when they must
 * have happened: when the next arrival asks the ring for a descriptor
 * (pf_ready(), or pf_take_frame() for a trace's frame with DROP_EN set;
 * the usual case: the events before it), else from a wake
 * event in the main heap at the first pending one, up to the queue's next
 * arrival (while frames wait in the NIC's buffer, which the queue's polls
 * drain; when the bus drops frames, which never ask; after its last
 * arrival). Its events are handled one by one and counted (res->events),
 * without a trip through the heap, but for two kinds: the completion of
 * a preempted packet, stale, is dropped (app_pause()), and packets
 * the application finishes back to back with nothing else in between are
 * counted in closed form (app_catch_up()). The run ends at its last event
 * as before: a tail event marks it. Wake and tail events are counted.
 */
enum { TM_IRQ, TM_NAPI, TM_APP, TM_N };

struct pf_clock {
	int64_t at[TM_N];      /* when each pending event fires; SIM_NEVER: none */
	uint64_t seq[TM_N];    /* scheduling order, for ties */
	uint32_t kind[TM_N];
	uint64_t arg[TM_N];
	uint64_t next_seq;
	int64_t wake_at;       /* the valid wake event in the heap; SIM_NEVER: none */
	uint64_t wake_gen;
	int64_t last;          /* when its last event ran */
	uint64_t next_idx;     /* cached: its next arrival's frame index on its NIC */
	uint64_t end_idx;      /* 1 + its last arrival's frame index on its NIC; 0: none */
	int64_t last_arrival;  /* trace mode: when its last arrival comes */
	uint64_t done;         /* packets finished, counted at the run's end (pf_finish()) */
};

/* whole-run state (s->eng_run) */
struct pf_run {
	int own_clocks;        /* queues run on their own clocks */
	int running;           /* inside run_queue(): the NIC is calling back */
	struct pf_clock c[];
};

static inline struct pf_clock *C(struct sim *s, struct sim_queue *q)
{
	return &((struct pf_run *)s->eng_run)->c[q->id];
}

/* Schedule one of q's events: in the main heap, or on q's clock, where
 * one of each kind is pending at most (one interrupt raised, one poll at
 * a time, one packet: a preempted packet's completion is dropped,
 * app_pause()). */
static void pf_at(struct sim *s, struct sim_queue *q, int64_t t, uint32_t kind, uint64_t arg)
{
	struct pf_clock *c;
	int i = kind == EV_PF_IRQ ? TM_IRQ : kind == EV_APP_DONE ? TM_APP : TM_NAPI;

	if (!((struct pf_run *)s->eng_run)->own_clocks) {
		sim_schedule(s, t, kind, q->id, arg);
		return;
	}
	c = C(s, q);
	if (c->at[i] != SIM_NEVER && i != TM_APP) {
		s->err = -EPROTO;
		return;
	}
	c->at[i] = t;
	c->seq[i] = c->next_seq++;
	c->kind[i] = kind;
	c->arg[i] = arg;
}

/* q's first pending event, or -1; *t: when it fires. Events by time, then
 * scheduling order. Branch-free, on the three slots' fields at fixed
 * places: which slot fires first is not predictable, and an index
 * computed from one slot's fields to load another's would wait on it. */
static inline int clock_first(const struct pf_clock *c, int64_t *t)
{
	int64_t ti = c->at[TM_IRQ], tn = c->at[TM_NAPI], ta = c->at[TM_APP], tb;
	uint64_t si = c->seq[TM_IRQ], sn = c->seq[TM_NAPI], sa = c->seq[TM_APP], sb;
	int n_first = (tn < ti) | ((tn == ti) & (sn < si)), a_first, b;

	tb = n_first ? tn : ti;
	sb = n_first ? sn : si;
	b = n_first ? TM_NAPI : TM_IRQ;
	a_first = (ta < tb) | ((ta == tb) & (sa < sb));
	b = a_first ? TM_APP : b;
	*t = a_first ? ta : tb;
	return *t == SIM_NEVER ? -1 : b;
}

/* When q's first pending event fires (SIM_NEVER: none) */
static inline int64_t clock_next_at(const struct pf_clock *c)
{
	int64_t t = c->at[TM_IRQ] < c->at[TM_NAPI] ? c->at[TM_IRQ] : c->at[TM_NAPI];

	return c->at[TM_APP] < t ? c->at[TM_APP] : t;
}

/* When q's next arrival comes (SIM_NEVER: none), from its NIC's cursor. */
static int64_t next_arrival_of(struct sim *s, struct sim_queue *q)
{
	const struct sim_params *p = s->p;
	struct pf_clock *c = C(s, q);
	uint64_t i = c->next_idx;

	if (!p->gen_gap_ps) {
		if (i < s->next_pkt || (i < p->n_packets && p->queue[i] != q->id)) {
			const uint8_t *hit = NULL;

			i = s->next_pkt;
			if (i < p->n_packets)
				hit = memchr(p->queue + i, (int)q->id, p->n_packets - i);
			c->next_idx = i = hit ? (uint64_t)(hit - p->queue) : p->n_packets;
		}
		return i < p->n_packets ? p->ts_ns[i] * SIM_PS_PER_NS : SIM_NEVER;
	} else {
		const struct sim_nic *n = &s->nic[q->nic];
		uint32_t ql = q->id - n->q0;

		if (i < n->next || (i < p->n_packets && p->gen_queue[i % p->gen_len] != ql)) {
			uint64_t end = n->next + p->gen_len < p->n_packets ? n->next + p->gen_len : p->n_packets;

			for (i = n->next; i < end && p->gen_queue[i % p->gen_len] != ql; i++)
				;
			c->next_idx = i = i < end ? i : p->n_packets;
		}
		return i < p->n_packets ? gen_time(s, i) : SIM_NEVER;
	}
}

/* The pf_ring slot after slot i (a wrapped index: no division per packet). */
static inline uint32_t slot_after(const struct sim *s, uint32_t i)
{
	return i + 1 == s->p->pf_slots ? 0 : i + 1;
}

/* The application takes the pf_ring's oldest packet: its ring sequence
 * number, or SIM_NO_SEQ where the pf_ring keeps none. */
static inline uint64_t pf_take(struct sim *s, struct sim_pf *f)
{
	uint64_t seq;

	f->pf_out++;
	if (!f->slot_seq)
		return SIM_NO_SEQ;
	seq = f->slot_seq[f->out_slot];
	f->out_slot = slot_after(s, f->out_slot);
	return seq;
}

static inline int app_has_work(struct sim_queue *q)
{
	return q->app.busy || P(q)->pf_in != P(q)->pf_out;
}

static void app_run(struct sim *s, struct sim_queue *q)
{
	struct sim_app *a = &q->app;

	if (!a->busy) {
		a->busy = 1;
		a->batch = 1;
		a->remaining_ps = s->p->app_cost_ps;
	}
	a->gen++;
	a->started = s->now;
	P(q)->running = RUN_APP;
	pf_at(s, q, s->now + a->remaining_ps, EV_APP_DONE, a->gen);
}

static void app_pause(struct sim *s, struct sim_queue *q)
{
	struct sim_app *a = &q->app;

	a->remaining_ps -= s->now - a->started;
	a->gen++; /* the pending completion is stale */
	/* On q's clock it is dropped rather than handled: it would change
	 * nothing, and the resumed packet completes no earlier, so the
	 * queue's last event stays its last. */
	if (((struct pf_run *)s->eng_run)->own_clocks)
		C(s, q)->at[TM_APP] = SIM_NEVER;
}

static void poll_start(struct sim *s, struct sim_queue *q);

/* The core is free: who runs next? */
static void core_pick(struct sim *s, struct sim_queue *q)
{
	struct sim_pf *f = P(q);
	int app = app_has_work(q), ks = f->napi_ctx == NAPI_KSOFTIRQD;
	int who;

	if (app && ks) {
		if (s->now >= f->turn_end) {
			f->turn = f->turn == RUN_APP ? RUN_KSOFTIRQD : RUN_APP;
			f->turn_end = s->now + s->p->pf_slice_ps;
		}
		who = f->turn;
	} else if (app) {
		who = RUN_APP;
	} else if (ks) {
		/* ksoftirqd alone; an application waking up waits for the turn */
		who = RUN_KSOFTIRQD;
		if (f->turn != RUN_KSOFTIRQD) {
			f->turn = RUN_KSOFTIRQD;
			f->turn_end = s->now + s->p->pf_slice_ps;
		}
	} else {
		who = RUN_IDLE;
	}
	f->running = RUN_IDLE;
	if (who == RUN_APP)
		app_run(s, q);
	else if (who == RUN_KSOFTIRQD) {
		f->running = RUN_KSOFTIRQD;
		poll_start(s, q);
	}
}

static void raise_irq(struct sim *s, struct sim_queue *q)
{
	struct sim_pf *f = P(q);
	int64_t t = f->last_irq + s->p->pf_itr_ps;

	if (!f->irq_enabled || f->irq_pending)
		return;
	f->irq_pending = 1;
	pf_at(s, q, t > s->now ? t : s->now, EV_PF_IRQ, 0);
}

static void poll_start(struct sim *s, struct sim_queue *q)
{
	const struct sim_params *p = s->p;
	struct sim_pf *f = P(q);
	uint64_t avail = f->in_ring - f->released, k, i;
	int64_t bytes = 0;

	if (!avail) {
		/* napi_complete(): interrupts back on, the context ends */
		f->napi_ctx = NAPI_OFF;
		f->irq_enabled = 1;
		core_pick(s, q);
		return;
	}
	k = avail < p->pf_napi_weight ? avail : p->pf_napi_weight;
	/* each copy costs a fixed part and its frame's bytes */
	for (i = 0; i < k; i++)
		bytes += q->seq_pkt ? pkt_size(s, q->seq_pkt[f->released + i]) : p->gen_size;
	f->poll_batch = (uint32_t)k;
	pf_at(s, q, s->now + (int64_t)k * p->pf_copy_ps + bytes * p->pf_copy_byte_ps, EV_PF_POLL_DONE, 0);
}

static void poll_done(struct sim *s, struct sim_queue *q)
{
	const struct sim_params *p = s->p;
	struct sim_pf *f = P(q);
	uint64_t k = f->poll_batch, i;
	/* the copies in order: those that find a free slot, then the rest */
	uint64_t space = p->pf_slots - (f->pf_in - f->pf_out);
	uint64_t in = k < space ? k : space;

	for (i = 0; f->slot_seq && i < in; i++) {
		f->slot_seq[f->in_slot] = f->released + i;
		f->in_slot = slot_after(s, f->in_slot);
	}
	f->pf_in += in;
	q->st.delivery_drops += k - in;
	if (f->pf_in - f->pf_out > q->st.max_buffered)
		q->st.max_buffered = f->pf_in - f->pf_out;
	f->released += k;
	f->poll_batch = 0;
	if (s->nic[q->nic].fifo_len)
		sim_ring_space(s, q); /* only frames waiting in the NIC's buffer care */
	if (k < p->pf_napi_weight) {
		/* the poll did less than its weight of work: napi_complete(),
		 * interrupts back on (net/core/dev.c, napi_poll()) */
		f->napi_ctx = NAPI_OFF;
		f->irq_enabled = 1;
		core_pick(s, q);
		if (f->in_ring != f->released)
			raise_irq(s, q);
		return;
	}
	if (f->napi_ctx == NAPI_SOFTIRQ) {
		f->softirq_pkts += k;
		if (f->softirq_pkts >= p->pf_softirq_pkts || s->now - f->softirq_start >= p->pf_softirq_ps) {
			/* defer to ksoftirqd; the application goes first */
			f->napi_ctx = NAPI_KSOFTIRQD;
			f->turn = RUN_APP;
			f->turn_end = s->now + p->pf_slice_ps;
			core_pick(s, q);
			return;
		}
		poll_start(s, q);
		return;
	}
	/* ksoftirqd: a poll boundary, the turn may pass to the application */
	core_pick(s, q);
}

/* Descriptors of q's ring ready now. */
static uint32_t ring_room(struct sim *s, struct sim_queue *q)
{
	uint64_t held = P(q)->in_ring - P(q)->released;

	return held < s->p->ring_usable ? (uint32_t)(s->p->ring_usable - held) : 0;
}

static void run_queue(struct sim *s, struct sim_queue *q, int64_t limit);
static void clock_settle(struct sim *s, struct sim_queue *q);

/* A frame asks for a descriptor of q's ring. On q's own clock, q's events
 * before now happen first (arrivals come before events of their time).
 * With none ready the frame is dropped or waits in the NIC's buffer. */
static uint32_t pf_ready(struct sim *s, struct sim_queue *q)
{
	struct pf_run *r = s->eng_run;
	uint32_t room;

	if (!r->own_clocks || r->running)
		return ring_room(s, q);
	if (clock_next_at(C(s, q)) < s->now)
		run_queue(s, q, s->now);
	room = ring_room(s, q);
	if (!room)
		clock_settle(s, q);
	return room;
}

/* ---- the model's events ---- */

/* The interrupt fires: if still enabled, it preempts the application and
 * schedules NAPI's first poll in softirq context, after the hard
 * interrupt's cost (napi_schedule()). */
static void irq_fire(struct sim *s, struct sim_queue *q)
{
	struct sim_pf *f = P(q);

	f->irq_pending = 0;
	if (!f->irq_enabled)
		return;
	f->irq_enabled = 0;
	f->last_irq = s->now;
	if (f->running == RUN_APP)
		app_pause(s, q);
	f->running = RUN_SOFTIRQ;
	f->napi_ctx = NAPI_SOFTIRQ;
	f->softirq_start = s->now + s->p->pf_irq_ps;
	f->softirq_pkts = 0;
	pf_at(s, q, f->softirq_start, EV_PF_POLL, 0);
}

/* The application finished a packet (unless `gen` is a preempted one's,
 * stale): it leaves the pf_ring, and the core is free. */
static void app_done(struct sim *s, struct sim_queue *q, uint64_t gen)
{
	struct sim_pf *f = P(q);

	if (gen != q->app.gen)
		return;
	q->app.busy = 0;
	q->st.last_done_ps = s->now;
	if (f->slot_seq) {
		sim_processed(s, q->id, q->id, pf_take(s, f), 1, s->now, 0);
	} else {
		f->pf_out++;
		C(s, q)->done++;
	}
	core_pick(s, q);
}

/* One of the model's events, by kind. */
static inline void handle(struct sim *s, struct sim_queue *q, uint32_t kind, uint64_t arg)
{
	switch (kind) {
	case EV_PF_IRQ:
		irq_fire(s, q);
		break;
	case EV_PF_POLL:
		poll_start(s, q);
		break;
	case EV_PF_POLL_DONE:
		poll_done(s, q);
		break;
	case EV_APP_DONE:
		app_done(s, q, arg);
		break;
	default:
		s->err = -EPROTO;
	}
}

/* An event of the main heap's (queues not on their own clocks) */
static void model_event(struct sim *s, const struct sim_event *ev)
{
	handle(s, &s->q[ev->q], ev->kind, ev->arg);
}

/* ---- running a queue on its clock ---- */

/* Packets the application finishes back to back before anything else
 * happens to q: no interrupt, poll or arrival comes first, the pf_ring
 * holds the next packet, and ksoftirqd's turn does not come (core_pick()
 * keeps the core for the application). Their completions are counted in
 * closed form, not handled as events, as the main loop's bulk steps count
 * frames; the last one's completion stays pending, to be handled. */
static void app_catch_up(struct sim *s, struct sim_queue *q, int64_t limit)
{
	const struct sim_params *p = s->p;
	struct pf_clock *c = C(s, q);
	struct sim_pf *f = P(q);
	struct sim_app *a = &q->app;
	int64_t t = c->at[TM_APP], cost = p->app_cost_ps, bound = limit, t_last;
	uint64_t m = f->pf_in - f->pf_out, i; /* at most all but the last packet */

	if (c->arg[TM_APP] != a->gen || m < 2)
		return;
	m--;
	/* the next completion, scheduled after them, loses ties to them */
	bound = c->at[TM_IRQ] < bound ? c->at[TM_IRQ] : bound;
	bound = c->at[TM_NAPI] < bound ? c->at[TM_NAPI] : bound;
	if (t + cost >= bound)
		return;
	if (cost && (uint64_t)((bound - t - 1) / cost) < m)
		m = (uint64_t)((bound - t - 1) / cost); /* t + m * cost < bound */
	if (f->napi_ctx == NAPI_KSOFTIRQD) {
		/* each pick (after each completion) within the application's turn */
		if (f->turn != RUN_APP || t >= f->turn_end)
			return;
		if (cost && (uint64_t)((f->turn_end - t - 1) / cost) + 1 < m)
			m = (uint64_t)((f->turn_end - t - 1) / cost) + 1;
	}
	if (f->slot_seq) {
		/* forwarding: each frame leaves by its own size */
		for (i = 0; i < m; i++)
			sim_processed(s, q->id, q->id, pf_take(s, f), 1, t + (int64_t)i * cost, 0);
	} else {
		c->done += m;
		f->pf_out += m;
	}
	t_last = t + (int64_t)(m - 1) * cost;
	q->st.last_done_ps = t_last;
	/* as app_run() after the last of them */
	a->gen += m;
	a->started = t_last;
	a->remaining_ps = cost;
	c->at[TM_APP] = t_last + cost;
	c->arg[TM_APP] = a->gen;
	c->seq[TM_APP] = c->next_seq++;
}

/* May q's event in slot i run past q's next arrival? While frames wait in
 * the NIC's buffer (q has its NIC to itself then) an arrival touches the
 * buffer only, not q's ring, and only a poll's end (poll_done(), which
 * gives descriptors back and drains the buffer) reads the buffer. */
static inline int passes_arrivals(struct sim *s, struct sim_queue *q, const struct pf_clock *c, int i)
{
	/* with DROP_EN set no frame ever waits (nic.c) */
	return !s->p->drop_en && s->nic[q->nic].fifo_len && c->kind[i] != EV_PF_POLL_DONE;
}

/* Handle the event of q's slot i, whose kind the slot says but for a
 * NAPI poll's start or end: straight to its handler, with no event built
 * and switched on. */
static inline void slot_handle(struct sim *s, struct sim_queue *q, const struct pf_clock *c, int i)
{
	if (i == TM_IRQ)
		irq_fire(s, q);
	else if (i == TM_APP)
		app_done(s, q, c->arg[TM_APP]);
	else if (c->kind[TM_NAPI] == EV_PF_POLL)
		poll_start(s, q);
	else
		poll_done(s, q);
}

/* Is q's NAPI poll (its start or end) q's next event, due before `limit`?
 * Strictly first: no tie to break by scheduling order. */
static inline int napi_next(struct sim *s, struct sim_queue *q, const struct pf_clock *c, int64_t limit)
{
	int64_t t = c->at[TM_NAPI];

	return t < c->at[TM_IRQ] && t < c->at[TM_APP] && (t < limit || passes_arrivals(s, q, c, TM_NAPI));
}

/* Handle q's event of slot i, due at t: the clock moves to t and counts
 * it (in *events, which the caller adds to the run's). */
static inline void slot_run(struct sim *s, struct sim_queue *q, struct pf_clock *c, int i, int64_t t,
			    uint64_t *events)
{
	s->now = c->last = t;
	c->at[i] = SIM_NEVER;
	++*events;
	slot_handle(s, q, c, i);
}

/* Handle q's pending events before `limit` (q's next arrival, or now), in
 * order, each at its time. An interrupt schedules a poll, a poll's start
 * its end, an end the next poll (napi_schedule(), net_rx_action()): unless
 * a completion comes first (a preempted packet's, stale, or the
 * application's under ksoftirqd) or the next arrival, that is q's next
 * event, handled without picking it among the three. */
static void run_queue(struct sim *s, struct sim_queue *q, int64_t limit)
{
	struct pf_run *r = s->eng_run;
	struct pf_clock *c = C(s, q);
	int64_t now = s->now, t;
	uint64_t events = 0;
	int i;

	r->running = 1;
	while (!s->err && (i = clock_first(c, &t)) >= 0 && (t < limit || passes_arrivals(s, q, c, i))) {
		if (i == TM_APP) {
			app_catch_up(s, q, limit);
			t = c->at[TM_APP];
		}
		slot_run(s, q, c, i, t, &events);
		while (i != TM_APP && !s->err && napi_next(s, q, c, limit))
			slot_run(s, q, c, TM_NAPI, c->at[TM_NAPI], &events);
	}
	s->res->events += events;
	r->running = 0;
	s->now = now;
}

/* Will q's frames still arrive? (the NIC's cursor is past the current one) */
static inline int arrivals_left(const struct sim *s, const struct sim_queue *q)
{
	const struct pf_clock *c = &((const struct pf_run *)s->eng_run)->c[q->id];

	return (s->p->gen_gap_ps ? s->nic[q->nic].next : s->next_pkt) < c->end_idx;
}

/* Will q's next arrival ask its ring for a descriptor (nic_arrival())?
 * Yes if there is one, the bus admits every frame and no frame waits in
 * the NIC's buffer ahead of it. */
static inline int next_arrival_asks(const struct sim *s, const struct sim_queue *q)
{
	return s->p->bus_admit == SIM_BUS_ONE && !s->nic[q->nic].fifo_len && arrivals_left(s, q);
}

/* After q's arrival or wake: see that its pending events run, when its
 * next arrival asks for a descriptor or from a wake event; or mark the
 * run's end at its last event. */
static void clock_settle(struct sim *s, struct sim_queue *q)
{
	struct pf_clock *c = C(s, q);
	int64_t t;

	if (next_arrival_asks(s, q))
		return; /* and catches q up (pf_ready()) */
	if (clock_first(c, &t) < 0) {
		if (!arrivals_left(s, q) && c->last > s->now)
			sim_schedule(s, c->last, EV_PF_TAIL, q->id, 0);
		return;
	}
	if (c->wake_at <= t)
		return;
	c->wake_at = t;
	sim_schedule(s, c->wake_at, EV_PF_WAKE, q->id, ++c->wake_gen);
}

/* Set the end index (1 + last frame index) of each queue: the cursor
 * passes it after the queue's last arrival. */
static void find_last_arrivals(struct sim *s)
{
	const struct sim_params *p = s->p;
	struct pf_run *r = s->eng_run;
	uint64_t i, found = 0;
	uint32_t k, ql;

	if (!p->gen_gap_ps) {
		for (i = p->n_packets; i-- > 0 && found < s->nq_total;)
			if (!r->c[p->queue[i]].end_idx) {
				r->c[p->queue[i]].end_idx = i + 1;
				r->c[p->queue[i]].last_arrival = p->ts_ns[i] * SIM_PS_PER_NS;
				found++;
			}
		return;
	}
	for (k = 0; k < p->n_nics; k++)
		for (ql = 0; ql < p->n_queues; ql++)
			for (i = p->n_packets; i-- > 0 && i + p->gen_len >= p->n_packets;)
				if (p->gen_queue[i % p->gen_len] == ql) {
					r->c[k * p->n_queues + ql].end_idx = i + 1;
					break;
				}
}

/* ---- the engine's operations ---- */

/* Does anyone ask which frame the application took (sim_processed())?
 * The run log, flow affinity and forwarding do, and the main heap's
 * events pass it always; on its own clock with none of them, a queue's
 * pf_ring keeps counts only. */
static int pf_keeps_seq(const struct sim *s)
{
	const struct sim_params *p = s->p;

	return !((struct pf_run *)s->eng_run)->own_clocks || p->forward || p->run_log || s->flow_state;
}

/* Queues run on their own clocks when nothing of theirs depends on the
 * order of another queue's events ("Each queue on its own clock"). */
static int queues_independent(const struct sim *s)
{
	const struct sim_params *p = s->p;

	return (p->drop_en || p->n_queues == 1) && !p->run_log && !p->fwd_log && !s->flow_state;
}

static int pf_init(struct sim *s)
{
	struct pf_run *r;
	uint32_t i, k;

	if (!s->p->pf_slots)
		return -EINVAL;
	r = calloc(1, sizeof(*r) + s->nq_total * sizeof(r->c[0]));
	if (!r)
		return -ENOMEM;
	s->eng_run = r;
	r->own_clocks = queues_independent(s);
	find_last_arrivals(s);
	for (i = 0; i < s->nq_total; i++) {
		struct sim_pf *f = P(&s->q[i]);

		for (k = 0; k < TM_N; k++)
			r->c[i].at[k] = SIM_NEVER;
		r->c[i].wake_at = SIM_NEVER;
		f->irq_enabled = 1;
		f->last_irq = -s->p->pf_itr_ps;
		if (!pf_keeps_seq(s))
			continue;
		f->slot_seq = malloc(s->p->pf_slots * sizeof(*f->slot_seq));
		if (!f->slot_seq)
			return -ENOMEM;
	}
	return 0;
}

/* The run's last counts. Where the pf_ring keeps counts only
 * (pf_keeps_seq()), sim_processed() only adds packets up and nothing reads
 * its counts before the run ends: a queue's finished packets are counted
 * here, once, not one call a packet. */
static void pf_finish(struct sim *s)
{
	uint32_t i;

	for (i = 0; i < s->nq_total; i++) {
		struct pf_clock *c = C(s, &s->q[i]);

		if (c->done) {
			sim_processed(s, i, i, SIM_NO_SEQ, c->done, s->now, 0);
			c->done = 0;
		}
	}
}

static void pf_fini(struct sim *s)
{
	uint32_t i;

	for (i = 0; i < s->nq_total; i++) {
		free(P(&s->q[i])->slot_seq);
		P(&s->q[i])->slot_seq = NULL;
	}
	free(s->eng_run);
	s->eng_run = NULL;
}

/* A frame in q's ring (straight from the wire, or drained from the NIC's
 * buffer by q's own poll: then q is running on its clock). */
static void pf_deliver(struct sim *s, struct sim_queue *q)
{
	struct pf_run *r = s->eng_run;

	P(q)->in_ring++;
	raise_irq(s, q);
	if (r->own_clocks && !r->running && !next_arrival_asks(s, q))
		clock_settle(s, q);
}

/* A trace's frame of q arrives now, with DROP_EN set (quiet.c's take_run,
 * ops->take): pf_ready() and pf_deliver() without the way through the NIC
 * model, for every frame but those that need more than the ring's count:
 *  - on q's own clock, q's last arrival (clock_settle() then schedules
 *    its wake or tail, and take_run has not moved the NIC's cursor, which
 *    next_arrival_asks() reads): a frame at that time goes the usual way;
 *  - in the main heap, a frame that raises an interrupt (an event that
 *    could come before take_run's next one).
 * A frame that finds no descriptor is a drop. */
static int pf_take_frame(struct sim *s, struct sim_queue *q)
{
	struct pf_run *r = s->eng_run;
	struct sim_pf *f = P(q);

	if (r->own_clocks) {
		struct pf_clock *c = C(s, q);

		if (s->now >= c->last_arrival)
			return SIM_TAKE_NO;
		if (clock_next_at(c) < s->now)
			run_queue(s, q, s->now);
	} else if (ring_room(s, q) && f->irq_enabled && !f->irq_pending) {
		return SIM_TAKE_NO;
	}
	if (!ring_room(s, q))
		return s->p->drop_en ? SIM_TAKE_DROP : SIM_TAKE_NO;
	f->in_ring++;
	raise_irq(s, q);
	return SIM_TAKE_RING;
}

/* The main loop's events: the model's own, or a queue clock's. */
static void pf_event(struct sim *s, const struct sim_event *ev)
{
	struct sim_queue *q = &s->q[ev->q];
	struct pf_clock *c;

	switch (ev->kind) {
	case EV_PF_WAKE:
		c = C(s, q);
		if (ev->arg != c->wake_gen)
			break; /* an earlier wake took over */
		c->wake_at = SIM_NEVER;
		run_queue(s, q, next_arrival_of(s, q));
		clock_settle(s, q);
		break;
	case EV_PF_TAIL:
		break;
	default:
		model_event(s, ev);
	}
}

/* In trace mode each NAPI copy costs by the frame's own size, read by its
 * ring sequence number (frame_ids). */
const struct sim_engine_ops sim_engine_pfring = {
	.frame_ids = 1,
	.init = pf_init,
	.fini = pf_fini,
	.ready = pf_ready,
	.deliver = pf_deliver,
	.take = pf_take_frame,
	.event = pf_event,
	.finish = pf_finish,
};
