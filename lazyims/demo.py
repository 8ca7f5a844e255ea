"""A small synthetic scan, for the demo, the docs and the benchmarks.

The frames look like a rotation scan of a polycrystal: Poisson background around
``background`` counts plus a few sparse Gaussian diffraction spots per frame, and
``omega`` metadata covering 0 to 360 degrees.
"""

from __future__ import annotations

import os

import numpy as np

from .series import ImageSeries


def synthetic_frames(
    nframes: int = 60,
    shape: tuple[int, int] = (256, 256),
    *,
    background: float = 100.0,
    spots_per_frame: int = 8,
    seed: int = 0,
    start: int = 0,
) -> np.ndarray:
    """Frames ``start:start+nframes`` of the synthetic scan, as uint16 (frame k is the same in any call)."""
    rows, cols = shape
    out = np.empty((nframes, rows, cols), dtype=np.uint16)
    yy, xx = np.mgrid[-4:5, -4:5]
    for k in range(nframes):
        rng = np.random.default_rng((seed, start + k))
        frame = rng.poisson(background, size=shape).astype(np.float64)
        for _ in range(spots_per_frame):
            r, c = rng.integers(5, rows - 5), rng.integers(5, cols - 5)
            sigma = rng.uniform(1.0, 2.0)
            frame[r - 4 : r + 5, c - 4 : c + 5] += rng.uniform(500, 5000) * np.exp(
                -(yy**2 + xx**2) / (2 * sigma**2)
            )
        out[k] = np.clip(frame, 0, np.iinfo(np.uint16).max)
    return out


def omega_for(nframes: int, start: float = 0.0, stop: float = 360.0) -> np.ndarray:
    """(nframes, 2) omega [start, stop] of evenly spaced frames over one wedge."""
    edges = np.linspace(start, stop, nframes + 1)
    return np.column_stack([edges[:-1], edges[1:]])


def write_synthetic_scan(
    fname: str | os.PathLike,
    nframes: int = 60,
    shape: tuple[int, int] = (256, 256),
    *,
    seed: int = 0,
    frames_per_block: int = 16,
) -> None:
    """Write a synthetic scan to ``fname`` as HEXRD writes HDF5 (group ``imageseries``,
    chunks of one frame, gzip 1 + shuffle), a block of frames at a time."""
    import dask.array as da

    blocks = [
        da.from_delayed(
            _delayed_frames(min(frames_per_block, nframes - s), shape, seed, s),
            shape=(min(frames_per_block, nframes - s), *shape),
            dtype=np.uint16,
        )
        for s in range(0, nframes, frames_per_block)
    ]
    series = ImageSeries(
        da.concatenate(blocks), {"omega": omega_for(nframes), "panel": "demo"}, format="synthetic"
    )
    series.write(fname, "hdf5", path="imageseries")


def _delayed_frames(n: int, shape: tuple[int, int], seed: int, start: int):
    import dask

    return dask.delayed(synthetic_frames)(n, shape, seed=seed, start=start)
