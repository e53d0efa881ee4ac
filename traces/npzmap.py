"""Memory-mapped .npz: each column is a view of the file, read only when touched.

np.load reads every member of a .npz through zipfile (a copy plus a CRC over
every byte) and can memory-map only a bare .npy. But a .npz that np.savez
writes stores its members uncompressed, so each .npy lies in the file as
is: find where its data starts and map it. ``save`` also pads each member's
local header (an extra field, as Android's zipalign does) so that the data
starts on a 64-byte boundary: aligned columns are what numpy's fast loops
expect. The file stays an ordinary .npz that np.load reads.

What is not checked on load: the members' CRC (that would read every byte,
which is what mapping avoids). Structure is checked: the zip directory, each
member's local header, its .npy header, and that the data fills the member.
"""
from __future__ import annotations

import io
import mmap
import os
import struct
import zipfile

import numpy as np

ALIGN = 64  # numpy pads .npy headers to this, so aligned members give aligned data
_PAD_EXTRA_ID = 0xD935  # extra-field id zipalign uses for padding; readers skip unknown ids
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... file name length, extra field length
_ZIP64_EXTRA_LEN = 20  # zipfile appends it to the local header under force_zip64


def save(f: io.BufferedIOBase, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays as an uncompressed .npz whose members' data start 64-byte aligned."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in arrays.items():
            zi = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_STORED
            # force_zip64 fixes the local header's length whatever the member's size
            head = f.tell() + _LOCAL_HEADER.size + len(zi.filename.encode()) + 4 + _ZIP64_EXTRA_LEN
            pad = -head % ALIGN
            zi.extra = struct.pack("<HH", _PAD_EXTRA_ID, pad) + bytes(pad)
            with zf.open(zi, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(arr), allow_pickle=False)


def _member(path, buf: mmap.mmap, f, zi: zipfile.ZipInfo) -> np.ndarray:
    if zi.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{path}: member {zi.filename} is compressed and cannot be memory-mapped")
    head = buf[zi.header_offset:zi.header_offset + _LOCAL_HEADER.size]
    if len(head) != _LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"{path}: bad local header for member {zi.filename}")
    _, name_len, extra_len = _LOCAL_HEADER.unpack(head)
    start = zi.header_offset + _LOCAL_HEADER.size + name_len + extra_len
    end = start + zi.file_size
    if end > len(buf):
        raise ValueError(f"{path}: member {zi.filename} runs past the end of the file (truncated?)")
    f.seek(start)
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise ValueError(f"{path}: member {zi.filename}: .npy version {version} not supported")
    if dtype.hasobject:
        raise ValueError(f"{path}: member {zi.filename} holds Python objects")
    count = int(np.prod(shape, dtype=np.int64))
    if f.tell() + count * dtype.itemsize != end:
        raise ValueError(f"{path}: member {zi.filename}: data does not fill the member")
    arr = np.frombuffer(buf, dtype=dtype, count=count, offset=f.tell())
    return arr.reshape(shape, order="F" if fortran else "C")


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every member of a .npz as a read-only array backed by a map of the file."""
    with open(path, "rb") as f, zipfile.ZipFile(f) as zf:
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        return {zi.filename.removesuffix(".npy"): _member(path, buf, f, zi) for zi in zf.infolist()}
