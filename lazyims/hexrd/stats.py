"""Statistics over the frames of a series, as numpy images (HEXRD's ``stats``).

Each function returns one image; each ``*_iter`` generator gives the result so far
after each of ``nchunk`` pieces (of frames, or of rows for the percentiles), the
last being the final result (for progress bars). Result dtypes are HEXRD's:
``max``/``min`` the frames' dtype, ``sum`` float64, ``average``, ``median`` and
``percentile`` float32. ``nframes`` > 0 uses only the first ``nframes`` frames.

A series of lazyims frames (what :func:`lazyims.hexrd.open` gives, processed or
not, or a numpy array) is reduced by :mod:`lazyims.stats`: in parallel, and
out of core for the median and percentiles. Any other series is read frame by frame.
"""

from __future__ import annotations

import builtins
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import stats as _lazy_stats
from ..errors import OptionError
from ..formats.array import open_array
from ..series import ImageSeries as LazySeries
from ..series import todense

__all__ = [
    "average",
    "average_iter",
    "max",
    "max_iter",
    "median",
    "median_iter",
    "min",
    "min_iter",
    "percentile",
    "percentile_iter",
    "sum",
    "sum_iter",
]


# -- helpers ---------------------------------------------------------------------------
def _lazy(ims: Any) -> LazySeries | None:
    from ._bridge import lazy_of

    if isinstance(ims, np.ndarray):
        return open_array(ims)
    return lazy_of(ims)


def _nframes(ims: Any, nframes: Any) -> int:
    if not isinstance(nframes, numbers.Integral) or isinstance(nframes, bool):
        raise OptionError(f"nframes must be an integer, not {nframes!r}")
    n = len(ims)
    return builtins.min(n, int(nframes)) if nframes > 0 else n


def _stops(n: int, nchunks: Any) -> list[int]:
    """The last item of each of ``nchunks`` near-equal pieces of ``n`` items (longer first)."""
    if not isinstance(nchunks, numbers.Integral) or isinstance(nchunks, bool) or nchunks < 1:
        raise OptionError(f"the number of chunks must be a positive integer, not {nchunks!r}")
    if nchunks > n:
        raise OptionError("number of chunks cannot exceed number of items")
    return [int(piece[-1]) for piece in np.array_split(np.arange(n), int(nchunks))]


def _numpy(result: Any) -> np.ndarray:
    return todense(result.compute())


def _frame(ims: Any, i: int) -> np.ndarray:
    return np.asarray(ims[i])


def _reduce_frames(ims: Any, first: int, stop: int, how: str) -> np.ndarray:
    """max, min or float64 sum of frames ``first:stop``: lazily when possible."""
    lazy = _lazy(ims)
    if lazy is not None:
        part = lazy[first:stop]
        if how == "sum":
            return _numpy(_lazy_stats.sum(part))
        return _numpy(_lazy_stats.max(part) if how == "max" else _lazy_stats.min(part))
    img = _frame(ims, first).astype(np.float64) if how == "sum" else _frame(ims, first)
    for i in range(first + 1, stop):
        if how == "sum":
            img += _frame(ims, i)
        else:
            img = (np.maximum if how == "max" else np.minimum)(img, _frame(ims, i))
    return img


def _combine(a: np.ndarray | None, b: np.ndarray, how: str) -> np.ndarray:
    if a is None:
        return b
    if how == "sum":
        return a + b
    return (np.maximum if how == "max" else np.minimum)(a, b)


def _running(ims: Any, nchunk: Any, nframes: Any, how: str) -> Iterator[np.ndarray]:
    nf = _nframes(ims, nframes)
    first, result = 0, None
    for stop in _stops(nf, nchunk):
        result = _combine(result, _reduce_frames(ims, first, stop + 1, how), how)
        first = stop + 1
        yield result, first


