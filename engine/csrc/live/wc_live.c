/* SPDX-License-Identifier: BSD-3-Clause */
/* WireCAP on real threads over AF_XDP; contract in wc_live.h. */
#define _GNU_SOURCE
#include "wc_live.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "wc_bpf.h"
#include "wc_buddy.h"
#include "wc_sys.h"
#include "wc_workq.h"

/* chunks captured per wc_pool__capture() call */
#define CAPTURE_MAX 64u
/* the capture thread wakes at least this often to notice stop() */
#define IDLE_SLEEP_NS 10000000ull
/* a capture thread that finds a recycle queue with a length but nothing to
 * pop sleeps this long (see capture_sleep) */
#define RECHECK_NS 20000ull
/* TX frames queued before a kick (copy mode sends at most 32 per sendmsg) */
#define TX_KICK_BATCH 32u
#define META_LEN ((uint32_t)sizeof(struct wc_xdp_meta))

#define RELAXED __ATOMIC_RELAXED
/* single-writer counters, readable from any thread without a data race */
#define STAT_ADD(f, v) __atomic_store_n(&(f), __atomic_load_n(&(f), RELAXED) + (v), RELAXED)
/* multi-writer counters */
#define STAT_ADD_MW(f, v) __atomic_fetch_add(&(f), (v), RELAXED)
#define STAT_GET(f) __atomic_load_n(&(f), RELAXED)

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* where a packet lives: address in the UMEM (frame base + data offset) */
struct cell {
	uint64_t addr;
	uint32_t len;
	uint32_t pad;
};

/* what an application thread is reading */
struct cursor {
	struct wc_chunk_meta m;
	uint32_t i;
	int active;
	uint32_t owner;        /* member index of the chunk's pool */
	uint64_t frame0;       /* UMEM frame of cell m.first_cell */
	uint64_t delivered;    /* of this chunk, added to the owner's counters at the end */
	uint64_t filtered;
};

struct member {
	struct wc_live *live;
	uint32_t idx;
	uint32_t queue;
	uint64_t frame_base;
	struct wc_pool *pool;
	struct wc_xsk *xsk;
	struct wc_workq *capq;
	struct wc_workq *recq;
	pthread_t thread;
	int running;
	int cpu;
	int wake_fd;           /* wakes the capture thread (recycles, stop, check) */
	int cons_fd;           /* wakes the application thread (captured chunks) */
	_Atomic int cap_sleeping;
	_Atomic int cons_sleeping;
	_Atomic int check_req;
	int check_res;
	uint64_t partial_since;

	/* capture-thread scratch */
	struct wc_desc *descs;
	uint32_t *attached;

	/* counters: see struct wc_live_qstats */
	uint64_t rx_packets, offloaded_out, offloaded_out_packets, rx_misordered, driver_errors;
	uint64_t rec_exdev, rec_erange, rec_ealready, rec_ebusy, rec_einval;
	uint64_t pool_captured, pool_copied, pool_pkts_copied, pool_recycled, pool_rec_errors;
	uint32_t free_chunks, max_capq;
	uint64_t max_gap_ns, sleeps;
	int realtime;
	uint64_t delivered, filtered;           /* multi-writer */
	uint64_t offloaded_in, offloaded_in_packets; /* multi-writer */

	/* application side */
	struct cursor cur;
	const struct wc_filter *filter;
	volatile int break_req;
	uint64_t consumed;
	struct wc_xsk *tx;
	uint32_t *inj_free;    /* free inject frames (stack) */
	uint32_t inj_nfree;
	uint64_t inj_base;     /* first inject frame of this member */
	uint32_t tx_unkicked;
	uint64_t forwarded, injected, tx_completed, tx_dropped;
} __attribute__((aligned(64)));

struct wc_live {
	struct wc_umem *umem;
	uint8_t *area;
	struct wc_group *group;
	struct member *m;
	uint32_t n;
	uint32_t ring_size, seg, chunks;
	uint64_t pool_frames;   /* n * R * M */
	uint32_t tx_frames, tx_size;
	int advanced;
	int timestamps;
	int need_wakeup;
	int rt_priority;
	uint16_t nic_id;
	uint64_t timeout_ns;
	uint64_t spin_ns;
	uint32_t rx_batch;
	uint64_t mono_to_real;
	struct cell *cells;     /* one per pool frame */
	uint32_t *tx_pending;   /* per global chunk: sends not yet completed */
	struct wc_chunk_meta *deferred; /* per global chunk: recycle after the last completion */
	uint8_t *deferred_valid;
	int16_t owner_of[65536 / 64]; /* ring_id (queue id) -> member, -1 */
	_Atomic int stop;
	int started;
};

#define OWNER_MAX ((uint32_t)(sizeof(((struct wc_live *)0)->owner_of) / sizeof(int16_t)))

static void wake(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, a wakeup is pending */
	}
}

static void drain_fd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing pending */
	}
}

/* ------------------------------------------------------------------ */
/* create / destroy                                                     */

