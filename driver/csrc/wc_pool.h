/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wc_pool: the WireCAP ring-buffer pool of one receive queue (paper §3.2.1,
 * Figure 4). Written once, with no clock and no threads inside: the
 * simulator drives it from its event loop (virtual time) and the AF_XDP
 * driver drives it from real capture threads (wall clock).
 *
 * The receive ring has N descriptors, cut into N/M descriptor segments of M
 * descriptors ("M is a divisor of N"). The pool owns R chunks of M cells
 * (2 KB each), R > N/M. A chunk is identified by {nic_id, ring_id, chunk_id}.
 *
 * Chunk life cycle (who moves it):
 *
 *        attach (driver)          capture (driver)          recycle (driver,
 *   free ---------------> attached ---------------> captured  after strict
 *    ^                                                  |     validation)
 *    +--------------------------------------------------+
 *
 *   free      owned by the pool, on its FIFO free list;
 *   attached  tied to one descriptor segment; the NIC fills its cells in
 *             ring order (cell i <-> descriptor seg*M + i);
 *   captured  handed to user space as metadata only (zero copy); owned by
 *             the application until it recycles the chunk.
 *
 * The ring contract:
 *
 *   head       (NIC)     next descriptor the NIC writes; advances by rx().
 *   seg_fill   (NIC)     cells of a segment's chunk the NIC has filled.
 *   seg_taken  (driver)  cells of that chunk already delivered by a
 *                        partial-chunk copy (§3.2.1, capture case 3).
 *   cap_seg    (driver)  oldest segment not yet captured; capture() walks
 *                        forward from here in ring order.
 *
 * A descriptor is ready (may receive a frame) when its segment has a chunk
 * attached and the NIC has not yet filled its cell. The NIC writes in ring
 * order, so it stalls at the first descriptor that is not ready; frames
 * that meet a stalled ring are the NIC model's business (drop or hold).
 *
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure; destroy accepts NULL. Nothing is allocated after create().
 */
#ifndef WC_POOL_H
#define WC_POOL_H

#include <stddef.h>
#include <stdint.h>

/* cffi:begin */

/* paper §5a: "a cell is two Kbytes in the current implementation" */
#define WC_CELL_SIZE 2048u
/* paper §2.2 and §4: "Each NIC receive ring is configured with a size of 1,024" */
#define WC_RING_SIZE_DEFAULT 1024u
/* paper §4: WireCAP-B-(256, 500), the configuration most experiments use */
#define WC_SEGMENT_CELLS_DEFAULT 256u
#define WC_POOL_CHUNKS_DEFAULT 500u
/* 82599 datasheet §8.2.3.8.1: the ring length register (RDLEN) is 20 bits
 * of bytes with 16-byte descriptors, so at most 65,536 descriptors. */
#define WC_RING_SIZE_MAX 65536u

enum wc_chunk_state {
	WC_CHUNK_FREE = 0,
	WC_CHUNK_ATTACHED = 1,
	WC_CHUNK_CAPTURED = 2,
};

/* metadata flags */
#define WC_META_COPIED 0x1u /* a partial chunk copied into this one on timeout */

/*
 * What capture() hands to user space and recycle() takes back (§3.2.1:
 * "{{nic_id, ring_id, chunk_id}, process_address, pkt_count}"; the process
 * address is chunk_id * M * WC_CELL_SIZE from the start of the mapped pool).
 */
struct wc_chunk_meta {
	uint16_t nic_id;
	uint16_t ring_id;
	uint32_t chunk_id;
	uint32_t first_cell; /* packets sit in cells [first_cell, first_cell + pkt_count) */
	uint32_t pkt_count;
	uint64_t seq;        /* ring sequence number of the first packet (0-based) */
	uint32_t gen;        /* capture generation; stale metadata fails recycle */
	uint32_t flags;      /* WC_META_* */
	uint32_t src_chunk;  /* WC_META_COPIED: chunk and first cell the packets */
	uint32_t src_cell;   /*   were copied from (the driver does the memcpy)  */
};

struct wc_pool_opts {
	size_t sz;              /* sizeof(struct wc_pool_opts), so the struct can grow */
	uint32_t ring_size;     /* N; 0 = WC_RING_SIZE_DEFAULT */
	uint32_t segment_cells; /* M; 0 = WC_SEGMENT_CELLS_DEFAULT; must divide N */
	uint32_t chunks;        /* R; 0 = WC_POOL_CHUNKS_DEFAULT; must exceed N/M */
	uint16_t nic_id;
	uint16_t ring_id;
};

/* Counters; read with wc_pool__stats(). */
struct wc_pool_stats {
	uint64_t rx_packets;       /* frames the NIC wrote into attached cells */
	uint64_t chunks_captured;  /* full chunks captured */
	uint64_t chunks_copied;    /* partial chunks copied on timeout */
	uint64_t packets_copied;
	uint64_t chunks_recycled;
	uint64_t recycle_errors;   /* metadata rejected by recycle() */
	uint64_t attach_failures;  /* capture left a segment bare: no free chunk */
};

