"""cffi (API mode) build of the traces package's C hot paths: ``traces._pcapscan``.

One extension, no system library needed:

- ``traces/csrc/ps_capture.c``  walk pcap / pcapng records (both byte orders,
  micro/nanoseconds, several pcapng interfaces);
- ``traces/csrc/ps_parse.c``    flow key of each frame (Ethernet/VLAN, SLL,
  raw IP, loopback -> IPv4/IPv6 -> TCP/UDP ports), interned in a hash table;
- ``traces/csrc/ps_write.c``    pcap records from captured bytes or
  synthesized headers; address rewriting inside frames;
- ``traces/csrc/ps_fifo.c``     finite FIFO + deterministic server (the
  queue check used to fit the Fermilab-like trace).

Listed in setup.py ``cffi_modules``; rebuilt by
``pip install --no-deps --no-build-isolation -e .``.
"""
from cffi import FFI

SOURCES = [
    "traces/csrc/ps_capture.c",
    "traces/csrc/ps_parse.c",
    "traces/csrc/ps_write.c",
    "traces/csrc/ps_fifo.c",
]

CDEF = """
#define PS_PCAP_FILE_HDR_LEN 24
#define PS_PCAP_REC_HDR_LEN 16
#define PS_MAX_CAPLEN 262144
#define PS_NO_L3 0xffff
#define PS_SYNTH_HDR_MAX 74

enum ps_error_code {
    PS_OK = 0, PS_E_TRUNC_HDR = -1, PS_E_TRUNC_DATA = -2, PS_E_CAPLEN = -3,
    PS_E_BLOCK_LEN = -4, PS_E_TRAILER = -5, PS_E_NO_SHB = -6, PS_E_BOM = -7,
    PS_E_VERSION = -8, PS_E_IFACE = -9, PS_E_LINKTYPE = -10, PS_E_TSRESOL = -11,
    PS_E_BODY = -12, PS_E_OPTION = -13, PS_E_NOMEM = -14, PS_E_PKT_LEN = -15
};
struct ps_err { int64_t offset; int32_t code; int64_t d0; int64_t d1; };
int ps_err__is_truncation(int code);
int ps_linktype__supported(uint32_t linktype);

int ps_pcap__scan(const uint8_t *buf, int64_t len, int big_endian, int nsec, int64_t cap,
                  int64_t *ts_ns, uint32_t *wire_len, uint32_t *cap_len, int64_t *data_off,
                  int64_t *n_out, struct ps_err *err);
int ps_pcapng__scan(const uint8_t *buf, int64_t len, int64_t cap, int64_t *ts_ns,
                    uint32_t *wire_len, uint32_t *cap_len, int64_t *data_off, uint16_t *linktype,
                    int64_t *n_out, struct ps_err *err);

struct ps_key {
    uint8_t l3; uint8_t proto; uint8_t frag; uint8_t pad0;
    uint16_t sport; uint16_t dport; uint16_t ethertype; uint16_t pad1;
    uint8_t src[16]; uint8_t dst[16];
};
struct ps_keytab;
int ps_keytab__create(struct ps_keytab **tab);
void ps_keytab__destroy(struct ps_keytab *tab);
int64_t ps_keytab__intern(struct ps_keytab *tab, const struct ps_key *key);
int64_t ps_keytab__count(const struct ps_keytab *tab);
void ps_keytab__copy(const struct ps_keytab *tab, struct ps_key *out);
uint32_t ps_parse__l4_offset(const uint8_t *ip, uint32_t len);
uint32_t ps_parse__frame(const uint8_t *frame, uint32_t caplen, uint32_t linktype, struct ps_key *key);
int ps_parse__packets(const uint8_t *buf, const int64_t *data_off, const uint32_t *cap_len,
                      const uint16_t *linktype, uint32_t linktype_all, int64_t n,
                      struct ps_keytab *tab, int32_t *key_idx, uint16_t *l3_off);

uint32_t ps_synth__header_len(const struct ps_key *key);
#define PS_PCAPNG_EPB_OVERHEAD 32
int64_t ps_synth__frames(uint8_t *out, int64_t out_cap, int64_t n, const uint32_t *wire_len,
                         const uint32_t *cap_len, const struct ps_key *keys, const int32_t *key_idx,
                         int64_t first_index);
int64_t ps_write__pcap(uint8_t *out, int64_t out_cap, int64_t n, int nsec, const int64_t *ts_ns,
                       const uint32_t *wire_len, const uint32_t *cap_len, const uint8_t *data,
                       const int64_t *data_off);
int64_t ps_write__pcapng(uint8_t *out, int64_t out_cap, int64_t n, const int64_t *ts_ns,
                         const uint32_t *wire_len, const uint32_t *cap_len, const uint8_t *data,
                         const int64_t *data_off);
int64_t ps_rewrite__addresses(uint8_t *data, const int64_t *data_off, const uint32_t *cap_len,
                              const uint16_t *l3_off, const int32_t *key_idx, int64_t n,
                              const struct ps_key *old, const struct ps_key *new_);

int64_t ps_fifo__drops(const int64_t *arrivals, int64_t n, uint32_t capacity, double service_ns,
                       uint8_t *dropped);
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "traces._pcapscan",
    '#include "ps_capture.h"\n#include "ps_parse.h"\n#include "ps_write.h"\n#include "ps_fifo.h"\n',
    sources=SOURCES,  # relative: setuptools refuses absolute paths
    include_dirs=["traces/csrc"],
    extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