static void member_cleanup(struct member *mb)
{
	wc_xsk__destroy(mb->tx);
	mb->tx = NULL;
	if (mb->pool)
		wc_pool__close(mb->pool);
	wc_pool__destroy(mb->pool);
	wc_workq__destroy(mb->capq);
	wc_workq__destroy(mb->recq);
	if (mb->wake_fd > 0)
		close(mb->wake_fd);
	if (mb->cons_fd > 0)
		close(mb->cons_fd);
	free(mb->descs);
	free(mb->attached);
	free(mb->inj_free);
}

static int attach_all(struct wc_live *l, struct member *mb)
{
	int k = wc_pool__attach(mb->pool, mb->attached, l->chunks), i;

	for (i = 0; i < k; i++) {
		uint64_t frame = mb->frame_base + (uint64_t)mb->attached[i] * l->seg;

		if (wc_xsk__fill_range(mb->xsk, frame * WC_FRAME_SIZE, l->seg, WC_FRAME_SIZE))
			STAT_ADD(mb->driver_errors, 1); /* cannot happen: fill ring holds N */
	}
	return k;
}

int wc_live__create(struct wc_live **out, int ifindex, const uint32_t *queues, uint32_t nq,
		    const struct wc_live_opts *opts)
{
	struct wc_live_opts o = { 0 };
	struct wc_umem_opts uo = { .sz = sizeof(uo) };
	struct wc_xsk_opts xo = { .sz = sizeof(xo) };
	uint64_t total_chunks;
	uint32_t capq_cap, i;
	struct wc_live *l;
	int err;

	if (!out || !queues || !nq || nq > WC_LIVE_MEMBERS_MAX || !opts)
		return -EINVAL;
	*out = NULL;
	memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (!o.ring_size)
		o.ring_size = WC_RING_SIZE_DEFAULT;
	if (!o.segment_cells)
		o.segment_cells = WC_SEGMENT_CELLS_DEFAULT;
	if (!o.chunks)
		o.chunks = WC_POOL_CHUNKS_DEFAULT;
	if (o.ring_size & (o.ring_size - 1))
		return -EINVAL; /* af_xdp.rst: ring sizes are powers of two */
	if (!o.tx_frames)
		o.tx_frames = WC_LIVE_TX_FRAMES_DEFAULT;
	if (!o.tx_size)
		o.tx_size = WC_XSK_RING_DEFAULT;
	for (i = 0; i < nq; i++)
		if (queues[i] >= OWNER_MAX)
			return -EINVAL;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->n = nq;
	l->ring_size = o.ring_size;
	l->seg = o.segment_cells;
	l->chunks = o.chunks;
	l->advanced = o.advanced;
	l->timestamps = o.timestamps;
	l->rt_priority = o.rt_priority;
	l->need_wakeup = o.need_wakeup;
	l->nic_id = o.nic_id;
	l->timeout_ns = (uint64_t)(o.timeout_us ? o.timeout_us : WC_LIVE_TIMEOUT_US_DEFAULT) * 1000u;
	l->spin_ns = (uint64_t)o.spin_us * 1000u;
	l->rx_batch = o.rx_batch ? o.rx_batch : WC_LIVE_RX_BATCH_DEFAULT;
	l->tx_frames = o.tx_frames;
	l->tx_size = o.tx_size;
	l->pool_frames = (uint64_t)nq * o.chunks * o.segment_cells;
	total_chunks = (uint64_t)nq * o.chunks;
	memset(l->owner_of, 0xff, sizeof(l->owner_of));

	l->m = aligned_alloc(64, sizeof(*l->m) * nq);
	l->cells = calloc(l->pool_frames, sizeof(*l->cells));
	l->tx_pending = calloc(total_chunks, sizeof(*l->tx_pending));
	l->deferred = calloc(total_chunks, sizeof(*l->deferred));
	l->deferred_valid = calloc(total_chunks, 1);
	if (!l->m || !l->cells || !l->tx_pending || !l->deferred || !l->deferred_valid) {
		err = -ENOMEM;
		goto err_free;
	}
	memset(l->m, 0, sizeof(*l->m) * nq);

	uo.frames = l->pool_frames + (uint64_t)nq * o.tx_frames;
	err = wc_umem__create(&l->umem, &uo);
	if (err)
		goto err_free;
	l->area = wc_umem__area(l->umem);

	if (o.advanced) {
		struct wc_group_opts go = { .sz = sizeof(go), .threshold_pct = o.threshold_pct };

		err = wc_group__create(&l->group, &go);
		if (err)
			goto err_umem;
	}

	/* a capture queue may hold chunks of every member (offloading) */
	capq_cap = (uint32_t)(o.advanced ? total_chunks : o.chunks);
	xo.fill_size = o.ring_size;
	xo.comp_size = o.ring_size;
	xo.rx_size = o.ring_size;
	xo.mode = o.mode;
	xo.need_wakeup = o.need_wakeup;
	for (i = 0; i < nq; i++) {
		struct member *mb = &l->m[i];
		struct wc_pool_opts po = {
			.sz = sizeof(po), .ring_size = o.ring_size, .segment_cells = o.segment_cells,
			.chunks = o.chunks, .nic_id = o.nic_id, .ring_id = (uint16_t)queues[i],
		};

		mb->live = l;
		mb->idx = i;
		mb->queue = queues[i];
		mb->cpu = -1;
		mb->frame_base = (uint64_t)i * o.chunks * o.segment_cells;
		mb->inj_base = l->pool_frames + (uint64_t)i * o.tx_frames;
		mb->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		mb->cons_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		mb->descs = calloc(l->rx_batch, sizeof(*mb->descs));
		mb->attached = calloc(o.chunks, sizeof(*mb->attached));
		if (mb->wake_fd < 0 || mb->cons_fd < 0 || !mb->descs || !mb->attached) {
			err = -ENOMEM;
			goto err_members;
		}
		if (l->owner_of[queues[i]] >= 0) {
			err = -EINVAL; /* the same queue twice */
			goto err_members;
		}
		l->owner_of[queues[i]] = (int16_t)i;
		err = wc_pool__create(&mb->pool, &po);
		if (!err)
			err = wc_workq__create(&mb->capq, capq_cap);
		if (!err)
			err = wc_workq__create(&mb->recq, o.chunks);
		if (!err)
			err = wc_xsk__create(&mb->xsk, l->umem, ifindex, queues[i], &xo);
		if (err)
			goto err_members;
		if (o.advanced) {
			err = wc_group__add(l->group, mb->capq, o.chunks);
			if (err < 0)
				goto err_members;
		}
		/* open (§3.2.1) attaches a free chunk to every segment; on a fresh
		 * pool the FIFO free list gives segment s chunk s (wc_pool.c), and
		 * the segment's frames go on the fill ring in ring order */
		err = wc_pool__open(mb->pool);
		if (err < 0)
			goto err_members;
		{
			uint32_t s;

			for (s = 0; s < (uint32_t)err; s++) {
				uint64_t frame = mb->frame_base + (uint64_t)s * l->seg;

				if (wc_pool__chunk_state(mb->pool, s) != WC_CHUNK_ATTACHED ||
				    wc_xsk__fill_range(mb->xsk, frame * WC_FRAME_SIZE, l->seg,
						       WC_FRAME_SIZE)) {
					err = -EFAULT;
					goto err_members;
				}
			}
		}
		mb->free_chunks = wc_pool__free_chunks(mb->pool);
	}
	l->mono_to_real = wc_sys__real_ns() - wc_sys__mono_ns();
	*out = l;
	return 0;

err_members:
	for (i = nq; i-- > 0;) {
		wc_xsk__destroy(l->m[i].xsk);
		l->m[i].xsk = NULL;
	}
	for (i = 0; i < nq; i++)
		member_cleanup(&l->m[i]);
	wc_group__destroy(l->group);
err_umem:
	wc_umem__destroy(l->umem);
err_free:
	free(l->m);
	free(l->cells);
	free(l->tx_pending);
	free(l->deferred);
	free(l->deferred_valid);
	free(l);
	return err;
}

