"""Property tests: random series survive every writer, and lazy operations on sparse
frame-caches equal numpy applied frame by frame.

(Dense operation lists are checked the same way in test_processing.py.)
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lazyims
from tests.test_processing import numpy_op, op_lists

pytestmark = pytest.mark.timeout(120)

DTYPES = ["uint16", "int32", "float32", "float64"]
SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def series_and_threshold(draw):
    """Small frames of a random dtype (NaN and infinities included for floats), a dask
    chunking of them, and a threshold of the kind users pass (int or float)."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = (draw(st.integers(1, 5)), draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    if dtype.kind == "f":
        elements = st.floats(-1e6, 1e6, width=dtype.itemsize * 8) | st.sampled_from(
            [np.nan, np.inf, -np.inf, 0.0]
        )
    else:
        info = np.iinfo(dtype)
        elements = st.integers(max(info.min, -1000), min(info.max, 70000)) | st.just(0)
    frames = draw(hnp.arrays(dtype, shape, elements=elements))
    chunks = (draw(st.integers(1, shape[0])), draw(st.integers(1, shape[1])), -1)
    threshold = draw(st.integers(-5, 500) | st.floats(-5, 500, allow_nan=False))
    return frames, chunks, threshold


def kept(frames: np.ndarray, threshold) -> np.ndarray:
    """What a frame-cache keeps: pixels strictly above the threshold (never NaN)."""
    return np.where(frames > threshold, frames, 0).astype(frames.dtype)


@SETTINGS
@given(case=series_and_threshold())
def test_write_read_round_trips(case):
    frames, chunks, threshold = case
    ims = lazyims.open(da.from_array(frames, chunks=chunks))
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dense caches warn, as HEXRD does
        folder = Path(tmp)
        ims.write(folder / "s.h5", "hdf5")
        ims.to_zarr(folder / "s.zarr")
        for path in (folder / "s.h5", folder / "s.zarr"):
            back = lazyims.open(path)
            assert back.dtype == frames.dtype and back.shape == frames.shape
            np.testing.assert_array_equal(back.compute(), frames)
        for style in ("npz", "fch5", "yml"):
            path = folder / f"fc.{style}"
            ims.to_framecache(path, threshold)
            back = lazyims.open(path)
            assert back.is_sparse and back.dtype == frames.dtype and back.shape == frames.shape
            np.testing.assert_array_equal(back.compute(), kept(frames, threshold))


@SETTINGS
@given(
    shape_ops=op_lists(),
    dtype=st.sampled_from(DTYPES),
    threshold=st.integers(0, 40),
    fpc=st.integers(1, 3),
    seed=st.integers(0, 5),
    selection=st.lists(st.integers(0, 4), min_size=1, max_size=6),
)
def test_lazy_operations_on_a_framecache_equal_numpy(
    shape_ops, dtype, threshold, fpc, seed, selection
):
    """Frames read from a frame-cache (sparse chunks), selected, then an operation list."""
    shape, ops = shape_ops
    frames = np.random.default_rng(seed).poisson(30, (5, *shape)).astype(dtype)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        path = Path(tmp) / "fc.npz"
        lazyims.open(frames).to_framecache(path, threshold)
        cache = lazyims.open(path, frames_per_chunk=fpc)
        assert cache.is_sparse
        lazy = cache.frames(selection).process(ops)
        out = lazy.compute()
    want = []
    for frame in kept(frames, threshold)[selection]:
        for key, data in ops:
            frame = numpy_op(frame, key, data)
        want.append(frame)
    want = np.stack(want)
    assert out.dtype == want.dtype
    np.testing.assert_array_equal(out, want)
