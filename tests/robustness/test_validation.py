"""Readers validate before they trust, and writers ask for checksums.

Sparse indices inside the frame, values that fit the cache's dtype, every decoded
HDF5 chunk of its full size, files unchanged since open, empty selections an
error, and damaged chunks caught by checksums: each is an error, never other data.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

import lazyims
from lazyims.errors import FileContentError, ProcessingError, WriteError

pytestmark = pytest.mark.filterwarnings("ignore:.*keep more than 10%:UserWarning")


def _frames(nframes: int = 4, rows: int = 16, cols: int = 20) -> np.ndarray:
    frames = np.zeros((nframes, rows, cols), np.uint16)
    frames[:, 2, 3] = 500 + np.arange(nframes)
    frames[:, 7, 11] = 900
    return frames


def _npz_cache(path: Path, row, col, data, dtype="uint16", shape=(16, 20)) -> Path:
    np.savez_compressed(
        path,
        shape=np.array(shape),
        nframes=np.array(1),
        dtype=np.array(dtype.encode()),
        **{"0_row": np.asarray(row), "0_col": np.asarray(col), "0_data": np.asarray(data)},
    )
    return path


# -- sparse entries ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "row, col, data, dtype, words",
    [
        (np.array([-1], np.int16), np.array([3], np.int16), [5], "uint16", "outside"),
        (np.array([2], np.int64), np.array([-4], np.int64), [5], "uint16", "outside"),
        (np.array([16], np.uint16), np.array([3], np.uint16), [5], "uint16", "outside"),
        (np.array([2], np.uint16), np.array([3], np.uint16), np.array([300]), "uint8", "fit"),
        (np.array([2], np.uint16), np.array([3], np.uint16), np.array([-1]), "uint16", "fit"),
        (np.array([2], np.uint16), np.array([3], np.uint16), np.array([2.5]), "int32", "fit"),
        (np.array([2], np.uint16), np.array([3], np.uint16), np.array([1e39]), "float32", "fit"),
        (np.array([2.0]), np.array([3.0]), np.array([5], np.uint16), "uint16", "not integers"),
    ],
)
def test_bad_sparse_entries_are_errors_not_other_pixels(tmp_path, row, col, data, dtype, words):
    path = _npz_cache(tmp_path / "fc.npz", row, col, data, dtype)
    ims = lazyims.open(path)
    with pytest.raises(FileContentError, match=words) as info:
        ims.compute()
    assert info.value.path == str(path)


def test_entries_of_a_wider_type_that_fit_are_read(tmp_path):
    path = _npz_cache(tmp_path / "fc.npz", [2], [3], np.array([300], np.int64), "uint16")
    assert lazyims.open(path).compute()[0, 2, 3] == 300


# -- HDF5 chunks ------------------------------------------------------------------------
def test_a_chunk_that_inflates_short_is_an_error_not_zeros(tmp_path):
    import zlib

    frames = _frames()
    path = tmp_path / "scan.h5"
    lazyims.open(frames).write(path, "hdf5")  # gzip + shuffle: the fast path reads it
    with h5py.File(path, "r+") as f:
        dset = f["imageseries/images"]
        dset.id.write_direct_chunk((1, 0, 0), zlib.compress(b"\0" * 100), filter_mask=0)
    ims = lazyims.open(path, frames_per_chunk=1)
    np.testing.assert_array_equal(ims[0].compute(), frames[0])
    with pytest.raises(FileContentError, match="100 bytes|does not inflate"):
        ims[1].compute()


# -- file identity ----------------------------------------------------------------------
def _write(kind: str, folder: Path, frames: np.ndarray) -> Path:
    ims = lazyims.open(frames).with_metadata(omega=np.zeros((len(frames), 2)))
    if kind == "hdf5":
        ims.write(folder / "scan.h5", "hdf5")
        return folder / "scan.h5"
    if kind == "zarr":
        ims.to_zarr(folder / "scan.zarr")
        return folder / "scan.zarr"
    if kind == "raw":
        (folder / "scan.bin").write_bytes(frames.astype("<u2").tobytes())
        rows, cols = frames.shape[1:]
        yml = folder / "scan.yml"
        yml.write_text(
            f"filename: scan.bin\nshape: {rows} {cols}\nskip: 0\n"
            "scalar: {type: i, bytes: 2, signed: false, endian: little}\n"
        )
        return yml
    path = folder / f"scan.{kind}"
    ims.to_framecache(path, 0)
    return path


@pytest.mark.parametrize("kind", ["hdf5", "zarr", "npz", "fch5", "yml", "raw"])
def test_a_file_replaced_after_open_is_an_error_at_compute(tmp_path, kind):
    path = _write(kind, tmp_path, _frames(4))
    ims = lazyims.open(path)
    other = tmp_path / "other"
    other.mkdir()
    replaced = _write(kind, other, _frames(6, 16, 20) + 1)
    if kind == "raw":  # the data file, not the YAML, is what is read at compute
        os.replace(other / "scan.bin", tmp_path / "scan.bin")
    elif kind == "yml":
        os.replace(other / "scan_cache.npz", tmp_path / "scan_cache.npz")
    elif kind == "zarr":
        shutil.rmtree(path)
        os.replace(replaced, path)
    else:
        os.replace(replaced, path)
    with pytest.raises(lazyims.LazyImsError, match="changed|replaced|gone"):
        ims.compute()


# -- empty selections and empty series ---------------------------------------------------
@pytest.mark.parametrize("stat", ["max", "min", "sum", "average", "median"])
def test_statistics_of_no_frames_are_an_error(stat):
    ims = lazyims.open(_frames())[2:2]
    with pytest.raises(ProcessingError, match="at least one frame"):
        getattr(ims, stat)()


@pytest.mark.parametrize("fmt", ["hdf5", "zarr", "frame-cache"])
@pytest.mark.parametrize("empty", ["no frames", "no rows"])
def test_empty_series_are_not_written(tmp_path, fmt, empty):
    ims = lazyims.open(_frames())
    ims = ims[1:1] if empty == "no frames" else lazyims.open(np.zeros((3, 0, 5), np.uint16))
    options = {"threshold": 0} if fmt == "frame-cache" else {}
    target = tmp_path / "out"
    with pytest.raises(WriteError, match="empty series") as info:
        lazyims.write(ims, target, fmt, **options)
    assert info.value.path == str(target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 10])
def test_float16_median_equals_numpys(n):
    frames = (np.random.default_rng(n).random((n, 9, 11)) * 1000).astype(np.float16)
    got = lazyims.open(frames).median().compute()
    np.testing.assert_array_equal(got, np.median(frames, axis=0).astype(np.float32))


# -- checksums --------------------------------------------------------------------------
def _flip_in_h5_chunk(path: Path, dataset: str, index: int = 1) -> None:
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(index)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + info.size // 2)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0x5A]))


@pytest.mark.parametrize("gzip", [0, 1])
def test_hdf5_chunks_carry_a_checksum_by_default(tmp_path, gzip):
    path = tmp_path / "scan.h5"
    lazyims.open(np.random.default_rng(0).integers(0, 9, (3, 16, 20), np.uint16)).write(
        path, "hdf5", gzip=gzip
    )
    with h5py.File(path) as f:
        assert f["imageseries/images"].fletcher32 == (gzip == 0)  # gzip: zlib's adler32
    _flip_in_h5_chunk(path, "imageseries/images")
    with pytest.raises(FileContentError):
        lazyims.open(path).compute()


def test_fch5_chunks_carry_a_checksum_by_default(tmp_path):
    path = tmp_path / "fc.fch5"
    frames = np.random.default_rng(0).integers(0, 60000, (40, 32, 64), np.uint16)
    lazyims.open(frames).to_framecache(path, 100)
    with h5py.File(path) as f:
        assert f["data"].fletcher32 and f["indices"].fletcher32
    _flip_in_h5_chunk(path, "data", 0)
    with pytest.raises(FileContentError):
        lazyims.open(path).compute()


@pytest.mark.parametrize("compressors", ["auto", None])
def test_zarr_chunks_carry_a_crc32c_by_default(tmp_path, compressors):
    path = tmp_path / "scan.zarr"
    lazyims.open(_frames()).to_zarr(path, compressors=compressors)
    chunk = next(p for p in (path / "frames").rglob("*") if p.is_file() and p.parent.name == "0")
    blob = bytearray(chunk.read_bytes())
    blob[len(blob) // 2] ^= 0x5A
    chunk.write_bytes(bytes(blob))
    with pytest.raises(FileContentError):
        lazyims.open(path).compute()
