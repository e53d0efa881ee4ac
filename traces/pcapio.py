"""Reading pcap / pcapng files into a :class:`~traces.trace.Trace`, and writing them back.

Reading memory-maps the file and lets C walk it twice (count, then fill the
columns), then parses every frame's headers and interns the flow keys (see
``traces/csrc``); no Python code runs per packet. Supported: pcap with
micro- or nanosecond timestamps in either byte order; pcapng with SHB, IDB
(if_tsresol, if_tsoffset), EPB, SPB and the obsolete PB, several sections
and interfaces; link types Ethernet (VLAN tags skipped), raw IP, IPv4, IPv6,
Linux cooked v1/v2, BSD/OpenBSD loopback.

Writing produces little-endian pcap (nanosecond timestamps by default) or
pcapng (one interface, nanosecond resolution). A trace with captured bytes
is written as captured; a synthetic one (no bytes) gets frames synthesized
from its flow keys (see ``traces/csrc/ps_write.h``), cut at ``snaplen``.
"""
from __future__ import annotations

import mmap
import os
import struct
import tempfile
import warnings
from pathlib import Path

import numpy as np

from traces._c import ffi, lib, ptr
from traces.errors import CaptureFormatError, TruncatedCaptureWarning
from traces.trace import KEY_DTYPE, LINKTYPE_ETHERNET, RawFrames, Trace

# pcap draft §4 (draft-ietf-opsawg-pcap): magic numbers as bytes at the start of the file
PCAP_USEC_LE = bytes.fromhex("d4c3b2a1")
PCAP_USEC_BE = bytes.fromhex("a1b2c3d4")
PCAP_NSEC_LE = bytes.fromhex("4d3cb2a1")
PCAP_NSEC_BE = bytes.fromhex("a1b23c4d")
# Alexey Kuznetzov's modified pcap (libpcap sf-pcap.c KUZNETZOV_TCPDUMP_MAGIC)
PCAP_KUZNETZOV = (bytes.fromhex("34cdb2a1"), bytes.fromhex("a1b2cd34"))
PCAPNG_SHB = bytes.fromhex("0a0d0d0a")
GZIP_MAGIC = bytes.fromhex("1f8b")
PCAP_VERSION = (2, 4)
PCAP_LINKTYPE_MASK = 0x0000FFFF   # pcap draft §4: upper bits carry FCS information
MAX_SNAPLEN = 262144              # libpcap MAXIMUM_SNAPLEN
PCAPNG_IF_TSRESOL_NS = 9          # pcapng draft §4.2: 10^-9 s
WRITE_CHUNK_PACKETS = 1 << 20     # records assembled per C call when writing
FILE_MODE = 0o644                 # written captures are readable by others (tcpreplay as another user)

_PROBLEMS = {
    lib.PS_E_TRUNC_HDR: "truncated record header: {d0} of {d1} bytes",
    lib.PS_E_TRUNC_DATA: "truncated record: header says {d0} bytes, only {d1} remain",
    lib.PS_E_CAPLEN: "record claims {d0} captured bytes, more than the maximum {d1}",
    lib.PS_E_BLOCK_LEN: "bad block length {d0} (must be >= 12 and a multiple of 4)",
    lib.PS_E_TRAILER: "block trailer length {d1} does not match its header length {d0}",
    lib.PS_E_NO_SHB: "first block (type {d0:#x}) is not a pcapng Section Header Block",
    lib.PS_E_BOM: "bad pcapng byte-order magic {d0:#010x}",
    lib.PS_E_VERSION: "unsupported pcapng major version {d0}",
    lib.PS_E_IFACE: "packet names interface {d0}, but the section defines {d1}",
    lib.PS_E_LINKTYPE: "unsupported link type {d0}",
    lib.PS_E_TSRESOL: "unsupported if_tsresol {d0:#x}",
    lib.PS_E_BODY: "block body too short: {d0} bytes where {d1} are needed",
    lib.PS_E_OPTION: "malformed option (code {d0}, length {d1})",
    lib.PS_E_NOMEM: "out of memory",
    lib.PS_E_PKT_LEN: "packet block claims {d0} captured bytes, its body holds {d1}",
}


def _problem(err) -> str:
    return _PROBLEMS.get(err.code, "error {code}").format(d0=err.d0, d1=err.d1, code=err.code)


