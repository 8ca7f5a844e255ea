"""The ImageSeries type: shape, indexing, metadata, dask's protocol, pickling."""

from __future__ import annotations

import pickle
import subprocess
import sys

import dask
import dask.array as da
import numpy as np
import pytest

import lazyims
from lazyims import FrameIndexError, ImageSeries, LazyImsError
from tests.conftest import synthetic_frames


@pytest.fixture
def frames():
    return synthetic_frames(nframes=7, rows=10, cols=12)


@pytest.fixture
def omega():
    return np.column_stack([np.arange(7) * 2.0, np.arange(7) * 2.0 + 2.0])


@pytest.fixture
def series(frames, omega):
    return lazyims.open(frames, metadata={"omega": omega, "panel": b"ff1"}, frames_per_chunk=3)


def test_basic_properties(series, frames):
    assert series.shape == frames.shape
    assert series.frame_shape == (10, 12)
    assert series.nframes == len(series) == 7
    assert series.dtype == np.uint16
    assert series.chunks == ((3, 3, 1), (10,), (12,))
    assert isinstance(series.data, da.Array)
    assert series.metadata["panel"] == "ff1"  # bytes are decoded to str


def test_metadata_is_a_copy(series):
    series.metadata["panel"] = "changed"
    assert series.metadata["panel"] == "ff1"


@pytest.mark.parametrize("index", [0, 3, -1, np.int64(4), np.uint8(2), np.int32(-2)])
def test_integer_index_gives_lazy_frame(series, frames, index):
    frame = series[index]
    assert isinstance(frame, da.Array) and frame.ndim == 2
    np.testing.assert_array_equal(frame.compute(), frames[int(index)])


@pytest.mark.parametrize(
    "selection",
    [
        slice(1, 5),
        slice(None, None, 2),
        [4, 0, 2],
        np.array([1, -1]),
        np.array([True, False, True, False, False, True, True]),
    ],
)
def test_selection_gives_series_with_sliced_omega(series, frames, omega, selection):
    sub = series[selection]
    assert isinstance(sub, ImageSeries)
    np.testing.assert_array_equal(sub.compute(), frames[selection])
    np.testing.assert_array_equal(sub.metadata["omega"], omega[selection])
    assert sub.metadata["panel"] == "ff1"


def test_region_index_keeps_a_series(series, frames):
    sub = series[1:3, 2:5, 4:]
    np.testing.assert_array_equal(sub.compute(), frames[1:3, 2:5, 4:])


@pytest.mark.parametrize("bad", [7, -8, [0, 9], np.array([True, False]), "a", 1.5])
def test_bad_indices_are_lazyims_errors(series, bad):
    with pytest.raises(FrameIndexError):
        series[bad]


def test_iteration_yields_every_frame(series, frames):
    got = [f.compute() for f in series]
    assert len(got) == 7
    np.testing.assert_array_equal(np.stack(got), frames)


def test_compute_asarray_and_dask_compute(series, frames):
    np.testing.assert_array_equal(series.compute(), frames)
    np.testing.assert_array_equal(np.asarray(series), frames)
    a, b = dask.compute(series, series.data.max())
    np.testing.assert_array_equal(a, frames)
    assert b == frames.max()


def test_persist_keeps_series_and_metadata(series, frames):
    kept = series.persist()
    assert isinstance(kept, ImageSeries)
    assert kept.metadata["panel"] == "ff1"
    np.testing.assert_array_equal(kept.compute(), frames)


def test_map_blocks_keeps_metadata(series, frames):
    doubled = series.map_blocks(lambda b: b * 2, dtype=np.uint16)
    np.testing.assert_array_equal(doubled.compute(), frames * 2)
    np.testing.assert_array_equal(doubled.metadata["omega"], series.metadata["omega"])


def test_map_blocks_must_stay_3d(series):
    with pytest.raises(LazyImsError, match="3-D"):
        series.map_blocks(lambda b: b.sum(axis=0), drop_axis=0)


def test_wrong_omega_length_is_an_error(frames):
    ims = lazyims.open(frames, metadata={"omega": np.zeros((3, 2))})
    with pytest.raises(lazyims.MetadataError, match="omega"):
        ims[1:2]


def test_repr_names_shape_dtype_and_metadata(series):
    text = repr(series)
    for part in ("7 frames", "10x12", "uint16", "array", "omega", "panel"):
        assert part in text


def test_sparse_chunks_compute_dense(frames):
    sparse = pytest.importorskip("sparse")
    ims = lazyims.open(frames, frames_per_chunk=2).map_blocks(
        sparse.COO.from_numpy, meta=sparse.COO.from_numpy(np.zeros((0, 0, 0), np.uint16))
    )
    assert ims.is_sparse
    out = ims.compute()
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, frames)
    np.testing.assert_array_equal(ims[2].compute(), frames[2])
    assert not ims.dense().is_sparse


def test_not_3d_data_is_an_error():
    with pytest.raises(LazyImsError):
        ImageSeries(np.zeros((2, 3)))


def test_pickled_series_computes_in_another_process(golden, tmp_path, expected):
    ims = lazyims.open(golden("scan.h5"), path="imageseries")
    blob = tmp_path / "series.pkl"
    blob.write_bytes(pickle.dumps(ims))
    script = (
        "import pickle, sys, numpy as np; "
        "ims = pickle.load(open(sys.argv[1], 'rb')); "
        "np.save(sys.argv[2], ims.compute(scheduler='sync'))"
    )
    out = tmp_path / "out.npy"
    subprocess.run([sys.executable, "-c", script, str(blob), str(out)], check=True)
    np.testing.assert_array_equal(np.load(out), expected["frames"])
