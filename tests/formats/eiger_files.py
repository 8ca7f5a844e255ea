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


MASTER_FILTERS = {
    "bslz4": lambda: hdf5plugin.Bitshuffle(nelems=0, cname="lz4"),
    "bszstd": lambda: hdf5plugin.Bitshuffle(nelems=0, cname="zstd"),
    "lz4": lambda: hdf5plugin.LZ4(nbytes=0),
    "gzip": lambda: {"compression": "gzip", "shuffle": True},
    None: lambda: {},
}


def write_master(
    folder: Path,
    frames: np.ndarray,
    frames_per_file: int = 2,
    compression: str | None = "bslz4",
    name: str = "scan",
    mask: np.ndarray | None = None,
) -> Path:
    """DECTRIS master/data files: ``NAME_master.h5`` linking ``NAME_data_00000k.h5``."""
    master = folder / f"{name}_master.h5"
    rows, cols = frames.shape[1:]
    with h5py.File(master, "w") as f:
        f.attrs["default"] = "entry"
        detector = f.create_group("entry/instrument/detector")
        detector["count_time"] = 0.099999
        detector["frame_time"] = 0.1
        detector["x_pixel_size"] = 7.5e-05
        detector["description"] = np.bytes_(b"Dectris EIGER2 Si 16M")
        detector["bit_depth_image"] = np.uint32(8 * frames.dtype.itemsize)
        specific = detector.create_group("detectorSpecific")
        specific["nimages"] = np.uint64(len(frames))
        specific["pixel_mask"] = np.zeros((rows, cols), np.uint32) if mask is None else mask
        specific["software_version"] = np.bytes_(b"1.8.0")
        f["entry/instrument/beam/incident_wavelength"] = np.float32(0.1823)
        for k, start in enumerate(range(0, len(frames), frames_per_file)):
            data_name = f"{name}_data_{k + 1:06d}.h5"
            part = frames[start : start + frames_per_file]
            with h5py.File(folder / data_name, "w") as d:
                dset = d.create_dataset(
                    "entry/data/data",
                    data=part,
                    chunks=(1, rows, cols),
                    **MASTER_FILTERS[compression](),
                )
                dset.attrs["image_nr_low"] = start + 1
                dset.attrs["image_nr_high"] = start + len(part)
            f[f"entry/data/data_{k + 1:06d}"] = h5py.ExternalLink(data_name, "/entry/data/data")
    return master


def add_goniometer(master: Path, nframes: int, start=10.0, step=0.25) -> np.ndarray:
    """Write the goniometer's omega per frame; returns HEXRD's (nframes, 2) omega."""
    omega = start + step * np.arange(nframes)
    with h5py.File(master, "a") as f:
        f["entry/sample/goniometer/omega"] = omega
        f["entry/sample/goniometer/omega_range_average"] = step
    return np.stack([omega, omega + step], axis=1)