def _file_header(path: Path, head: bytes) -> dict:
    """Identify the format from the first bytes; raise CaptureFormatError if unknown."""
    if len(head) < 4:
        raise CaptureFormatError(path, 0, f"file too short to be a capture ({len(head)} bytes)")
    magic = head[:4]
    if magic == PCAPNG_SHB:
        return {"format": "pcapng"}
    if magic in PCAP_KUZNETZOV:
        raise CaptureFormatError(path, 0, "Kuznetzov's modified pcap format is not supported")
    if magic[:2] == GZIP_MAGIC:
        raise CaptureFormatError(path, 0, "gzip-compressed file: decompress it first")
    kinds = {PCAP_USEC_LE: (False, False), PCAP_USEC_BE: (True, False),
             PCAP_NSEC_LE: (False, True), PCAP_NSEC_BE: (True, True)}
    if magic not in kinds:
        raise CaptureFormatError(path, 0, f"bad magic number 0x{magic.hex()}: not a pcap or pcapng file")
    big, nsec = kinds[magic]
    if len(head) < lib.PS_PCAP_FILE_HDR_LEN:
        raise CaptureFormatError(path, 0, f"truncated pcap file header: {len(head)} of "
                                          f"{lib.PS_PCAP_FILE_HDR_LEN} bytes")
    order = ">" if big else "<"
    major, minor, _zone, _sigfigs, snaplen, network = struct.unpack(order + "HHiIII", head[4:24])
    if major != PCAP_VERSION[0]:
        raise CaptureFormatError(path, 4, f"unsupported pcap version {major}.{minor}")
    linktype = network & PCAP_LINKTYPE_MASK
    if not lib.ps_linktype__supported(linktype):
        raise CaptureFormatError(path, 20, f"unsupported link type {linktype}")
    return {"format": "pcap", "big_endian": big, "nsec": nsec, "snaplen": snaplen, "linktype": linktype}


def read_capture(path: str | os.PathLike, raw: bool = False, strict: bool = False,
                 name: str | None = None) -> Trace:
    """Read a pcap or pcapng file into a Trace.

    raw: keep the captured bytes (``trace.raw``; a view of the memory-mapped
    file). strict: a truncated last record raises instead of warning.
    """
    path = Path(path)
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise FileNotFoundError(f"{path}: {exc.strerror}") from exc
    with f:
        size = os.fstat(f.fileno()).st_size
        info = _file_header(path, f.read(lib.PS_PCAP_FILE_HDR_LEN))
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    buf = np.frombuffer(mm, dtype=np.uint8)
    try:
        trace = _scan(path, buf, size, info, raw, strict, name or path.name)
    finally:
        if not raw:
            del buf
            try:
                mm.close()
            except BufferError:
                # a traceback still references the mapping; it closes when collected
                pass
    return trace


