"""cffi (API mode) build of the C engine core and the simulator.

One extension, ``engine._wirecap``, holds the parts that need no system
library: the ring-buffer pool (driver/csrc), the work-queue pairs and buddy
groups (engine/csrc), and the discrete-event simulator (driver/csrc/sim,
engine/csrc/sim). The real backend builds its own extension from the same
core sources plus AF_XDP code (see driver/build_xdp.py).
"""


from cffi import FFI



CORE_SOURCES = [
    "driver/csrc/wc_pool.c",
    "engine/csrc/wc_workq.c",
    "engine/csrc/wc_buddy.c",
]
SIM_SOURCES = [
    "driver/csrc/sim/des.c",
    "driver/csrc/sim/nic.c",
    "driver/csrc/sim/bulk.c",
    "driver/csrc/sim/forward.c",
    "driver/csrc/sim/run.c",
    "engine/csrc/sim/engines.c",
    "engine/csrc/sim/eng_wirecap.c",
    "engine/csrc/sim/eng_typeii.c",
    "engine/csrc/sim/eng_dna_bulk.c",
    "engine/csrc/sim/eng_pfring.c",
]
INCLUDE_DIRS = ["driver/csrc", "engine/csrc", "driver/csrc/sim", "engine/csrc/sim"]

CORE_CDEF = """
#define WC_CELL_SIZE 2048
#define WC_RING_SIZE_DEFAULT 1024
#define WC_SEGMENT_CELLS_DEFAULT 256
#define WC_POOL_CHUNKS_DEFAULT 500
#define WC_RING_SIZE_MAX 65536
#define WC_META_COPIED 1
#define WC_GROUP_MAX 64
#define WC_THRESHOLD_PCT_DEFAULT 60

enum wc_chunk_state { WC_CHUNK_FREE = 0, WC_CHUNK_ATTACHED = 1, WC_CHUNK_CAPTURED = 2 };

struct wc_chunk_meta {
    uint16_t nic_id; uint16_t ring_id; uint32_t chunk_id;
    uint32_t first_cell; uint32_t pkt_count; uint64_t seq;
    uint32_t gen; uint32_t flags; uint32_t src_chunk; uint32_t src_cell;
};
struct wc_pool_opts {
    size_t sz; uint32_t ring_size; uint32_t segment_cells; uint32_t chunks;
    uint16_t nic_id; uint16_t ring_id;
};
struct wc_pool_stats {
    uint64_t rx_packets; uint64_t chunks_captured; uint64_t chunks_copied;
    uint64_t packets_copied; uint64_t chunks_recycled; uint64_t recycle_errors;
    uint64_t attach_failures;
};
struct wc_pool;
int wc_pool__create(struct wc_pool **pool, const struct wc_pool_opts *opts);
void wc_pool__destroy(struct wc_pool *pool);
int wc_pool__open(struct wc_pool *pool);
int wc_pool__close(struct wc_pool *pool);
uint32_t wc_pool__ready(const struct wc_pool *pool);
int wc_pool__rx(struct wc_pool *pool, uint32_t n);
int wc_pool__head(const struct wc_pool *pool, uint32_t *chunk_id, uint32_t *cell);
uint32_t wc_pool__full(const struct wc_pool *pool);
uint32_t wc_pool__partial(const struct wc_pool *pool);
int wc_pool__capture(struct wc_pool *pool, struct wc_chunk_meta *out, uint32_t max, int flush);
int wc_pool__attach(struct wc_pool *pool, uint32_t *out, uint32_t max);
int wc_pool__recycle(struct wc_pool *pool, const struct wc_chunk_meta *meta);
int wc_pool__chunk_state(const struct wc_pool *pool, uint32_t chunk_id);
uint32_t wc_pool__free_chunks(const struct wc_pool *pool);
uint32_t wc_pool__captured_chunks(const struct wc_pool *pool);
uint32_t wc_pool__bare_segments(const struct wc_pool *pool);
void wc_pool__stats(const struct wc_pool *pool, struct wc_pool_stats *out);
int wc_pool__check(const struct wc_pool *pool);
uint32_t wc_pool__ring_size(const struct wc_pool *pool);
uint32_t wc_pool__segment_cells(const struct wc_pool *pool);
uint32_t wc_pool__chunks(const struct wc_pool *pool);

struct wc_workq;
int wc_workq__create(struct wc_workq **q, uint32_t capacity);
void wc_workq__destroy(struct wc_workq *q);
int wc_workq__push(struct wc_workq *q, const struct wc_chunk_meta *m);
int wc_workq__pop(struct wc_workq *q, struct wc_chunk_meta *m);
uint32_t wc_workq__len(const struct wc_workq *q);
uint32_t wc_workq__capacity(const struct wc_workq *q);

struct wc_group_opts { size_t sz; uint32_t threshold_pct; };
struct wc_group;
int wc_group__create(struct wc_group **g, const struct wc_group_opts *opts);
void wc_group__destroy(struct wc_group *g);
int wc_group__add(struct wc_group *g, struct wc_workq *capture_q, uint32_t capacity_chunks);
int wc_group__place(const struct wc_group *g, uint32_t self);
uint32_t wc_group__size(const struct wc_group *g);
uint32_t wc_group__threshold_pct(const struct wc_group *g);
"""

