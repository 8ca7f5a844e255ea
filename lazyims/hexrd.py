"""Handing a lazy series to HEXRD without writing a file.

:class:`HexrdAdapter` has the interface HEXRD's analysis expects of an
imageseries: ``len()``, integer indexing giving a numpy frame, iteration,
``shape`` (of one frame), ``dtype``, ``metadata``, ``get_region`` and, when the
series has it, ``omega``. Frames are computed on demand, one dask chunk at a
time: reading frames in order computes each chunk once.

Examples
--------
>>> import lazyims, numpy as np
>>> ims = lazyims.open(np.ones((3, 4, 5), np.uint16)).to_hexrd()
>>> len(ims), ims.shape, ims[0].sum()
(3, (4, 5), np.uint64(20))
"""

from __future__ import annotations

import numbers
import operator
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from .errors import FrameIndexError, OmegaError
from .series import ImageSeries, _todense


class _NoOmega(OmegaError, AttributeError):
    """No omega metadata (an AttributeError too, so ``hasattr(ims, "omega")`` is False)."""


class HexrdAdapter:
    """A lazyims series with HEXRD's imageseries interface.

    Parameters
    ----------
    series
        The series to hand over; typically a processed one. Work shared by all
        frames (a dark image) is recomputed for every chunk unless it was
        computed first (``series.persist()`` or a computed dark).
    """

    def __init__(self, series: ImageSeries):
        if not isinstance(series, ImageSeries):
            raise TypeError(f"HexrdAdapter wraps an ImageSeries, not {type(series).__name__}")
        self._series = series
        self._starts = np.cumsum((0,) + series.chunks[0])
        self._cached: tuple[int, np.ndarray] | None = None  # (chunk index, frames)
        self._lock = threading.Lock()

    @property
    def series(self) -> ImageSeries:
        """The wrapped lazyims series."""
        return self._series

    def __len__(self) -> int:
        return self._series.nframes

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of one frame, as in HEXRD."""
        return tuple(self._series.frame_shape)

    @property
    def dtype(self) -> np.dtype:
        """The frames' dtype."""
        return self._series.dtype

    @property
    def metadata(self) -> dict[str, Any]:
        """The series' metadata (a copy)."""
        return self._series.metadata

    @property
    def omega(self) -> np.ndarray:
        """The (nframes, 2) [start, stop] omega angles of the frames."""
        if "omega" not in self._series.metadata:
            raise _NoOmega("this series has no omega metadata")
        return np.asarray(self._series.metadata["omega"])

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, numbers.Integral) or isinstance(key, bool):
            raise FrameIndexError(f"HEXRD frames are indexed by an integer, not {key!r}")
        i = operator.index(key)
        n = len(self)
        if not -n <= i < n:
            raise FrameIndexError(f"frame {i} is out of range for {n} frames")
        i %= n
        chunk = int(np.searchsorted(self._starts, i, side="right")) - 1
        with self._lock:
            if self._cached is None or self._cached[0] != chunk:
                block = self._series.to_dask(sparse=None).blocks[chunk].compute()
                self._cached = (chunk, _todense(block))
            frames = self._cached[1]
        return frames[i - self._starts[chunk]].copy()

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    def get_region(self, frame_idx: int, region: Any) -> np.ndarray:
        """Part of frame ``frame_idx``: ``region`` is ((row0, row1), (col0, col1))."""
        try:
            (r0, r1), (c0, c1) = region
        except (TypeError, ValueError):
            raise FrameIndexError(
                f"a region is ((row0, row1), (col0, col1)), not {region!r}"
            ) from None
        return self[frame_idx][r0:r1, c0:c1]

    def __repr__(self) -> str:
        return f"<lazyims.hexrd.HexrdAdapter of {self._series!r}>"
