"""cffi (API mode) build of the real backend: ``driver._xdp``.

One extension holds everything the AF_XDP backend runs in C, so the hot
paths call each other directly and never go through Python:

- the engine core, compiled again from the same sources as
  ``engine._wirecap`` (ring-buffer pool, work queues, buddy groups:
  "one engine, two clocks");
- driver/csrc/xdp: AF_XDP sockets on the kernel uAPI (wc_xsk), BPF objects
  through bpf(2) (wc_bpf), namespaces/ethtool/bpffs (wc_sys), the AF_PACKET
  generator (wc_gen) and TPACKET_V3 ring (wc_tpacket), the ring-only AF_XDP
  baseline (wc_xring), and libpcap (wc_pcap: the only file that includes
  pcap/pcap.h, because it and linux/bpf.h both define struct bpf_insn);
- engine/csrc/live: the capture threads, work-queue pairs and pcap-like API
  (wc_live), the per-packet work of pkt_handler (wc_work), flow-split
  accounting (wc_flows), the baselines' bounded application loops (wc_drive).

Build needs: a C compiler, the kernel's uAPI headers (linux-libc-dev) and
libpcap's (libpcap-dev); no libbpf, libxdp or clang. Run needs:
libpcap.so.0.8 (Debian: libpcap0.8).
"""
from cffi import FFI

CORE_SOURCES = [
    "driver/csrc/wc_pool.c",
    "engine/csrc/wc_workq.c",
    "engine/csrc/wc_buddy.c",
    "engine/csrc/wc_capture.c",
]
XDP_SOURCES = [
    "driver/csrc/xdp/wc_sys.c",
    "driver/csrc/xdp/wc_bpf.c",
    "driver/csrc/xdp/wc_xsk.c",
    "driver/csrc/xdp/wc_gen.c",
    "driver/csrc/xdp/wc_tpacket.c",
    "driver/csrc/xdp/wc_xring.c",
    "driver/csrc/xdp/wc_pcap.c",
]
LIVE_SOURCES = [
    "engine/csrc/live/wc_live_create.c",
    "engine/csrc/live/wc_live_capture.c",
    "engine/csrc/live/wc_live_app.c",
    "engine/csrc/live/wc_live_chunk.c",
    "engine/csrc/live/wc_live_tx.c",
    "engine/csrc/live/wc_live_stats.c",
    "engine/csrc/live/wc_work.c",
    "engine/csrc/live/wc_flows.c",
    "engine/csrc/live/wc_drive.c",
]
INCLUDE_DIRS = ["driver/csrc", "engine/csrc", "driver/csrc/xdp", "engine/csrc/live"]

