"""Small Eiger files for the tests: stream v1/v2 files and DECTRIS master/data files.

The blobs are made as the detector makes them: ``bslz4`` and ``lz4`` are the raw
chunks of an HDF5 dataset written through hdf5plugin's bitshuffle/LZ4 and LZ4
filters (the framing DECTRIS uses), ``csrnpz`` is the uncompressed size followed by
``scipy.sparse.save_npz`` bytes, as in HEXRD's own tests.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import h5py
import hdf5plugin
import numpy as np
from scipy.sparse import csr_matrix, save_npz

FILTERS = {
    "bslz4": lambda: hdf5plugin.Bitshuffle(nelems=0, cname="lz4"),
    "lz4": lambda: hdf5plugin.LZ4(nbytes=0),
}


def blob(frame: np.ndarray, compression: str | None) -> bytes:
    """``frame`` compressed as an Eiger stream stores it."""
    if compression is None:
        return frame.tobytes()
    if compression == "csrnpz":
        buffer = io.BytesIO()
        buffer.write(frame.nbytes.to_bytes(8, "big"))
        save_npz(buffer, csr_matrix(frame))
        return buffer.getvalue()
    with h5py.File(io.BytesIO(), "w") as f:
        dset = f.create_dataset("x", data=frame, chunks=frame.shape, **FILTERS[compression]())
        mask, raw = dset.id.read_direct_chunk((0,) * frame.ndim)
    assert mask == 0, "the filter was not applied"
    return bytes(raw)


def write_blob_group(group: h5py.Group, frame: np.ndarray, compression: str | None) -> None:
    """The datasets of one stored frame, as HEXRD's tests write them."""
    group.create_dataset("compression_type", data=compression or "none")
    group.create_dataset("dtype", data=frame.dtype.str)
    group.create_dataset("shape", data=frame.shape)
    group.create_dataset("elem_size", data=frame.dtype.itemsize)
    group.create_dataset("data", data=np.void(blob(frame, compression)))


def write_metadata(group: h5py.Group, metadata: dict[str, Any]) -> None:
    for key, value in metadata.items():
        if isinstance(value, dict):
            write_metadata(group.create_group(key), value)
        else:
            group.create_dataset(key, data=value)


DEFAULT_METADATA = {
    "start": {"series_id": 7, "count_time": np.array([0.1]), "detector": "EIGER2 test"},
    "output_metadata": {"omega_start": np.array([0.0]), "notes": "made by the tests"},
}


def write_stream_v1(
    path: Path,
    frames: np.ndarray,
    compression: str | None = "bslz4",
    metadata: dict[str, Any] | None = None,
) -> Path:
    """An eiger-stream-v1 file of ``frames``."""
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        for i, frame in enumerate(frames):
            write_blob_group(data.create_group(str(i)), frame, compression)
        write_metadata(
            f.create_group("metadata"), DEFAULT_METADATA if metadata is None else metadata
        )
    return path


def write_stream_v2(
    path: Path,
    threshold_1: np.ndarray,
    threshold_2: np.ndarray | None,
    compression: str | None = "bslz4",
    metadata: dict[str, Any] | None = None,
) -> Path:
    """An eiger-stream-v2 file; ``threshold_2`` None leaves the threshold_2 groups out."""
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        for i, frame in enumerate(threshold_1):
            write_blob_group(data.create_group(f"{i}/threshold_1"), frame, compression)
            if threshold_2 is not None:
                write_blob_group(
                    data[str(i)].create_group("threshold_2"), threshold_2[i], compression
                )
        write_metadata(
            f.create_group("metadata"), DEFAULT_METADATA if metadata is None else metadata
        )
    return path


def eiger_frames(nframes=4, rows=20, cols=24, dtype=np.uint32, seed=0) -> np.ndarray:
    """Photon-counting frames: mostly 0 and 1 counts, a few bright pixels."""
    rng = np.random.default_rng(seed)
    frames = rng.poisson(0.4, size=(nframes, rows, cols))
    for f in frames:
        f[rng.integers(0, rows, 5), rng.integers(0, cols, 5)] = rng.integers(50, 5000, 5)
    return frames.astype(dtype)
