/* SPDX-License-Identifier: BSD-3-Clause */
/* wc_live: the capture thread, start/stop; contract in wc_live.h. */
#define _GNU_SOURCE
#include "wc_live_int.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "wc_capture.h"
#include "wc_sys.h"
#include "wc_workq.h"

/* the capture thread wakes at least this often to notice stop() */
#define IDLE_SLEEP_NS 10000000ull
/* a capture thread that finds a recycle queue with a length but nothing to
 * pop sleeps this long (see capture_sleep) */
#define RECHECK_NS 20000ull
/* how long a re-arm waits for the kernel to publish freed fill-ring slots
 * (fill_segment): the publication follows the RX descriptors within the
 * same softirq, nanoseconds to microseconds later; 10 ms covers an
 * interrupted softirq with room to spare */
#define FILL_WAIT_MAX_NS 10000000ull

static void snapshot_pool(struct member *mb)
{
	struct wc_pool_stats st;

	wc_pool__stats(mb->pool, &st);
	__atomic_store_n(&mb->pool_captured, st.chunks_captured, RELAXED);
	__atomic_store_n(&mb->pool_copied, st.chunks_copied, RELAXED);
	__atomic_store_n(&mb->pool_pkts_copied, st.packets_copied, RELAXED);
	__atomic_store_n(&mb->pool_recycled, st.chunks_recycled, RELAXED);
	__atomic_store_n(&mb->pool_rec_errors, st.recycle_errors, RELAXED);
	__atomic_store_n(&mb->free_chunks, wc_pool__free_chunks(mb->pool), RELAXED);
}

/* RX descriptors -> cells of the attached chunks, in ring order */
static int take_rx(struct wc_live *l, struct member *mb)
{
	uint32_t n = wc_xsk__rx_burst(mb->xsk, mb->descs, l->rx_batch), i = 0;

	while (i < n) {
		uint32_t chunk, cell, run, j;

		if (wc_pool__head(mb->pool, &chunk, &cell)) {
			/* the kernel wrote a frame we never attached: impossible
			 * while fill-ring entries == ready cells; count, drop */
			STAT_ADD(mb->driver_errors, n - i);
			break;
		}
		run = l->seg - cell;
		if (run > n - i)
			run = n - i;
		for (j = 0; j < run; j++) {
			const struct wc_desc *d = &mb->descs[i + j];
			uint64_t f = frame_of(l, mb, chunk, cell + j);
			struct cell *c = &l->cells[f];

			if (d->addr / WC_FRAME_SIZE != f)
				STAT_ADD(mb->rx_misordered, 1);
			c->addr = d->addr;
			c->len = d->len;
		}
		if (wc_pool__rx(mb->pool, run) < 0) {
			STAT_ADD(mb->driver_errors, run);
			break;
		}
		i += run;
	}
	if (n)
		STAT_ADD(mb->rx_packets, n);
	return (int)n;
}

/* §3.2.1 case (3): copy the partial chunk's frames into the free chunk
 * capture() chose; the driver does the memcpy, the pool the bookkeeping */
static void copy_partial(struct wc_live *l, struct member *mb, const struct wc_chunk_meta *m)
{
	uint32_t i;

	for (i = 0; i < m->pkt_count; i++) {
		uint64_t sf = frame_of(l, mb, m->src_chunk, m->src_cell + i);
		uint64_t df = frame_of(l, mb, m->chunk_id, i);
		const struct cell *sc = &l->cells[sf];
		uint32_t off = (uint32_t)(sc->addr % WC_FRAME_SIZE);

		/* the frame with its headroom, so the XDP metadata comes along */
		memcpy(l->area + df * WC_FRAME_SIZE, l->area + sf * WC_FRAME_SIZE, off + sc->len);
		l->cells[df].addr = df * WC_FRAME_SIZE + off;
		l->cells[df].len = sc->len;
	}
}

/* hooks of the shared capture step (engine/csrc/wc_capture.h), on this
 * member's capture thread */

static void hook_copy(void *user, const struct wc_chunk_meta *m)
{
	struct member *mb = user;

	copy_partial(mb->live, mb, m);
}

/* m is in member dst's capture queue: count, and wake its application.
 * Group member i is member i; without a group (basic mode, and bucket
 * offloading, which never moves a chunk) every capture step is member 0 of
 * no group (wc_capture.h), and the chunk is in this member's own queue. */
