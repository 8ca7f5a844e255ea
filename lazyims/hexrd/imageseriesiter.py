"""Iteration over the frames of a series (HEXRD's ``imageseriesiter``)."""

from __future__ import annotations

import collections.abc
from typing import Any


class ImageSeriesIterator(collections.abc.Iterator):
    """Gives ``series[0]``, ``series[1]``, ... in turn."""

    def __init__(self, series: Any):
        self._series = series
        self._next = 0

    def __iter__(self) -> ImageSeriesIterator:
        return self

    def __next__(self) -> Any:
        if self._next >= len(self._series):
            raise StopIteration
        self._next += 1
        return self._series[self._next - 1]
