"""The ``frame-cache`` adapter: sparse frames in npz, fch5 or yml style (HEXRD's ``load.framecache``)."""

from __future__ import annotations

from typing import Any

import h5py

from ... import api
from ...errors import FileContentError
from .._errors import StyleError, VersionError
from .._handles import fch5_from_handle, refused_second_open
from . import LazyAdapter
from .hdf5 import h5_location

#: HEXRD's style names (``yaml`` and ``test`` are other names of ``yml``).
STYLES = {"npz": "npz", "fch5": "fch5", "yml": "yml", "yaml": "yml", "test": "yml"}


class FrameCacheImageSeriesAdapter(LazyAdapter):
    """Frames of a frame-cache: ``open(fname, "frame-cache", style="npz")``.

    ``style`` is ``npz``, ``fch5`` or ``yml`` (found from the file when not given);
    ``fname`` may be an open ``h5py.File``/``Group`` for fch5, with ``path=`` the
    group inside it. Frames are read one at a time as they are asked for and kept
    sparse in a bounded cache (HEXRD reads the whole file at the first access).
    ``max_workers`` is accepted and not needed.
    """

    format = "frame-cache"

    def __init__(self, fname: Any, style: str | None = None, **kwargs: Any):
        lazy_style = None
        if style is not None:
            lazy_style = STYLES.get(str(style).lower())
            if lazy_style is None:
                raise StyleError(
                    f"Unknown style format for loading data: {style!r}; "
                    f"known styles: {', '.join(STYLES)}"
                )
        name, path = h5_location(fname, kwargs.get("path"))
        options = {"path": path} if path is not None else {}
        try:  # as HEXRD, a yml's metadata '! command' of an unknown command drops its key
            series = api.open(
                name, "frame-cache", style=lazy_style, unknown_triggers="drop", **options
            )
        except FileContentError as exc:
            if "HEXRD_FRAMECACHE_VERSION" in exc.message or "version" in exc.message:
                raise VersionError(exc.message, exc.path) from None
            if not (isinstance(fname, h5py.Group) and refused_second_open(exc)):
                raise
            series = fch5_from_handle(fname, kwargs.get("path"))
        self._set_series(series)
