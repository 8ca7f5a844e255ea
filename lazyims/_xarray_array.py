"""The ``frames`` variable of the xarray engine: a lazily indexed backend array.

xarray indexes :class:`SeriesBackendArray` through
``indexing.explicit_indexing_adapter``: ``ds.isel(frame=k)`` reads frame ``k`` alone
(only its rows and columns), a slice of frames reads those frames. A read larger than
:data:`LAZY_READ_BYTES` (the whole variable, or a dask chunk of it with
``chunks={}``) gives a :class:`SeriesFrames` instead of a numpy array: the frames,
still unread, as a numpy-like array. numpy functions on it read the frames
(``np.asarray``), except the maximum and minimum over frames
(``ds.frames.max("frame")``), and the sum, mean and median of integer frames, which go to
:mod:`lazyims.stats`: streamed over the
frames of a scan, from the stored pixels of a frame-cache. So a reduction over frames
through xarray costs what ``lazyims.open(path).max()`` costs, lazy or chunked.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin
from xarray.backends import BackendArray
from xarray.core import indexing

#: Reads of more dense bytes than this stay unread (a :class:`SeriesFrames`) until used.
LAZY_READ_BYTES = 64 * 2**20


class SeriesBackendArray(BackendArray):
    """The frames of a series as xarray's lazily indexed backend array (outer indexing)."""

    def __init__(self, series: Any):
        self.series = series
        self.shape = tuple(series.shape)
        self.dtype = np.dtype(series.dtype)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> Any:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER, self._raw_indexing_method
        )

    def _raw_indexing_method(self, key: tuple) -> Any:
        """Frames, rows and columns given by ints, slices or 1-d integer arrays (outer)."""
        frame_key, row_key, col_key = key
        boxes, picks = [], []
        for k, size in ((row_key, self.shape[1]), (col_key, self.shape[2])):
            box, pick = _box(k, size)
            boxes.append(box)
            picks.append(pick)
        if any(b.stop <= b.start for b in boxes) or _empty(frame_key, self.shape[0]):
            shape = [_length(k, n) for k, n in zip(key, self.shape)]
            shape = [n for n, k in zip(shape, key) if not isinstance(k, numbers.Integral)]
            return np.zeros(shape, dtype=self.dtype)
        if isinstance(frame_key, numbers.Integral):
            frame = self.series.read_frame(int(frame_key), *boxes)
            return _picked(frame, picks, first_axis=0)
        part = self.series[frame_key, boxes[0], boxes[1]]
        nbytes = int(np.prod(part.shape)) * self.dtype.itemsize
        if all(p is None for p in picks) and nbytes > LAZY_READ_BYTES:
            return SeriesFrames(part)
        return _picked(_dense(part), picks, first_axis=1)


def _box(key: Any, size: int) -> tuple[slice, Any]:
    """A step-1 slice around ``key``'s rows (or columns), and the pick within it (None: all)."""
    if isinstance(key, slice):
        r = range(*key.indices(size))
        if len(r) == 0:
            return slice(0, 0), None
        if r.step == 1:
            return slice(r.start, r.stop), None
        lo, hi = min(r), max(r) + 1
        return slice(lo, hi), np.asarray(r) - lo
    key = np.asarray(key, dtype=np.intp) % size
    if key.size == 0:
        return slice(0, 0), None
    lo, hi = int(key.min()), int(key.max()) + 1
    return slice(lo, hi), key - lo


def _empty(key: Any, size: int) -> bool:
    return not isinstance(key, numbers.Integral) and _length(key, size) == 0


def _length(key: Any, size: int) -> int:
    if isinstance(key, numbers.Integral):
        return 1
    if isinstance(key, slice):
        return len(range(*key.indices(size)))
    return int(np.asarray(key).size)


def _picked(array: np.ndarray, picks: list, first_axis: int) -> np.ndarray:
    for axis, pick in enumerate(picks, start=first_axis):
        if pick is not None:
            array = np.take(array, pick, axis=axis)
    return array


def _dense(series: Any) -> np.ndarray:
    """A series' frames read now, as numpy: a frame-cache's scattered straight from its
    stored pixels (:meth:`StoredPixelsReader.read_dense`), others through dask."""
    lazy = series._lazy
    read_dense = getattr(getattr(lazy, "reader", None), "read_dense", None)
    if read_dense is None:
        return np.asarray(series.dense().to_dask().compute())
    from ._files import reading
    from ._lazyframes import _runs

    parts = []
    with reading(lazy.reader):
        for start, stop in _runs(np.asarray(lazy.frames, dtype=np.intp)):
            parts.append(read_dense(start, stop, lazy.rows, lazy.cols))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


