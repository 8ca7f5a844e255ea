"""The fast HDF5 read path (raw chunks, libdeflate, numpy unshuffle) gives exactly h5py's values."""

from __future__ import annotations

import zlib

import h5py
import hdf5plugin
import numpy as np
import pytest

import lazyims
from lazyims.formats import _h5chunks
from lazyims.formats._h5chunks import decodable_filters, read_fast, unshuffle
from tests.conftest import synthetic_frames


def make(path, data, **create):
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=data, **create)
    return path


def frames(dtype, nframes=5, rows=23, cols=31):
    data = synthetic_frames(nframes, rows, cols, dtype=np.float64, seed=3)
    if np.dtype(dtype).kind == "f":
        data = data * np.float64(0.37) - 50.0  # negative and fractional values
    return data.astype(dtype)


SELECTIONS = [
    (slice(0, 5), slice(0, 23), slice(0, 31)),  # everything
    (slice(1, 4), slice(3, 17), slice(5, 30)),  # a region crossing chunk edges
    (slice(4, 5), slice(20, 23), slice(0, 1)),  # inside the partial edge chunks
    (slice(2, 2), slice(0, 23), slice(0, 31)),  # no frames
]


@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.dtype(">i4"), np.uint8])
@pytest.mark.parametrize(
    "filters",
    [
        dict(compression="gzip", compression_opts=1, shuffle=True),
        dict(compression="gzip", compression_opts=6),
        dict(shuffle=True),
    ],
    ids=["gzip+shuffle", "gzip", "shuffle"],
)
@pytest.mark.parametrize("chunks", [(1, 23, 31), (2, 7, 31), (3, 10, 12)])
def test_fast_path_matches_h5py(tmp_path, dtype, filters, chunks):
    data = frames(dtype)
    path = make(tmp_path / "s.h5", data, chunks=chunks, **filters)
    with h5py.File(path, "r") as f:
        dset = f["images"]
        assert decodable_filters(dset) is not None
        for sel in SELECTIONS:
            got = read_fast(dset, sel)
            want = dset[sel]
            assert got is not None
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(got, data[sel])


def test_series_reads_through_fast_path_in_threads(tmp_path, monkeypatch):
    data = frames(np.uint16, nframes=7)
    path = make(tmp_path / "s.h5", data, chunks=(1, 8, 31), compression="gzip", shuffle=True)
    calls = []
    original = _h5chunks._read_chunk

    def counting(*args):
        calls.append(args[1])
        return original(*args)

    monkeypatch.setattr(_h5chunks, "_read_chunk", counting)
    ims = lazyims.open(path, frames_per_chunk=2)
    np.testing.assert_array_equal(ims.compute(), data)
    np.testing.assert_array_equal(
        ims.data[:, 5:20, 3:9].compute(scheduler="threads"), data[:, 5:20, 3:9]
    )
    assert len(calls) >= 7 * 3  # every chunk of every frame went through the fast path


def test_region_read_reads_only_needed_chunks(tmp_path, monkeypatch):
    data = frames(np.uint16, nframes=3, rows=40, cols=10)
    path = make(tmp_path / "s.h5", data, chunks=(1, 10, 10), compression="gzip", shuffle=True)
    seen = []
    original = _h5chunks._read_chunk
    monkeypatch.setattr(
        _h5chunks, "_read_chunk", lambda d, origin, f: seen.append(origin) or original(d, origin, f)
    )
    with h5py.File(path, "r") as f:
        got = read_fast(f["images"], (slice(1, 2), slice(12, 18), slice(0, 10)))
    np.testing.assert_array_equal(got, data[1:2, 12:18])
    assert seen == [(1, 10, 0)]


def test_two_d_dataset(tmp_path):
    data = frames(np.uint16, nframes=1)[0]
    path = make(tmp_path / "one.h5", data, chunks=(8, 31), compression="gzip", shuffle=True)
    ims = lazyims.open(path)
    np.testing.assert_array_equal(ims.compute(), data[np.newaxis])


def test_filter_mask_skips_filters_not_applied(tmp_path):
    # HDF5 stores a chunk without an optional filter when it fails (deflate that would grow
    # the data); the chunk's filter mask says so. Write such chunks directly.
    data = frames(np.uint16, nframes=2)
    path = tmp_path / "mask.h5"
    with h5py.File(path, "w") as f:
        dset = f.create_dataset(
            "images",
            shape=data.shape,
            dtype=data.dtype,
            chunks=(1, 23, 31),
            compression="gzip",
            shuffle=True,
        )
        shuffled = data[0].view(np.uint8).reshape(-1, 2).T.tobytes()
        dset.id.write_direct_chunk((0, 0, 0), shuffled, filter_mask=0b10)  # deflate skipped
        dset.id.write_direct_chunk((1, 0, 0), data[1].tobytes(), filter_mask=0b11)  # both skipped
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["images"][:], data)
        np.testing.assert_array_equal(
            read_fast(f["images"], (slice(0, 2), slice(0, 23), slice(0, 31))), data
        )


