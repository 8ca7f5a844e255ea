"""The lazyims side of each job, written as a user would write it, with default settings.

Nothing is warmed up before the clock: dask's first ``compute`` in a fresh
process (its scheduler lookup, the thread pool) is part of what the user waits for.
"""

from __future__ import annotations

import numpy as np

import lazyims


def _dense(array) -> np.ndarray:
    return array.todense() if hasattr(array, "todense") else np.asarray(array)


def frame_max(path) -> np.ndarray:
    """Job: the maximum over all frames (dask's default threaded scheduler)."""
    return _dense(lazyims.stats.max(lazyims.open(path)).compute())


def median_dark(path, nframes: int = 0) -> np.ndarray:
    """Job: the median of the first ``nframes`` frames (0 = all)."""
    return np.asarray(lazyims.stats.median(lazyims.open(path), nframes=nframes).compute())


def pipeline(path, out, dark, threshold: float) -> int:
    """Job: dark (given, a ``.npy``) + vertical flip, written as an npz frame-cache."""
    ims = lazyims.open(path)
    ims.dark(np.load(dark)).flip("v").to_framecache(out, threshold=threshold, style="npz")
    return len(ims)


def framecache_frame(path, index: int) -> np.ndarray:
    """Job: open a frame-cache npz and read one frame."""
    return np.asarray(lazyims.open(path)[index].compute())


def framecache_read_frame(path, index: int) -> np.ndarray:
    """Job: open a frame-cache npz and read one frame with ``read_frame`` (no scheduler)."""
    return lazyims.open(path).read_frame(index)


def framecache_max(path) -> np.ndarray:
    """Job: the maximum over all frames of a frame-cache."""
    return _dense(lazyims.stats.max(lazyims.open(path)).compute())


def framecache_frames(path, indices: list[int]) -> list[np.ndarray]:
    """Job: open a frame-cache and read a few frames."""
    ims = lazyims.open(path)
    return [np.asarray(ims[i].compute()) for i in indices]


def cluster_max(path, client) -> np.ndarray:
    """Job: the max on a dask.distributed ``client`` (a LocalCluster started before the clock)."""
    return _dense(client.compute(lazyims.open(path).max()).result())