void wc_live__destroy(struct wc_live *l)
{
	uint32_t i;

	if (!l)
		return;
	wc_live__stop(l);
	for (i = 0; i < l->n; i++) {
		wc_xsk__destroy(l->m[i].tx);
		l->m[i].tx = NULL;
	}
	for (i = l->n; i-- > 0;) {
		wc_xsk__destroy(l->m[i].xsk);
		l->m[i].xsk = NULL;
	}
	for (i = 0; i < l->n; i++)
		member_cleanup(&l->m[i]);
	wc_group__destroy(l->group);
	wc_umem__destroy(l->umem);
	free(l->m);
	free(l->cells);
	free(l->tx_pending);
	free(l->deferred);
	free(l->deferred_valid);
	free(l);
}

uint32_t wc_live__members(const struct wc_live *l)
{
	return l->n;
}

int wc_live__xsk_fd(const struct wc_live *l, uint32_t member)
{
	if (member >= l->n)
		return -EINVAL;
	return wc_xsk__fd(l->m[member].xsk);
}

int wc_live__zerocopy(const struct wc_live *l)
{
	return wc_xsk__zerocopy(l->m[0].xsk);
}

uint8_t *wc_live__area(const struct wc_live *l)
{
	return l->area;
}

/* ------------------------------------------------------------------ */
/* the capture thread                                                   */

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

static void count_recycle_error(struct member *mb, int rc)
{
	switch (-rc) {
	case EXDEV:
		STAT_ADD(mb->rec_exdev, 1);
		break;
	case ERANGE:
		STAT_ADD(mb->rec_erange, 1);
		break;
	case EALREADY:
		STAT_ADD(mb->rec_ealready, 1);
		break;
	case EBUSY:
		STAT_ADD(mb->rec_ebusy, 1);
		break;
	default:
		STAT_ADD(mb->rec_einval, 1);
		break;
	}
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
			uint64_t f = mb->frame_base + (uint64_t)chunk * l->seg + cell + j;
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
		uint64_t sf = mb->frame_base + (uint64_t)m->src_chunk * l->seg + m->src_cell + i;
		uint64_t df = mb->frame_base + (uint64_t)m->chunk_id * l->seg + i;
		const struct cell *sc = &l->cells[sf];
		uint32_t off = (uint32_t)(sc->addr % WC_FRAME_SIZE);

		/* the frame with its headroom, so the XDP metadata comes along */
		memcpy(l->area + df * WC_FRAME_SIZE, l->area + sf * WC_FRAME_SIZE, off + sc->len);
		l->cells[df].addr = df * WC_FRAME_SIZE + off;
		l->cells[df].len = sc->len;
	}
}

