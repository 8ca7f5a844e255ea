"""Frame-caches read at the speed of their bytes: chunks by stored size, one read per chunk,
reductions from the stored pixels. Everything must equal numpy on the dense frames."""

from __future__ import annotations

import io

import dask
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lazyims
from lazyims.errors import FileContentError
from lazyims.formats.framecache import _common
from lazyims.formats.framecache import npz as npz_style

DTYPES = ["uint8", "uint16", "int16", "int32", "float32", "float64"]


def hexrd_npz(path, frames: np.ndarray, order=None, duplicate: bool = False, between=None):
    """An npz in HEXRD's layout, members written frame by frame in ``order``."""
    arrays = {}
    for i in order if order is not None else range(len(frames)):
        row, col = np.nonzero(frames[i])
        data = frames[i][row, col]
        if duplicate and row.size:  # a pixel stored twice: HEXRD's sparse matrices sum them
            row, col = np.append(row, row[0]), np.append(col, col[0])
            data = np.append(data, data[0]).astype(frames.dtype)
        arrays[f"{i}_row"] = row.astype(np.uint16)
        arrays[f"{i}_col"] = col.astype(np.uint16)
        arrays[f"{i}_data"] = data
        if between is not None and i == 0:
            arrays["between"] = between
    arrays["shape"] = np.array(frames.shape[1:], dtype=np.int64)
    arrays["nframes"] = np.array(len(frames), dtype=np.int64)
    arrays["dtype"] = np.array(str(frames.dtype).encode())
    np.savez_compressed(path, **arrays)
    return path


def sparse_frames(seed: int, dtype: str, nframes: int, rows: int, cols: int, fill: float):
    rng = np.random.default_rng(seed)
    kind = np.dtype(dtype).kind
    low = 0 if kind == "u" else -50
    frames = rng.integers(low, 100, (nframes, rows, cols)).astype(dtype)
    frames[rng.random(frames.shape) > fill] = 0
    if kind == "f" and frames.size:
        frames.flat[rng.integers(frames.size)] = np.nan
    return frames


def dense_reductions(frames: np.ndarray, n: int) -> dict[str, np.ndarray]:
    d = frames[:n]
    total = d.sum(axis=0, dtype=np.float64)
    return {
        "max": d.max(axis=0),
        "min": d.min(axis=0),
        "sum": total,
        "average": (total / len(d)).astype(np.float32),
    }


@pytest.mark.filterwarnings("ignore:.*keep more than 10%")
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from(DTYPES),
    nframes=st.integers(1, 7),
    fill=st.sampled_from([0.0, 0.05, 0.5, 1.0]),
    first=st.integers(0, 7),
    rect=st.tuples(st.integers(0, 5), st.integers(0, 6)),
    style=st.sampled_from(["npz", "fch5"]),
)
def test_reductions_from_stored_pixels_equal_numpy(
    tmp_path_factory, seed, dtype, nframes, fill, first, rect, style
):
    frames = sparse_frames(seed, dtype, nframes, 6, 7, fill)
    folder = tmp_path_factory.mktemp("fc")
    if style == "npz":
        path = hexrd_npz(folder / "fc.npz", frames)
    else:
        path = folder / "fc.fch5"
        lazyims.open(frames).to_framecache(path, threshold=-np.inf, style="fch5")
        frames = np.where(np.isnan(frames), 0, frames)  # NaN is never kept
    ims = lazyims.open(path)
    r0, c0 = rect
    ims = ims.rectangle(((r0, 6), (c0, 7)))
    n = min(first, nframes) or nframes
    want = dense_reductions(frames[:, r0:, c0:], n)
    with dask.config.set(scheduler="sync"):
        for op, expected in want.items():
            got = getattr(lazyims.stats, op)(ims, first).compute()
            assert isinstance(got, np.ndarray) and got.dtype == expected.dtype, op
            np.testing.assert_array_equal(got, expected, err_msg=op)


@pytest.mark.parametrize("dtype", ["uint16", "int32", "float32"])
def test_repeated_pixels_are_summed_as_hexrd_does(tmp_path, dtype):
    frames = sparse_frames(3, dtype, 4, 5, 6, 0.3)
    frames[np.isnan(frames)] = 7
    frames[:, 0, 0] = 11
    path = hexrd_npz(tmp_path / "dup.npz", frames, duplicate=True)
    doubled = frames.copy()
    doubled[:, 0, 0] = 22  # the first stored pixel of each frame is (0, 0), stored twice
    ims = lazyims.open(path)
    np.testing.assert_array_equal(ims.compute(), doubled)
    for op, expected in dense_reductions(doubled, 4).items():
        np.testing.assert_array_equal(getattr(lazyims.stats, op)(ims).compute(), expected)


