"""The xarray engine's lazily indexed backend array (issue 20, item 6): indexing reads only
what it selects, chunks={} follows lazyims' chunks, and reductions over frames go to
lazyims.stats (from the stored pixels of a frame-cache) instead of reading every frame."""

from __future__ import annotations

import dask
import numpy as np
import pytest

import lazyims
from lazyims import _xarray_array
from lazyims.formats.framecache import _common
from lazyims.formats.framecache.npz import NpzFrames
from tests.formats.framecache.test_framecache_reductions import hexrd_npz

xr = pytest.importorskip("xarray")


def sparse_frames(dtype: str = "uint16", n: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 500, (n, 16, 20)).astype(dtype)
    frames[rng.random(frames.shape) > 0.2] = 0
    frames[:, 2, 3] = rng.integers(1, 9, n)  # stored in every frame
    return frames


@pytest.fixture
def cache(tmp_path):
    frames = sparse_frames()
    return hexrd_npz(tmp_path / "fc.npz", frames), frames


def test_isel_of_one_frame_reads_that_frame_only(cache, monkeypatch):
    path, frames = cache
    reads = []
    original = NpzFrames.read_stored

    def counted(self, start, stop):
        reads.append((start, stop))
        return original(self, start, stop)

    monkeypatch.setattr(NpzFrames, "read_stored", counted)
    ds = xr.open_dataset(path, engine="lazyims")
    assert reads == []  # opening reads no frame
    np.testing.assert_array_equal(ds["frames"].isel(frame=7).values, frames[7])
    assert reads == [(7, 8)]
    reads.clear()
    np.testing.assert_array_equal(ds["frames"][-2, 3:9, 4].values, frames[-2, 3:9, 4])
    assert reads == [(10, 11)]


@pytest.mark.parametrize("lazy_bytes", [0, 2**40])  # unread duck arrays, or numpy
def test_outer_indexing_equals_numpy(cache, monkeypatch, lazy_bytes):
    monkeypatch.setattr(_xarray_array, "LAZY_READ_BYTES", lazy_bytes)
    path, frames = cache
    array = xr.open_dataset(path, engine="lazyims")["frames"]
    keys = [
        (slice(None),),
        (slice(2, 9), slice(1, 12), slice(0, 20)),
        (slice(None, None, 3), slice(1, 14, 2), [0, 5, 2]),
        ([4, 1, 1], 3, slice(None)),
        (slice(5, 5),),
        (slice(None), slice(3, 3)),
    ]
    for key in keys:
        np.testing.assert_array_equal(array[key].values, frames[key], err_msg=str(key))
    np.testing.assert_array_equal((array + 1).values, frames + 1)
    np.testing.assert_array_equal(
        array.isel(row=[2, 0]).sum("col").values, frames[:, [2, 0]].sum(-1)
    )


def test_reductions_over_frames_use_the_stored_pixels(tmp_path, monkeypatch):
    monkeypatch.setattr(_xarray_array, "LAZY_READ_BYTES", 0)

    def refuse(*args, **kwargs):
        raise AssertionError("the frames were densified")

    monkeypatch.setattr(NpzFrames, "read", refuse)
    monkeypatch.setattr(NpzFrames, "read_dense", refuse)
    for dtype in ("uint16", "int16", "uint8"):
        frames = sparse_frames(dtype, 9, seed=4)
        if dtype == "int16":
            frames[1, 4, 4] = -7
        array = xr.open_dataset(hexrd_npz(tmp_path / f"{dtype}.npz", frames))["frames"]
        for name in ("max", "min", "sum", "mean", "median"):
            got = getattr(array, name)("frame")
            want = getattr(np, name)(frames, axis=0)
            assert got.dtype == want.dtype, name
            np.testing.assert_array_equal(got.values, want, err_msg=f"{dtype} {name}")
        np.testing.assert_array_equal(
            array.isel(frame=slice(2, 7)).max("frame"), frames[2:7].max(0)
        )