def test_unwritten_chunks_give_the_fill_value(tmp_path):
    path = tmp_path / "fill.h5"
    with h5py.File(path, "w") as f:
        dset = f.create_dataset(
            "images", shape=(3, 6, 6), dtype="u2", chunks=(1, 6, 6), compression="gzip", fillvalue=7
        )
        dset[1] = 5
    ims = lazyims.open(path)
    want = np.full((3, 6, 6), 7, np.uint16)
    want[1] = 5
    np.testing.assert_array_equal(ims.compute(), want)


@pytest.mark.parametrize(
    "create",
    [
        dict(compression="lzf"),
        dict(compression="gzip", fletcher32=True),
        dict(**hdf5plugin.Blosc(cname="zstd", clevel=3)),
        dict(chunks=None),  # contiguous
        dict(chunks=(1, 23, 31)),  # chunked, no filter
    ],
    ids=["lzf", "fletcher32", "blosc", "contiguous", "no-filter"],
)
def test_other_layouts_fall_back_to_h5py(tmp_path, create):
    data = frames(np.uint16)
    create.setdefault("chunks", (1, 23, 31))
    path = make(tmp_path / "other.h5", data, **create)
    with h5py.File(path, "r") as f:
        assert read_fast(f["images"], SELECTIONS[1]) is None
    ims = lazyims.open(path)
    np.testing.assert_array_equal(ims.compute(), data)
    np.testing.assert_array_equal(ims.data[1:4, 3:17, 5:30].compute(), data[1:4, 3:17, 5:30])


def test_unshuffle_leaves_trailing_bytes():
    items = np.arange(5, dtype=np.uint32)
    shuffled = items.view(np.uint8).reshape(-1, 4).T.tobytes() + b"\x01\x02"
    out = unshuffle(shuffled, 4)
    assert out[:20].view(np.uint32).tolist() == items.tolist()
    assert out[20:].tobytes() == b"\x01\x02"


def test_fast_path_on_distributed_workers(tmp_path, cluster_client):
    data = frames(np.uint16, nframes=6)
    path = make(tmp_path / "s.h5", data, chunks=(1, 23, 31), compression="gzip", shuffle=True)
    ims = lazyims.open(path, frames_per_chunk=2)
    got = cluster_client.compute(ims.data.max(axis=0)).result()
    np.testing.assert_array_equal(got, data.max(axis=0))


def test_damaged_chunk_gives_a_lazyims_error(tmp_path):
    data = frames(np.uint16, nframes=2)
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        dset = f.create_dataset(
            "images", data=data, chunks=(1, 23, 31), compression="gzip", shuffle=True
        )
        dset.id.write_direct_chunk((1, 0, 0), b"not deflate data at all", filter_mask=0)
    ims = lazyims.open(path, frames_per_chunk=1)
    np.testing.assert_array_equal(ims[0].compute(), data[0])
    with pytest.raises(lazyims.FileContentError, match="cannot read frames"):
        ims[1].compute()


@pytest.mark.parametrize("c_api", [True, False], ids=["libdeflate-ctypes", "deflate-package"])
def test_both_inflaters_match_h5py(tmp_path, monkeypatch, c_api):
    if c_api:
        assert _h5chunks._C is not None, "libdeflate's C functions should load from deflate"
    else:
        monkeypatch.setattr(_h5chunks, "_C", None)
    data = frames(np.uint16, nframes=4)
    path = make(tmp_path / "s.h5", data, chunks=(2, 10, 12), compression="gzip")  # no shuffle
    with h5py.File(path, "r") as f:
        for frames_rows_cols in SELECTIONS[:3]:
            first = frames_rows_cols[0]
            sel = (slice(min(first.start, 3), min(first.stop, 4)), *frames_rows_cols[1:])
            np.testing.assert_array_equal(read_fast(f["images"], sel), data[sel])
    ims = lazyims.open(path, frames_per_chunk=2)
    np.testing.assert_array_equal(ims.data.compute(scheduler="threads"), data)


def test_missing_private_libdeflate_symbol_falls_back(monkeypatch):
    """The ctypes fast path uses a private module of ``deflate``; without it: the public API."""
    import deflate

    monkeypatch.delattr(deflate, "_deflate")
    assert _h5chunks._load_libdeflate_c() is None
    raw = zlib.compress(np.arange(300, dtype=np.uint16).tobytes())
    monkeypatch.setattr(_h5chunks, "_C", None)
    out = _h5chunks._inflate(raw, 600)
    assert bytes(out) == np.arange(300, dtype=np.uint16).tobytes()
