"""The ``function`` adapter: frame ``i`` is ``func(i)`` (HEXRD's ``load.function``)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ...formats.array import open_function
from .._errors import KeyTypeError, MissingOptionError
from . import LazyAdapter


class FunctionImageSeriesAdapter(LazyAdapter):
    """Frames made by a function: ``open(None, "function", func=f, num_frames=n, meta={})``.

    As in HEXRD, frames are indexed by integers only, and each access calls the
    function (nothing is cached: the function may return new data each time).
    """

    format = "function"

    def __init__(self, fname: Any = None, **kwargs: Any):
        for name in ("func", "num_frames"):
            if name not in kwargs:
                raise MissingOptionError(f"the function format needs {name}=")
        self._func = kwargs["func"]
        meta = kwargs.get("meta")
        series = open_function(self._func, kwargs["num_frames"])
        self._set_series(series, {} if meta is None else meta)

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, numbers.Integral) or isinstance(key, bool):
            raise KeyTypeError(f"Only int keys are supported, but {key!r} was provided")
        return np.asarray(self._func(self._access.check_index(key)))