CDEF = """
/* --- engine core (driver/csrc/wc_pool.h) --- */
#define WC_CELL_SIZE 2048
#define WC_META_COPIED 1
enum wc_chunk_state { WC_CHUNK_FREE = 0, WC_CHUNK_ATTACHED = 1, WC_CHUNK_CAPTURED = 2 };
struct wc_chunk_meta {
    uint16_t nic_id; uint16_t ring_id; uint32_t chunk_id;
    uint32_t first_cell; uint32_t pkt_count; uint64_t seq;
    uint32_t gen; uint32_t flags; uint32_t src_chunk; uint32_t src_cell;
};

/* --- wc_pkt.h --- */
struct wc_pkthdr {
    uint64_t ts_ns; uint32_t caplen; uint32_t len; uint16_t queue; uint16_t member;
    uint32_t flags; uint64_t seq;
};
#define WC_PKT_OFFLOADED 1
typedef void (*wc_pkt_cb)(void *user, const struct wc_pkthdr *h, const uint8_t *data);
typedef void (*wc_idle_cb)(void *user);
extern "Python" void wc_py_pkt_cb(void *user, const struct wc_pkthdr *h, const uint8_t *data);

/* --- wc_sys.h --- */
#define WC_STAT_NAME_LEN 32
int wc_sys__netns_enter(const char *path, int *saved_fd);
int wc_sys__netns_leave(int saved_fd);
int wc_sys__ifindex(const char *ifname);
int wc_sys__ethtool_stats(const char *ifname, char *names, uint64_t *values, uint32_t max);
int wc_sys__mount_bpffs(const char *dir);
int wc_sys__umount(const char *dir);
int wc_sys__pin_self(int cpu);
uint64_t wc_sys__mono_ns(void);
uint64_t wc_sys__real_ns(void);

/* --- wc_bpf.h --- */
#define WC_XDP_META_MAGIC 0x50414357
struct wc_xdp_meta { uint64_t ts_ns; uint32_t magic; uint32_t rx_queue; };
struct wc_xdp_arrival { uint64_t first_ns; uint64_t last_ns; };
int wc_bpf__xskmap_create(uint32_t max_entries);
int wc_bpf__arrival_map_create(uint32_t max_entries);
int wc_bpf__arrival_get(int map_fd, uint32_t queue, struct wc_xdp_arrival *out);
int wc_bpf__arrival_reset(int map_fd, uint32_t queue);
int wc_bpf__map_set(int map_fd, uint32_t key, int value_fd);
int wc_bpf__map_del(int map_fd, uint32_t key);
int wc_bpf__redirect_prog(int map_fd, int arrival_fd, int timestamps, char *log, size_t log_size);
int wc_bpf__action_prog(uint32_t action);
int wc_bpf__xdp_link(int prog_fd, int ifindex, int mode);
int wc_bpf__pin(int fd, const char *path);
int wc_bpf__get(const char *path);
int wc_bpf__prog_id(int prog_fd, uint32_t *id);
int wc_bpf__live_frames(int prog_fd, int ifindex, const void *frame, uint32_t len,
                        uint32_t repeat, uint32_t batch, uint64_t *elapsed_ns);

/* --- wc_xsk.h --- */
#define WC_FRAME_SIZE 2048
#define WC_XSK_RING_DEFAULT 1024
#define WC_XSK_MODE_AUTO 0
#define WC_XSK_MODE_COPY 1
#define WC_XSK_MODE_ZEROCOPY 2
struct wc_desc { uint64_t addr; uint32_t len; uint32_t options; };
struct wc_umem_opts { size_t sz; uint64_t frames; int hugepages; };
struct wc_xsk_opts { size_t sz; uint32_t fill_size; uint32_t comp_size; uint32_t rx_size;
                     uint32_t tx_size; int mode; int need_wakeup; };
struct wc_xsk_stats { uint64_t rx_dropped; uint64_t rx_invalid_descs; uint64_t tx_invalid_descs;
                      uint64_t rx_ring_full; uint64_t rx_fill_ring_empty_descs;
                      uint64_t tx_ring_empty_descs; };
struct wc_umem; struct wc_xsk;
int wc_umem__create(struct wc_umem **umem, const struct wc_umem_opts *opts);
int wc_umem__destroy(struct wc_umem *umem);
uint8_t *wc_umem__area(const struct wc_umem *umem);
uint64_t wc_umem__frames(const struct wc_umem *umem);
int wc_xsk__create(struct wc_xsk **xsk, struct wc_umem *umem, int ifindex, uint32_t queue_id,
                   const struct wc_xsk_opts *opts);
void wc_xsk__destroy(struct wc_xsk *xsk);
int wc_xsk__fd(const struct wc_xsk *xsk);
int wc_xsk__zerocopy(const struct wc_xsk *xsk);
int wc_xsk__stats(const struct wc_xsk *xsk, struct wc_xsk_stats *out);
int wc_xsk__fill_range(struct wc_xsk *xsk, uint64_t addr, uint32_t n, uint32_t stride);
int wc_xsk__fill(struct wc_xsk *xsk, const uint64_t *addrs, uint32_t n);
uint32_t wc_xsk__fill_pending(struct wc_xsk *xsk);
uint32_t wc_xsk__rx_burst(struct wc_xsk *xsk, struct wc_desc *out, uint32_t max);
int wc_xsk__rx_wait(struct wc_xsk *xsk, int timeout_ms);

/* --- wc_gen.h --- */
struct wc_gen_opts { size_t sz; uint64_t count; uint64_t max_ns; double rate_pps;
                     const uint64_t *due_ns; uint32_t batch; int32_t seq_offset;
                     const volatile int *stop; const uint32_t *tpl_idx; const uint16_t *frame_len; };
struct wc_gen_result { uint64_t sent; uint64_t refused; uint64_t first_ns; uint64_t last_ns;
                       int stopped_by; };
int wc_gen__socket(int ifindex, int qdisc_bypass);
int wc_gen__send(int fd, const uint8_t *templates, const uint32_t *lens, uint32_t ntemplates,
                 uint32_t stride, const struct wc_gen_opts *opts, struct wc_gen_result *result);

/* --- wc_tpacket.h --- */
#define WC_TPACKET_SLOTS_DEFAULT 10240
#define WC_TPACKET_BLOCK_DEFAULT 4096
struct wc_tpacket_opts { size_t sz; uint32_t block_size; uint32_t block_nr; uint32_t retire_ms;
                         uint32_t snaplen; uint32_t fanout_id; };
struct wc_tpacket_stats { uint64_t packets; uint64_t drops; uint64_t freeze_q; uint64_t delivered; };
struct wc_tpacket;
uint32_t wc_tpacket__slot_bytes(uint32_t frame_len);
uint32_t wc_tpacket__blocks_for(uint32_t slots, uint32_t frame_len, uint32_t block_size);
int wc_tpacket__create(struct wc_tpacket **t, int ifindex, const struct wc_tpacket_opts *opts);
void wc_tpacket__destroy(struct wc_tpacket *t);
int wc_tpacket__dispatch(struct wc_tpacket *t, int cnt, wc_pkt_cb cb, void *user, int timeout_ms);
int wc_tpacket__stats(struct wc_tpacket *t, struct wc_tpacket_stats *out);
uint64_t wc_tpacket__capacity(const struct wc_tpacket *t, uint32_t frame_len);

/* --- wc_xring.h --- */
struct wc_xring_opts { size_t sz; uint32_t ring_size; uint32_t batch; int mode; int need_wakeup; };
struct wc_xring_stats { uint64_t delivered; struct wc_xsk_stats xsk; };
struct wc_xring;
int wc_xring__create(struct wc_xring **r, int ifindex, uint32_t queue_id,
                     const struct wc_xring_opts *opts);
void wc_xring__destroy(struct wc_xring *r);
int wc_xring__fd(const struct wc_xring *r);
int wc_xring__zerocopy(const struct wc_xring *r);
int wc_xring__dispatch(struct wc_xring *r, int cnt, wc_pkt_cb cb, void *user, int timeout_ms);
int wc_xring__stats(const struct wc_xring *r, struct wc_xring_stats *out);

/* --- wc_pcap.h --- */
#define WC_ERRBUF_SIZE 256
struct wc_filter; struct wc_pcap;
int wc_filter__compile(struct wc_filter **f, const char *expr, int snaplen, char *errbuf);
void wc_filter__destroy(struct wc_filter *f);
uint32_t wc_filter__run(const struct wc_filter *f, const uint8_t *pkt, uint32_t wirelen,
                        uint32_t caplen);
uint32_t wc_filter__insns(const struct wc_filter *f);
int wc_pcap__open(struct wc_pcap **p, const char *ifname, int snaplen, int buffer_bytes,
                  int timeout_ms, char *errbuf);
void wc_pcap__close(struct wc_pcap *p);
int wc_pcap__setfilter(struct wc_pcap *p, const char *expr, char *errbuf);
int wc_pcap__dispatch(struct wc_pcap *p, int cnt, wc_pkt_cb cb, void *user, int timeout_ms);
int wc_pcap__stats(struct wc_pcap *p, uint64_t *recv, uint64_t *drop, uint64_t *ifdrop);
const char *wc_pcap__version(void);

/* --- wc_live.h --- */
#define WC_LIVE_TIMEOUT_US_DEFAULT 1000
#define WC_LIVE_MEMBERS_MAX 64
struct wc_live_opts {
    size_t sz; uint32_t ring_size; uint32_t segment_cells; uint32_t chunks; int advanced;
    uint32_t threshold_pct; uint16_t nic_id; uint32_t timeout_us; int mode; int need_wakeup;
    uint32_t rx_batch; uint32_t spin_us; uint32_t tx_frames; uint32_t tx_size; int timestamps;
    int rt_priority;
};
struct wc_live_qstats {
    uint64_t rx_packets; uint64_t chunks_captured; uint64_t chunks_copied; uint64_t packets_copied;
    uint64_t chunks_recycled; uint64_t recycle_errors; uint64_t recycle_exdev; uint64_t recycle_erange;
    uint64_t recycle_ealready; uint64_t recycle_ebusy; uint64_t recycle_einval;
    uint64_t offloaded_out; uint64_t offloaded_out_packets; uint64_t rx_misordered;
    uint64_t driver_errors; uint64_t delivered; uint64_t filtered; uint64_t consumed;
    uint64_t offloaded_in; uint64_t offloaded_in_packets; uint64_t forwarded; uint64_t injected;
    uint64_t tx_completed; uint64_t tx_dropped;
    uint32_t free_chunks; uint32_t capture_queue_len; uint32_t recycle_queue_len;
    uint32_t max_capture_queue_len; uint64_t max_rx_gap_ns; uint64_t capture_sleeps;
    uint32_t realtime; uint32_t pad;
    struct wc_xsk_stats xsk;
};
struct wc_consume_opts { size_t sz; uint64_t max_packets; uint64_t max_ns; const volatile int *stop;
                         int poll_ms; };
struct wc_consume_result { uint64_t packets; uint64_t first_ns; uint64_t last_ns; int stopped_by; };
struct wc_live;
int wc_live__create(struct wc_live **live, int ifindex, const uint32_t *queues, uint32_t nqueues,
                    const struct wc_live_opts *opts);
void wc_live__destroy(struct wc_live *live);
uint32_t wc_live__members(const struct wc_live *live);
int wc_live__xsk_fd(const struct wc_live *live, uint32_t member);
int wc_live__zerocopy(const struct wc_live *live);
uint8_t *wc_live__area(const struct wc_live *live);
int wc_live__start(struct wc_live *live, const int *cpus);
int wc_live__stop(struct wc_live *live);
int wc_live__dispatch(struct wc_live *live, uint32_t member, int cnt, wc_pkt_cb cb, void *user,
                      int timeout_ms);
int wc_live__next(struct wc_live *live, uint32_t member, struct wc_pkthdr *h,
                  const uint8_t **data, int timeout_ms);
void wc_live__breakloop(struct wc_live *live, uint32_t member);
int wc_live__setfilter(struct wc_live *live, uint32_t member, const struct wc_filter *f);
int wc_live__consume(struct wc_live *live, uint32_t member, wc_pkt_cb cb, void *user,
                     wc_idle_cb idle, const struct wc_consume_opts *opts,
                     struct wc_consume_result *result);
int wc_live__chunk_get(struct wc_live *live, uint32_t member, struct wc_chunk_meta *m,
                       int timeout_ms);
const uint8_t *wc_live__chunk_packet(const struct wc_live *live, const struct wc_chunk_meta *m,
                                     uint32_t i, uint32_t *len);
int wc_live__chunk_stamps(const struct wc_live *live, const struct wc_chunk_meta *m, uint64_t *ts,
                          uint32_t *len, uint32_t max);
int wc_live__chunk_put(struct wc_live *live, const struct wc_chunk_meta *m);
int wc_live__recycle_into(struct wc_live *live, uint32_t member, const struct wc_chunk_meta *m);
int wc_live__check(struct wc_live *live, uint32_t member);
int wc_live__tx_attach(struct wc_live *live, uint32_t member, int ifindex, uint32_t queue);
int wc_live__inject(struct wc_live *live, uint32_t member, const uint8_t *data, uint32_t len,
                    int timeout_ms);
int wc_live__tx_flush(struct wc_live *live, uint32_t member, int timeout_ms);
int wc_live__stats(const struct wc_live *live, uint32_t member, struct wc_live_qstats *out);

/* --- wc_drive.h --- */
int wc_drive__xring(struct wc_xring *r, wc_pkt_cb cb, void *user, wc_idle_cb idle,
                    const struct wc_consume_opts *opts, struct wc_consume_result *res);
int wc_drive__tpacket(struct wc_tpacket *t, wc_pkt_cb cb, void *user, wc_idle_cb idle,
                      const struct wc_consume_opts *opts, struct wc_consume_result *res);
int wc_drive__pcap(struct wc_pcap *p, wc_pkt_cb cb, void *user, wc_idle_cb idle,
                   const struct wc_consume_opts *opts, struct wc_consume_result *res);

/* --- wc_work.h --- */
#define WC_WORK_NULL 0
#define WC_WORK_BPF 1
#define WC_WORK_BURN 2
#define WC_WORK_PACE 3
#define WC_WORK_PAPER_COST_NS 25744
struct wc_flows;
struct wc_work_opts { size_t sz; int kind; uint32_t x; uint64_t cost_ns; uint32_t slack_ns;
                      const struct wc_filter *filter; struct wc_flows *flows;
                      struct wc_live *forward; int forward_timeout_ms; };
struct wc_work_stats { uint64_t packets; uint64_t matched; uint64_t forward_errors;
                       uint64_t first_ns; uint64_t last_ns; uint64_t slept_ns; };
struct wc_work;
int wc_work__create(struct wc_work **w, const struct wc_work_opts *opts);
void wc_work__destroy(struct wc_work *w);
void wc_work__cb(void *user, const struct wc_pkthdr *h, const uint8_t *data);
void wc_work__idle(void *user);
void wc_work__null_cb(void *user, const struct wc_pkthdr *h, const uint8_t *data);
void wc_work__stats(const struct wc_work *w, struct wc_work_stats *out);

/* --- wc_flows.h --- */
int wc_flows__create(struct wc_flows **f, uint32_t capacity);
void wc_flows__destroy(struct wc_flows *f);
void wc_flows__note(struct wc_flows *f, const uint8_t *frame, uint32_t caplen, uint16_t member,
                    uint16_t queue);
uint64_t wc_flows__split_queue(const struct wc_flows *f, uint16_t queue);
uint64_t wc_flows__count(const struct wc_flows *f);
uint64_t wc_flows__split(const struct wc_flows *f);
uint64_t wc_flows__overflow(const struct wc_flows *f);
"""

SOURCE = """
#include "wc_pool.h"
#include "wc_pkt.h"
#include "wc_sys.h"
#include "wc_bpf.h"
#include "wc_xsk.h"
#include "wc_gen.h"
#include "wc_tpacket.h"
#include "wc_xring.h"
#include "wc_pcap.h"
#include "wc_live.h"
#include "wc_work.h"
#include "wc_flows.h"
#include "wc_drive.h"
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "driver._xdp",
    SOURCE,
    sources=CORE_SOURCES + XDP_SOURCES + LIVE_SOURCES,  # relative: setuptools refuses absolute paths
    include_dirs=INCLUDE_DIRS,
    libraries=["pcap", "pthread"],
    extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
