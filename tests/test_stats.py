"""Frame-wise statistics against HEXRD's results; out-of-core median and percentile."""

from __future__ import annotations

import tracemalloc

import dask
import dask.array as da
import h5py
import numpy as np
import pytest
import sparse

import lazyims
from lazyims import OptionError, stats
from lazyims.formats.hdf5 import HDF5Frames
from tests.conftest import DATA, synthetic_frames

CHUNKINGS = [1, 5, 12]


def band_of(rows: int, frames: int, cols: int = 64, itemsize: int = 2) -> int:
    """The band budget that makes bands of ``rows`` rows of ``frames`` frames."""
    return int(np.ceil(rows * frames * cols * itemsize * stats._BAND_OVERHEAD))


# a band budget giving one band, a few bands of rows, and single-row bands
BANDS = [None, band_of(5, 12), 1]


def scans(fpc: int, expected) -> list[lazyims.ImageSeries]:
    """The golden scan from its file (read lazily) and as processed data."""
    opened = lazyims.open(DATA / "scan.h5", frames_per_chunk=fpc)
    processed = lazyims.open(expected["frames"], frames_per_chunk=fpc).flip("v").flip("v")
    assert not processed._reads_files and opened._reads_files
    return [opened, processed]


@pytest.mark.parametrize("fpc", CHUNKINGS)
@pytest.mark.parametrize("name", ["max", "min", "sum", "average"])
def test_reductions_equal_hexrd(expected, fpc, name):
    for series in scans(fpc, expected):
        for suffix, nframes in (("", 0), ("_nf5", 5)):
            result = getattr(stats, name)(series, nframes)
            assert isinstance(result, da.Array)
            out = result.compute()
            want = expected[f"stats_{name}{suffix}"]
            # HEXRD's average is float32, except with nframes (float64, same values)
            dtype = {"sum": np.float64, "average": np.float32}.get(name, np.uint16)
            assert out.dtype == dtype
            np.testing.assert_array_equal(out, want.astype(dtype))


@pytest.mark.parametrize("fpc", CHUNKINGS)
@pytest.mark.parametrize("band_bytes", BANDS)
def test_median_and_percentile_equal_hexrd(expected, fpc, band_bytes):
    for series in scans(fpc, expected):
        for suffix, nframes in (("", 0), ("_nf5", 5)):
            out = series.median(nframes, band_bytes=band_bytes).compute()
            assert out.dtype == np.float32
            np.testing.assert_array_equal(out, expected[f"stats_median{suffix}"])
        np.testing.assert_array_equal(series.median().compute(), expected["dark_median"])
        out = stats.percentile(series, 25, band_bytes=band_bytes).compute()
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, expected["stats_percentile_25"])


def test_methods_match_module_functions(expected):
    scan = lazyims.open(DATA / "scan.h5")
    np.testing.assert_array_equal(scan.max(5).compute(), expected["stats_max_nf5"])
    np.testing.assert_array_equal(scan.min().compute(), expected["stats_min"])
    np.testing.assert_array_equal(scan.sum(5).compute(), expected["stats_sum_nf5"])
    np.testing.assert_array_equal(scan.average().compute(), expected["stats_average"])
    np.testing.assert_array_equal(scan.percentile(25).compute(), expected["stats_percentile_25"])


def test_nframes_beyond_the_series_uses_all_and_bad_values_are_errors(expected):
    scan = lazyims.open(DATA / "scan.h5")
    np.testing.assert_array_equal(scan.median(100).compute(), expected["stats_median"])
    for bad in (-1, 1.5, True, "5"):
        with pytest.raises(OptionError):
            scan.max(bad)
    for bad in (-1, 101, "50"):
        with pytest.raises(OptionError):
            scan.percentile(bad)
    with pytest.raises(OptionError):
        scan.median(band_bytes=0)


