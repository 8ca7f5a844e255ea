"""An ImageSeries speaks numpy and dask, stays lazy, and gives dense numpy results."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import sparse

import lazyims
from tests.conftest import synthetic_frames

OMEGA = np.column_stack([np.arange(6.0), np.arange(1.0, 7.0)])


@pytest.fixture
def frames():
    return synthetic_frames(6, 24, 32, dtype=np.uint16)


@pytest.fixture
def ims(frames):
    return lazyims.open(frames, frames_per_chunk=2).with_metadata(omega=OMEGA, panel="ff1")


@pytest.fixture
def fc(tmp_path, frames):
    """A frame-cache of ``frames`` (kept above 100), opened: sparse chunks."""
    path = tmp_path / "fc.npz"
    lazyims.open(frames).with_metadata(omega=OMEGA).to_framecache(path, threshold=100)
    return lazyims.open(path, frames_per_chunk=2)


def no_compute():
    """A scheduler that fails if anything is computed: proves laziness."""

    def refuse(*args, **kwargs):
        raise AssertionError("something was computed")

    return dask.config.set(scheduler=refuse)


def test_array_attributes(ims, frames):
    assert (ims.ndim, ims.size, ims.nbytes) == (frames.ndim, frames.size, frames.nbytes)


def test_dask_asarray_gives_the_frames_lazily(ims, frames):
    with no_compute():
        array = da.asarray(ims)
    assert isinstance(array, da.Array) and array.chunks == ims.chunks
    np.testing.assert_array_equal(array.compute(), frames)


def test_numpy_reductions_are_lazy_dask_arrays(ims, frames):
    with no_compute():
        whole = np.max(ims)
        per_pixel = np.max(ims, axis=0)
        per_frame = np.sum(ims, axis=(1, 2))
        mean = np.mean(ims, axis=0)
    for result in (whole, per_pixel, per_frame, mean):
        assert isinstance(result, da.Array)
    assert whole.compute() == frames.max()
    np.testing.assert_array_equal(per_pixel.compute(), frames.max(axis=0))
    np.testing.assert_array_equal(per_frame.compute(), frames.sum(axis=(1, 2)))
    np.testing.assert_allclose(mean.compute(), frames.mean(axis=0))
    stacked = np.stack([ims, ims])
    assert isinstance(stacked, da.Array) and stacked.shape == (2, *frames.shape)


def test_ufuncs_and_arithmetic_give_lazy_series_with_metadata(ims, frames):
    with no_compute():
        results = {
            "plus": ims + 1,
            "rplus": 1 + ims,
            "sqrt": np.sqrt(ims),
            "times": ims * ims,
            "frame": ims - frames[0],  # a 2-D array broadcasts over the frames
            "neg": -ims,
            "compare": ims > 100,
            "clip": np.clip(ims, 40, 500),
        }
    wanted = {
        "plus": frames + 1,
        "rplus": 1 + frames,
        "sqrt": np.sqrt(frames),
        "times": frames * frames,
        "frame": frames - frames[0],
        "neg": -frames,
        "compare": frames > 100,
        "clip": np.clip(frames, 40, 500),
    }
    for name, result in results.items():
        assert isinstance(result, lazyims.ImageSeries), name
        assert result.metadata["panel"] == "ff1", name
        np.testing.assert_array_equal(result.metadata["omega"], OMEGA)
        got = result.compute()
        assert got.dtype == wanted[name].dtype, name
        np.testing.assert_array_equal(got, wanted[name], err_msg=name)
    # per-frame metadata still follows the frames after arithmetic
    np.testing.assert_array_equal((ims + 1)[2:4].metadata["omega"], OMEGA[2:4])


def test_sqrt_does_not_load_the_series(ims):
    with no_compute():
        root = np.sqrt(ims)
    assert isinstance(root, lazyims.ImageSeries)
    assert root.data.npartitions == ims.data.npartitions


def test_a_series_stays_hashable_and_compares_by_identity(ims):
    assert ims == ims and ims != ims + 0
    assert len({ims, ims}) == 1
    np.testing.assert_array_equal(np.equal(ims, ims).compute(), True)


def test_out_argument_is_refused(ims):
    with pytest.raises(TypeError):
        np.add(ims, 1, out=np.empty(ims.shape))


def test_hexrd_style_statistics_keep_working(ims, frames):
    np.testing.assert_array_equal(ims.max(nframes=3).compute(), frames[:3].max(axis=0))
    np.testing.assert_array_equal(ims.min(3).compute(), frames[:3].min(axis=0))
    np.testing.assert_array_equal(lazyims.stats.sum(ims, nframes=2).compute(), frames[:2].sum(0))


# -- dense results from a frame-cache ------------------------------------------------
def test_readme_frame_cache_max_computes_to_numpy(fc, frames):
    peaks = fc.max().compute()
    assert type(peaks) is np.ndarray
    np.testing.assert_array_equal(peaks, np.where(frames > 100, frames, 0).max(axis=0))
    np.asarray(peaks)  # what plt.imshow does


@pytest.mark.parametrize("name", ["max", "min", "sum", "average"])
def test_frame_cache_reductions_are_numpy_and_sparse_on_request(fc, frames, name):
    kept = np.where(frames > 100, frames, 0)
    wanted = {
        "max": kept.max(0),
        "min": kept.min(0),
        "sum": kept.sum(0, dtype=np.float64),
        "average": kept.mean(0, dtype=np.float64).astype(np.float32),
    }[name]
    dense = getattr(fc, name)().compute()
    assert type(dense) is np.ndarray
    np.testing.assert_array_equal(dense, wanted)
    kept_sparse = getattr(fc, name)(sparse=True).compute()
    assert isinstance(kept_sparse, sparse.COO)
    np.testing.assert_array_equal(kept_sparse.todense(), wanted)


def test_frame_cache_frames_and_data_are_dense(fc, frames):
    kept = np.where(frames > 100, frames, 0)
    frame = np.asarray(fc.data[5])  # napari calls this
    assert type(frame) is np.ndarray
    np.testing.assert_array_equal(frame, kept[5])
    np.testing.assert_array_equal(fc[5].compute(), kept[5])
    np.testing.assert_array_equal(np.max(fc, axis=0).compute(), kept.max(0))
    np.testing.assert_array_equal(np.asarray(fc), kept)


def test_frame_cache_keeps_sparse_chunks_when_asked(fc, frames):
    chunks = fc.to_dask(sparse=True)
    assert isinstance(chunks._meta, sparse.COO)
    assert isinstance(chunks.blocks[0].compute(), sparse.COO)
    assert fc.to_dask(sparse=None) is not fc.data  # as stored: the sparse chunks
    assert isinstance(fc.to_dask(sparse=None).blocks[0].compute(), sparse.COO)
    dense_series = lazyims.open(frames)
    assert isinstance(dense_series.to_dask(sparse=True).blocks[0].compute(), sparse.COO)


def test_arithmetic_on_a_frame_cache_keeps_sparse_chunks_and_computes_dense(fc, frames):
    kept = np.where(frames > 100, frames, 0)
    doubled = fc * 2
    assert doubled.is_sparse
    got = doubled.compute()
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, kept * 2)
    mixed = fc + np.ones(fc.frame_shape, np.uint16)  # arrays: dense chunks first
    assert not mixed.is_sparse
    np.testing.assert_array_equal(mixed.compute(), kept + 1)
