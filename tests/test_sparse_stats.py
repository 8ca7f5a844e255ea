"""Statistics of frame-caches from their stored pixels (issue 20, item 3): every statistic
equals numpy on the dense frames, for every dtype, and the percentile never densifies."""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import pytest

import lazyims
from lazyims import _sparse_stats
from lazyims.formats.framecache import _common
from lazyims.formats.framecache.npz import NpzFrames
from tests.formats.framecache.test_framecache_reductions import hexrd_npz

REAL = Path(__file__).resolve().parents[1] / ".." / ".." / "shared" / "real-data"
REAL_CACHES = sorted(Path("/work/shared/real-data").glob("*.npz")) or sorted(REAL.glob("*.npz"))

DTYPES = [
    "bool", "uint8", "uint16", "uint32", "uint64",
    "int8", "int16", "int32", "int64", "float16", "float32", "float64",
]  # fmt: skip
PCTS = [0, 2.5, 25, 37.5, 50, 61.8, 90, 99.9, 100]


def frames_of(dtype: str, nframes: int, fill: float, seed: int = 0) -> np.ndarray:
    """Sparse frames: values spread over the dtype's sign, explicit zeros never stored
    (hexrd_npz stores nonzero pixels), a few pixels stored in every frame."""
    rng = np.random.default_rng(seed)
    shape = (nframes, 5, 6)
    kind = np.dtype(dtype).kind
    if kind == "b":
        frames = rng.random(shape) < 0.5
    else:
        low = 0 if kind == "u" else -60
        frames = rng.integers(low, 120, shape).astype(dtype)
        if kind == "f":
            frames = (frames * 0.37).astype(dtype)
    frames[rng.random(shape) > fill] = 0
    frames[:, 0, :2] = frames[:, 0, :2] | 1 if kind == "b" else rng.integers(1, 9, (nframes, 2))
    return frames


def expected_percentile(frames: np.ndarray, pct: float) -> np.ndarray:
    """What lazyims' dense path gives: numpy's percentile (np.median for floats at 50),
    bools as 0 and 1, as float32."""
    if frames.dtype.kind == "b":
        frames = frames.view(np.uint8)
    if frames.dtype.kind == "f" and pct == 50:
        return np.median(frames, axis=0).astype(np.float32)
    if frames.dtype.kind in "iu":
        frames = frames.astype(np.float64)  # numpy's lerp of int8 would wrap
    return np.percentile(frames, pct, axis=0).astype(np.float32)


@pytest.fixture
def no_dense_reads(monkeypatch):
    """Reading a frame-cache's frames as sparse blocks (and so densifying them) fails."""

    def refuse(*args, **kwargs):
        raise AssertionError("the frames were read as blocks")

    monkeypatch.setattr(NpzFrames, "read", refuse)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nframes,fill", [(1, 0.5), (6, 0.3), (7, 0.8), (9, 1.0)])
def test_percentile_from_stored_pixels_equals_numpy(tmp_path, no_dense_reads, dtype, nframes, fill):
    frames = frames_of(dtype, nframes, fill, seed=nframes)
    ims = lazyims.open(hexrd_npz(tmp_path / "fc.npz", frames))
    with dask.config.set(scheduler="sync"):
        for pct in PCTS:
            result = lazyims.stats.percentile(ims, pct)
            assert result.dtype == np.float32 and result.shape == frames.shape[1:]
            got = result.compute()
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got, expected_percentile(frames, pct), err_msg=str(pct))
        np.testing.assert_array_equal(
            lazyims.stats.median(ims).compute(), expected_percentile(frames, 50)
        )


@pytest.mark.parametrize("dtype", ["uint16", "int16", "float32", "bool"])
def test_the_same_as_the_dense_path(tmp_path, dtype):
    frames = frames_of(dtype, 8, 0.4, seed=3)
    cache = lazyims.open(hexrd_npz(tmp_path / "fc.npz", frames))
    dense = lazyims.open(frames)
    for pct in (50, 12.5, 95):
        stored = lazyims.stats.percentile(cache, pct)
        assert any("stored-percentile" in str(k) for k in dict(stored.__dask_graph__()))
        np.testing.assert_array_equal(
            stored.compute(), lazyims.stats.percentile(dense, pct).compute()
        )


@pytest.mark.parametrize("dtype", ["uint16", "int32", "float64"])
def test_statistics_of_frame_subsets_and_regions(tmp_path, no_dense_reads, dtype):
    frames = frames_of(dtype, 11, 0.35, seed=5)
    ims = lazyims.open(hexrd_npz(tmp_path / "fc.npz", frames))
    with dask.config.set(scheduler="sync"):
        for n in (1, 2, 5, 11, 40):
            np.testing.assert_array_equal(
                lazyims.stats.median(ims, n).compute(), expected_percentile(frames[:n], 50)
            )
        region = ims.rectangle(((1, 4), (2, 6)))
        np.testing.assert_array_equal(
            lazyims.stats.percentile(region, 70, 6).compute(),
            expected_percentile(frames[:6, 1:4, 2:6], 70),
        )
        # frames picked out of order, one twice: the percentile of what the series shows
        picked = ims[[7, 2, 2, 9, 0]]
        np.testing.assert_array_equal(
            lazyims.stats.percentile(picked, 40).compute(),
            expected_percentile(frames[[7, 2, 2, 9, 0]], 40),
        )
        np.testing.assert_array_equal(
            lazyims.stats.median(ims[::3]).compute(), expected_percentile(frames[::3], 50)
        )


