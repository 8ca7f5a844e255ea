"""The abstract type of every HEXRD-layer image series (HEXRD's ``imageseriesabc``)."""

from __future__ import annotations

import collections.abc

#: A region of a frame: ((row0, row1), (col0, col1)).
RegionType = tuple[tuple[int, int], tuple[int, int]]


class ImageSeriesABC(collections.abc.Sequence):
    """A sequence of 2-D frames with ``shape`` (one frame's), ``dtype`` and ``metadata``."""