def test_float_caches_and_other_reductions_read_the_frames(tmp_path, monkeypatch):
    monkeypatch.setattr(_xarray_array, "LAZY_READ_BYTES", 0)
    frames = sparse_frames("float32", 6, seed=5)
    frames[3, 1, 1] = np.nan
    array = xr.open_dataset(hexrd_npz(tmp_path / "f.npz", frames))["frames"]
    np.testing.assert_array_equal(array.max("frame").values, np.nanmax(frames, axis=0))
    np.testing.assert_array_equal(array.max("frame", skipna=False).values, frames.max(axis=0))
    np.testing.assert_allclose(array.std("row").values, np.nanstd(frames, axis=1), rtol=1e-6)
    np.testing.assert_array_equal(array.max().values, np.nanmax(frames))


def test_chunks_follow_lazyims_chunks(cache, monkeypatch):
    path, frames = cache
    monkeypatch.setattr(_common, "TARGET_STORED_CHUNK_BYTES", 2000)
    series = lazyims.open(path)
    assert 1 < len(series.chunks[0]) < len(frames)
    ds = xr.open_dataset(path, engine="lazyims", chunks={})
    assert ds["frames"].encoding["preferred_chunks"]["frame"] == series.chunks[0][0]
    assert ds["frames"].data.chunks == series.chunks
    with dask.config.set(scheduler="sync"):
        np.testing.assert_array_equal(ds["frames"].max("frame").values, frames.max(axis=0))
        np.testing.assert_array_equal(ds["frames"].values, frames)


def test_hdf5_scans_lazy_and_chunked(tmp_path):
    frames = sparse_frames("uint16", 10, seed=6) + 100
    path = tmp_path / "scan.h5"
    lazyims.open(frames, frames_per_chunk=3).write(path, "hdf5", path="imageseries")
    ds = xr.open_dataset(path, engine="lazyims", path="imageseries")
    np.testing.assert_array_equal(ds["frames"].max("frame").values, frames.max(axis=0))
    chunked = xr.open_dataset(path, engine="lazyims", path="imageseries", chunks={})
    assert chunked["frames"].data.chunks == lazyims.open(path, path="imageseries").chunks
    np.testing.assert_array_equal(chunked["frames"].min("frame").values, frames.min(axis=0))


def test_the_unread_array_reads_when_numpy_needs_it(cache):
    path, frames = cache
    unread = _xarray_array.SeriesFrames(lazyims.open(path))
    assert unread.shape == frames.shape and unread.dtype == frames.dtype and len(unread) == 12
    np.testing.assert_array_equal(np.asarray(unread), frames)
    assert isinstance(unread[1:4], _xarray_array.SeriesFrames)  # still unread
    np.testing.assert_array_equal(np.asarray(unread[1:4, 2:5]), frames[1:4, 2:5])
    np.testing.assert_array_equal(unread[::2, 0], frames[::2, 0])
    np.testing.assert_array_equal(
        np.max(unread, axis=0, keepdims=True), frames.max(0, keepdims=True)
    )
    np.testing.assert_array_equal(np.maximum(unread, 3), np.maximum(frames, 3))
    np.testing.assert_array_equal(np.sum(unread, axis=1), frames.sum(axis=1))
    assert "lazyims frames" in unread._repr_inline_(80)


def test_open_zarr_lacks_only_the_panel_coordinate_and_has_the_lazyims_attribute(tmp_path):
    frames = sparse_frames("uint16", 4)
    omega = np.column_stack([np.arange(4) * 0.5, np.arange(1, 5) * 0.5])
    lazyims.open(frames).with_metadata(omega=omega, panel="ff1").to_zarr(tmp_path / "s.zarr")
    plain = xr.open_zarr(tmp_path / "s.zarr")
    engine = xr.open_dataset(tmp_path / "s.zarr", engine="lazyims")
    assert "panel" in engine.coords and "panel" not in plain.coords
    assert not plain.compute().identical(engine.compute())
    plain = plain.assign_coords(panel=plain.attrs["panel"])
    del plain.attrs["lazyims"]
    assert plain.compute().identical(engine.compute())  # what docs/xarray-hexrd.md says


def test_chunks_of_a_frame_cache_are_cut_to_dense_size(cache, monkeypatch):
    path, frames = cache
    monkeypatch.setattr(lazyims.series, "_DENSE_CHUNK_BYTES", 3 * 16 * 20 * 2)  # 3 frames
    ds = xr.open_dataset(path, engine="lazyims", chunks={})
    assert ds["frames"].data.chunks[0] == (3, 3, 3, 3)
    np.testing.assert_array_equal(ds["frames"].max("frame").values, frames.max(axis=0))
