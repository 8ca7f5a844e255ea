"""The "plain dask" side: what a dask user writes over HEXRD's HDF5 scan without lazyims.

``da.from_array`` over the h5py dataset, chunks of 4 frames, dask's default threaded
scheduler (h5py decodes inside HDF5's global lock, so threads take turns while they
decompress). The table's dask column tells what lazyims adds over dask itself.

The dark + flip + threshold job writes the same npz frame-cache members as the
other two sides (``{i}_row``, ``{i}_col``, ``{i}_data``, ``shape``, ``nframes``,
``dtype``), as a dask user would: each block's kept pixels are found in its task, the
lists are gathered and saved with ``np.savez_compressed`` (HEXRD's writer saves
the same way). Values are the float32 frames after the dark, as HEXRD stores them.
"""

from __future__ import annotations

import dask.array as da
import h5py
import numpy as np

#: Frames per dask chunk, as in lazyims' default for 2048 x 2048 frames.
FRAMES_PER_CHUNK = 4
#: The median's chunks, pixel-major: every frame of a 256 x 256 tile.
MEDIAN_TILE = 256
#: Above this many bytes of frames the median is not run: its rechunk holds them all.
MEDIAN_LIMIT = 4 * 2**30


def _scan(path):
    f = h5py.File(path, "r")
    dset = f["imageseries/images"]
    return f, da.from_array(dset, chunks=(FRAMES_PER_CHUNK, -1, -1))


def frame_max(path) -> np.ndarray:
    """Job: the maximum over all frames."""
    f, x = _scan(path)
    with f:
        return x.max(axis=0).compute()


def median_dark(path, nframes: int = 0) -> np.ndarray:
    """Job: the median over all frames (``nframes`` first ones when > 0), as dask's docs
    suggest: rechunked so that every chunk holds all frames of a tile."""
    f, x = _scan(path)
    with f:
        if nframes:
            x = x[:nframes]
        return da.median(x.rechunk((-1, MEDIAN_TILE, MEDIAN_TILE)), axis=0).compute()


def _kept_pixels(block: np.ndarray, threshold: float) -> np.ndarray:
    """Per frame of ``block``: (rows, cols, values) of the pixels above ``threshold``."""
    out = np.empty(len(block), dtype=object)
    for k, frame in enumerate(block):
        rows, cols = np.nonzero(frame > threshold)
        out[k] = (rows.astype(np.uint16), cols.astype(np.uint16), frame[rows, cols])
    return out


def pipeline(path, out, dark, threshold: float) -> int:
    """Job: dark (given, a ``.npy``; negatives to 0) + flip v, kept pixels saved as npz."""
    f, x = _scan(path)
    with f:
        frames = da.maximum(x.astype(np.float32) - np.load(dark), 0)[:, :, ::-1]
        parts = frames.map_blocks(
            _kept_pixels, threshold, drop_axis=[1, 2], dtype=object, meta=np.empty(0, object)
        ).compute()
    arrays = {}
    for i, (rows, cols, values) in enumerate(parts):
        arrays[f"{i}_row"], arrays[f"{i}_col"], arrays[f"{i}_data"] = rows, cols, values
    arrays["shape"] = np.array(frames.shape[1:])
    arrays["nframes"] = np.array(len(parts))
    arrays["dtype"] = np.array(str(frames.dtype).encode())
    np.savez_compressed(out, **arrays)
    return len(parts)