def _scan(path: Path, buf: np.ndarray, size: int, info: dict, raw: bool, strict: bool, name: str) -> Trace:
    cbuf = ptr(buf, "uint8_t *")
    err = ffi.new("struct ps_err *")
    n_out = ffi.new("int64_t *")

    def walk(cap, ts, wire, capl, off, lt):
        if info["format"] == "pcap":
            return lib.ps_pcap__scan(cbuf, size, info["big_endian"], info["nsec"], cap, ptr(ts, "int64_t *"),
                                     ptr(wire, "uint32_t *"), ptr(capl, "uint32_t *"), ptr(off, "int64_t *"),
                                     n_out, err)
        return lib.ps_pcapng__scan(cbuf, size, cap, ptr(ts, "int64_t *"), ptr(wire, "uint32_t *"),
                                   ptr(capl, "uint32_t *"), ptr(off, "int64_t *"), ptr(lt, "uint16_t *"),
                                   n_out, err)

    rc = walk(0, None, None, None, None, None)
    n = int(n_out[0])
    truncated = None
    if rc != 0:
        problem = _problem(err)
        if not lib.ps_err__is_truncation(rc) or strict:
            raise CaptureFormatError(path, err.offset, problem)
        truncated = {"offset": int(err.offset), "problem": problem, "packets_kept": n}
        warnings.warn(TruncatedCaptureWarning(f"{path}: offset {err.offset}: {problem}; "
                                              f"kept the {n} packets before it"), stacklevel=3)
    ts = np.empty(n, np.int64)
    wire = np.empty(n, np.uint32)
    capl = np.empty(n, np.uint32)
    off = np.empty(n, np.int64)
    lt = np.empty(n, np.uint16) if info["format"] == "pcapng" else None
    walk(n, ts, wire, capl, off, lt)
    if int(n_out[0]) != n:  # pragma: no cover - the file changed between the passes
        raise CaptureFormatError(path, err.offset, "file changed while being read")

    key_idx = np.empty(n, np.int32)
    l3_off = np.empty(n, np.uint16) if raw else None
    tab_p = ffi.new("struct ps_keytab **")
    if lib.ps_keytab__create(tab_p) != 0:
        raise MemoryError("ps_keytab__create")
    tab = tab_p[0]
    try:
        linktype_all = info.get("linktype", 0)
        rc = lib.ps_parse__packets(cbuf, ptr(off, "int64_t *"), ptr(capl, "uint32_t *"), ptr(lt, "uint16_t *"),
                                   linktype_all, n, tab, ptr(key_idx, "int32_t *"), ptr(l3_off, "uint16_t *"))
        if rc != 0:
            raise MemoryError(f"{path}: parsing frames: out of memory")
        keys = np.empty(lib.ps_keytab__count(tab), dtype=KEY_DTYPE)
        lib.ps_keytab__copy(tab, ptr(keys, "struct ps_key *"))
    finally:
        lib.ps_keytab__destroy(tab)

    if lt is not None:
        kinds = np.unique(lt)
        linktype = int(kinds[0]) if len(kinds) == 1 else -1
    else:
        linktype = int(info["linktype"])
    t0 = int(ts[0]) if n else 0
    meta = {"source": str(path), "format": info["format"], "file_bytes": size}
    if info["format"] == "pcap":
        meta.update(nsec=bool(info["nsec"]), big_endian=bool(info["big_endian"]), snaplen=int(info["snaplen"]))
    if truncated:
        meta["truncated"] = truncated
    frames = None
    if raw:
        frames = RawFrames(buf, off, l3_off, lt if lt is not None else np.full(n, linktype, np.uint16))
    return Trace(ts_ns=ts - t0, wire_len=wire, cap_len=capl, key_idx=key_idx, keys=keys, t0_ns=t0,
                 linktype=linktype, name=name, raw=frames, meta=meta)


# ---- writing ---------------------------------------------------------------

