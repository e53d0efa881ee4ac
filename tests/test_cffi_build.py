"""The cffi declarations are generated from the marked parts of the headers
(engine/build_support.py), the core is one set of cffi types shared by every
extension, and counters are read by the C field names."""
import errno
import re

import pytest
from cffi import FFI

from engine import build_support as bs
from engine.core import ChunkMeta, Pool, counters, field_names

import driver._sim as sim_ext
import engine._core as core_ext

try:  # the real backend's extensions need libpcap at run time
    import driver._xdp as xdp_ext
    import engine._live as live_ext
except ImportError as exc:  # pragma: no cover - depends on the host
    xdp_ext = live_ext = None
    LIVE_MISSING = str(exc)
else:
    LIVE_MISSING = None
needs_live = pytest.mark.skipif(live_ext is None, reason=f"engine._live not importable: {LIVE_MISSING}")



def declared(dirs, after=()) -> dict[str, list[str]]:
    """Functions and macros the marked headers of dirs declare, as cffi's own
    parser reads them (after: the folders whose headers they build on)."""
    def parse(folders):
        ffi = FFI()
        ffi.cdef(bs.cdef_of(bs.public_headers(folders)))
        return set(ffi._parser._declarations)

    names = parse(list(after) + list(dirs)) - (parse(after) if after else set())
    return {kind: sorted(k.split()[1] for k in names if k.startswith(kind + " ")) for kind in ("function", "macro")}


def test_marked_parts_become_declarations():
    header = """
#include <stdint.h>
#define OUTSIDE 1
/* cffi:begin */
/* a comment */
#define WC_A 0x10u   /* trailing */
struct s { uint32_t a; /* inline */ uint64_t b; }; // line comment
int f(int x);
/* cffi:end */
#define STRING "not for cffi"
"""
    (part,) = bs.marked_parts(header)
    cdef = bs.to_cdef(part)
    assert cdef.splitlines() == ["#define WC_A ...", "struct s { uint32_t a;   uint64_t b; };", "int f(int x);"]
    assert "OUTSIDE" not in cdef and "STRING" not in cdef


@pytest.mark.parametrize("text, error", [
    ("/* cffi:begin */\n#include <x.h>\n/* cffi:end */", "only '#define NAME value'"),
    ("/* cffi:begin */\n#ifdef X\n/* cffi:end */", "only '#define NAME value'"),
    ("/* cffi:begin */\nint f(void);\n", "never closed"),
    ("int f(void);\n/* cffi:end */", "without"),
    ("/* cffi:begin */\n/* cffi:begin */\n/* cffi:end */", "inside a marked part"),
])
def test_what_cffi_cannot_take_is_refused_at_build_time(text, error):
    with pytest.raises(bs.CdefError, match=re.escape(error)):
        for part in bs.marked_parts(text, "h.h"):
            bs.to_cdef(part, "h.h")


def test_headers_come_after_the_headers_they_include():
    core = [h.rsplit("/", 1)[1] for h in bs.public_headers(bs.CORE_DIRS)]
    assert core.index("wc_pool.h") < core.index("wc_workq.h") < core.index("wc_buddy.h")
    xdp = [h.rsplit("/", 1)[1] for h in bs.public_headers(bs.XDP_DIRS)]
    assert xdp.index("wc_pkt.h") < xdp.index("wc_tpacket.h") and xdp.index("wc_xsk.h") < xdp.index("wc_xring.h")


def test_only_the_public_part_of_the_simulator_is_marked():
    # sim.h is the Python-facing contract; the internals live in private
    # headers (sim_core.h, sim_engine.h, ...) that mark nothing
    assert [h.rsplit("/", 1)[1] for h in bs.public_headers(bs.SIM_DIRS)] == ["sim.h"]
    cdef = bs.cdef_of(["driver/csrc/sim/sim.h"])
    assert "sim_run" in cdef and "struct sim_event" not in cdef


def test_no_declaration_is_written_in_a_build_script():
    for script in ["engine/build_core.py", "driver/build_sim.py", "driver/build_xdp.py", "engine/build_live.py"]:
        text = (bs.ROOT / script).read_text()
        assert not re.search(r"^\s*(struct \w+ \{|#define |int wc_|uint\d+_t wc_)", text, re.M), script