def test_median_bands_read_only_their_rows(monkeypatch, expected):
    calls = []
    original = HDF5Frames.read

    def spy(self, start, stop, rows, cols):
        calls.append((start, stop, rows.start, rows.stop))
        return original(self, start, stop, rows, cols)

    monkeypatch.setattr(HDF5Frames, "read", spy)
    scan = lazyims.open(DATA / "scan.h5", frames_per_chunk=4)
    band_bytes = band_of(8, 12)
    median = scan.median(band_bytes=band_bytes)
    with dask.config.set(scheduler="sync"):
        out = median.compute()
    np.testing.assert_array_equal(out, expected["stats_median"])
    assert {(r0, r1) for *_, r0, r1 in calls} == {(r, r + 8) for r in range(0, 48, 8)}
    assert len(calls) == 3 * 6  # each frame chunk read once per band


def test_median_bands_run_one_after_another(expected):
    """Bands are gated: band k copies its rows out of the frames only after band k-1's result."""
    series = lazyims.open(expected["frames"], frames_per_chunk=3).flip("h")
    median = series.median(band_bytes=band_of(16, 12))
    assert len(median.chunks[0]) == 3
    events = []

    class Record(dask.callbacks.Callback):
        def _pretask(self, key, dsk, state):
            name = str(key[0] if isinstance(key, tuple) else key)
            if name.startswith("percentile_of_pieces"):
                events.append("done")
            elif name.startswith("_copy"):
                events.append(name.rsplit("-", 1)[-1] if "-band" in name else "band0")

    with Record(), dask.config.set(scheduler="threads", num_workers=2):
        out = median.compute()
    np.testing.assert_array_equal(out, np.median(expected["frames"][:, ::-1], axis=0))
    done = [i for i, e in enumerate(events) if e == "done"]
    assert len(done) == 3
    for band, (after, before) in zip(["band0", "band16", "band32"], [(-1, 0), (0, 1), (1, 2)]):
        positions = [i for i, e in enumerate(events) if e == band]
        assert len(positions) == 4  # one copy per frame chunk
        lower = done[after] if after >= 0 else -1
        assert all(lower < p < done[before] for p in positions), (band, events)


def _frame(i: int) -> np.ndarray:
    return np.add.outer(np.arange(256.0) * (i % 7), np.arange(256.0)) % 101


def test_median_memory_is_a_band_not_the_scan():
    """30 frames of 256x256 float64 (15 MiB) with a 1 MiB band budget: data memory stays small."""
    series = lazyims.open(_frame, nframes=30).dark(np.full((256, 256), 2.0)).flip("v")
    scan_bytes = series.data.nbytes
    median = series.median(band_bytes=2**20)
    at_start = []

    class Baseline(dask.callbacks.Callback):
        # the scheduler's own bookkeeping is there before the first task: not data
        def _pretask(self, key, dsk, state):
            if not at_start:
                at_start.append(tracemalloc.get_traced_memory()[0])

    tracemalloc.start()
    try:
        with Baseline(), dask.config.set(scheduler="sync"):
            out = median.compute()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    frames = np.stack([_frame(i) for i in range(30)])
    np.testing.assert_array_equal(out, np.median(np.maximum(frames - 2, 0)[:, :, ::-1], axis=0))
    assert peak - at_start[0] < scan_bytes / 4, (peak - at_start[0], scan_bytes)


def test_median_of_an_hdf5_file_on_a_cluster(cluster_client, tmp_path, expected):
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("imageseries/images", data=expected["frames"], chunks=(1, 8, 64))
    scan = lazyims.open(path, frames_per_chunk=2)
    median = scan.median(nframes=5, band_bytes=band_of(10, 5))
    out = cluster_client.compute(median).result()
    np.testing.assert_array_equal(out, expected["stats_median_nf5"])


