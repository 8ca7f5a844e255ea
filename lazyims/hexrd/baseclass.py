"""``ImageSeries``: HEXRD's image series type, around a format's adapter."""

from __future__ import annotations

from typing import Any

import numpy as np

from .imageseriesabc import ImageSeriesABC, RegionType


class ImageSeries(ImageSeriesABC):
    """A series of frames with HEXRD's interface, reading through ``adapter``.

    ``len()``, ``ims[i]`` (a numpy frame), ``ims[i, rows, cols]`` (part of one),
    iteration, ``shape`` (one frame's), ``dtype``, ``metadata`` (a dict that can be
    changed; it is what :func:`lazyims.hexrd.write` writes), ``get_region``,
    ``set_option`` and ``option_values``.

    Parameters
    ----------
    adapter
        A lazyims-backed adapter of :mod:`lazyims.hexrd.load` (what
        :func:`lazyims.hexrd.open` makes), or any object with HEXRD's adapter
        interface (a HEXRD adapter or series included).
    """

    def __init__(self, adapter: Any):
        self._adapter = adapter

    def __getitem__(self, key: Any) -> Any:
        return self._adapter[key]

    def __len__(self) -> int:
        return len(self._adapter)

    def __iter__(self):
        return iter(self._adapter)

    @property
    def dtype(self) -> np.dtype:
        """The frames' dtype."""
        return self._adapter.dtype

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of one frame."""
        return self._adapter.shape

    @property
    def metadata(self) -> dict[str, Any]:
        """The metadata dict; changes to it are kept and written by ``write``."""
        return self._adapter.metadata

    def get_region(self, frame_idx: int, region: RegionType) -> np.ndarray:
        """Rows ``region[0][0]:region[0][1]``, columns ``region[1][0]:region[1][1]`` of a frame."""
        return self._adapter.get_region(frame_idx, region)

    def set_option(self, key: str, value: Any) -> None:
        """Set an option of the reader (lazyims' readers have ``cache_bytes``)."""
        self._adapter.set_option(key, value)

    def option_values(self) -> dict[str, Any]:
        """The reader's options and their values."""
        if not hasattr(self._adapter, "option_values"):
            return {}
        return self._adapter.option_values()

    def close(self) -> None:
        """Release the reader's files and cached frames."""
        close = getattr(self._adapter, "close", None)
        if close is not None:
            close()

    def _lazyims_series(self) -> Any:
        get = getattr(self._adapter, "_lazyims_series", None)
        return None if get is None else get()

    def __repr__(self) -> str:
        return f"<lazyims.hexrd.ImageSeries of {self._adapter!r}>"