static void hook_placed(void *user, uint32_t dst, const struct wc_chunk_meta *m)
{
	struct member *mb = user, *to = mb->live->group ? &mb->live->m[dst] : mb;
	uint32_t len;

	if (to != mb) {
		STAT_ADD_MW(to->offloaded_in, 1);
		STAT_ADD_MW(to->offloaded_in_packets, m->pkt_count);
	}
	len = wc_workq__len(to->capq);
	if (len > __atomic_load_n(&to->max_capq, RELAXED))
		__atomic_store_n(&to->max_capq, len, RELAXED); /* approximate: racy max */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&to->cons_sleeping, memory_order_relaxed) ||
	    atomic_load_explicit(&to->cons_watched, memory_order_relaxed))
		wake(to->cons_fd);
}

/* Put a re-armed segment's M frames on the fill ring. The slots exist: the
 * ring holds N, and a segment is re-armed only once the kernel has filled
 * all its M cells. But the kernel publishes a NAPI poll's RX descriptors
 * before the fill ring's consumer index (net/xdp/xsk.c, xsk_flush():
 * xskq_prod_submit(xs->rx), then __xskq_cons_release(xs->pool->fq)), so a
 * capture thread on another CPU can see the frames, capture their chunk and
 * re-arm it in between, and find the slots not yet free. Wait for them
 * (bounded): a segment left off the ring would shift every later RX
 * descriptor off its cell (rx_misordered: frames handed out of order). */
static int fill_segment(struct member *mb, uint64_t addr)
{
	struct wc_live *l = mb->live;
	uint64_t deadline = 0;
	int rc;

	while ((rc = wc_xsk__fill_range(mb->xsk, addr, l->seg, WC_FRAME_SIZE)) == -ENOBUFS) {
		uint64_t now = wc_sys__mono_ns();

		if (!deadline) {
			deadline = now + FILL_WAIT_MAX_NS;
			STAT_ADD(mb->fill_waits, 1);
		} else if (now >= deadline) {
			break;
		}
		cpu_relax();
	}
	return rc;
}

/* re-armed segments: their chunks' frames go on the fill ring in ring
 * order, so RX descriptors keep mapping one to one onto cells */
static void hook_attached(void *user, const uint32_t *ids, uint32_t n)
{
	struct member *mb = user;
	struct wc_live *l = mb->live;
	uint32_t i;

	for (i = 0; i < n; i++)
		if (fill_segment(mb, frame_of(l, mb, ids[i], 0) * WC_FRAME_SIZE))
			STAT_ADD(mb->driver_errors, 1); /* cannot happen: fill ring holds N */
}

const struct wc_capture_hooks live_capture_hooks = {
	.copy = hook_copy,
	.placed = hook_placed,
	.attached = hook_attached,
};

/* how long the oldest frame of a burst waited for this thread (its XDP
 * stamp against now): the diagnostic for drops that come from a capture
 * thread kept off its CPU */
static void note_rx_gap(struct wc_live *l, struct member *mb, uint64_t now)
{
	const struct wc_desc *d = &mb->descs[0];
	const struct wc_xdp_meta *mt;

	if (!l->timestamps || d->addr % WC_FRAME_SIZE < META_LEN)
		return;
	mt = (const void *)(l->area + d->addr - META_LEN);
	if (mt->magic == WC_XDP_META_MAGIC && now > mt->ts_ns && now - mt->ts_ns > STAT_GET(mb->max_gap_ns))
		__atomic_store_n(&mb->max_gap_ns, now - mt->ts_ns, RELAXED);
}

/* One pass: the NIC's side (RX descriptors into the pool), then the step
 * the simulator's WireCAP model runs too (recycle, capture or copy on
 * timeout, place, re-attach). Returns whether anything happened. */
static int capture_step(struct wc_live *l, struct member *mb, uint64_t now)
{
	struct wc_capture_plan plan;
	int progress = 0;

	if (take_rx(l, mb) > 0) {
		note_rx_gap(l, mb, now);
		progress++;
	}
	if (wc_capture__plan(mb->cap, now, &plan) && wc_capture__step(mb->cap, &plan, now) > 0)
		progress++;
	wc_xsk__fill_wakeup(mb->xsk);
	if (atomic_load_explicit(&mb->check_req, memory_order_acquire)) {
		mb->check_res = wc_pool__check(mb->pool);
		atomic_store_explicit(&mb->check_req, 0, memory_order_release);
	}
	if (progress)
		snapshot_pool(mb);
	return progress;
}