static void place(struct wc_live *l, struct member *mb, const struct wc_chunk_meta *m)
{
	uint32_t dst = mb->idx;
	struct member *to;

	if (l->advanced) {
		int p = wc_group__place(l->group, mb->idx);

		if (p >= 0)
			dst = (uint32_t)p;
	}
	to = &l->m[dst];
	if (wc_workq__push(to->capq, m)) {
		/* cannot happen: every capture queue holds all the group's chunks */
		STAT_ADD(mb->driver_errors, 1);
		wc_pool__recycle(mb->pool, m);
		return;
	}
	if (dst != mb->idx) {
		STAT_ADD(mb->offloaded_out, 1);
		STAT_ADD(mb->offloaded_out_packets, m->pkt_count);
		STAT_ADD_MW(to->offloaded_in, 1);
		STAT_ADD_MW(to->offloaded_in_packets, m->pkt_count);
	}
	{
		uint32_t len = wc_workq__len(to->capq);

		if (len > __atomic_load_n(&to->max_capq, RELAXED))
			__atomic_store_n(&to->max_capq, len, RELAXED); /* approximate: racy max */
	}
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&to->cons_sleeping, memory_order_relaxed))
		wake(to->cons_fd);
}

static int capture_step(struct wc_live *l, struct member *mb, uint64_t now)
{
	struct wc_chunk_meta metas[CAPTURE_MAX];
	struct wc_chunk_meta m;
	int progress = 0, k, i;

	/* (3) recycle used chunks, after validation */
	while (wc_workq__pop(mb->recq, &m) == 0) {
		int rc = wc_pool__recycle(mb->pool, &m);

		if (rc < 0)
			count_recycle_error(mb, rc);
		progress++;
	}
	/* (1) capture: RX ring -> pool */
	if (take_rx(l, mb) > 0) {
		/* how long the oldest frame of the burst waited for this thread
		 * (its XDP stamp against now): the diagnostic for drops that come
		 * from a capture thread kept off its CPU */
		const struct wc_desc *d = &mb->descs[0];

		if (l->timestamps && d->addr % WC_FRAME_SIZE >= META_LEN) {
			const struct wc_xdp_meta *mt = (const void *)(l->area + d->addr - META_LEN);

			if (mt->magic == WC_XDP_META_MAGIC && now > mt->ts_ns &&
			    now - mt->ts_ns > STAT_GET(mb->max_gap_ns))
				__atomic_store_n(&mb->max_gap_ns, now - mt->ts_ns, RELAXED);
		}
		progress++;
	}
	k = wc_pool__capture(mb->pool, metas, CAPTURE_MAX, 0);
	if (k == 0 && wc_pool__partial(mb->pool) > 0) {
		if (!mb->partial_since)
			mb->partial_since = now;
		else if (now - mb->partial_since >= l->timeout_ns) {
			k = wc_pool__capture(mb->pool, metas, CAPTURE_MAX, 1);
			if (k == 0)
				mb->partial_since = now; /* no free chunk: try again a timeout later */
		}
	}
	if (k > 0) {
		mb->partial_since = 0;
		progress++;
	}
	for (i = 0; i < k; i++) {
		if (metas[i].flags & WC_META_COPIED)
			copy_partial(l, mb, &metas[i]);
		place(l, mb, &metas[i]);
	}
	/* re-arm bare segments with free chunks */
	if (attach_all(l, mb) > 0)
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

	if (mb->partial_since) {
		uint64_t due = mb->partial_since + l->timeout_ns;

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
	l->started = 1;
	return 0;
}

int wc_live__stop(struct wc_live *l)
{
	uint32_t i;

	atomic_store(&l->stop, 1);
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

/* ------------------------------------------------------------------ */
/* the application side                                                 */

/* hand a used chunk to a capture thread's recycle queue; wake it if asleep */
static int push_recycle(struct member *mb, const struct wc_chunk_meta *m)
{
	if (wc_workq__push(mb->recq, m))
		return -ENOSPC;
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&mb->cap_sleeping, memory_order_relaxed))
		wake(mb->wake_fd);
	return 0;
}

static int recycle_to_owner(struct wc_live *l, const struct wc_chunk_meta *m)
{
	struct member *owner;
	int16_t o;

	if (m->nic_id != l->nic_id || m->ring_id >= OWNER_MAX)
		return -EXDEV;
	o = l->owner_of[m->ring_id];
	if (o < 0)
		return -EXDEV;
	owner = &l->m[o];
	return push_recycle(owner, m);
}

static uint64_t global_chunk(const struct wc_live *l, uint32_t owner, uint32_t chunk_id)
{
	return (uint64_t)owner * l->chunks + chunk_id;
}

