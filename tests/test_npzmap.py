"""Memory-mapped .npz (traces/npzmap.py) and the cache entries written with it."""
import warnings
import zipfile
import numpy as np
import pytest

from traces import cache, load, npzmap
from test_traces_fermilab import SMALL

ARRAYS = {"a": np.arange(1001, dtype=np.int64), "b": np.arange(7, dtype=np.uint8),
          "c": np.arange(12, dtype=np.uint32).reshape(3, 4), "s": np.array('{"x": 1}')}


def _save(path, arrays=ARRAYS):
    with open(path, "wb") as f:
        npzmap.save(f, arrays)
    return path


def test_round_trip_aligned_read_only_and_a_plain_npz(tmp_path):
    path = _save(tmp_path / "x.npz")
    got = npzmap.load(path)
    assert got.keys() == ARRAYS.keys()
    for name, arr in ARRAYS.items():
        assert got[name].dtype == arr.dtype and np.array_equal(got[name], arr)
        assert got[name].ctypes.data % npzmap.ALIGN == 0 and not got[name].flags.writeable
    with np.load(path) as z:  # still an ordinary .npz, CRCs and all
        assert all(np.array_equal(z[name], arr) for name, arr in ARRAYS.items())


def test_np_savez_files_load_too(tmp_path):
    """Columnar traces saved before (np.savez: unaligned members) stay readable."""
    np.savez(tmp_path / "old.npz", **ARRAYS)
    got = npzmap.load(tmp_path / "old.npz")
    assert all(np.array_equal(got[name], arr) for name, arr in ARRAYS.items())


def test_compressed_truncated_and_garbage_files_are_errors(tmp_path):
    np.savez_compressed(tmp_path / "z.npz", **ARRAYS)
    with pytest.raises(ValueError, match="compressed"):
        npzmap.load(tmp_path / "z.npz")
    data = _save(tmp_path / "x.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 2])
    with pytest.raises(zipfile.BadZipFile):
        npzmap.load(tmp_path / "cut.npz")
    # the directory intact but a member's .npy header overwritten
    start = data.index(b"\x93NUMPY")
    (tmp_path / "bad.npz").write_bytes(data[:start] + b"garbage!" + data[start + 8:])
    with pytest.raises(ValueError):
        npzmap.load(tmp_path / "bad.npz")


def test_truncated_cache_entry_is_regenerated_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    a = load.fermilab_like(5, SMALL)
    (entry,) = tmp_path.glob("fermilab-like-*.npz")
    hit = load.fermilab_like(5, SMALL)
    assert not hit.ts_ns.flags.writeable  # a hit maps the file
    assert hit.digest() == a.digest()
    data = entry.read_bytes()
    entry.write_bytes(data[:-100])
    with pytest.warns(UserWarning, match="unreadable"):
        b = load.fermilab_like(5, SMALL)
    assert b.digest() == a.digest()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rewritten whole: the next hit is clean
        assert load.fermilab_like(5, SMALL).digest() == a.digest()
