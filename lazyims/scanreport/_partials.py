"""The partial result of a chunk of frames, and how partial results fold together.

A dense chunk gives per-pixel maps; a sparse chunk (a frame-cache's) gives the same for
its stored pixels only, so a frame-cache's partial results stay small until the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..series import is_sparse_array
from ._bins import _histogram, _histogram_size


# -- one chunk -------------------------------------------------------------------------------
@dataclass
class _Pixels:
    """Per-pixel maximum, minimum and frames over the threshold of a run of frames, dense."""

    max: np.ndarray
    min: np.ndarray
    over: np.ndarray

    def dense(self, shape: tuple[int, int]) -> _Pixels:
        return self


@dataclass
class _StoredPixels:
    """The same of a run of sparse frames, for the pixels stored in some frame only:
    ``linear`` (row * cols + col, ascending) and, of the stored values, their maximum,
    minimum, how many are over the threshold and how many frames stored the pixel; the
    ``nframes`` frames' other values are 0. A frame-cache's partial results stay small."""

    linear: np.ndarray
    max: np.ndarray
    min: np.ndarray
    over: np.ndarray
    stored: np.ndarray
    nframes: int
    zero_over: bool  # whether 0 is over the threshold

    def dense(self, shape: tuple[int, int]) -> _Pixels:
        """The dense maps."""
        zero_over = self.zero_over
        size = shape[0] * shape[1]
        dtype = self.max.dtype
        some_zero = self.stored < self.nframes
        zero = dtype.type(0)
        out = []
        for values, pick in ((self.max, np.fmax), (self.min, np.fmin)):
            full = np.zeros(size, dtype)
            full[self.linear] = np.where(some_zero, pick(values, zero), values)
            out.append(full.reshape(shape))
        over = np.full(size, self.nframes if zero_over else 0, np.uint32)
        over[self.linear] = self.over + (self.nframes - self.stored) * zero_over
        return _Pixels(out[0], out[1], over.reshape(shape))


def _merge_stored(parts: list[_StoredPixels]) -> _StoredPixels:
    linear = np.concatenate([p.linear for p in parts])
    order = np.argsort(linear, kind="stable")
    linear = linear[order]
    starts = np.flatnonzero(np.concatenate([[True], linear[1:] != linear[:-1]]))

    def reduced(name: str, ufunc: np.ufunc) -> np.ndarray:
        values = np.concatenate([getattr(p, name) for p in parts])[order]
        return ufunc.reduceat(values, starts) if values.size else values

    return _StoredPixels(
        linear[starts],
        reduced("max", np.fmax),
        reduced("min", np.fmin),
        reduced("over", np.add),
        reduced("stored", np.add),
        sum(p.nframes for p in parts),
        parts[0].zero_over,
    )


@dataclass
class _Partial:
    """What a run of frames gives: per-frame arrays by first frame, per-pixel results."""

    frames: list[tuple[int, dict[str, np.ndarray]]]
    pixels: _Pixels | _StoredPixels
    histogram: np.ndarray
    nan: int


def _fmax(a: np.ndarray, axis: int) -> np.ndarray:
    return np.fmax.reduce(a, axis=axis)  # NaN only where every value is NaN


def _fmin(a: np.ndarray, axis: int) -> np.ndarray:
    return np.fmin.reduce(a, axis=axis)


def chunk_partial(
    block: Any, start: int, threshold: float, saturation: float | None, dtype: np.dtype
) -> _Partial:
    """The partial result of the frames ``block`` (numpy or sparse.COO) starting at ``start``."""
    if is_sparse_array(block):
        return _sparse_partial(block, start, threshold, saturation, dtype)
    block = np.asarray(block)
    if not block.dtype.isnative:  # big-endian files: the bins read values in native order
        block = block.astype(block.dtype.newbyteorder("="))
    n = block.shape[0]
    flat = block.reshape(n, -1)
    sum_dtype = {"f": np.float64, "i": np.int64}.get(dtype.kind, np.uint64)
    above = _above(block, threshold)
    frame_max = _fmax(flat, 1)
    saturated = np.zeros(n, np.int64)
    if saturation is not None:  # counted only in the frames that reach it
        for k in np.flatnonzero(frame_max >= saturation):
            saturated[k] = np.count_nonzero(_at_least(flat[k], saturation))
    with np.errstate(invalid="ignore"):  # inf - inf: the frame's mean is NaN
        total = flat.sum(axis=1, dtype=sum_dtype).astype(np.float64)
    per_frame = {
        "sum": total,
        "max": frame_max,
        "min": _fmin(flat, 1),
        "over": np.count_nonzero(above.reshape(n, -1), axis=1).astype(np.int64),
        "saturated": saturated,
    }
    hist, nan = None, 0
    for frame in block:  # one frame at a time: bincount's index copy stays one frame
        counts, missing = _histogram(frame, dtype)
        hist = counts if hist is None else hist + counts
        nan += missing
    if n < 256:  # summing bytes is many times faster than summing into wider integers
        over = above.view(np.uint8).sum(axis=0, dtype=np.uint8).astype(np.uint32)
    else:
        over = above.sum(axis=0, dtype=np.uint32)
    pixels = _Pixels(_fmax(block, 0), _fmin(block, 0), over)
    return _Partial([(start, per_frame)], pixels, hist, nan)


def _above(values: np.ndarray, threshold: float) -> np.ndarray:
    """``values > threshold``; for integers compared as integers (no float copy)."""
    if values.dtype.kind not in "iu":
        return values > threshold
    info = np.iinfo(values.dtype)
    if threshold < info.min:
        return np.ones(values.shape, bool)
    if threshold >= info.max:
        return np.zeros(values.shape, bool)
    return values > values.dtype.type(math.floor(threshold))


def _weighted_count(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # inf - inf: the frame's mean is NaN
        return np.bincount(index, weights=values.astype(np.float64), minlength=size)


def _at_least(values: np.ndarray, level: float) -> np.ndarray:
    """``values >= level``; for integers compared as integers."""
    if values.dtype.kind in "iu":
        return _above(values, math.ceil(level) - 1)
    return values >= level


def _sparse_partial(
    block: Any, start: int, threshold: float, saturation: float | None, dtype: np.dtype
) -> _Partial:
    """:func:`chunk_partial` of a sparse.COO chunk, from its stored pixels; pixels not
    stored are 0."""
    if getattr(block, "has_duplicates", False):
        block.sum_duplicates()
    n, rows, cols = block.shape
    npix = rows * cols
    frame, row, col = (c.astype(np.intp, copy=False) for c in block.coords)
    data = np.asarray(block.data).astype(dtype.newbyteorder("="), copy=False)
    stored = np.bincount(frame, minlength=n)
    implicit = npix - stored  # zeros per frame
    fmax = np.zeros(n, dtype)
    fmin = np.zeros(n, dtype)
    if data.size:
        if not (np.diff(frame) >= 0).all():  # a canonical COO is in frame order already
            order = np.argsort(frame, kind="stable")
            frame, row, col, data = frame[order], row[order], col[order], data[order]
        present = np.flatnonzero(stored)
        starts = np.concatenate([[0], np.cumsum(stored)[:-1]])[present]
        fmax[present] = np.fmax.reduceat(data, starts)
        fmin[present] = np.fmin.reduceat(data, starts)
        some_zero = implicit[present] > 0
        zero = dtype.type(0)
        fmax[present] = np.where(some_zero, np.fmax(fmax[present], zero), fmax[present])
        fmin[present] = np.where(some_zero, np.fmin(fmin[present], zero), fmin[present])

    def count(mask: np.ndarray, zero_counts: bool) -> np.ndarray:
        counts = np.bincount(frame[mask], minlength=n).astype(np.int64)
        return counts + implicit if zero_counts else counts

    per_frame = {
        "sum": _weighted_count(frame, data, n),
        "max": fmax,
        "min": fmin,
        "over": count(data > threshold, 0 > threshold),
        "saturated": (
            np.zeros(n, np.int64)
            if saturation is None
            else count(data >= saturation, 0 >= saturation)
        ),
    }
    hist, nan = _histogram(data, dtype)
    _, zero_bin = _histogram_size(dtype)
    hist[zero_bin] += n * npix - data.size
    linear = row * cols + col
    order = np.argsort(linear, kind="stable")
    linear, values = linear[order], data[order]
    starts = (
        np.flatnonzero(np.concatenate([[True], linear[1:] != linear[:-1]])) if data.size else []
    )
    if data.size:
        pixels = _StoredPixels(
            linear[starts],
            np.fmax.reduceat(values, starts),
            np.fmin.reduceat(values, starts),
            np.add.reduceat((values > threshold).astype(np.uint32), starts),
            np.diff(np.append(starts, linear.size)).astype(np.uint32),
            n,
            0 > threshold,
        )
    else:
        empty = np.zeros(0, np.uint32)
        pixels = _StoredPixels(np.zeros(0, np.intp), data, data, empty, empty, n, 0 > threshold)
    return _Partial([(start, per_frame)], pixels, hist, nan)


def fold_partials(*parts: _Partial) -> _Partial:
    """One partial result of several (frames kept apart, pixels and histograms combined)."""
    if all(isinstance(p.pixels, _StoredPixels) for p in parts):
        pixels = _merge_stored([p.pixels for p in parts])
    else:
        shape = next(p.pixels.max.shape for p in parts if isinstance(p.pixels, _Pixels))
        dense = [p.pixels.dense(shape) for p in parts]
        pixels = _Pixels(dense[0].max.copy(), dense[0].min.copy(), dense[0].over.copy())
        for other in dense[1:]:
            np.fmax(pixels.max, other.max, out=pixels.max)
            np.fmin(pixels.min, other.min, out=pixels.min)
            pixels.over += other.over
    histogram = parts[0].histogram.copy()
    for part in parts[1:]:
        histogram += part.histogram
    frames = [item for part in parts for item in part.frames]
    return _Partial(frames, pixels, histogram, sum(p.nan for p in parts))