def _frames_for(trace: Trace, lo: int, hi: int, cap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(data, offsets) of packets lo..hi, cut at cap: captured bytes or synthesized frames."""
    if trace.raw is not None:
        return trace.raw.data, trace.raw.offsets[lo:hi]
    total = int(cap.sum(dtype=np.int64))
    data = np.empty(total, np.uint8)
    offsets = np.zeros(hi - lo, np.int64)
    np.cumsum(cap[:-1], out=offsets[1:])
    got = lib.ps_synth__frames(ptr(data, "uint8_t *"), total, hi - lo, ptr(trace.wire_len[lo:hi], "uint32_t *"),
                               ptr(cap, "uint32_t *"), ptr(trace.keys, "struct ps_key *"),
                               ptr(trace.key_idx[lo:hi], "int32_t *"), lo)
    if got != total:  # pragma: no cover - sizes are computed above
        raise RuntimeError(f"ps_synth__frames wrote {got} of {total} bytes")
    return data, offsets


def synth_header_len(keys: np.ndarray) -> np.ndarray:
    """Header bytes of a synthesized frame per key (mirrors ps_synth__header_len)."""
    l3, proto = keys["l3"], keys["proto"]
    ip = (l3 == 4) * 20 + (l3 == 6) * 40
    l4 = np.where(l3 != 0, (proto == 6) * 20 + (proto == 17) * 8, 0)
    return (14 + ip + l4).astype(np.uint32)


def _check_writable(trace: Trace, snaplen: int) -> int:
    if not 0 < snaplen <= MAX_SNAPLEN:
        raise ValueError(f"snaplen must be 1..{MAX_SNAPLEN}, got {snaplen}")
    if trace.raw is not None:
        kinds = np.unique(trace.raw.linktypes)
        if len(kinds) > 1:
            raise ValueError(f"{trace.name}: packets of link types {kinds.tolist()} cannot share one file")
        if len(kinds):
            return int(kinds[0])
        return trace.linktype if trace.linktype >= 0 else LINKTYPE_ETHERNET
    # synthesized frames: every packet must be long enough for its headers
    need = synth_header_len(trace.keys)
    short = np.flatnonzero(trace.wire_len < need[trace.key_idx])
    if len(short):
        i = int(short[0])
        raise ValueError(f"{trace.name}: packet {i} has wire_len {int(trace.wire_len[i])}, shorter than the "
                         f"{int(need[trace.key_idx[i]])} header bytes its flow needs ({len(short)} such packets)")
    return LINKTYPE_ETHERNET


def _atomic(path: Path, write) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _absolute_ts(trace: Trace, t0_ns: int | None) -> tuple[int, np.ndarray]:
    t0 = trace.t0_ns if t0_ns is None else int(t0_ns)
    if len(trace) and t0 + int(trace.ts_ns.min()) < 0:
        raise ValueError("timestamps before 1970 cannot be written")
    return t0, trace.ts_ns


def write_pcap(trace: Trace, path: str | os.PathLike, snaplen: int = MAX_SNAPLEN, nsec: bool = True,
               t0_ns: int | None = None) -> Path:
    """Write a little-endian pcap file (nanosecond timestamps unless nsec=False).

    Records are cut at snaplen. t0_ns: absolute time of the trace's t = 0
    (default: the trace's own ``t0_ns``). Written atomically.
    """
    path = Path(path)
    linktype = _check_writable(trace, snaplen)
    t0, ts = _absolute_ts(trace, t0_ns)
    magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
    header = struct.pack("<IHHiIII", magic, *PCAP_VERSION, 0, 0, snaplen, linktype)

    def records(out, size, n, args):
        return lib.ps_write__pcap(out, size, n, int(nsec), *args)

    def write(f):
        f.write(header)
        _write_records(f, trace, snaplen, t0, ts, "ps_write__pcap", records,
                       lambda cap: int(cap.sum(dtype=np.int64)) + lib.PS_PCAP_REC_HDR_LEN * len(cap))

    return _atomic(path, write)


def write_pcapng(trace: Trace, path: str | os.PathLike, snaplen: int = MAX_SNAPLEN,
                 t0_ns: int | None = None) -> Path:
    """Write a little-endian pcapng file: one section, one interface (ns resolution), EPBs."""
    path = Path(path)
    linktype = _check_writable(trace, snaplen)
    t0, ts = _absolute_ts(trace, t0_ns)
    shb_body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
    shb = struct.pack("<II", 0x0A0D0D0A, 12 + len(shb_body)) + shb_body + struct.pack("<I", 12 + len(shb_body))
    opts = struct.pack("<HHB3x", 9, 1, PCAPNG_IF_TSRESOL_NS) + struct.pack("<HH", 0, 0)
    idb_body = struct.pack("<HHI", linktype, 0, snaplen) + opts
    idb = struct.pack("<II", 1, 12 + len(idb_body)) + idb_body + struct.pack("<I", 12 + len(idb_body))

    def records(out, size, n, args):
        return lib.ps_write__pcapng(out, size, n, *args)

    def write(f):
        f.write(shb + idb)
        # an EPB pads its packet data to 32 bits
        _write_records(f, trace, snaplen, t0, ts, "ps_write__pcapng", records,
                       lambda cap: int(((cap.astype(np.int64) + 3) & ~3).sum())
                       + lib.PS_PCAPNG_EPB_OVERHEAD * len(cap))

    return _atomic(path, write)


def _write_records(f, trace: Trace, snaplen: int, t0: int, ts: np.ndarray, what: str, records, size_of) -> None:
    """The records of every packet, WRITE_CHUNK_PACKETS at a time, formatted
    in C: records(out, size, n, (ts, wire_len, cap_len, data, offsets))
    fills ``out`` (size_of(cap_len) bytes) and returns the bytes written."""
    for lo in range(0, len(trace), WRITE_CHUNK_PACKETS):
        hi = min(lo + WRITE_CHUNK_PACKETS, len(trace))
        cap = np.minimum(trace.cap_len[lo:hi], np.uint32(snaplen))
        data, offsets = _frames_for(trace, lo, hi, cap)
        abs_ts = ts[lo:hi] + t0
        size = size_of(cap)
        out = np.empty(size, np.uint8)
        got = records(ptr(out, "uint8_t *"), size, hi - lo,
                      (ptr(abs_ts, "int64_t *"), ptr(trace.wire_len[lo:hi], "uint32_t *"), ptr(cap, "uint32_t *"),
                       ptr(data, "uint8_t *"), ptr(offsets, "int64_t *")))
        if got != size:  # pragma: no cover
            raise RuntimeError(f"{what} wrote {got} of {size} bytes")
        f.write(out.data)