static void finish_chunk(struct wc_live *l, struct member *mb)
{
	struct cursor *c = &mb->cur;
	struct member *owner = &l->m[c->owner];
	uint64_t g = global_chunk(l, c->owner, c->m.chunk_id);

	if (c->delivered)
		STAT_ADD_MW(owner->delivered, c->delivered);
	if (c->filtered)
		STAT_ADD_MW(owner->filtered, c->filtered);
	c->active = 0;
	if (l->tx_pending[g]) {
		/* zero-copy sends from this chunk are in flight: recycle it
		 * when the last completion comes back (tx_reap) */
		l->deferred[g] = c->m;
		l->deferred_valid[g] = 1;
		return;
	}
	if (recycle_to_owner(l, &c->m))
		STAT_ADD(mb->driver_errors, 1);
}

static int begin_chunk(struct wc_live *l, struct member *mb)
{
	struct cursor *c = &mb->cur;
	int16_t o;

	if (wc_workq__pop(mb->capq, &c->m))
		return 0;
	o = c->m.ring_id < OWNER_MAX ? l->owner_of[c->m.ring_id] : -1;
	if (o < 0) {
		STAT_ADD(mb->driver_errors, 1);
		return 0;
	}
	c->owner = (uint32_t)o;
	c->frame0 = l->m[o].frame_base + (uint64_t)c->m.chunk_id * l->seg + c->m.first_cell;
	if (c->m.flags & WC_META_COPIED) /* copies start at cell 0 of their chunk */
		c->frame0 = l->m[o].frame_base + (uint64_t)c->m.chunk_id * l->seg;
	c->i = 0;
	c->delivered = 0;
	c->filtered = 0;
	c->active = 1;
	return 1;
}

/* wait for a captured chunk; 1 if one may be there, 0 on timeout */
static int wait_chunk(struct member *mb, int timeout_ms)
{
	struct pollfd p = { .fd = mb->cons_fd, .events = POLLIN };
	int rc;

	atomic_store(&mb->cons_sleeping, 1);
	atomic_thread_fence(memory_order_seq_cst);
	if (mb->break_req) {
		atomic_store(&mb->cons_sleeping, 0);
		return 1;
	}
	/* a length with nothing to pop yet: a push is being published; wait
	 * a moment rather than spin (see capture_sleep) */
	if (wc_workq__len(mb->capq))
		timeout_ms = timeout_ms < 1 ? timeout_ms : 1;
	rc = poll(&p, 1, timeout_ms);
	atomic_store(&mb->cons_sleeping, 0);
	drain_fd(mb->cons_fd);
	return rc > 0 || wc_workq__len(mb->capq) > 0;
}

/* the XDP program's arrival stamp of the frame at UMEM address addr, as
 * CLOCK_REALTIME ns, or 0 when it has none */
static uint64_t take_stamp(const struct wc_live *l, uint64_t addr)
{
	struct wc_xdp_meta *mt;

	if (addr % WC_FRAME_SIZE < META_LEN)
		return 0;
	mt = (void *)(l->area + addr - META_LEN);
	if (mt->magic != WC_XDP_META_MAGIC)
		return 0;
	/* consumed: a frame the program fails to stamp next time must not
	 * show this stamp */
	mt->magic = 0;
	return mt->ts_ns + l->mono_to_real;
}

static void fill_hdr(struct wc_live *l, const struct member *mb, const struct cursor *c,
		     const struct cell *cl, struct wc_pkthdr *h)
{
	h->caplen = cl->len;
	h->len = cl->len;
	h->queue = (uint16_t)l->m[c->owner].queue;
	h->member = (uint16_t)mb->idx;
	h->flags = c->owner != mb->idx ? WC_PKT_OFFLOADED : 0;
	h->seq = c->m.seq + c->i;
	h->ts_ns = l->timestamps ? take_stamp(l, cl->addr) : 0;
}

static int tx_reap(struct wc_live *l, struct member *mb);

int wc_live__dispatch(struct wc_live *l, uint32_t member, int cnt, wc_pkt_cb cb, void *user,
		      int timeout_ms)
{
	struct member *mb;
	struct cursor *c;
	uint64_t deadline = 0;
	int n = 0;

	if (member >= l->n)
		return -EINVAL;
	mb = &l->m[member];
	c = &mb->cur;
	if (timeout_ms > 0)
		deadline = wc_sys__mono_ns() + (uint64_t)timeout_ms * 1000000ull;
	mb->break_req = 0;
	for (;;) {
		if (!c->active && !begin_chunk(l, mb)) {
			int wait_ms;

			if (n > 0 || timeout_ms == 0 || mb->break_req)
				break;
			if (timeout_ms < 0) {
				wait_ms = 100;
			} else {
				uint64_t now = wc_sys__mono_ns();

				if (now >= deadline)
					break;
				wait_ms = (int)((deadline - now + 999999) / 1000000);
			}
			if (mb->tx)
				tx_reap(l, mb);
			wait_chunk(mb, wait_ms);
			continue;
		}
		while (c->i < c->m.pkt_count && (cnt <= 0 || n < cnt) && !mb->break_req) {
			const struct cell *cl = &l->cells[c->frame0 + c->i];
			const uint8_t *data = l->area + cl->addr;

			if (mb->filter && !wc_filter__run(mb->filter, data, cl->len, cl->len)) {
				c->filtered++;
			} else {
				struct wc_pkthdr h;

				fill_hdr(l, mb, c, cl, &h);
				if (cb)
					cb(user, &h, data);
				c->delivered++;
				n++;
			}
			c->i++;
		}
		if (c->i == c->m.pkt_count)
			finish_chunk(l, mb);
		if ((cnt > 0 && n >= cnt) || mb->break_req)
			break;
	}
	if (n)
		STAT_ADD(mb->consumed, (uint64_t)n);
	if (mb->tx && mb->tx_unkicked) {
		mb->tx_unkicked = 0;
		wc_xsk__tx_kick(mb->tx);
		tx_reap(l, mb);
	}
	return n;
}

