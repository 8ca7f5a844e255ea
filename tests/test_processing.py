"""Lazy processing against what HEXRD computed on the golden scan, and its edge cases."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import sparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage

import lazyims
from lazyims import ProcessingError, processing
from lazyims.formats.hdf5 import HDF5Frames
from tests.conftest import DATA, synthetic_frames

CHUNKINGS = [1, 5, 12]


def open_scan(frames_per_chunk: int) -> lazyims.ImageSeries:
    return lazyims.open(DATA / "scan.h5", frames_per_chunk=frames_per_chunk)


@pytest.mark.parametrize("fpc", CHUNKINGS)
@pytest.mark.parametrize("code", ["v", "h", "vh", "t", "r90", "r270"])
def test_dark_then_flip_equals_hexrd(expected, fpc, code):
    result = open_scan(fpc).dark(expected["dark_median"]).flip(code)
    out = result.compute()
    want = expected[f"dark_flip_{code}"]
    assert out.dtype == want.dtype == np.float32
    np.testing.assert_array_equal(out, want)
    assert result.shape == want.shape


@pytest.mark.parametrize("fpc", CHUNKINGS)
def test_hexrd_operations_equal_hexrd(expected, fpc):
    scan = open_scan(fpc)
    for name, result in {
        "rect": scan.rectangle([[4, 40], [8, 60]]),
        "add": scan.add(1.5),
        "gauss_laplace": scan.gauss_laplace(1.0),
        "add_row_col": scan.add_row(5).add_column(7),
    }.items():
        out = result.compute()
        assert out.dtype == expected[name].dtype, name
        np.testing.assert_array_equal(out, expected[name], err_msg=name)


@pytest.mark.parametrize("fpc", CHUNKINGS)
def test_process_oplist_with_frame_list(expected, fpc):
    result = open_scan(fpc).process([("flip", "v")], frame_list=[1, 3, 5, 8])
    np.testing.assert_array_equal(result.compute(), expected["frame_list"])
    np.testing.assert_array_equal(result.metadata["omega"], expected["frame_list_omega"])
    ops = [("dark", expected["dark_median"]), ("flip", "r90")]
    np.testing.assert_array_equal(
        lazyims.process(open_scan(fpc), ops).compute(), expected["dark_flip_r90"]
    )


def test_all_hexrd_flip_aliases(expected):
    scan = open_scan(5).dark(expected["dark_median"])
    for code, same in [("y", "v"), ("x", "h"), ("hv", "vh"), ("r180", "vh"), ("T", "t")]:
        np.testing.assert_array_equal(scan.flip(code).compute(), expected[f"dark_flip_{same}"])
    np.testing.assert_array_equal(scan.flip("ccw90").compute(), expected["dark_flip_r90"])
    np.testing.assert_array_equal(scan.flip("cw90").compute(), expected["dark_flip_r270"])


@pytest.mark.parametrize("code", ["q", "", None, "V"])
def test_unknown_flip_is_an_error(code):
    with pytest.raises(ProcessingError, match="flip code"):
        open_scan(5).flip(code)


def test_rectangle_reads_only_its_region(monkeypatch):
    calls = []
    original = HDF5Frames.read

    def spy(self, start, stop, rows, cols):
        calls.append((rows, cols))
        return original(self, start, stop, rows, cols)

    monkeypatch.setattr(HDF5Frames, "read", spy)
    scan = open_scan(5)
    cut = scan.rectangle(((4, 40), (8, 60))).rectangle(((1, 3), (2, 5)))
    assert cut._reads_files
    with dask.config.set(scheduler="sync"):
        out = cut.compute()
    assert calls and all(c == (slice(5, 7), slice(10, 13)) for c in calls)
    np.testing.assert_array_equal(out, scan.compute()[:, 5:7, 10:13])
    assert cut.metadata["omega"].shape == (12, 2)


def test_rectangle_of_processed_series_slices_the_frames(expected):
    flipped = open_scan(5).flip("v")
    cut = flipped.rectangle([[4, 40], [8, 60]])
    assert not cut._reads_files
    np.testing.assert_array_equal(cut.compute(), expected["frames"][:, 4:40, ::-1][:, :, 8:60])


@pytest.mark.parametrize(
    "rect", [[[0, 49], [0, 10]], [[-1, 10], [0, 10]], [[10, 10], [0, 5]], [[0, 5], [3, 65]], "ab"]
)
def test_rectangle_outside_the_frame_is_an_error(rect):
    with pytest.raises(ProcessingError):
        open_scan(5).rectangle(rect)


def test_unsigned_dark_does_not_wrap():
    frames = np.array([[[5, 10], [0, 65535]]], dtype=np.uint16)
    dark = np.array([[7, 3], [1, 1]], dtype=np.uint16)
    out = lazyims.open(frames).dark(dark).compute()
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, [[[0, 7], [0, 65534]]])
    # promotion: uint8 frames with a uint16 dark give uint16; int16 dark gives int16
    small = lazyims.open(np.full((2, 2, 2), 200, np.uint8))
    assert small.dark(dark).dtype == np.uint16
    assert small.dark(dark.astype(np.int16)).dtype == np.int16
    np.testing.assert_array_equal(small.dark(dark.astype(np.int16)).compute()[0], 200 - dark)
    assert lazyims.open(frames).dark(dark.astype(np.float64)).dtype == np.float64


def test_lazy_dark_from_median_is_computed_once(expected):
    scan = open_scan(1)
    median = scan.median()
    result = scan.dark(median).flip("v")
    counted = []

    class Count(dask.callbacks.Callback):
        def _pretask(self, key, dsk, state):
            name = key[0] if isinstance(key, tuple) else key
            if str(name).startswith("percentile_of_pieces"):
                counted.append(key)

    with Count(), dask.config.set(scheduler="sync"):
        out = result.compute()
    np.testing.assert_array_equal(out, expected["dark_flip_v"])
    assert len(counted) == median.npartitions


def test_dark_of_wrong_shape_is_an_error():
    with pytest.raises(ProcessingError, match="shape"):
        open_scan(5).dark(np.zeros((48, 63), np.float32))
    with pytest.raises(ProcessingError, match="shape"):
        open_scan(5).dark(np.zeros((12, 48, 64), np.float32))


def test_gauss_laplace_ignores_row_chunks():
    frames = synthetic_frames(4, 24, 32, dtype=np.float32)
    chunked = lazyims.open(da.from_array(frames, chunks=(3, 7, 10)))
    out = chunked.gauss_laplace(1.5).compute()
    want = np.stack([ndimage.gaussian_laplace(f, 1.5) for f in frames])
    np.testing.assert_array_equal(out, want)
    with pytest.raises(ProcessingError):
        chunked.gauss_laplace(-1)


@pytest.mark.parametrize("index", [0, 3, 24, -2])
def test_add_row_and_column_insert_zeros(index):
    frames = synthetic_frames(3, 24, 32)
    series = lazyims.open(da.from_array(frames, chunks=(2, 5, 9)))
    np.testing.assert_array_equal(series.add_row(index).compute(), np.insert(frames, index, 0, 1))
    np.testing.assert_array_equal(
        series.add_column(index).compute(), np.insert(frames, index, 0, 2)
    )
    with pytest.raises(ProcessingError):
        series.add_row(25)
    with pytest.raises(ProcessingError):
        series.add_column(1.5)


def test_add_keeps_float_frames_and_takes_a_frame():
    frames = synthetic_frames(3, 8, 8, dtype=np.float64)
    series = lazyims.open(frames)
    assert series.add(1).dtype == np.float64
    offset = np.arange(64.0).reshape(8, 8)
    np.testing.assert_array_equal(series.add(offset).compute(), frames + offset)
    with pytest.raises(ProcessingError):
        series.add("x")
    with pytest.raises(ProcessingError):
        series.add(np.ones((3, 3)))


def test_threshold_zeroes_values_at_or_below():
    frames = np.array([[[1.0, 20.0], [20.5, np.nan]]], dtype=np.float32)
    out = lazyims.open(frames).threshold(20).compute()
    np.testing.assert_array_equal(out, [[[0, 0], [20.5, np.nan]]])
    with pytest.raises(ProcessingError):
        lazyims.open(frames).threshold("20")


def test_frames_selects_omega(expected):
    scan = open_scan(5)
    picked = scan.frames([8, 1])
    np.testing.assert_array_equal(picked.compute(), expected["frames"][[8, 1]])
    np.testing.assert_array_equal(picked.metadata["omega"], expected["omega"][[8, 1]])
    assert scan.frames(range(2, 4)).nframes == 2


def test_process_rejects_unknown_keys_and_bad_items():
    with pytest.raises(ProcessingError, match="unknown operation"):
        open_scan(5).process([("blur", 3)])
    with pytest.raises(ProcessingError, match="pair"):
        open_scan(5).process(["flip"])


def _double(frame, factor):
    return frame[::2] * factor


def test_registered_operations():
    frames = synthetic_frames(4, 8, 10)
    series = lazyims.open(frames, frames_per_chunk=3)
    processing.register_operation("crop-top", lambda s, n: s.rectangle(((n, 8), (0, 10))))
    processing.register_operation("halve-rows", _double, per_frame=True)
    try:
        out = series.process([("crop-top", 2), ("halve-rows", 3)])
        assert out.dtype == (frames[0][::2] * 3).dtype
        np.testing.assert_array_equal(out.compute(), frames[:, 2:][:, ::2] * 3)
        assert "halve-rows" in processing.operation_keys()
    finally:
        processing._OPERATIONS.pop("crop-top")
        processing._OPERATIONS.pop("halve-rows")


# -- sparse chunks (frame-caches) -------------------------------------------------------
def sparse_series(frames, fpc=2):
    return lazyims.open(frames, frames_per_chunk=fpc).map_blocks(sparse.COO.from_numpy)


def test_sparse_stays_sparse_through_flip_threshold_dark():
    frames = synthetic_frames(5, 12, 16, dtype=np.float32)
    frames[frames < 32] = 0
    dark = np.abs(np.random.default_rng(1).normal(30, 5, (12, 16))).astype(np.float32)
    series = sparse_series(frames)
    assert series.is_sparse
    result = series.dark(dark).flip("r90").threshold(5).rectangle(((1, 14), (2, 10)))
    assert result.is_sparse
    blocks = dask.compute(*result.to_dask(sparse=None).to_delayed().ravel())
    assert all(isinstance(b, sparse.COO) for b in blocks)
    want = np.maximum(frames - dark, 0).transpose(0, 2, 1)[:, ::-1, :]
    want = np.where(want <= 5, 0, want)[:, 1:14, 2:10]
    np.testing.assert_array_equal(result.compute(), want)


def test_sparse_dark_with_negative_values_is_still_right():
    frames = synthetic_frames(3, 6, 6, dtype=np.float32)
    frames[frames < 40] = 0
    dark = np.full((6, 6), -2.0, np.float32)
    out = sparse_series(frames).dark(dark)
    np.testing.assert_array_equal(out.compute(), np.maximum(frames - dark, 0))


def test_sparse_densifies_for_add():
    frames = synthetic_frames(3, 6, 6, dtype=np.float32)
    out = sparse_series(frames).add(1.0)
    assert not out.is_sparse
    np.testing.assert_array_equal(out.compute(), frames + 1)


# -- the everyday pipeline ---------------------------------------------------------------
def test_everyday_pipeline_gives_the_golden_frame_cache(expected):
    scan = lazyims.open(DATA / "scan.h5")
    cache = scan.dark(scan.median()).flip("v").threshold(20)
    np.testing.assert_array_equal(cache.compute(), expected["framecache_dense"])


def test_everyday_pipeline_on_a_cluster(cluster_client, expected):
    scan = lazyims.open(DATA / "scan.h5", frames_per_chunk=2)
    dark = scan.median(nframes=5, band_bytes=int(5 * 64 * 2 * 1.25 * 16))  # 3 bands of 16 rows
    cache = scan.dark(dark).flip("v").threshold(20)
    out = cluster_client.compute(cache).result()
    frames = expected["frames"]
    numpy_dark = np.median(frames[:5], axis=0).astype(np.float32)
    want = np.maximum(frames, numpy_dark) - numpy_dark
    want = np.where(want[:, :, ::-1] <= 20, 0, want[:, :, ::-1])
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(cluster_client.compute(dark).result(), numpy_dark)
    # a median of the processed frames, in bands recomputed from the file (dark shared)
    banded = cache.median(band_bytes=int(12 * 64 * 4 * 1.25 * 10))  # 5 bands of 10 rows
    assert len(banded.chunks[0]) == 5
    out = cluster_client.compute(banded).result()
    np.testing.assert_array_equal(out, np.median(want, axis=0).astype(np.float32))


# -- property: lazy op lists equal numpy frame by frame -----------------------------------
def numpy_op(frame, key, data):
    if key == "dark":
        # in float64 (exact for these values), so unsigned types cannot wrap
        out = frame.astype(np.float64) - data.astype(np.float64)
        return np.where(out < 0, 0, out).astype(np.result_type(frame, data))
    if key == "flip":
        return {
            "v": frame[:, ::-1],
            "h": frame[::-1],
            "vh": frame[::-1, ::-1],
            "t": frame.T,
            "r90": frame.T[::-1],
            "r270": frame.T[:, ::-1],
        }[data]
    if key == "add":
        out = frame.astype(frame.dtype if frame.dtype.kind == "f" else np.float32)
        out += data
        return out
    if key == "threshold":
        return np.where(frame <= data, 0, frame)
    if key == "add-row":
        return np.insert(frame, data, 0, axis=0)
    if key == "add-column":
        return np.insert(frame, data, 0, axis=1)
    if key == "rectangle":
        (r0, r1), (c0, c1) = data
        return frame[r0:r1, c0:c1]
    raise AssertionError(key)


@st.composite
def op_lists(draw):
    shape = rows, cols = draw(st.integers(3, 9)), draw(st.integers(3, 9))
    ops = []
    if draw(st.booleans()):
        ops.append(("dark", np.full((rows, cols), draw(st.integers(0, 40)), np.uint16)))
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.sampled_from(["flip", "add", "threshold", "add-row", "add-column", "rect"]))
        if key == "flip":
            code = draw(st.sampled_from(["v", "h", "vh", "t", "r90", "r270"]))
            ops.append(("flip", code))
            if code in ("t", "r90", "r270"):
                rows, cols = cols, rows
        elif key == "add":
            ops.append(("add", draw(st.sampled_from([1.5, -3.0, 7]))))
        elif key == "threshold":
            ops.append(("threshold", draw(st.integers(0, 60))))
        elif key == "add-row":
            ops.append(("add-row", draw(st.integers(0, rows))))
            rows += 1
        elif key == "add-column":
            ops.append(("add-column", draw(st.integers(0, cols))))
            cols += 1
        elif rows > 1 and cols > 1:
            r0, c0 = draw(st.integers(0, rows - 2)), draw(st.integers(0, cols - 2))
            r1, c1 = draw(st.integers(r0 + 1, rows)), draw(st.integers(c0 + 1, cols))
            ops.append(("rectangle", ((r0, r1), (c0, c1))))
            rows, cols = r1 - r0, c1 - c0
    return shape, ops


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape_ops=op_lists(), fpc=st.integers(1, 4), seed=st.integers(0, 5))
def test_lazy_op_lists_equal_numpy_frame_by_frame(shape_ops, fpc, seed):
    shape, ops = shape_ops
    frames = np.random.default_rng(seed).poisson(30, (4, *shape)).astype(np.uint16)
    lazy = lazyims.open(frames, frames_per_chunk=fpc).process(ops)
    want = []
    for frame in frames:
        for key, data in ops:
            frame = numpy_op(frame, key, data)
        want.append(frame)
    want = np.stack(want)
    out = lazy.compute()
    assert out.dtype == want.dtype
    np.testing.assert_array_equal(out, want)


def test_dark_keeps_the_frames_chunks():
    frames = synthetic_frames(6, 20, 30)
    series = lazyims.open(da.from_array(frames, chunks=(2, 7, 11)))
    dark = np.random.default_rng(1).poisson(30, (20, 30)).astype(np.float32)
    median = np.median(frames, axis=0).astype(np.float32)
    for image, values in [
        (dark, dark),
        (da.from_array(dark, chunks=(5, 30)), dark),
        (series.median(band_bytes=3000), median),
    ]:
        result = series.dark(image)
        assert result.chunks == series.chunks
        np.testing.assert_array_equal(result.compute(), np.maximum(frames - values, 0))
