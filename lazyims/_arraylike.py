"""How an ImageSeries speaks numpy and dask: array attributes, ufuncs, numpy functions.

:class:`ArrayLike` is a mixin of :class:`lazyims.ImageSeries`. Everything stays
lazy:

- elementwise ufuncs and arithmetic (``np.sqrt(ims)``, ``ims + 1``, ``ims * ims``)
  give a new series with the same frames and metadata;
- numpy functions (``np.max(ims)``, ``np.mean(ims, axis=0)``, ``np.stack``) are
  handed to dask and give what dask gives: lazy dask arrays;
- ``da.asarray(ims)`` and ``np.asarray(ims)`` work (the latter computes).

``==`` and ``!=`` keep comparing series by identity (a series stays hashable);
use ``np.equal(ims, x)`` for the elementwise comparison.

The mixin needs from its class: ``shape``, ``dtype``, ``nframes``, ``is_sparse``,
``to_dask(sparse=)`` and ``_replace``.
"""

from __future__ import annotations

import numbers
from typing import Any

import dask.array as da
import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

#: numpy functions that work pixel by pixel, so their result is still a series.
_ELEMENTWISE_FUNCTIONS = frozenset(
    getattr(np, name)
    for name in ("clip", "around", "round", "nan_to_num", "real", "imag", "where", "isclose")
    if hasattr(np, name)
)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, numbers.Number) or (
        isinstance(value, (np.ndarray, np.generic)) and np.ndim(value) == 0
    )


class ArrayLike(NDArrayOperatorsMixin):
    """numpy's and dask's array protocols for :class:`lazyims.ImageSeries` (a mixin)."""

    __slots__ = ()

    # the series is not an ndarray: == and != stay identity, so a series is hashable
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    # -- array attributes ------------------------------------------------------
    @property
    def ndim(self) -> int:
        """3: (frames, rows, cols)."""
        return 3

    @property
    def size(self) -> int:
        """The number of pixels of all frames."""
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        """Bytes of all frames when dense (in memory, not on disk)."""
        return self.size * self.dtype.itemsize

    # -- ufuncs: elementwise, a new series ---------------------------------------
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if kwargs.get("out") is not None:
            return NotImplemented  # a lazy series cannot be written into
        series = [x for x in inputs if isinstance(x, ArrayLike)]
        # A frame-cache's sparse chunks stay sparse when the other operands are scalars
        # (ims * 2, np.sqrt(ims)); mixed with arrays, every chunk is made dense first.
        keep_sparse = all(s.is_sparse for s in series) and all(
            isinstance(x, ArrayLike) or _is_scalar(x) for x in inputs
        )
        arrays = [self._as_dask(x, keep_sparse) for x in inputs]
        result = getattr(ufunc, method)(*arrays, **kwargs)
        if isinstance(result, tuple):
            return tuple(self._wrap(r) for r in result)
        return self._wrap(result)

    # -- numpy functions: what dask does with the frames ----------------------------
    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
        args = _map_series(args, self._as_dask)
        kwargs = _map_series(kwargs, self._as_dask)
        result = func(*args, **kwargs)
        if func in _ELEMENTWISE_FUNCTIONS:
            return self._wrap(result)
        return result

    # -- dask: da.asarray(ims) and da.from_array-free hand-over -----------------------
    def to_dask_array(self) -> da.Array:
        """The frames as a dask array with dense chunks (what :func:`dask.array.asarray` calls)."""
        return self.to_dask()

    # -- helpers ------------------------------------------------------------------
    @staticmethod
    def _as_dask(value: Any, keep_sparse: bool = False) -> Any:
        if isinstance(value, ArrayLike):
            return value.to_dask(sparse=None if keep_sparse else False)
        return value

    def _wrap(self, result: Any) -> Any:
        """A series when ``result`` still has this series' frames, else ``result`` itself."""
        if isinstance(result, da.Array) and result.ndim == 3 and result.shape[0] == self.nframes:
            return self._replace(data=result)
        return result


def _map_series(value: Any, convert: Any) -> Any:
    """``value`` with every series (also inside lists, tuples and dicts) converted."""
    if isinstance(value, ArrayLike):
        return convert(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_map_series(v, convert) for v in value)
    if isinstance(value, dict):
        return {k: _map_series(v, convert) for k, v in value.items()}
    return value
