"""The lazyims side of each job, written as a user would write it, with default settings.

Jobs 2 to 4 use API of other branches (stats, processing, frame-cache); when it is
missing they raise :class:`Unavailable` and the runner reports the job skipped.
"""

from __future__ import annotations

import importlib

import numpy as np

import lazyims


class Unavailable(Exception):
    """The lazyims API a job needs is not there (yet)."""


def require(dotted: str):
    """The object at ``lazyims.<dotted>``, or :class:`Unavailable`."""
    module_name, *attrs = dotted.split(".")
    try:
        obj = importlib.import_module(f"lazyims.{module_name}")
    except ImportError:
        obj = getattr(lazyims, module_name, None)
        if obj is None:
            raise Unavailable(f"lazyims.{module_name} not available") from None
    for attr in attrs:
        if not hasattr(obj, attr):
            raise Unavailable(f"lazyims.{dotted} not available")
        obj = getattr(obj, attr)
    return obj


def prepare() -> None:
    """Pay dask's one-time costs before the clock starts, as imports are paid.

    The first ``compute`` of a process imports dask.distributed (to look for a
    client) and starts the thread pool: ~0.3 s once per interpreter, not per job.
    """
    import dask.array as da

    da.ones(4, chunks=2).sum().compute()


def frame_max(path) -> np.ndarray:
    """Job 1: the maximum over all frames (dask's default threaded scheduler)."""
    return lazyims.open(path).data.max(axis=0).compute()


def median_dark(path, nframes: int = 0) -> np.ndarray:
    """Job 2: the median of the first ``nframes`` frames (0 = all)."""
    median = require("stats.median")
    return np.asarray(median(lazyims.open(path), nframes=nframes).compute())


def pipeline(path, out, dark_frames: int, threshold: float) -> int:
    """Job 3: dark (median) + vertical flip + threshold -> frame-cache npz."""
    median = require("stats.median")
    for method in ("dark", "flip", "to_framecache"):
        require(f"ImageSeries.{method}")
    ims = lazyims.open(path)
    dark = median(ims, nframes=dark_frames).compute()
    ims.dark(dark).flip("v").to_framecache(out, threshold=threshold, style="npz")
    return len(ims)


def framecache_frame(path, index: int) -> np.ndarray:
    """Job 4: open a frame-cache npz and read one frame."""
    if "frame-cache" not in lazyims.available_formats():
        raise Unavailable("lazyims format 'frame-cache' not available")
    return np.asarray(lazyims.open(path)[index].compute())


def cluster_max(path, client) -> np.ndarray:
    """Job 5: job 1 on a dask.distributed ``client`` (a LocalCluster started before the clock)."""
    return client.compute(lazyims.open(path).data.max(axis=0)).result()
