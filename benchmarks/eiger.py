"""Eiger rows (issue 16): 100 frames of 4362 x 4148, bitshuffle/LZ4, max over all frames.

- lazyims on an eiger-stream-v1 file against HEXRD's own reader and ``stats.max``;
- the same with 2 threads against 1 (the frames decode in parallel: goal >= 1.7x);
- DECTRIS master/data files: lazyims (raw chunks decoded outside HDF5's lock) against
  a loop reading each frame through h5py and hdf5plugin's filter.

The files hold Eiger-like uint16 frames (Poisson counts of mean 0.3, a few bright
pixels). A handful of distinct frames are compressed once and their blobs reused
(the stream file stores them, the data files get them as raw chunks), so making
400 MB of files takes seconds. In ``--quick`` runs the frames are 64 x 64.
Figures and the choice of decoder: ``benchmarks/eiger.md``.
"""

from __future__ import annotations

import io
from pathlib import Path

import dask
import h5py
import hdf5plugin
import numpy as np

import lazyims

EIGER2_16M = (4362, 4148)
DISTINCT = 4


def _frames(rows: int, cols: int) -> list[np.ndarray]:
    rng = np.random.default_rng(16)
    frames = []
    for _ in range(DISTINCT):
        frame = rng.poisson(0.3, (rows, cols)).astype(np.uint16)
        n = max(1, rows * cols // 10000)
        frame[rng.integers(0, rows, n), rng.integers(0, cols, n)] = rng.integers(100, 60000, n)
        frames.append(frame)
    return frames


def _bslz4(frame: np.ndarray) -> bytes:
    """The frame as the detector compresses it (bitshuffle/LZ4 with its 12-byte header)."""
    with h5py.File(io.BytesIO(), "w") as f:
        dset = f.create_dataset("x", data=frame, chunks=frame.shape, **hdf5plugin.Bitshuffle())
        return bytes(dset.id.read_direct_chunk((0, 0))[1])


def make_stream(workdir: Path, nframes: int, rows: int, cols: int) -> Path:
    """An eiger-stream-v1 file (reused when it exists)."""
    path = workdir / f"eiger_stream_{nframes}x{rows}x{cols}.h5"
    if path.exists():
        return path
    blobs = [_bslz4(f) for f in _frames(rows, cols)]
    tmp = path.with_suffix(".tmp")
    with h5py.File(tmp, "w") as f:
        for i in range(nframes):
            g = f.create_group(f"data/{i}")
            g["compression_type"], g["dtype"], g["shape"] = "bslz4", "<u2", (rows, cols)
            g["elem_size"], g["data"] = 2, np.void(blobs[i % DISTINCT])
        f["metadata/start/count_time"] = [0.1]
    tmp.rename(path)
    return path


def make_master(workdir: Path, nframes: int, rows: int, cols: int, per_file: int = 50) -> Path:
    """DECTRIS master/data files, ``per_file`` frames per data file (reused when they exist)."""
    folder = workdir / f"eiger_master_{nframes}x{rows}x{cols}"
    master = folder / "scan_master.h5"
    if master.exists():
        return master
    folder.mkdir(parents=True, exist_ok=True)
    blobs = [_bslz4(f) for f in _frames(rows, cols)]
    tmp = master.with_suffix(".tmp")
    with h5py.File(tmp, "w") as f:
        f["entry/instrument/detector/count_time"] = 0.1
        for k, start in enumerate(range(0, nframes, per_file)):
            count = min(per_file, nframes - start)
            name = f"scan_data_{k + 1:06d}.h5"
            with h5py.File(folder / name, "w") as d:
                dset = d.create_dataset(
                    "entry/data/data",
                    shape=(count, rows, cols),
                    dtype=np.uint16,
                    chunks=(1, rows, cols),
                    **hdf5plugin.Bitshuffle(),
                )
                for i in range(count):
                    dset.id.write_direct_chunk((i, 0, 0), blobs[(start + i) % DISTINCT])
            f[f"entry/data/data_{k + 1:06d}"] = h5py.ExternalLink(name, "/entry/data/data")
    tmp.rename(master)
    return master


def inputs(job, args, nframes: int) -> list[tuple[str, int, dict]]:
    """The row of an Eiger job: its file, made in the runner's work folder."""
    rows, cols = (64, 64) if args.quick else EIGER2_16M
    make = make_master if job.input == "eiger-master" else make_stream
    return [(f"{rows}x{cols}", nframes, {"path": str(make(args.workdir, nframes, rows, cols))})]


# -- the lazyims side ----------------------------------------------------------------
def lazy_max(path, threads: int | None = None) -> np.ndarray:
    """Job: the maximum over all frames; ``threads`` None is dask's default (all cores)."""
    result = lazyims.open(path).max()
    if threads is None:
        return np.asarray(result.compute())
    with dask.config.set(scheduler="threads", num_workers=threads):
        return np.asarray(result.compute())


def h5py_master_max(path) -> np.ndarray:
    """Baseline: each frame through h5py and hdf5plugin's filter, one after another."""
    out = None
    with h5py.File(path, "r") as f:
        names = sorted(n for n in f["entry/data"] if n.startswith("data_"))
        for name in names:
            dset = f[f"entry/data/{name}"]
            for i in range(dset.shape[0]):
                frame = dset[i]
                out = frame.copy() if out is None else np.maximum(out, frame, out=out)
    return out


def jobs(Job, Side, hexrd: str) -> list:
    """The Eiger jobs (built by :mod:`.jobs`, which owns ``Job`` and ``Side``)."""
    return [
        Job(
            "eiger_hexrd",
            "Eiger stream bslz4: max vs HEXRD",
            Side(hexrd, "eiger_stream_max"),
            Side("eiger", "lazy_max"),
            ">= 1.7x",
            1.7,
            input="eiger-stream",
        ),
        Job(
            "eiger_threads",
            "Eiger stream bslz4: max, 2 threads vs 1",
            Side("eiger", "lazy_max", kwargs={"threads": 1}),
            Side("eiger", "lazy_max", kwargs={"threads": 2}),
            ">= 1.7x",
            1.7,
            input="eiger-stream",
            labels=("1 thread", "2 threads"),
        ),
        Job(
            "eiger_master",
            "DECTRIS master/data: max vs h5py+hdf5plugin",
            Side("eiger", "h5py_master_max"),
            Side("eiger", "lazy_max"),
            ">= 1.7x",
            1.7,
            input="eiger-master",
            labels=("h5py loop", "lazyims"),
        ),
    ]