static void capture_sleep(struct wc_live *l, struct member *mb, uint64_t now)
{
	struct pollfd p[2] = {
		{ .fd = wc_xsk__fd(mb->xsk), .events = POLLIN },
		{ .fd = mb->wake_fd, .events = POLLIN },
	};
	uint64_t ns = IDLE_SLEEP_NS;
	struct timespec ts;

	if (wc_capture__deadline(mb->cap) != WC_CAPTURE_NEVER) {
		/* a partly filled chunk waits for its timeout (§3.2.1 case 3) */
		uint64_t due = wc_capture__deadline(mb->cap);

		ns = due > now ? due - now : 0;
	}
	atomic_store(&mb->cap_sleeping, 1);
	atomic_thread_fence(memory_order_seq_cst);
	/* Re-check after announcing the sleep: a recycle pushed before the
	 * announcement did not write wake_fd. But never spin on it: the
	 * work queue's producer may have been preempted between claiming its
	 * slot and publishing it (the queue then has a length but nothing to
	 * pop), and a real-time thread that spins keeps that producer off the
	 * CPU until the kernel's RT throttling steps in (~1 s, measured). So
	 * sleep briefly instead. */
	if (wc_workq__len(mb->recq) && ns > RECHECK_NS)
		ns = RECHECK_NS;
	if (ns && !atomic_load(&l->stop) && !atomic_load(&mb->check_req)) {
		ts.tv_sec = (time_t)(ns / 1000000000ull);
		ts.tv_nsec = (long)(ns % 1000000000ull);
		ppoll(p, 2, &ts, NULL);
	}
	atomic_store(&mb->cap_sleeping, 0);
	drain_fd(mb->wake_fd);
	STAT_ADD(mb->sleeps, 1);
}

static void *capture_main(void *arg)
{
	struct member *mb = arg;
	struct wc_live *l = mb->live;
	uint64_t idle_since = 0;
	sigset_t all;

	/* signals (Ctrl-C) go to the control thread, never here */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	wc_sys__pin_self(mb->cpu);
	if (l->rt_priority > 0) {
		/* a capture thread must re-arm a segment within (N-M)/Pin
		 * (ACCEPTANCE.md §1: ~52 µs at line rate for M = 256); under
		 * SCHED_OTHER a busy host keeps it off the CPU for milliseconds.
		 * It spins at most spin_us before sleeping, so a real-time
		 * priority cannot monopolize the CPU */
		struct sched_param sp = { .sched_priority = l->rt_priority };

		if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0)
			__atomic_store_n(&mb->realtime, 1, RELAXED);
	}
	while (!atomic_load_explicit(&l->stop, memory_order_relaxed)) {
		uint64_t now = wc_sys__mono_ns();

		if (capture_step(l, mb, now)) {
			idle_since = 0;
			continue;
		}
		if (!idle_since)
			idle_since = now;
		if (now - idle_since < l->spin_ns) {
			cpu_relax();
			continue;
		}
		capture_sleep(l, mb, now);
	}
	snapshot_pool(mb);
	return NULL;
}

int wc_live__start(struct wc_live *l, const int *cpus)
{
	uint32_t i;
	int err;

	if (l->started)
		return -EALREADY;
	atomic_store(&l->stop, 0);
	for (i = 0; i < l->n; i++) {
		struct member *mb = &l->m[i];

		mb->cpu = cpus ? cpus[i] : -1;
		err = -pthread_create(&mb->thread, NULL, capture_main, mb);
		if (err) {
			wc_live__stop(l);
			return err;
		}
		mb->running = 1;
	}
	err = live_balance_start(l);
	if (err) {
		wc_live__stop(l);
		return err;
	}
	l->started = 1;
	return 0;
}

int wc_live__stop(struct wc_live *l)
{
	uint32_t i;

	atomic_store(&l->stop, 1);
	live_balance_stop(l);
	for (i = 0; i < l->n; i++) {
		struct member *mb = &l->m[i];

		if (!mb->running)
			continue;
		wake(mb->wake_fd);
		pthread_join(mb->thread, NULL);
		mb->running = 0;
	}
	l->started = 0;
	return 0;
}