int wc_live__next(struct wc_live *l, uint32_t member, struct wc_pkthdr *h, const uint8_t **data,
		  int timeout_ms)
{
	struct member *mb;
	struct cursor *c;
	uint64_t deadline;

	if (member >= l->n || !h || !data)
		return -EINVAL;
	mb = &l->m[member];
	c = &mb->cur;
	deadline = wc_sys__mono_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;
	mb->break_req = 0;
	for (;;) {
		if (c->active && c->i == c->m.pkt_count)
			finish_chunk(l, mb); /* the previous call's packet is done with */
		if (!c->active && !begin_chunk(l, mb)) {
			uint64_t now = wc_sys__mono_ns();

			if (timeout_ms == 0 || mb->break_req || (timeout_ms > 0 && now >= deadline))
				return 0;
			wait_chunk(mb, timeout_ms < 0 ? 100 : (int)((deadline - now + 999999) / 1000000));
			continue;
		}
		while (c->i < c->m.pkt_count) {
			const struct cell *cl = &l->cells[c->frame0 + c->i];
			const uint8_t *p = l->area + cl->addr;

			if (mb->filter && !wc_filter__run(mb->filter, p, cl->len, cl->len)) {
				c->filtered++;
				c->i++;
				continue;
			}
			fill_hdr(l, mb, c, cl, h);
			*data = p;
			c->delivered++;
			c->i++;
			STAT_ADD(mb->consumed, 1);
			return 1;
		}
	}
}

void wc_live__breakloop(struct wc_live *l, uint32_t member)
{
	if (member >= l->n)
		return;
	l->m[member].break_req = 1;
	atomic_thread_fence(memory_order_seq_cst);
	wake(l->m[member].cons_fd);
}

int wc_live__setfilter(struct wc_live *l, uint32_t member, const struct wc_filter *f)
{
	if (member >= l->n)
		return -EINVAL;
	l->m[member].filter = f;
	return 0;
}

struct live_src {
	struct wc_live *l;
	uint32_t member;
};

/* with a timeout, wc_live__dispatch reaps TX completions and sleeps on the
 * consumer's eventfd until a chunk is captured (wait_chunk) */
static int d_live(void *s, int cnt, wc_pkt_cb cb, void *user, int timeout_ms)
{
	const struct live_src *src = s;

	return wc_live__dispatch(src->l, src->member, cnt, cb, user, timeout_ms);
}

int wc_live__consume(struct wc_live *l, uint32_t member, wc_pkt_cb cb, void *user,
		     wc_idle_cb idle, const struct wc_consume_opts *opts,
		     struct wc_consume_result *res)
{
	struct live_src src = { l, member };

	if (member >= l->n)
		return -EINVAL;
	return wc_drive__run(d_live, &src, cb, user, idle, opts, res);
}

/* ------------------------------------------------------------------ */
/* chunk-level access                                                   */

int wc_live__chunk_get(struct wc_live *l, uint32_t member, struct wc_chunk_meta *m, int timeout_ms)
{
	struct member *mb;
	uint64_t deadline;
	int16_t o;

	if (member >= l->n || !m)
		return -EINVAL;
	mb = &l->m[member];
	deadline = wc_sys__mono_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;
	while (wc_workq__pop(mb->capq, m)) {
		uint64_t now = wc_sys__mono_ns();

		if (timeout_ms == 0 || now >= deadline)
			return 0;
		wait_chunk(mb, (int)((deadline - now + 999999) / 1000000));
	}
	o = m->ring_id < OWNER_MAX ? l->owner_of[m->ring_id] : -1;
	if (o >= 0)
		STAT_ADD_MW(l->m[o].delivered, m->pkt_count);
	STAT_ADD(mb->consumed, m->pkt_count);
	return 1;
}

const uint8_t *wc_live__chunk_packet(const struct wc_live *l, const struct wc_chunk_meta *m,
				     uint32_t i, uint32_t *len)
{
	int16_t o;
	uint64_t f;

	if (!m || i >= m->pkt_count || m->ring_id >= OWNER_MAX || m->chunk_id >= l->chunks)
		return NULL;
	o = l->owner_of[m->ring_id];
	if (o < 0)
		return NULL;
	f = l->m[o].frame_base + (uint64_t)m->chunk_id * l->seg + i +
	    ((m->flags & WC_META_COPIED) ? 0 : m->first_cell);
	if (f >= l->m[o].frame_base + (uint64_t)l->chunks * l->seg)
		return NULL;
	if (len)
		*len = l->cells[f].len;
	return l->area + l->cells[f].addr;
}