struct wc_pool;

/* The pool geometry rules (paper §3.2.1), the only place they are written:
 * N in 1..WC_RING_SIZE_MAX, M >= 1 dividing N, R > N/M. Returns NULL when
 * N, M, R form a valid pool, else a message whose first word names the
 * parameter at fault ("N", "M" or "R"), then the rule and its source. The
 * message lives in thread-local storage until the thread's next call. */
const char *wc_pool__geometry_error(uint32_t ring_size, uint32_t segment_cells, uint32_t chunks);

/* Zeros in opts take the defaults; then -EINVAL when
 * wc_pool__geometry_error() names a fault; -ENOMEM. No segment is attached
 * yet. */
int wc_pool__create(struct wc_pool **pool, const struct wc_pool_opts *opts);
void wc_pool__destroy(struct wc_pool *pool);

/* open (§3.2.1): attach a free chunk to every descriptor segment. Returns
 * the number of segments attached, or -EALREADY if the pool is open. */
int wc_pool__open(struct wc_pool *pool);

/* close (§3.2.1): detach every attached chunk (frames in them are
 * discarded; returns how many) and mark the pool closed. Captured chunks stay
 * valid and may still be recycled. */
int wc_pool__close(struct wc_pool *pool);

/* Number of consecutive ready descriptors starting at the NIC head. */
uint32_t wc_pool__ready(const struct wc_pool *pool);

/* The NIC wrote n frames at the head (n <= wc_pool__ready()). Returns the
 * number of segments this completed, or -ENOSPC if n exceeds ready. */
int wc_pool__rx(struct wc_pool *pool, uint32_t n);

/* Chunk and cell the NIC will write next (for drivers that place frames
 * themselves); -EAGAIN if the head descriptor is not ready. */
int wc_pool__head(const struct wc_pool *pool, uint32_t *chunk_id, uint32_t *cell);

/* Full segments waiting for capture, and frames sitting in the partly
 * filled head segment that no capture has delivered yet. */
uint32_t wc_pool__full(const struct wc_pool *pool);
uint32_t wc_pool__partial(const struct wc_pool *pool);

/*
 * capture (§3.2.1): move up to max full chunks, in ring order, to the
 * captured state and describe each in out[]. Their segments are left bare;
 * call wc_pool__attach() to re-arm them. If no full chunk is available and
 * flush is set (the capture timeout expired), the frames of the partly
 * filled head segment are "copied" into a free chunk which is captured
 * instead (out->flags has WC_META_COPIED; src_chunk/src_cell say where the
 * frames are, for a driver that must memcpy them). Returns the number of
 * metadata written (0 when nothing is available or no free chunk is left
 * for a copy).
 */
int wc_pool__capture(struct wc_pool *pool, struct wc_chunk_meta *out, uint32_t max, int flush);

/* Attach free chunks to bare segments, in ring order from the head, until
 * the free list or the bare segments run out. Each attached chunk id is
 * written to out[] (if out is not NULL, at most max). Returns the number
 * attached. Drivers that feed real hardware put each chunk's M cells on
 * the NIC (for AF_XDP: the fill ring) in this order. */
int wc_pool__attach(struct wc_pool *pool, uint32_t *out, uint32_t max);

/*
 * recycle (§3.2.1 and §3.2.2c): validate meta strictly and free the chunk.
 * Errors (the pool is left unchanged, recycle_errors counts them):
 *   -EXDEV    nic_id/ring_id name another pool (a foreign chunk);
 *   -ERANGE   chunk_id >= R;
 *   -EALREADY the chunk is already free (double recycle);
 *   -EBUSY    the chunk is attached to the ring;
 *   -EINVAL   the metadata do not match what capture() handed out
 *             (generation, first cell, packet count or flags).
 */
int wc_pool__recycle(struct wc_pool *pool, const struct wc_chunk_meta *meta);

/* Introspection. */
int wc_pool__chunk_state(const struct wc_pool *pool, uint32_t chunk_id);
uint32_t wc_pool__free_chunks(const struct wc_pool *pool);
uint32_t wc_pool__captured_chunks(const struct wc_pool *pool);
uint32_t wc_pool__bare_segments(const struct wc_pool *pool);
void wc_pool__stats(const struct wc_pool *pool, struct wc_pool_stats *out);
/* Consistency of the chunk accounting (every chunk in exactly one state,
 * attached chunks tied to exactly one segment): 0, or -EFAULT. */
int wc_pool__check(const struct wc_pool *pool);
uint32_t wc_pool__ring_size(const struct wc_pool *pool);
uint32_t wc_pool__segment_cells(const struct wc_pool *pool);
uint32_t wc_pool__chunks(const struct wc_pool *pool);

/* cffi:end */
#endif /* WC_POOL_H */
