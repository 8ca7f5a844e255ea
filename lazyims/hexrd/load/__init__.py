"""Adapters: one per format, each opening a lazyims series (HEXRD's ``load`` package).

An adapter is what :func:`lazyims.hexrd.open` wraps in an
:class:`~lazyims.hexrd.ImageSeries`. Here every adapter opens the file with
:func:`lazyims.open` (headers only) and serves frames through
:class:`~lazyims.hexrd._access.FrameAccess`: straight from the format's reader,
with a bounded cache of decoded frames.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np

from ...series import ImageSeries as _LazySeries
from .._access import CACHE_BYTES, FrameAccess
from .._errors import OptionNotSupported
from ..imageseriesabc import ImageSeriesABC, RegionType
from ..imageseriesiter import ImageSeriesIterator
from .registry import Registry


class ImageSeriesAdapter(ImageSeriesABC):
    """Base class of the adapters; a subclass with a ``format`` name is registered."""

    format: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.format is not None:
            Registry.register(cls)


class LazyAdapter(ImageSeriesAdapter):
    """An adapter around a lazyims series.

    Parameters
    ----------
    series
        The lazyims series.
    metadata
        The metadata dict to hand out (and to write); the series' own by default.
    """

    def __init__(self, series: _LazySeries, metadata: dict[str, Any] | None = None):
        self._set_series(series, metadata)

    def _set_series(self, series: _LazySeries, metadata: dict[str, Any] | None = None) -> None:
        if not isinstance(series, _LazySeries):
            raise TypeError(f"a lazyims adapter wraps an ImageSeries, not {type(series).__name__}")
        self._series = series
        self._meta = series.metadata if metadata is None else metadata
        self._access = FrameAccess(series, CACHE_BYTES)

    @property
    def series(self) -> _LazySeries:
        """The lazyims series read (without the changes made to :attr:`metadata`)."""
        return self._series

    def _lazyims_series(self) -> _LazySeries:
        return self._series

    def __len__(self) -> int:
        return self._series.nframes

    def __getitem__(self, key: Any) -> np.ndarray:
        return self._access[key]

    def __iter__(self):
        return ImageSeriesIterator(self)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of one frame."""
        return tuple(self._series.frame_shape)

    @property
    def dtype(self) -> np.dtype:
        """The frames' dtype."""
        return self._series.dtype

    @property
    def metadata(self) -> dict[str, Any]:
        """The metadata dict (changes are kept)."""
        return self._meta

    def get_region(self, frame_idx: int, region: RegionType) -> np.ndarray:
        """Part ``((row0, row1), (col0, col1))`` of frame ``frame_idx``."""
        return self._access.region(frame_idx, region)

    def option_values(self) -> dict[str, Any]:
        """``{"cache_bytes": ...}``: the bound of the cache of decoded frames."""
        return {"cache_bytes": self._access.cache.max_bytes}

    def set_option(self, key: str, value: Any) -> None:
        """Set ``cache_bytes``, the bound in bytes of the cache of decoded frames."""
        if key != "cache_bytes":
            raise OptionNotSupported(f"no option {key!r}; the options are: cache_bytes")
        self._access.cache.resize(int(value))

    def close(self) -> None:
        """Drop the cached frames (files are opened per read, so none stays open)."""
        access = getattr(self, "_access", None)
        if access is not None:
            access.cache.clear()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._series!r}>"


def yaml_source(fname: Any) -> Any:
    """HEXRD's YAML argument for lazyims: a ``str`` of several lines is the YAML's text
    (HEXRD's rule), passed on as ``io.StringIO``; anything else is a path."""
    if isinstance(fname, str) and "\n" in fname:
        return io.StringIO(fname)
    return fname


def warn_on_close_error(adapter: Any, what: str) -> None:
    """Close ``adapter``, warning instead of raising (for ``__del__``)."""
    try:
        adapter.close()
    except Exception:  # noqa: BLE001 - a destructor must not raise
        warnings.warn(f"{what} could not close h5 file", stacklevel=2)


from . import (  # noqa: E402 - the adapters register themselves on import
    array,
    eiger,
    eiger_stream_v1,
    eiger_stream_v2,
    framecache,
    function,
    hdf5,
    imagefiles,
    lazyims_formats,
    metadata,
    rawimage,
)

__all__ = [
    "ImageSeriesAdapter",
    "LazyAdapter",
    "Registry",
    "array",
    "eiger",
    "eiger_stream_v1",
    "eiger_stream_v2",
    "framecache",
    "function",
    "hdf5",
    "imagefiles",
    "lazyims_formats",
    "metadata",
    "rawimage",
]