#: numpy reductions over frames that :mod:`lazyims.stats` computes without the frames in
#: memory, and which statistic gives them.
_OVER_FRAMES = {np.max: "max", np.amax: "max", np.min: "min", np.amin: "min"}
_NAN_OVER_FRAMES = {np.nanmax: "max", np.nanmin: "min"}  # the same for integer frames
_SUMS = (np.sum, np.nansum)
_MEANS = (np.mean, np.nanmean)
_MEDIANS = (np.median, np.nanmedian)


class SeriesFrames(NDArrayOperatorsMixin):
    """The frames of a series, unread, as a numpy-like (frame, row, col) array.

    Any numpy function or ufunc reads the frames into numpy first (``np.asarray``),
    except a maximum or minimum over the frame axis (and a sum, mean or median of
    integer frames, where lazyims' result is numpy's exactly), which
    :mod:`lazyims.stats` computes straight from the files.
    """

    __array_priority__ = 20

    def __init__(self, series: Any):
        self.series = series

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.series.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.series.dtype)

    @property
    def ndim(self) -> int:
        return 3

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return (
            f"SeriesFrames(shape={self.shape}, dtype={self.dtype}, source={self.series.source!r})"
        )

    def _repr_inline_(self, max_width: int) -> str:
        return f"lazyims frames {self.shape} {self.dtype}"[:max_width]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = _dense(self.series)
        return array if dtype is None else array.astype(dtype, copy=False)

    def __getitem__(self, key: Any) -> Any:
        """Step-1 slices keep the frames unread (narrowed); other keys read them."""
        key = key if isinstance(key, tuple) else (key,)
        if any(k is Ellipsis for k in key) and sum(k is Ellipsis for k in key) == 1:
            at = next(i for i, k in enumerate(key) if k is Ellipsis)
            key = key[:at] + (slice(None),) * (3 - len(key) + 1) + key[at + 1 :]
        if len(key) <= 3 and all(isinstance(k, slice) for k in key):
            ranges = [range(*k.indices(n)) for k, n in zip(key, self.shape)]
            if all(r.step == 1 and len(r) for r in ranges):
                if all(len(r) == n for r, n in zip(ranges, self.shape)):
                    return self
                boxes = [slice(r.start, r.stop) for r in ranges]
                return SeriesFrames(self.series[tuple(boxes)])
        return np.asarray(self)[key]

    def astype(self, dtype: Any, **kwargs: Any) -> np.ndarray:
        return np.asarray(self).astype(dtype, **kwargs)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return getattr(ufunc, method)(*_read(inputs), **_read(kwargs))

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
        result = self._over_frames(func, args, kwargs)
        if result is not None:
            return result
        return func(*_read(args), **_read(kwargs))

    def _over_frames(self, func: Any, args: tuple, kwargs: dict) -> np.ndarray | None:
        """``func(self, axis=0)`` from :mod:`lazyims.stats`, or None when it is not one."""
        from . import stats

        kind = self.dtype.kind
        op = _OVER_FRAMES.get(func) or (_NAN_OVER_FRAMES.get(func) if kind in "iu" else None)
        if op is None and func in _SUMS and kind in "iub" and self.dtype.itemsize <= 4:
            op = "sum"
        if op is None and func in _MEANS and kind in "iub" and self.dtype.itemsize <= 4:
            op = "average"  # numpy's mean: the float64 sum (exact here) over n
        if op is None and func in _MEDIANS and kind in "iub" and self.dtype.itemsize <= 2:
            op = "median"  # halves of 16-bit integers: exact in lazyims' float32
        if op is None or args[0] is not self or len(args) > 2:
            return None
        axis = args[1] if len(args) == 2 else kwargs.get("axis")
        extra = {k: v for k, v in kwargs.items() if k != "axis"}
        keepdims = bool(extra.pop("keepdims", False))
        if axis not in (0, -3, (0,), (-3,)) or any(v is not None for v in extra.values()):
            return None
        if op == "average":
            result = np.asarray(stats.sum(self.series).compute()) / self.shape[0]
        else:
            result = np.asarray(getattr(stats, op)(self.series).compute())
        if op == "sum":  # numpy's integer sum dtype; float64 holds these sums exactly
            result = result.astype(np.sum(np.zeros(1, self.dtype)).dtype)
        if op == "median":
            result = result.astype(np.float64)
        return result[None] if keepdims else result


def _read(value: Any) -> Any:
    """``value`` with every :class:`SeriesFrames` in it (in tuples, lists, dicts) read."""
    if isinstance(value, SeriesFrames):
        return np.asarray(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_read(v) for v in value)
    if isinstance(value, dict):
        return {k: _read(v) for k, v in value.items()}
    return value