int wc_live__chunk_stamps(const struct wc_live *l, const struct wc_chunk_meta *m, uint64_t *ts,
			  uint32_t *len, uint32_t max)
{
	uint32_t i, n;

	if (!m || !ts || !len)
		return -EINVAL;
	n = m->pkt_count < max ? m->pkt_count : max;
	for (i = 0; i < n; i++) {
		uint32_t l_i = 0;
		const uint8_t *p = wc_live__chunk_packet(l, m, i, &l_i);

		if (!p)
			return -EINVAL;
		len[i] = l_i;
		ts[i] = take_stamp(l, (uint64_t)(p - l->area));
	}
	return (int)n;
}

int wc_live__chunk_put(struct wc_live *l, const struct wc_chunk_meta *m)
{
	if (!m)
		return -EINVAL;
	return recycle_to_owner(l, m);
}

int wc_live__recycle_into(struct wc_live *l, uint32_t member, const struct wc_chunk_meta *m)
{
	if (member >= l->n || !m)
		return -EINVAL;
	return push_recycle(&l->m[member], m);
}

int wc_live__check(struct wc_live *l, uint32_t member)
{
	struct member *mb;
	uint64_t deadline;

	if (member >= l->n)
		return -EINVAL;
	mb = &l->m[member];
	if (!mb->running)
		return wc_pool__check(mb->pool);
	atomic_store_explicit(&mb->check_req, 1, memory_order_release);
	wake(mb->wake_fd);
	deadline = wc_sys__mono_ns() + 2000000000ull;
	while (atomic_load_explicit(&mb->check_req, memory_order_acquire)) {
		if (wc_sys__mono_ns() > deadline)
			return -ETIMEDOUT;
		wc_sys__sleep_until(wc_sys__mono_ns() + 100000);
	}
	return mb->check_res;
}

/* ------------------------------------------------------------------ */
/* forwarding                                                           */

int wc_live__tx_attach(struct wc_live *l, uint32_t member, int ifindex, uint32_t queue)
{
	/* af_xdp.rst: a socket on another (netdev, queue) sharing the UMEM needs
	 * its own fill and completion rings, even if it only transmits */
	struct wc_xsk_opts xo = { .sz = sizeof(xo), .fill_size = 64, .comp_size = l->tx_size,
				  .tx_size = l->tx_size };
	struct member *mb;
	uint32_t i;
	int err;

	if (member >= l->n)
		return -EINVAL;
	mb = &l->m[member];
	if (mb->tx)
		return -EALREADY;
	mb->inj_free = calloc(l->tx_frames, sizeof(*mb->inj_free));
	if (!mb->inj_free)
		return -ENOMEM;
	err = wc_xsk__create(&mb->tx, l->umem, ifindex, queue, &xo);
	if (err) {
		free(mb->inj_free);
		mb->inj_free = NULL;
		return err;
	}
	for (i = 0; i < l->tx_frames; i++)
		mb->inj_free[i] = l->tx_frames - 1 - i;
	mb->inj_nfree = l->tx_frames;
	return 0;
}

static int tx_reap(struct wc_live *l, struct member *mb)
{
	uint64_t addrs[64];
	uint32_t n, i;
	int total = 0;

	while ((n = wc_xsk__comp_burst(mb->tx, addrs, 64)) > 0) {
		for (i = 0; i < n; i++) {
			uint64_t f = addrs[i] / WC_FRAME_SIZE;

			if (f >= l->pool_frames) {
				mb->inj_free[mb->inj_nfree++] = (uint32_t)(f - mb->inj_base);
				continue;
			}
			{
				uint64_t g = f / l->seg; /* pools start at multiples of M */

				if (l->tx_pending[g] && --l->tx_pending[g] == 0 && l->deferred_valid[g]) {
					l->deferred_valid[g] = 0;
					if (recycle_to_owner(l, &l->deferred[g]))
						STAT_ADD(mb->driver_errors, 1);
				}
			}
		}
		STAT_ADD(mb->tx_completed, n);
		total += (int)n;
	}
	return total;
}

