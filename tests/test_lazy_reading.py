"""Every narrowing of a series opened from a file shrinks what is read, through one path.

A counting reader records each read; every test checks that exactly the frames, rows
and columns asked for are read, once.
"""

from __future__ import annotations

import subprocess
import sys

import dask
import h5py
import numpy as np
import pytest

import lazyims
from lazyims.formats.hdf5 import HDF5Frames
from tests.conftest import synthetic_frames

NFRAMES, ROWS, COLS = 4, 64, 64


@pytest.fixture
def scan(tmp_path):
    """A 4-frame 64 x 64 HDF5 scan with omega, one HDF5 chunk per frame."""
    data = synthetic_frames(NFRAMES, ROWS, COLS)
    omega = np.stack([np.arange(NFRAMES), np.arange(1, NFRAMES + 1)], axis=1).astype(float)
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("imageseries/images", data=data, chunks=(1, ROWS, COLS))
        f["imageseries"].attrs["omega"] = omega
    return path, data


@pytest.fixture
def reads(monkeypatch):
    """The reads of HDF5 frames: (start, stop, rows, cols) each."""
    calls: list[tuple[int, int, tuple[int, int], tuple[int, int]]] = []
    original = HDF5Frames.read

    def counting(self, start, stop, rows, cols):
        calls.append((start, stop, (rows.start, rows.stop), (cols.start, cols.stop)))
        return original(self, start, stop, rows, cols)

    monkeypatch.setattr(HDF5Frames, "read", counting)
    return calls


def pixels(calls) -> int:
    return sum((b - a) * (r1 - r0) * (c1 - c0) for a, b, (r0, r1), (c0, c1) in calls)


def compute(x):
    with dask.config.set(scheduler="sync"):
        return np.asarray(x.compute())


@pytest.mark.parametrize("fpc", [1, 2, 4])
@pytest.mark.parametrize(
    "narrow, frames, region",
    [
        (lambda s: s[:, 0:8, 0:8], [0, 1, 2, 3], ((0, 8), (0, 8))),
        (lambda s: s.rectangle(((0, 8), (0, 8))), [0, 1, 2, 3], ((0, 8), (0, 8))),
        (lambda s: s[1:3].rectangle(((0, 8), (0, 8))), [1, 2], ((0, 8), (0, 8))),
        (lambda s: s.rectangle(((8, 40), (4, 12)))[1:3, 2:6], [1, 2], ((10, 14), (4, 12))),
        (lambda s: s.frames([3, 1]), [3, 1], ((0, 64), (0, 64))),
        (lambda s: s[::2, 16:], [0, 2], ((16, 64), (0, 64))),
        (lambda s: s[np.array([False, True, True, False])], [1, 2], ((0, 64), (0, 64))),
        (lambda s: s.omega_range(1.2, 2.8), [1, 2], ((0, 64), (0, 64))),
        (lambda s: s[-1:], [3], ((0, 64), (0, 64))),
    ],
    ids=[
        "index-region",
        "rectangle",
        "frames-then-rectangle",
        "rectangle-then-index",
        "frames-list",
        "step-and-rows",
        "mask",
        "omega-range",
        "last",
    ],
)
def test_narrowed_series_reads_only_its_selection(scan, reads, fpc, narrow, frames, region):
    path, data = scan
    ims = lazyims.open(path, frames_per_chunk=fpc)
    part = narrow(ims)
    assert part.format == "hdf5" and part._reads_files
    (r0, r1), (c0, c1) = region
    expected = data[frames][:, r0:r1, c0:c1]
    np.testing.assert_array_equal(compute(part), expected)
    assert pixels(reads) == expected.size  # each pixel asked for read once, no more
    assert sorted(f for a, b, *_ in reads for f in range(a, b)) == sorted(frames)
    assert {(rows, cols) for *_, rows, cols in reads} == {region}
    if "omega" in part.metadata:
        np.testing.assert_array_equal(part.metadata["omega"], ims.metadata["omega"][frames])


def test_single_frame_reads_that_frame_and_region_alone(scan, reads):
    path, data = scan
    ims = lazyims.open(path, frames_per_chunk=4)
    np.testing.assert_array_equal(compute(ims[2]), data[2])
    np.testing.assert_array_equal(compute(ims[1:3][1, 0:8, 4:8]), data[2, 0:8, 4:8])
    np.testing.assert_array_equal(compute(ims.rectangle(((8, 16), (0, 8)))[-1]), data[3, 8:16, :8])
    assert reads == [(2, 3, (0, 64), (0, 64)), (2, 3, (0, 8), (4, 8)), (3, 4, (8, 16), (0, 8))]