@pytest.mark.parametrize("dtype", ["uint16", "int16", "float32", "bool", "int8"])
def test_max_min_sum_average_of_stored_pixels(tmp_path, no_dense_reads, dtype):
    frames = frames_of(dtype, 7, 0.4, seed=8)
    ims = lazyims.open(hexrd_npz(tmp_path / "fc.npz", frames))
    total = frames.sum(axis=0, dtype=np.float64)
    with dask.config.set(scheduler="sync"):
        np.testing.assert_array_equal(lazyims.stats.max(ims).compute(), frames.max(axis=0))
        np.testing.assert_array_equal(lazyims.stats.min(ims).compute(), frames.min(axis=0))
        np.testing.assert_array_equal(lazyims.stats.sum(ims).compute(), total)
        np.testing.assert_array_equal(
            lazyims.stats.average(ims).compute(), (total / 7).astype(np.float32)
        )


def test_nan_and_large_integers(tmp_path, no_dense_reads):
    frames = frames_of("float32", 6, 0.5, seed=9)
    frames[2, 3, 4] = np.nan
    ims = lazyims.open(hexrd_npz(tmp_path / "nan.npz", frames))
    for pct in (0, 50, 80):
        got = lazyims.stats.percentile(ims, pct).compute()
        assert np.isnan(got[3, 4])
        np.testing.assert_array_equal(got, expected_percentile(frames, pct))
    big = np.zeros((5, 3, 4), np.int64)
    big[:, 1, 1] = [2**62, -(2**61), 3, 2**40, 0]
    big[1:3, 2, 3] = [-(2**50), 2**33]
    ims = lazyims.open(hexrd_npz(tmp_path / "big.npz", big))
    for pct in (10, 50, 75):
        np.testing.assert_array_equal(
            lazyims.stats.percentile(ims, pct).compute(), expected_percentile(big, pct)
        )


@pytest.mark.parametrize("style", ["fch5", "yml"])
def test_other_styles(tmp_path, style):
    frames = frames_of("int16", 9, 0.4, seed=11)
    path = tmp_path / f"fc.{style}"
    lazyims.open(frames).to_framecache(path, threshold=-np.inf, style=style)
    ims = lazyims.open(path)
    for pct in (50, 5, 90):
        result = lazyims.stats.percentile(ims, pct)
        assert any("stored-percentile" in str(k) for k in dict(result.__dask_graph__()))
        np.testing.assert_array_equal(result.compute(), expected_percentile(frames, pct))


def test_bands_of_rows_when_the_cache_is_large(tmp_path, monkeypatch):
    frames = frames_of("uint16", 10, 0.6, seed=12)
    ims = lazyims.open(hexrd_npz(tmp_path / "fc.npz", frames))
    monkeypatch.setattr(_sparse_stats, "STORED_BYTES_PER_BAND", 100)
    monkeypatch.setattr(_common, "STORED_VALUES_READ_BYTES", 50)  # several reads per task
    result = lazyims.stats.median(ims)
    assert result.chunks[0] == (1,) * 5  # one band per row: every frame read for each
    np.testing.assert_array_equal(result.compute(), expected_percentile(frames, 50))


def test_processed_series_take_the_dense_path(tmp_path):
    frames = frames_of("int16", 8, 0.5, seed=13)
    ims = lazyims.open(hexrd_npz(tmp_path / "fc.npz", frames))
    dark = np.full(frames.shape[1:], 3, np.int16)
    for processed, dense in [
        (ims.flip("v"), frames[:, :, ::-1]),  # HEXRD: v reverses the columns
        (ims.dark(dark), np.clip(frames - dark, 0, None)),  # dark clips at 0
        (ims.dark(dark).flip("h"), np.clip(frames - dark, 0, None)[:, ::-1]),
    ]:
        result = lazyims.stats.median(processed)
        assert not any("stored-percentile" in str(k) for k in dict(result.__dask_graph__()))
        np.testing.assert_array_equal(result.compute(), expected_percentile(dense, 50))


@pytest.mark.skipif(not REAL_CACHES, reason="the real frame-caches are not here")
@pytest.mark.parametrize("path", REAL_CACHES, ids=lambda p: p.name)
def test_real_caches_against_numpy_on_windows(path):
    ims = lazyims.open(path)
    peak = lazyims.stats.max(ims).compute()
    counts = np.zeros(ims.frame_shape, np.int64)  # frames storing each pixel
    pixels, stored, _ = ims._lazy.reader.stored_values(
        ((0, ims.nframes),), slice(0, ims.frame_shape[0]), slice(0, ims.frame_shape[1])
    )
    counts.flat[pixels] = stored
    # a window around the pixel stored in most frames: medians that are not 0
    r, c = np.unravel_index(np.argmax(counts), counts.shape)
    r0, c0 = max(0, r - 20), max(0, c - 20)
    window = (slice(r0, r0 + 40), slice(c0, c0 + 40))
    dense = ims[(slice(None), *window)].compute()
    median = lazyims.stats.median(ims).compute()
    assert median.shape == ims.frame_shape
    np.testing.assert_array_equal(median[window], expected_percentile(dense, 50))
    assert (median[window] > 0).any() and (median <= peak).all()
    assert not median[counts < ims.nframes / 2].any()  # stored in under half: 0
    subset = lazyims.stats.percentile(ims, 97, nframes=60).compute()
    np.testing.assert_array_equal(subset[window], expected_percentile(dense[:60], 97))