def test_chunks_follow_stored_bytes_and_reductions_use_few_tasks(tmp_path, monkeypatch):
    frames = sparse_frames(5, "uint16", 60, 40, 50, 0.01)
    path = hexrd_npz(tmp_path / "fc.npz", frames)
    ims = lazyims.open(path)
    assert ims.chunks[0] == (60,)  # tiny frames: one chunk, not 2 frames each
    monkeypatch.setattr(_common, "TARGET_STORED_CHUNK_BYTES", 3000)
    small = lazyims.open(path)
    assert 1 < len(small.chunks[0]) < 60
    monkeypatch.setattr(lazyims.stats, "STORED_BYTES_PER_TASK", 2000)
    result = lazyims.stats.max(small)
    parts = [k for k in dict(result.__dask_graph__()) if "stored-max" in str(k)]
    assert 1 < len(parts) < 60
    np.testing.assert_array_equal(result.compute(), frames.max(axis=0))
    np.testing.assert_array_equal(small.compute(), frames)


def test_dense_chunks_of_a_long_sparse_chunk_stay_small(tmp_path, monkeypatch):
    frames = sparse_frames(6, "uint16", 30, 64, 64, 0.02)
    path = hexrd_npz(tmp_path / "fc.npz", frames)
    ims = lazyims.open(path)
    assert ims.chunks[0] == (30,)
    monkeypatch.setattr(lazyims.series, "_DENSE_CHUNK_BYTES", 64 * 64 * 2 * 4)
    dense = ims.dense()
    assert max(dense.chunks[0]) == 4
    np.testing.assert_array_equal(dense.data.blocks[1].compute(), frames[4:8])


def test_members_scattered_in_the_file_are_read_one_by_one(tmp_path):
    frames = sparse_frames(7, "float32", 9, 20, 20, 0.1)
    frames[np.isnan(frames)] = 1
    big = np.random.default_rng(0).random(300_000)  # between frame 0 and the others
    path = hexrd_npz(tmp_path / "fc.npz", frames, order=[5, 0, 8, 1, 7, 2, 6, 3, 4], between=big)
    ims = lazyims.open(path, frames_per_chunk=3)
    np.testing.assert_array_equal(ims.compute(), frames)
    np.testing.assert_array_equal(lazyims.stats.sum(ims).compute(), frames.sum(0, np.float64))
    np.testing.assert_array_equal(ims.metadata["between"], big)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(5, dtype="<u2"),
        np.arange(5, dtype=">i4"),
        np.arange(0, dtype="<f8"),
        np.array(3, dtype=np.int64),
        np.arange(6, dtype="<f4").reshape(2, 3),
        np.asfortranarray(np.arange(6, dtype="<i2").reshape(2, 3)),
        np.array(b"float32"),
        np.array(["omega"]),
        np.arange(4, dtype=np.complex64),
    ],
)
def test_npy_members_read_as_numpy_reads_them(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    got = npz_style._npy_array(buffer.getvalue(), None, "x.npz")
    assert got.dtype == array.dtype and got.shape == array.shape
    np.testing.assert_array_equal(got, array)


def test_npy_member_with_wrong_length_is_a_clear_error():
    buffer = io.BytesIO()
    np.save(buffer, np.arange(5, dtype="<u2"))
    member = npz_style.MemberLocation("0_row.npy", 0, 0, 0, 8, 0)
    with pytest.raises(FileContentError, match="0_row"):
        npz_style._npy_array(buffer.getvalue()[:-2], member, "x.npz")


def test_stored_pixels_outside_the_frame_are_a_clear_error(tmp_path):
    frames = sparse_frames(8, "uint16", 3, 5, 5, 0.5)
    path = hexrd_npz(tmp_path / "fc.npz", frames)
    data = dict(np.load(path))
    data["1_row"] = data["1_row"].copy()
    data["1_row"][-1] = 9
    np.savez_compressed(path, **data)
    with pytest.raises(FileContentError, match="frame 1: a pixel lies outside"):
        lazyims.stats.max(lazyims.open(path)).compute()


@pytest.mark.parametrize("selection", [[4, 1, 1, 2, 3], [0, 2, 4], slice(1, 4), [5]])
def test_reductions_of_selected_frames_from_stored_pixels(tmp_path, monkeypatch, selection):
    frames = sparse_frames(9, "int16", 6, 8, 9, 0.3)
    ims = lazyims.open(hexrd_npz(tmp_path / "fc.npz", frames))[selection]
    monkeypatch.setattr(lazyims.stats, "STORED_BYTES_PER_TASK", 400)  # several tasks
    chosen = frames[selection]
    for op, expected in dense_reductions(chosen, len(chosen)).items():
        result = getattr(lazyims.stats, op)(ims)
        assert any("stored" in str(k) for k in dict(result.__dask_graph__()))
        np.testing.assert_array_equal(result.compute(), expected, err_msg=op)
