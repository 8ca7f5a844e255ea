"""``write``: an image series to a file, with HEXRD's options (HEXRD's ``save``).

The series' current ``metadata`` dict is written. Frames are computed and written
chunk by chunk by :func:`lazyims.write` (in parallel, with atomic replacement of
the file); a series of frames that lazyims does not know (a HEXRD series, for
example) is read frame by frame through :func:`lazyims.hexrd.from_hexrd`.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import h5py

from .. import api
from ..errors import OptionError
from ..series import ImageSeries as LazySeries
from ._errors import MissingOptionError, StyleError, UnknownFormatError

#: The frame-cache styles ``write`` takes (``npz`` is HEXRD's default).
FRAME_CACHE_STYLES = ("npz", "fch5", "yml")
#: The hdf5 options ``write`` takes with an open h5py object (those of a file name).
HDF5_HANDLE_OPTIONS = {
    "path",
    "dataname",
    "gzip",
    "shuffle",
    "chunk_rows",
    "compression",
    "checksum",
}


def write(ims: Any, fname: Any, fmt: str, **kwargs: Any) -> None:
    """Write ``ims`` to ``fname`` in format ``fmt``.

    Parameters
    ----------
    ims
        The series (a :mod:`lazyims.hexrd` series, a HEXRD one, or a lazyims one).
    fname
        The file; for hdf5 and the frame-cache's fch5 style also an open ``h5py.File``
        or ``Group`` opened for writing (written into its new group ``path``, or for
        fch5 into the object itself when no ``path`` is given). Writing into an
        object the caller holds open is not atomic: the caller owns the file.
    fmt
        ``hdf5``: ``path`` (required), ``gzip`` (1), ``chunk_rows`` (0: whole frames),
        ``shuffle`` (True), ``compression`` (an h5py filter mapping).
        ``frame-cache``: ``threshold`` (required; pixels above it are kept),
        ``style`` (``npz``, HEXRD's default, ``fch5`` or ``yml``), ``cache_file``
        (where the frames go, relative to ``fname``'s folder), ``path`` (fch5
        group), ``max_workers`` (accepted, not needed). ``zarr`` as :func:`lazyims.write`.
    """
    from ._bridge import from_hexrd

    series = from_hexrd(ims)
    if fmt == "hdf5":
        _write_hdf5(series, fname, kwargs)
    elif fmt == "frame-cache":
        _write_framecache(series, fname, kwargs)
    elif fmt == "zarr":
        api.write(series, fname, "zarr", **kwargs)
    else:
        raise UnknownFormatError(f"no writer for format {fmt!r}; use hdf5, frame-cache or zarr")


def _write_hdf5(series: LazySeries, fname: Any, options: dict[str, Any]) -> None:
    if "path" not in options:
        raise MissingOptionError("writing hdf5 needs path= (the group to write)")
    if isinstance(fname, h5py.Group):
        from ._hdf5_group import write_hdf5_group

        unknown = set(options) - HDF5_HANDLE_OPTIONS
        if unknown:
            raise OptionError(
                f"unknown hdf5 options: {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(HDF5_HANDLE_OPTIONS))}",
                fname.file.filename,
            )
        write_hdf5_group(series, fname, **options)
        return
    api.write(series, fname, "hdf5", **options)


def _write_framecache(series: LazySeries, fname: Any, options: dict[str, Any]) -> None:
    options = dict(options)
    if "threshold" not in options:
        raise MissingOptionError("writing a frame-cache needs threshold=")
    threshold = options.pop("threshold")
    style = options.pop("style", "npz")
    if style not in FRAME_CACHE_STYLES:
        raise StyleError(
            f"Unknown file style for writing framecache: {style!r}; "
            f"supported styles are {', '.join(FRAME_CACHE_STYLES)}"
        )
    options.pop("max_workers", None)
    cache_file = options.pop("cache_file", None)
    path = options.pop("path", None)
    if options:
        raise OptionError(f"unknown frame-cache options: {', '.join(options)}")
    if style == "npz":
        series = _without_nested(series)
    if isinstance(fname, h5py.Group):
        if style != "fch5":
            raise OptionError(f"an open h5py object takes the fch5 style, not {style!r}")
        from ._fch5_group import write_fch5_group

        write_fch5_group(series, fname, threshold, path)
        return
    target = os.fspath(fname)
    if cache_file is not None:
        cache_file = os.fspath(cache_file)
        target = (
            cache_file
            if os.path.isabs(cache_file)
            else os.path.join(os.path.dirname(target), cache_file)
        )
    extra = {"path": path} if path is not None else {}
    api.write(series, target, "frame-cache", threshold=threshold, style=style, **extra)


def _without_nested(series: LazySeries) -> LazySeries:
    """The npz style has no nested metadata: drop dict values with a warning, as HEXRD."""
    meta = series.metadata
    nested = [k for k, v in meta.items() if isinstance(v, dict)]
    if not nested:
        return series
    for key in nested:
        warnings.warn(
            f"npz frame-caches have no nested metadata: {key!r} is not written", stacklevel=4
        )
        del meta[key]
    return series._replace(metadata=meta)