def _rows_percentile(ims: Any, pctl: float, nf: int, rows: tuple[int, int]) -> np.ndarray:
    lazy = _lazy(ims)
    r0, r1 = rows
    if lazy is not None:
        return _numpy(_lazy_stats.percentile(lazy[:nf, r0:r1], pctl))
    band = np.stack([_frame(ims, i)[r0:r1] for i in range(nf)])
    return np.percentile(band, pctl, axis=0).astype(np.float32)


# -- the statistics ----------------------------------------------------------------------
def max(ims: Any, nframes: int = 0) -> np.ndarray:  # noqa: A001
    """The maximum over frames of every pixel, in the frames' dtype."""
    return _reduce_frames(ims, 0, _nframes(ims, nframes), "max")


def max_iter(ims: Any, nchunk: int, nframes: int = 0) -> Iterator[np.ndarray]:
    """The maximum so far, after each of ``nchunk`` pieces of the frames."""
    for result, _ in _running(ims, nchunk, nframes, "max"):
        yield result


def min(ims: Any, nframes: int = 0) -> np.ndarray:  # noqa: A001
    """The minimum over frames of every pixel, in the frames' dtype."""
    return _reduce_frames(ims, 0, _nframes(ims, nframes), "min")


def min_iter(ims: Any, nchunk: int, nframes: int = 0) -> Iterator[np.ndarray]:
    """The minimum so far, after each of ``nchunk`` pieces of the frames."""
    for result, _ in _running(ims, nchunk, nframes, "min"):
        yield result


def sum(ims: Any, nframes: int = 0) -> np.ndarray:  # noqa: A001
    """The sum over frames of every pixel, as float64."""
    return _reduce_frames(ims, 0, _nframes(ims, nframes), "sum").astype(np.float64)


def sum_iter(ims: Any, nchunk: int, nframes: int = 0) -> Iterator[np.ndarray]:
    """The float64 sum so far, after each of ``nchunk`` pieces of the frames."""
    for result, _ in _running(ims, nchunk, nframes, "sum"):
        yield result.astype(np.float64)


def average(ims: Any, nframes: int = 0) -> np.ndarray:
    """The mean over frames of every pixel, as float32."""
    nf = _nframes(ims, nframes)
    return (_reduce_frames(ims, 0, nf, "sum") / nf).astype(np.float32)


def average_iter(ims: Any, nchunk: int, nframes: int = 0) -> Iterator[np.ndarray]:
    """The float32 mean so far, after each of ``nchunk`` pieces of the frames."""
    for result, count in _running(ims, nchunk, nframes, "sum"):
        yield (result / count).astype(np.float32)


def percentile(ims: Any, pctl: float, nframes: int = 0) -> np.ndarray:
    """The ``pctl`` percentile over frames of every pixel (numpy's linear), as float32."""
    nf = _nframes(ims, nframes)
    return _rows_percentile(ims, pctl, nf, (0, tuple(ims.shape)[-2]))


def percentile_iter(
    ims: Any, pctl: float, nchunks: int, nframes: int = 0, use_buffer: bool = True
) -> Iterator[np.ndarray]:
    """The percentile image so far (zeros below), after each of ``nchunks`` bands of rows.

    ``use_buffer`` is accepted; frames are never all held in memory here.
    """
    nf = _nframes(ims, nframes)
    rows, cols = tuple(ims.shape)[-2:]
    img = np.zeros((rows, cols), dtype=np.float32)
    r0 = 0
    for stop in _stops(rows, nchunks):
        img[r0 : stop + 1] = _rows_percentile(ims, pctl, nf, (r0, stop + 1))
        r0 = stop + 1
        yield img.copy()


def median(ims: Any, nframes: int = 0) -> np.ndarray:
    """The median over frames of every pixel, as float32."""
    return percentile(ims, 50, nframes)


def median_iter(
    ims: Any, nchunks: int, nframes: int = 0, use_buffer: bool = True
) -> Iterator[np.ndarray]:
    """The median image so far, after each of ``nchunks`` bands of rows."""
    return percentile_iter(ims, 50, nchunks, nframes, use_buffer)
