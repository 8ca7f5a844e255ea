"""Percentiles of a frame-cache from its stored pixels, never densifying its frames.

A frame-cache stores, for each frame, the pixels a threshold kept; every other pixel
of the frame is 0. So a pixel's values over ``n`` frames are the values of the
frames that store it plus ``n - count`` zeros, and any order statistic of them is
found from its few stored values: ranks below the number of stored negative values
are stored values, the next ``n - count`` ranks are zeros, the ranks above are
stored values again. A pixel stored in fewer than half the frames has median 0
(when its values are not negative); most pixels of a real cache are stored in no
frame at all.

The percentile is then interpolated between the two order statistics exactly as
numpy does (and as :func:`lazyims.stats.percentile`'s dense path does), so the
result equals ``np.percentile`` (``np.median`` for 50, floats) of the dense frames.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize

from ._files import reading
from ._lazyframes import _file_stamp, _runs

__all__ = ["percentile_of_stored", "stored_percentile"]

#: Stored bytes of the frames whose values one task holds at a time. A larger cache is
#: split into bands of rows, each task reading every frame but keeping its rows only.
STORED_BYTES_PER_BAND = 128 * 2**20


def stored_percentile(series: Any, pct: float) -> da.Array | None:
    """The ``pct`` percentile over the frames of a frame-cache as opened (any frames,
    rows and columns of it), computed from its stored pixels; None when ``series`` is
    not a frame-cache's frames as read (then the dense path computes it).

    Returns a lazy (rows, cols) float32 dask array, one task per band of rows.
    """
    lazy = getattr(series, "_lazy", None)
    reader = getattr(lazy, "reader", None)
    if not callable(getattr(reader, "stored_values", None)) or len(lazy.frames) == 0:
        return None
    if np.dtype(series.dtype).kind not in "biuf":
        return None
    frames = np.asarray(lazy.frames, dtype=np.intp)
    runs = _runs(frames)
    stored = np.asarray(reader.stored_bytes(int(frames.max()) + 1), dtype=np.int64)[frames]
    rows, cols = lazy.rows, lazy.cols
    nrows, ncols = rows.stop - rows.start, cols.stop - cols.start
    bands = int(np.clip(math.ceil(int(stored.sum()) / STORED_BYTES_PER_BAND), 1, nrows))
    step = -(-nrows // bands)
    bounds = [(r, builtins.min(nrows, r + step)) for r in range(0, nrows, step)]
    band_rows = [slice(rows.start + a, rows.start + b) for a, b in bounds]
    stamps = [_file_stamp(f) for f in reader.files()]
    token = tokenize(reader, runs, band_rows, cols, pct, stamps)
    return da.map_blocks(
        _band_percentile,
        reader,
        runs,
        band_rows,
        cols,
        len(frames),
        pct,
        chunks=(tuple(b - a for a, b in bounds), (ncols,)),
        dtype=np.float32,
        meta=np.empty((0, 0), dtype=np.float32),
        name=f"lazyims-stored-percentile-{token}",
    )


def _band_percentile(
    reader: Any,
    runs: tuple,
    band_rows: list[slice],
    cols: slice,
    n: int,
    pct: float,
    block_info: Any = None,
) -> np.ndarray:
    """One task: the percentile of one band of rows, from the stored values of its pixels."""
    rows = band_rows[block_info[None]["chunk-location"][0]]
    with reading(reader):
        pixels, counts, values = reader.stored_values(runs, rows, cols)
    shape = (rows.stop - rows.start, cols.stop - cols.start)
    return percentile_of_stored(pixels, counts, values, n, pct, shape)


def percentile_of_stored(
    pixels: np.ndarray,
    counts: np.ndarray,
    values: np.ndarray,
    nframes: int,
    pct: float,
    shape: tuple[int, int],
) -> np.ndarray:
    """The ``pct`` percentile over ``nframes`` frames of ``shape`` given by their stored values.

    ``pixels``, ``counts`` and ``values`` are as :meth:`StoredPixelsReader.stored_values`
    gives them: pixel ``pixels[i]`` is stored in ``counts[i]`` frames, its values
    sorted, pixel after pixel, in ``values``; it is 0 in the other frames. Returns
    float32, equal to ``np.percentile(frames, pct, axis=0)`` (for floats and
    ``pct == 50``, ``np.median``) of the dense frames, bools counted as 0 and 1.
    """
    if values.dtype.kind == "b":  # numpy's percentile cannot interpolate bools
        values = values.view(np.uint8)
    size = int(shape[0]) * int(shape[1])
    position = pct / 100.0 * (nframes - 1)  # numpy's (n - 1) * q for the linear method
    lo = int(np.floor(position))
    hi = builtins.min(lo + 1, nframes - 1)
    t = position - lo
    starts = np.cumsum(counts) - counts
    if values.dtype.kind == "u" or values.size == 0:
        negatives = np.zeros(len(pixels), np.intp)
    else:
        negatives = np.add.reduceat((values < 0).astype(np.intp), starts)
    below = _order_statistic(lo, starts, counts, negatives, values, nframes)
    above = below if hi == lo else _order_statistic(hi, starts, counts, negatives, values, nframes)
    # Only pixels some frame stores can differ from 0: interpolated alone, then scattered.
    if values.dtype.kind == "f":
        if pct == 50:  # numpy's median: the mean of the middle two (in the frames' dtype)
            middle = below if nframes % 2 else np.median(np.stack([below, above]), axis=0)
        else:
            middle = np.quantile(np.stack([below, above]), t, axis=0)
        if values.size:
            middle[np.logical_or.reduceat(np.isnan(values), starts)] = np.nan
    else:
        # numpy's linear interpolation of integers, in float64: the same gamma (t) on two
        # values gives the same result as on the pixel's whole sorted values
        middle = np.quantile(np.stack([below, above]).astype(np.float64), t, axis=0)
    out = np.zeros(size, dtype=np.float32)
    out[pixels] = middle
    return out.reshape(shape)


def _order_statistic(
    k: int,
    starts: np.ndarray,
    counts: np.ndarray,
    negatives: np.ndarray,
    values: np.ndarray,
    nframes: int,
) -> np.ndarray:
    """The ``k``-th smallest value (from 0) over the frames of each stored pixel.

    A pixel's sorted values are its stored negative values, then its zeros (the
    ``nframes - count`` frames not storing it, and any stored zeros), then its other
    stored values.
    """
    zeros = nframes - counts
    stored_below = k < negatives
    take = stored_below | (k >= negatives + zeros)
    out = np.zeros(len(counts), dtype=values.dtype)
    index = np.where(stored_below, starts + k, starts + k - zeros)
    out[take] = values[index[take]]
    return out