SIM_CDEF = """
enum sim_engine { SIM_ENGINE_WIRECAP = 0, SIM_ENGINE_DNA = 1, SIM_ENGINE_NETMAP = 2, SIM_ENGINE_PFRING = 3 };
#define SIM_BUS_ONE 4294967296
struct sim_params {
    uint32_t n_nics; uint32_t n_queues; uint64_t n_packets;
    int64_t gen_gap_ps; uint32_t gen_size; uint32_t gen_len;
    const uint8_t *gen_queue; const int32_t *gen_flow;
    uint8_t bulk;
    const int64_t *ts_ps; const uint8_t *queue; const int32_t *flow; const uint32_t *size;
    uint32_t n_flows; uint8_t track_flows;
    uint32_t ring_size; uint32_t fifo_bytes; uint32_t fifo_frame_overhead; uint32_t fifo_unit;
    uint8_t drop_en;
    uint64_t bus_admit;
    int64_t app_cost_ps;
    uint32_t engine;
    uint32_t wc_m; uint32_t wc_r; uint32_t wc_t_pct; uint8_t wc_advanced; const uint8_t *wc_group;
    int64_t wc_capture_ps; int64_t wc_recycle_ps; int64_t wc_chunk_ps; int64_t wc_copy_ps;
    int64_t wc_timeout_ps;
    uint32_t ring_usable; int64_t nm_sync_ps; int64_t nm_wakeup_ps;
    uint32_t pf_slots; int64_t pf_copy_ps; int64_t pf_copy_byte_ps; int64_t pf_irq_ps;
    int64_t pf_itr_ps; uint32_t pf_napi_weight; uint32_t pf_softirq_pkts; int64_t pf_softirq_ps;
    int64_t pf_slice_ps;
    uint8_t forward; int64_t tx_ps_per_byte; uint32_t tx_overhead_bytes;
    uint32_t *fwd_log; uint64_t fwd_log_cap;
    uint64_t *offload_matrix;
};
struct sim_queue_stats {
    uint64_t sent; uint64_t delivered; uint64_t capture_drops; uint64_t drops_fifo;
    uint64_t drops_nodesc; uint64_t drops_bus; uint64_t delivery_drops; uint64_t processed; uint64_t offloaded_out;
    uint64_t offloaded_in; uint64_t chunks_copied; uint64_t max_buffered; uint64_t received;
    uint64_t flows_split;
    int64_t last_done_ps;
};
struct sim_result {
    uint64_t events; uint64_t arrivals; uint64_t bulk_steps; int64_t end_ps; uint64_t flows_split; uint64_t forwarded;
    uint64_t fwd_logged; uint64_t tx_backlog_max; int32_t error;
};
int sim_run(const struct sim_params *p, struct sim_queue_stats *qs, struct sim_result *res);
"""

ffibuilder = FFI()
ffibuilder.cdef(CORE_CDEF + SIM_CDEF)
ffibuilder.set_source(
    "engine._wirecap",
    '#include "wc_pool.h"\n#include "wc_workq.h"\n#include "wc_buddy.h"\n#include "sim.h"\n',
    sources=CORE_SOURCES + SIM_SOURCES,  # relative: setuptools refuses absolute paths
    include_dirs=INCLUDE_DIRS,
    extra_compile_args=["-O3", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
