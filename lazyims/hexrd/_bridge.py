"""Between lazyims series and objects with HEXRD's imageseries interface.

:func:`from_hexrd` makes a lazyims series of any HEXRD-interface object (HEXRD's own
series included), lazily; :class:`HexrdAdapter` (what ``ImageSeries.to_hexrd()``
gives) puts a lazyims series behind HEXRD's interface.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import OmegaError
from ..formats.array import open_function
from ..series import ImageSeries as LazySeries
from .baseclass import ImageSeries
from .load import LazyAdapter


def lazy_of(ims: Any) -> LazySeries | None:
    """The lazyims series behind a HEXRD-layer object (without its metadata changes), or None."""
    if isinstance(ims, LazySeries):
        return ims
    get = getattr(type(ims), "_lazyims_series", None)
    result = get(ims) if callable(get) else None
    return result if isinstance(result, LazySeries) else None


def with_metadata(series: LazySeries, metadata: Any) -> LazySeries:
    """``series`` with its metadata replaced by ``metadata`` (a HEXRD metadata dict)."""
    return series._replace(metadata=dict(metadata))


class _FrameOf:
    """``frame(i)`` of a HEXRD-interface object; picklable when the object is."""

    def __init__(self, ims: Any):
        self.ims = ims

    def __call__(self, i: int) -> np.ndarray:
        return np.asarray(self.ims[int(i)])


def from_hexrd(ims: Any, frames_per_chunk: int = 1) -> LazySeries:
    """A lazyims series of an object with HEXRD's imageseries interface, lazily.

    A series of :mod:`lazyims.hexrd` gives the lazy series behind it (a processed
    one its lazy operations, when they are lazyims'), with its current metadata.
    Any other object (a HEXRD imageseries, for example) is read frame by frame
    when the frames are computed: nothing is read here.

    Parameters
    ----------
    ims
        The imageseries: ``len()``, ``ims[i]``, ``shape``, ``dtype``, ``metadata``.
    frames_per_chunk
        Frames per dask chunk when reading frame by frame.

    Examples
    --------
    >>> from lazyims.hexrd import from_hexrd, open as hexrd_open
    >>> import numpy as np
    >>> ims = hexrd_open(None, "array", data=np.ones((4, 3, 3)), meta={"panel": "ff1"})
    >>> from_hexrd(ims).sum().compute()[0, 0]
    np.float64(4.0)
    """
    lazy = lazy_of(ims)
    if lazy is not None:
        meta = getattr(ims, "metadata", None)
        return lazy if meta is None else with_metadata(lazy, meta)
    return open_function(
        _FrameOf(ims),
        len(ims),
        shape=tuple(ims.shape),
        dtype=ims.dtype,
        metadata=dict(getattr(ims, "metadata", None) or {}),
        frames_per_chunk=frames_per_chunk,
    )


class _NoOmega(OmegaError, AttributeError):
    """No omega metadata (an AttributeError too, so ``hasattr(ims, "omega")`` is False)."""


class HexrdAdapter(ImageSeries):
    """A lazyims series with HEXRD's imageseries interface (``series.to_hexrd()``).

    Frames are read straight through the format's reader (a processed series: a
    dask chunk at a time) and kept in a bounded cache; see :class:`ImageSeries`.

    Parameters
    ----------
    series
        The lazyims series. Work shared by all frames (a dark image) is recomputed
        for every chunk unless it was computed first (``series.persist()``).
    """

    def __init__(self, series: LazySeries):
        if not isinstance(series, LazySeries):
            raise TypeError(f"HexrdAdapter wraps an ImageSeries, not {type(series).__name__}")
        super().__init__(LazyAdapter(series))

    @property
    def series(self) -> LazySeries:
        """The wrapped lazyims series."""
        return self._adapter.series

    @property
    def omega(self) -> np.ndarray:
        """The (nframes, 2) [start, stop] omega angles of the frames."""
        if "omega" not in self.metadata:
            raise _NoOmega("this series has no omega metadata")
        return np.asarray(self.metadata["omega"])

    def __repr__(self) -> str:
        return f"<lazyims.hexrd.HexrdAdapter of {self.series!r}>"