@pytest.mark.parametrize("stat", ["max", "min", "sum", "average", "median"])
def test_statistics_of_the_first_frames_read_only_those(scan, reads, stat):
    path, data = scan
    ims = lazyims.open(path, frames_per_chunk=2)
    out = compute(getattr(ims, stat)(nframes=3))
    numpy_stat = {"max": np.max, "min": np.min, "sum": np.sum, "average": np.mean}
    expected = numpy_stat.get(stat, np.median)(data[:3].astype(np.float64), axis=0)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert pixels(reads) == 3 * ROWS * COLS


def test_median_bands_of_a_rectangle_read_only_their_rows(scan, reads):
    path, data = scan
    ims = lazyims.open(path, frames_per_chunk=4)
    cut = ims[1:3].rectangle(((8, 40), (16, 24)))
    # a budget of 8 rows of 2 frames x 8 columns (with the stats' overhead): 4 bands
    median = cut.median(band_bytes=int(8 * 2 * 8 * 2 * 1.25))
    assert len(median.chunks[0]) == 4
    np.testing.assert_allclose(compute(median), np.median(data[1:3, 8:40, 16:24], axis=0))
    assert pixels(reads) == 2 * 32 * 8
    assert {rows for *_, rows, _ in reads} == {(r, r + 8) for r in range(8, 40, 8)}


def test_processed_series_reads_what_the_processing_needs(scan, reads):
    path, data = scan
    ims = lazyims.open(path, frames_per_chunk=1)
    flipped = ims[1:3].flip("v").rectangle(((0, 8), (0, 8)))
    assert not flipped._reads_files
    np.testing.assert_array_equal(compute(flipped), data[1:3, :8, ::-1][:, :, :8])
    assert sorted((a, b) for a, b, *_ in reads) == [(1, 2), (2, 3)]  # frames narrowed first


def test_dask_array_is_built_only_when_needed(scan):
    path, _ = scan
    ims = lazyims.open(path)
    part = ims[1:3, 0:8]
    assert part._data is None and ims._data is None
    assert part.shape == (2, 8, 64) and part.chunks == ((2,), (8,), (64,))
    assert part.data is part.data  # built once, then kept


def test_read_frame_reads_through_the_reader_without_dask(scan, reads, monkeypatch):
    path, data = scan
    ims = lazyims.open(path, frames_per_chunk=4)

    def no_dask(*args, **kwargs):
        raise AssertionError("read_frame of an opened series must not compute with dask")

    monkeypatch.setattr(dask, "compute", no_dask)
    monkeypatch.setattr(dask.base, "get_scheduler", no_dask)
    np.testing.assert_array_equal(ims.read_frame(1), data[1])
    window = ims.read_frame(-1, rows=slice(4, 12), cols=slice(30, 34))
    np.testing.assert_array_equal(window, data[3, 4:12, 30:34])
    np.testing.assert_array_equal(
        ims[2:].read_frame(0, cols=slice(None, None, -3)), data[2, :, ::-3]
    )
    np.testing.assert_array_equal(ims[2].compute(), data[2])  # the same direct path
    np.testing.assert_array_equal(np.asarray(ims[0, 2:4]), data[0, 2:4])
    assert reads == [
        (1, 2, (0, 64), (0, 64)),
        (3, 4, (4, 12), (30, 34)),
        (2, 3, (0, 64), (0, 64)),
        (2, 3, (0, 64), (0, 64)),
        (0, 1, (2, 4), (0, 64)),
    ]
    assert isinstance(ims.read_frame(0), np.ndarray)


def test_read_frame_of_processed_and_sparse_series(scan, tmp_path):
    path, data = scan
    ims = lazyims.open(path)
    flipped = ims.flip("h")
    np.testing.assert_array_equal(flipped.read_frame(1, rows=slice(0, 3)), data[1, ::-1][:3])
    fc = tmp_path / "fc.npz"
    ims.write(fc, "frame-cache", threshold=40)
    cache = lazyims.open(fc)
    dense = np.where(data > 40, data, 0)
    got = cache.read_frame(2, rows=slice(5, 9), cols=slice(1, 60, 2))
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, dense[2, 5:9, 1:60:2])
    assert cache[2].compute().__class__ is np.ndarray
    np.testing.assert_array_equal(cache[2].compute(), dense[2])


@pytest.mark.parametrize(
    "i, rows, error",
    [
        (4, None, "out of range"),
        (-5, None, "out of range"),
        (1.0, None, "frame number"),
        (0, 3, "slice"),
    ],
)
def test_read_frame_bad_arguments(scan, i, rows, error):
    ims = lazyims.open(scan[0])
    with pytest.raises(lazyims.FrameIndexError, match=error):
        ims.read_frame(i, rows=rows)


def test_read_frame_does_not_import_distributed(scan):
    code = f"""
import sys, lazyims, numpy as np
ims = lazyims.open({str(scan[0])!r})
ims.read_frame(1, rows=slice(0, 4))
ims[2].compute()
ims.flip("v").read_frame(0)
print("distributed" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
