"""Median and percentile of integer frames by selection (lazyims._select_kernel), and
without numba by numpy's sort: both equal numpy's results for every dtype."""

from __future__ import annotations

import sys

import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lazyims
from lazyims import stats

PCTS = (0, 0.5, 12.5, 25, 33.3, 49.99, 50, 50.01, 62.5, 75, 99.9, 100)
INTEGERS = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64")
FLOATS = ("float16", "float32", "float64")


@pytest.fixture(params=["numba", "numpy"])
def way(request, monkeypatch):
    """Each test runs with the compiled selection and with numpy's sort (no numba)."""
    if request.param == "numpy":
        monkeypatch.setattr(stats, "_select_kernel", lambda: None)
    else:
        assert stats._select_kernel() is not None
    return request.param


def numpys(frames: np.ndarray, pct: float) -> np.ndarray:
    """What lazyims gives: np.median for 50, else np.percentile; float32."""
    if frames.dtype == bool:
        frames = frames.view(np.uint8)
    if pct == 50:
        return np.median(frames, axis=0).astype(np.float32)
    return np.percentile(frames, pct, axis=0).astype(np.float32)


def frames_of(dtype: str, shape: tuple, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    values = rng.poisson(100, shape) + rng.integers(0, 40, shape) * (rng.random(shape) < 0.1) * 50
    if np.dtype(dtype).kind == "i":
        values = values - 120  # negative values too
    if np.dtype(dtype).itemsize == 1:
        values = values // 20
    return values.astype(dtype)


@pytest.mark.parametrize("dtype", ("bool", *INTEGERS, *FLOATS))
@pytest.mark.parametrize("nframes", [1, 2, 3, 8, 65])
def test_percentile_equals_numpy_for_every_dtype(way, dtype, nframes):
    frames = frames_of(dtype, (nframes, 5, 7), seed=nframes)
    series = lazyims.open(frames)
    for pct in PCTS:
        got = stats.percentile(series, pct).compute()
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, numpys(frames, pct), err_msg=f"{dtype} {pct}")
    np.testing.assert_array_equal(series.median().compute(), numpys(frames, 50))


@pytest.mark.parametrize("dtype", [">u2", ">i4", ">u8", "<i2"])
def test_frames_in_either_byte_order(way, dtype):
    # Big-endian frames (HDF5 and raw files can hold them) reach the compiled kernel in
    # the machine's order.
    frames = frames_of(np.dtype(dtype).newbyteorder("=").name, (9, 4, 6), seed=5).astype(dtype)
    series = lazyims.open(frames)
    for pct in (50, 25):
        got = stats.percentile(series, pct).compute()
        np.testing.assert_array_equal(got, numpys(frames, pct), err_msg=f"{dtype} {pct}")


@pytest.mark.parametrize("dtype", ["uint16", "int32"])
def test_the_first_nframes_only(way, dtype):
    frames = frames_of(dtype, (12, 4, 6), seed=3)
    series = lazyims.open(da.from_array(frames, chunks=(5, 4, 6)))
    for nframes in (1, 4, 7, 12, 40):
        want = frames[: min(nframes, 12)]
        for pct in (50, 30):
            got = stats.percentile(series, pct, nframes).compute()
            np.testing.assert_array_equal(got, numpys(want, pct), err_msg=f"{nframes} {pct}")


