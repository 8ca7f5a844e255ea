"""Synthetic scans that look like a far-field detector's, written as HEXRD writes them.

Frames are uint16: a Poisson background around 100 counts plus sparse Gaussian
spots (a few hundred per frame, up to ~20000 counts). The HDF5 scan has HEXRD's
layout (group ``imageseries``, dataset ``images``, chunks (1, rows, cols), gzip 1,
shuffle, an ``omega`` attribute); the frame-cache is HEXRD's npz layout
(``{i}_row``/``{i}_col``/``{i}_data``, ``shape``, ``nframes``, ``dtype``).

Files are kept in the work folder and reused when they already exist with the
same parameters (their name says them), so a second run skips generation.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

BACKGROUND = 100.0
SPOTS_PER_MPIXEL = 60


class FrameMaker:
    """Makes frame ``i`` of a scan, reproducibly from ``seed``.

    Drawing 4 million Poisson values per frame is slow, so a few background frames
    are drawn once and each frame takes one of them rolled by a random offset: the
    statistics (and how well the frame compresses) are those of fresh noise.
    """

    def __init__(self, rows: int, cols: int, seed: int = 0, pool: int = 3):
        self.rows, self.cols, self.seed = rows, cols, seed
        rng = np.random.default_rng(seed)
        self.pool = [rng.poisson(BACKGROUND, (rows, cols)).astype(np.uint16) for _ in range(pool)]
        y, x = np.mgrid[-7:8, -7:8]
        self.patches = [np.exp(-(x**2 + y**2) / (2 * s**2)) for s in (1.0, 1.5, 2.5)]

    def frame(self, i: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, i))
        base = self.pool[i % len(self.pool)]
        frame = np.roll(base, (int(rng.integers(self.rows)), int(rng.integers(self.cols))), (0, 1))
        frame = frame.astype(np.float32)
        nspots = max(1, int(SPOTS_PER_MPIXEL * self.rows * self.cols / 1e6))
        half = 7
        for _ in range(nspots):
            r = int(rng.integers(half, self.rows - half))
            c = int(rng.integers(half, self.cols - half))
            patch = self.patches[int(rng.integers(len(self.patches)))]
            frame[r - half : r + half + 1, c - half : c + half + 1] += (
                rng.uniform(300, 20000) * patch
            )
        return np.clip(frame, 0, 65535).astype(np.uint16)


def scan_path(workdir: Path, nframes: int, rows: int, cols: int) -> Path:
    return Path(workdir) / f"scan_{nframes}x{rows}x{cols}.h5"


def make_scan(workdir: Path, nframes: int, rows: int, cols: int, seed: int = 0) -> Path:
    """The HDF5 scan of ``nframes`` frames of rows x cols (written unless already there)."""
    path = scan_path(workdir, nframes, rows, cols)
    if path.exists():
        return path
    longer = _longer_scan(workdir, nframes, rows, cols) if seed == 0 else None
    maker = FrameMaker(rows, cols, seed) if longer is None else None
    tmp = path.with_suffix(".part")
    with h5py.File(tmp, "w") as f:
        group = f.create_group("imageseries")
        dset = group.create_dataset(
            "images",
            shape=(nframes, rows, cols),
            dtype=np.uint16,
            chunks=(1, rows, cols),
            compression="gzip",
            compression_opts=1,
            shuffle=True,
        )
        if longer is not None:  # its first frames are these: copy their stored chunks
            with h5py.File(longer, "r") as source:
                images = source["imageseries/images"]
                for i in range(nframes):
                    mask, chunk = images.id.read_direct_chunk((i, 0, 0))
                    dset.id.write_direct_chunk((i, 0, 0), chunk, mask)
        else:
            for i in range(nframes):
                dset[i] = maker.frame(i)
        start = np.arange(nframes) * 0.25
        group.attrs["omega"] = np.stack([start, start + 0.25], axis=1)
        group.attrs["panel_id"] = np.bytes_(b"ff1")
    os.replace(tmp, path)
    return path


def _longer_scan(workdir: Path, nframes: int, rows: int, cols: int) -> Path | None:
    """A scan of more frames of the same size in ``workdir`` (frame ``i`` depends on ``i``
    and the seed only, so its first ``nframes`` frames are this scan's), or None."""
    longer = []
    for path in Path(workdir).glob(f"scan_*x{rows}x{cols}.h5"):
        head = path.name.split("x", 1)[0].removeprefix("scan_")
        if head.isdigit() and int(head) > nframes:
            longer.append((int(head), path))
    return min(longer)[1] if longer else None


def make_scans(workdir: Path, frames: list[int], rows: int, cols: int) -> list[Path]:
    """The scans of every length in ``frames``: the longest written once, the others
    copied from its first frames' stored chunks (no second compression)."""
    ordered = sorted(set(frames), reverse=True)
    paths = {n: make_scan(workdir, n, rows, cols) for n in ordered}
    return [paths[n] for n in frames]


def framecache_path(workdir: Path, nframes: int, rows: int, cols: int) -> Path:
    return Path(workdir) / f"framecache_{nframes}x{rows}x{cols}.npz"


def make_framecache(
    workdir: Path, nframes: int, rows: int, cols: int, threshold: float = 150, seed: int = 1
) -> Path:
    """A frame-cache npz in HEXRD's layout: the thresholded frames of a synthetic scan."""
    path = framecache_path(workdir, nframes, rows, cols)
    if path.exists():
        return path
    maker = FrameMaker(rows, cols, seed)
    arrays: dict[str, np.ndarray] = {}
    for i in range(nframes):
        frame = maker.frame(i)
        row, col = np.nonzero(frame > threshold)
        arrays[f"{i}_row"] = row.astype(np.uint16)
        arrays[f"{i}_col"] = col.astype(np.uint16)
        arrays[f"{i}_data"] = frame[row, col]
    arrays["shape"] = np.array([rows, cols], dtype=np.int64)
    arrays["nframes"] = np.array(nframes, dtype=np.int64)
    arrays["dtype"] = np.array(b"uint16")
    start = np.arange(nframes) * 0.25
    arrays["omega"] = np.stack([start, start + 0.25], axis=1)
    tmp = path.with_name(path.stem + ".part.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return path


def dark_path(workdir: Path, scan: Path, nframes: int) -> Path:
    return Path(workdir) / f"dark_{nframes}_{Path(scan).stem}.npy"


def make_dark(workdir: Path, scan: Path, nframes: int) -> Path:
    """The float32 median of the first ``nframes`` frames of ``scan``, as a ``.npy``: the
    dark image both sides of the pipeline job are given."""
    path = dark_path(workdir, scan, nframes)
    if path.exists():
        return path
    with h5py.File(scan, "r") as f:
        dset = f["imageseries/images"]
        n = min(nframes, dset.shape[0])
        frames = dset[:n]
    dark = np.empty(frames.shape[1:], dtype=np.float32)
    step = max(1, 2**26 // (n * frames.shape[2] * 2))
    for r0 in range(0, frames.shape[1], step):
        dark[r0 : r0 + step] = np.median(frames[:, r0 : r0 + step], axis=0)
    tmp = path.with_name(path.stem + ".part.npy")
    np.save(tmp, dark)
    os.replace(tmp, path)
    return path