def test_sources_are_folder_globs():
    lib = dict(bs.static_libraries())
    assert lib["wccore"]["sources"] == sorted(lib["wccore"]["sources"])
    assert {"driver/csrc/wc_pool.c", "engine/csrc/wc_workq.c", "engine/csrc/wc_buddy.c"} <= set(lib["wccore"]["sources"])
    assert set(lib["wcxdp"]["sources"]) == {p.relative_to(bs.ROOT).as_posix()
                                            for p in (bs.ROOT / "driver/csrc/xdp").glob("*.c")}


def _check_every_marked_name_is_in(ext, dirs, after=()):
    names = declared(dirs, after)
    assert names["function"] and names["macro"]
    missing = [n for n in names["function"] + names["macro"] if not hasattr(ext.lib, n)]
    assert missing == []
    assert all(isinstance(getattr(ext.lib, n), int) for n in names["macro"])


def test_every_marked_name_is_in_the_core_and_the_simulator():
    _check_every_marked_name_is_in(core_ext, bs.CORE_DIRS)
    _check_every_marked_name_is_in(sim_ext, bs.SIM_DIRS, after=bs.CORE_DIRS)
    assert "wc_pool__geometry_error" in declared(bs.CORE_DIRS)["function"]


@needs_live
def test_every_marked_name_is_in_the_real_backend():
    _check_every_marked_name_is_in(xdp_ext, bs.XDP_DIRS)
    _check_every_marked_name_is_in(live_ext, bs.LIVE_DIRS, after=bs.CORE_DIRS + bs.XDP_DIRS)
    # engine._live includes the others: its lib is the one access path (native())
    _check_every_marked_name_is_in(live_ext, bs.CORE_DIRS + bs.XDP_DIRS)
    from driver.xdp._native import native

    assert native() == (live_ext.ffi, live_ext.lib)


def test_the_simulator_shares_the_core_types():
    for name in ("struct wc_chunk_meta", "struct wc_pool_stats", "struct wc_pool_opts"):
        assert sim_ext.ffi.typeof(name) is core_ext.ffi.typeof(name)
    # a chunk made through one extension's ffi goes through the other's lib
    m = sim_ext.ffi.new("struct wc_chunk_meta *", {"chunk_id": 7, "pkt_count": 3, "seq": 9})
    q = core_ext.ffi.new("struct wc_workq **")
    assert sim_ext.lib.wc_workq__create(q, 4) == 0
    try:
        assert core_ext.lib.wc_workq__push(q[0], m) == 0
        out = core_ext.ffi.new("struct wc_chunk_meta *")
        assert sim_ext.lib.wc_workq__pop(q[0], out) == 0
        assert ChunkMeta.from_c(out) == ChunkMeta.from_c(m)
    finally:
        core_ext.lib.wc_workq__destroy(q[0])


@needs_live
def test_the_live_engine_shares_the_core_types():
    assert live_ext.ffi.typeof("struct wc_chunk_meta") is core_ext.ffi.typeof("struct wc_chunk_meta")
    assert live_ext.ffi.typeof("struct wc_xsk_stats") is xdp_ext.ffi.typeof("struct wc_xsk_stats")
    # ChunkMeta.to_c() (engine._core's ffi) is what the live engine's C takes
    meta = ChunkMeta(0, 0, 1, 0, 1, 0, 0)
    assert live_ext.lib.wc_live__chunk_put(live_ext.ffi.NULL, live_ext.ffi.NULL) == -errno.EINVAL
    assert live_ext.ffi.typeof(meta.to_c()) is live_ext.ffi.typeof("struct wc_chunk_meta *")


def test_chunk_meta_fields_are_the_c_struct_fields():
    assert field_names("struct wc_chunk_meta") == tuple(ChunkMeta.__dataclass_fields__)
    meta = ChunkMeta(1, 2, 3, 4, 5, 6, 7, 1, 8, 9)
    assert ChunkMeta.from_c(meta.to_c()) == meta


def test_counters_are_read_by_their_c_names():
    p = Pool(ring_size=8, segment_cells=4, chunks=4)
    p.open()
    p.rx(4)
    stats = p.stats()
    assert tuple(stats) == field_names("struct wc_pool_stats")
    assert stats["rx_packets"] == 4


@needs_live
def test_nested_counters_are_flattened():
    st = live_ext.ffi.new("struct wc_live_qstats *")
    st.xsk.rx_ring_full = 5
    st.delivered = 2
    out = counters(st)
    assert out["xsk_rx_ring_full"] == 5 and out["delivered"] == 2 and "pad" not in out and "xsk" not in out
    assert len(out) == len(field_names(st)) - 2 + len(field_names(live_ext.ffi.typeof("struct wc_xsk_stats")))
