"""The baseline: what HEXRD's imageseries code does, a Python loop over frames.

Each frame is read with h5py (``dset[i]``), then accumulated with numpy; the
median stacks all frames in memory; dark, flip and threshold go frame by frame and
every sparse frame is held until one ``numpy.savez_compressed``; a frame-cache is
loaded whole (every frame as a scipy sparse matrix) before one frame is read.
These follow HEXRD's behaviour, not its code.
"""

from __future__ import annotations

import h5py
import numpy as np
from scipy import sparse

DATASET = "imageseries/images"


def _frames(path, stop=None):
    with h5py.File(path, "r") as f:
        dset = f[DATASET]
        for i in range(dset.shape[0] if stop is None else min(stop, dset.shape[0])):
            yield dset[i]


def frame_max(path) -> np.ndarray:
    """Job 1: the maximum over all frames."""
    result = None
    for frame in _frames(path):
        result = frame.copy() if result is None else np.maximum(result, frame, out=result)
    return result


def median_dark(path, nframes: int = 0) -> np.ndarray:
    """Job 2: the median of the first ``nframes`` frames (0 = all), all stacked in memory."""
    stack = np.stack(list(_frames(path, nframes or None)))
    return np.median(stack, axis=0)


def pipeline(path, out, dark_frames: int, threshold: float) -> int:
    """Job 3: dark (median) + vertical flip + threshold -> frame-cache npz."""
    dark = median_dark(path, dark_frames)
    arrays: dict[str, np.ndarray] = {}
    nframes = 0
    for i, frame in enumerate(_frames(path)):
        image = np.flip(frame - dark, axis=0)
        image[image <= threshold] = 0
        coo = sparse.coo_matrix(image)
        arrays[f"{i}_row"] = coo.row.astype(np.uint16)
        arrays[f"{i}_col"] = coo.col.astype(np.uint16)
        arrays[f"{i}_data"] = coo.data
        nframes = i + 1
    arrays["shape"] = np.array(dark.shape, dtype=np.int64)
    arrays["nframes"] = np.array(nframes, dtype=np.int64)
    arrays["dtype"] = np.array(str(dark.dtype).encode())
    np.savez_compressed(out, **arrays)
    return nframes


def framecache_frame(path, index: int) -> np.ndarray:
    """Job 4: open a frame-cache npz (every frame loaded) and read frame ``index``."""
    with np.load(path) as npz:
        shape = tuple(int(n) for n in npz["shape"])
        dtype = np.dtype(npz["dtype"].item().decode())
        frames = []
        for i in range(int(npz["nframes"])):
            row, col, data = npz[f"{i}_row"], npz[f"{i}_col"], npz[f"{i}_data"]
            frames.append(sparse.csr_matrix((data, (row, col)), shape=shape, dtype=dtype))
    return frames[index].toarray()
