"""The ``array`` adapter: a series from a numpy array (HEXRD's ``load.array``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import api
from .._errors import MissingOptionError, SeriesShapeError
from . import LazyAdapter


class ArrayImageSeriesAdapter(LazyAdapter):
    """Frames from a numpy array (copied): ``open(None, "array", data=a, meta={})``.

    ``data`` is 2-D (one frame) or 3-D (frames, rows, cols); ``meta`` is the
    metadata dict, kept as given (not copied), as in HEXRD.
    """

    format = "array"

    def __init__(self, fname: Any = None, **kwargs: Any):
        if "data" not in kwargs:
            raise MissingOptionError("the array format needs data= (the frames)")
        data = np.array(kwargs["data"])
        if data.ndim < 3:
            data = np.tile(data, (1, 1, 1))
        if data.ndim != 3:
            raise SeriesShapeError(f"the frames must be a 2-D or 3-D array, not {data.ndim}-D")
        self._data = data
        meta = kwargs.get("meta")
        self._set_series(api.open(data), {} if meta is None else meta)

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, tuple) and key:
            self._access.check_index(key[0])
            return np.array(self._data[key])
        return self._data[self._access.check_index(key)].copy()