int wc_live__inject(struct wc_live *l, uint32_t member, const uint8_t *data, uint32_t len,
		    int timeout_ms)
{
	struct member *mb;
	struct wc_desc d;
	uint64_t deadline = 0;
	int zero_copy;

	if (member >= l->n || !data)
		return -EINVAL;
	mb = &l->m[member];
	if (!mb->tx)
		return -ENOTCONN;
	zero_copy = data >= l->area && data < l->area + l->pool_frames * WC_FRAME_SIZE;
	if (zero_copy) {
		d.addr = (uint64_t)(data - l->area);
		if (d.addr % WC_FRAME_SIZE + len > WC_FRAME_SIZE)
			return -EMSGSIZE;
	} else {
		uint32_t fi;

		if (len > WC_FRAME_SIZE)
			return -EMSGSIZE;
		while (!mb->inj_nfree) {
			tx_reap(l, mb);
			if (mb->inj_nfree)
				break;
			wc_xsk__tx_kick(mb->tx);
			if (!deadline)
				deadline = wc_sys__mono_ns() + (uint64_t)timeout_ms * 1000000ull;
			if (wc_sys__mono_ns() >= deadline) {
				STAT_ADD(mb->tx_dropped, 1);
				return -EAGAIN;
			}
			cpu_relax();
		}
		fi = mb->inj_free[--mb->inj_nfree];
		d.addr = (mb->inj_base + fi) * WC_FRAME_SIZE;
		memcpy(l->area + d.addr, data, len);
	}
	d.len = len;
	d.options = 0;
	while (wc_xsk__tx_burst(mb->tx, &d, 1) == 0) {
		wc_xsk__tx_kick(mb->tx);
		tx_reap(l, mb);
		if (!deadline)
			deadline = wc_sys__mono_ns() + (uint64_t)timeout_ms * 1000000ull;
		if (wc_sys__mono_ns() >= deadline) {
			if (!zero_copy)
				mb->inj_free[mb->inj_nfree++] =
					(uint32_t)(d.addr / WC_FRAME_SIZE - mb->inj_base);
			STAT_ADD(mb->tx_dropped, 1);
			return -EAGAIN;
		}
		cpu_relax();
	}
	if (zero_copy) {
		l->tx_pending[(d.addr / WC_FRAME_SIZE) / l->seg]++;
		STAT_ADD(mb->forwarded, 1);
	} else {
		STAT_ADD(mb->injected, 1);
	}
	if (++mb->tx_unkicked >= TX_KICK_BATCH) {
		mb->tx_unkicked = 0;
		wc_xsk__tx_kick(mb->tx);
		tx_reap(l, mb);
	}
	return 0;
}

int wc_live__tx_flush(struct wc_live *l, uint32_t member, int timeout_ms)
{
	struct member *mb;
	uint64_t deadline;

	if (member >= l->n)
		return -EINVAL;
	mb = &l->m[member];
	if (!mb->tx)
		return 0;
	deadline = wc_sys__mono_ns() + (uint64_t)timeout_ms * 1000000ull;
	mb->tx_unkicked = 0;
	for (;;) {
		uint64_t out = STAT_GET(mb->forwarded) + STAT_GET(mb->injected) -
			       STAT_GET(mb->tx_completed);

		if (!out)
			return 0;
		wc_xsk__tx_kick(mb->tx);
		tx_reap(l, mb);
		if (wc_sys__mono_ns() >= deadline)
			return (int)out;
		wc_sys__sleep_until(wc_sys__mono_ns() + 50000);
	}
}

/* ------------------------------------------------------------------ */

int wc_live__stats(const struct wc_live *l, uint32_t member, struct wc_live_qstats *o)
{
	struct member *mb;

	if (member >= l->n || !o)
		return -EINVAL;
	mb = &l->m[member];
	memset(o, 0, sizeof(*o));
	o->rx_packets = STAT_GET(mb->rx_packets);
	o->chunks_captured = STAT_GET(mb->pool_captured);
	o->chunks_copied = STAT_GET(mb->pool_copied);
	o->packets_copied = STAT_GET(mb->pool_pkts_copied);
	o->chunks_recycled = STAT_GET(mb->pool_recycled);
	o->recycle_errors = STAT_GET(mb->pool_rec_errors);
	o->recycle_exdev = STAT_GET(mb->rec_exdev);
	o->recycle_erange = STAT_GET(mb->rec_erange);
	o->recycle_ealready = STAT_GET(mb->rec_ealready);
	o->recycle_ebusy = STAT_GET(mb->rec_ebusy);
	o->recycle_einval = STAT_GET(mb->rec_einval);
	o->offloaded_out = STAT_GET(mb->offloaded_out);
	o->offloaded_out_packets = STAT_GET(mb->offloaded_out_packets);
	o->rx_misordered = STAT_GET(mb->rx_misordered);
	o->driver_errors = STAT_GET(mb->driver_errors);
	o->delivered = STAT_GET(mb->delivered);
	o->filtered = STAT_GET(mb->filtered);
	o->consumed = STAT_GET(mb->consumed);
	o->offloaded_in = STAT_GET(mb->offloaded_in);
	o->offloaded_in_packets = STAT_GET(mb->offloaded_in_packets);
	o->forwarded = STAT_GET(mb->forwarded);
	o->injected = STAT_GET(mb->injected);
	o->tx_completed = STAT_GET(mb->tx_completed);
	o->tx_dropped = STAT_GET(mb->tx_dropped);
	o->free_chunks = STAT_GET(mb->free_chunks);
	o->capture_queue_len = wc_workq__len(mb->capq);
	o->recycle_queue_len = wc_workq__len(mb->recq);
	o->max_capture_queue_len = STAT_GET(mb->max_capq);
	o->max_rx_gap_ns = STAT_GET(mb->max_gap_ns);
	o->capture_sleeps = STAT_GET(mb->sleeps);
	o->realtime = (uint32_t)STAT_GET(mb->realtime);
	return wc_xsk__stats(mb->xsk, &o->xsk);
}