def test_reductions_of_sparse_chunks_compute_to_numpy_unless_asked_for_sparse():
    frames = synthetic_frames(6, 10, 12, dtype=np.float32)
    frames[frames < 100] = 0
    series = lazyims.open(frames, frames_per_chunk=2).map_blocks(sparse.COO.from_numpy)
    assert series.is_sparse
    wanted = {
        "max": frames.max(0),
        "min": frames.min(0),
        "sum": frames.sum(0, dtype=np.float64),
        "average": frames.mean(0, dtype=np.float64).astype(np.float32),
    }
    for name, want in wanted.items():
        dense = getattr(stats, name)(series).compute()
        assert type(dense) is np.ndarray, name
        np.testing.assert_array_equal(dense, want)
        result = getattr(series, name)(sparse=True)
        assert isinstance(result._meta, sparse.COO)
        block = result.compute()
        assert isinstance(block, sparse.COO)
        np.testing.assert_array_equal(block.todense(), want)
    np.testing.assert_array_equal(series.median().compute(), np.median(frames, 0))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.uint64])
@pytest.mark.parametrize("shape", [(63, 3, 5), (64, 2, 2), (200, 3, 5), (261, 33, 31)])
def test_pixel_major_copy_in_frame_blocks_equals_numpy(dtype, shape):
    # Bands go into pixel-major order 64 frames at a time: whole and partial blocks,
    # contiguous or not, one piece or several, must land where numpy's copy puts them.
    from lazyims import stats

    frames = np.random.default_rng(shape[1]).integers(0, 200, shape).astype(dtype)
    want = np.moveaxis(frames, 0, -1)
    got = stats._by_pixel([frames])
    np.testing.assert_array_equal(got, want)
    assert got.flags.c_contiguous
    flipped = frames[:, :, ::-1]
    np.testing.assert_array_equal(stats._by_pixel([flipped]), np.moveaxis(flipped, 0, -1))
    cut = shape[0] // 3
    np.testing.assert_array_equal(stats._by_pixel([frames[:cut], frames[cut:]]), want)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.uint32])
@pytest.mark.parametrize("nframes", [1, 2, 7, 40])
def test_integer_percentile_equals_numpy_exactly(dtype, nframes):
    from lazyims.stats import _by_pixel, _integer_percentile

    rng = np.random.default_rng(nframes)
    stacked = (
        rng.poisson(60, (nframes, 9, 11)) - (30 if np.dtype(dtype).kind == "i" else 0)
    ).astype(dtype)
    for pct in (0, 12.5, 25, 33.3, 50, 50.5, 75, 99.9, 100):
        pieces = [stacked[:3], stacked[3:]] if nframes > 3 else [stacked]
        np.testing.assert_array_equal(
            _integer_percentile(_by_pixel(pieces), pct), np.percentile(stacked, pct, axis=0)
        )


@pytest.mark.parametrize("how", ["sort", "radix", "partition"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.uint64])
def test_every_ordering_gives_numpys_percentile(monkeypatch, how, dtype):
    # The ordering is chosen by speed on this machine; each must give numpy's result.
    from lazyims import stats

    monkeypatch.setattr(stats, "_ordering", lambda values, kth: how)
    rng = np.random.default_rng(7)
    for nframes in (1, 2, 9, 64):
        frames = (
            rng.poisson(40, (nframes, 5, 6)) - (20 if np.dtype(dtype).kind == "i" else 0)
        ).astype(dtype)
        for pct in (0, 25, 50, 62.5, 100):
            got = stats._integer_percentile(stats._by_pixel([frames]), pct)
            np.testing.assert_array_equal(
                got, np.percentile(frames, pct, axis=0), err_msg=f"{nframes} {pct}"
            )


def test_the_fastest_ordering_is_measured_once_per_dtype_and_frames(monkeypatch):
    from lazyims import stats

    monkeypatch.setattr(stats, "_FASTEST", {})
    values = np.random.default_rng(1).integers(0, 500, (3, 4, 30)).astype(np.uint16)
    assert stats._ordering(values.copy(), [14, 15]) in stats._ORDERINGS
    assert list(stats._FASTEST) == [("<u2", 30)]
    monkeypatch.setattr(stats, "_order_in_place", None)  # not measured again
    assert stats._ordering(values.copy(), [14, 15]) == stats._FASTEST[("<u2", 30)]
