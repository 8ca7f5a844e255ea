"""The ``hdf5`` adapter (HEXRD's ``load.hdf5``)."""

from __future__ import annotations

from typing import Any

import h5py

from ... import api
from ...errors import FileContentError
from .._errors import MissingOptionError, SeriesShapeError
from .._handles import hdf5_from_handle, refused_second_open
from . import LazyAdapter, warn_on_close_error


def h5_location(source: Any, path: str | None) -> tuple[Any, str | None]:
    """(file name, group path) of a file name or an open h5py File or Group and ``path``."""
    if isinstance(source, h5py.Group):
        inside = source.name.rstrip("/")
        if path:
            inside = f"{inside}/{path.strip('/')}"
        if source.file.mode == "r+":
            # What the caller wrote through its handle must be on disk before the file
            # is read again by name, and before the series notes its size and time.
            source.file.flush()
        return source.file.filename, inside or None
    return source, path


class HDF5ImageSeriesAdapter(LazyAdapter):
    """Frames of an HDF5 dataset: ``open(fname, "hdf5", path="imageseries")``.

    ``fname`` is a file name or an open ``h5py.File``/``Group`` (read again by its
    file name, so the series pickles); ``path`` (required) is the group,
    ``dataname`` (default ``images``) the dataset, 3-D or 2-D (one frame).
    ``close_when_finished`` (default True): close a File handed in on :meth:`close`.
    """

    format = "hdf5"

    def __init__(self, fname: Any, **kwargs: Any):
        if "path" not in kwargs:
            raise MissingOptionError("the hdf5 format needs path= (the group of the frames)")
        self._handle = fname if isinstance(fname, h5py.Group) else None
        self._close_when_finished = kwargs.get("close_when_finished", True)
        name, path = h5_location(fname, kwargs["path"])
        dataname = kwargs.get("dataname", "images")
        try:
            series = api.open(name, "hdf5", path=path, dataname=dataname)
        except FileContentError as exc:
            if "-D;" in exc.message:
                raise SeriesShapeError(exc.message, exc.path) from None
            if self._handle is None or not refused_second_open(exc):
                raise
            series = hdf5_from_handle(fname, kwargs["path"], dataname)
        self._ndim = 2 if series.nframes == 1 and self._is_2d(fname, name, path, dataname) else 3
        self._set_series(series)

    @staticmethod
    def _is_2d(handle: Any, name: str, path: str | None, dataname: str) -> bool:
        if isinstance(handle, h5py.Group):
            group = handle[path] if path else handle
            return group[dataname].ndim == 2
        with h5py.File(name, "r", locking=False) as f:
            return (f[path] if path else f)[dataname].ndim == 2

    def close(self) -> None:
        """Drop the cached frames; close a File handed in when ``close_when_finished``."""
        super().close()
        handle, self._handle = getattr(self, "_handle", None), None
        if handle is not None and self._close_when_finished and handle:  # falsy once closed
            handle.file.close()

    def __del__(self) -> None:
        warn_on_close_error(self, "HDF5ImageSeries")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handle"] = None  # an open file does not pickle; the series reads by name
        return state