@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint32", "int64"])
def test_pieces_blocks_and_views(way, dtype, monkeypatch):
    # Frames given in several pieces, as a strided view, in blocks of pixels smaller
    # than a frame (the last one partial), and with 256+ frames (wider counters).
    from lazyims import _select_kernel

    monkeypatch.setattr(_select_kernel, "BLOCK_BYTES", 1)  # blocks of 64 pixels
    for shape in ((9, 7, 50), (300, 3, 5), (255, 2, 3), (256, 2, 3)):
        frames = frames_of(dtype, shape, seed=shape[0])
        flipped = frames[:, ::-1, ::2]
        for pct in (0, 25, 50, 87.5, 100):
            cut = shape[0] // 3
            pieces = [flipped[:cut], flipped[cut:]] if cut else [flipped]
            got = stats._percentile_of_pieces(pieces, pct)
            np.testing.assert_array_equal(got, numpys(flipped, pct), err_msg=f"{shape} {pct}")


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32"])
def test_signed_values_further_apart_than_the_dtype_holds(way, dtype):
    # numpy's percentile takes the difference in the frames' dtype, where it wraps
    # around (-128 and 127 in int8 are 255 apart); lazyims interpolates the true values.
    info = np.iinfo(dtype)
    rng = np.random.default_rng(5)
    frames = rng.choice([info.min, info.min + 1, -1, 0, 1, info.max - 1, info.max], (6, 4, 5))
    frames = frames.astype(dtype)
    exact = frames.astype(np.int64)
    for pct in PCTS:
        got = stats._percentile_of_pieces([frames], pct)
        np.testing.assert_array_equal(got, numpys(exact, pct), err_msg=f"{pct}")
    wrapped = np.percentile(frames, 25, axis=0).astype(np.float32)
    assert not np.array_equal(wrapped, numpys(exact, 25))  # the case is really there


@pytest.mark.parametrize("dtype", ["int64", "uint64"])
def test_64_bit_extremes(way, dtype):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(6)
    choices = np.array([info.min, info.min + 1, info.max // 3, info.max - 1, info.max], dtype)
    frames = rng.choice(choices, (7, 3, 4))
    by_pixel = np.sort(frames, axis=0)
    # the order statistics are exact
    for pct in (0, 50, 100):
        lo, hi, _ = stats._ranks(7, pct)
        want = by_pixel[lo].astype(np.float32)
        np.testing.assert_array_equal(stats._percentile_of_pieces([frames], pct), want)
    # the median is np.median's (which never wraps); uint64 differences never wrap in numpy
    np.testing.assert_array_equal(
        stats._percentile_of_pieces([frames[:6]], 50), numpys(frames[:6], 50)
    )
    if dtype == "uint64":
        for pct in PCTS:
            np.testing.assert_array_equal(
                stats._percentile_of_pieces([frames], pct), numpys(frames, pct)
            )


def test_without_numba_the_numpy_way_is_taken(monkeypatch):
    # numba missing: importing the kernel fails and numpy's sort gives the same result.
    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.delitem(sys.modules, "lazyims._select_kernel", raising=False)
    assert stats._select_kernel() is None
    frames = frames_of("uint16", (10, 6, 7))
    np.testing.assert_array_equal(stats.median(lazyims.open(frames)).compute(), numpys(frames, 50))


def test_the_kernel_selects_the_order_statistics():
    kernel = stats._select_kernel()
    frames = frames_of("int16", (11, 9, 13), seed=9)
    want = np.sort(frames, axis=0)
    for lo in range(11):
        hi = min(lo + 1, 10)
        below, above = stats._selected(kernel, frames, lo, hi)
        np.testing.assert_array_equal(below, want[lo])
        np.testing.assert_array_equal(above, want[hi])


@settings(max_examples=60, deadline=None)
@given(
    dtype=st.sampled_from(INTEGERS),
    nframes=st.integers(1, 40),
    pixels=st.integers(1, 150),
    pct=st.one_of(st.sampled_from([0, 50, 100]), st.floats(0, 100)),
    spread=st.integers(0, 64),
    seed=st.integers(0, 2**32 - 1),
)
def test_selection_equals_numpy_on_random_frames(dtype, nframes, pixels, pct, spread, seed):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    low = max(info.min, -(2 ** min(spread, 61)))
    high = min(info.max, 2 ** min(spread, 61))
    frames = rng.integers(low, high, (nframes, 1, pixels), dtype=dtype, endpoint=True)
    got = stats._percentile_of_pieces([frames], pct)
    exact = frames if dtype in ("int64", "uint64") else frames.astype(np.int64)
    np.testing.assert_array_equal(got, numpys(exact, pct))
