"""HEXRD's ``imageseries`` package, on lazyims: switch with one import line.

::

    from lazyims.hexrd import imageseries  # instead of: from hexrd.core import imageseries

(``import lazyims.hexrd as imageseries`` is the same.) Or, with HEXRD installed, leave
HEXRD's code as it is: :func:`install` makes ``hexrd.core.imageseries`` this package, and
``python -m lazyims.hexrd ARGS...`` runs HEXRD's command line so. The modules and names are
HEXRD's: :func:`open`, :func:`write`, :mod:`.stats`, :mod:`.process`
(``ProcessedImageSeries``), :mod:`.omega` (``OmegaImageSeries``, ``OmegaWedges``),
:mod:`.load` (the adapters, ``load.metadata.yamlmeta``, ``load.eiger.decompress_frame``),
:mod:`.imageseriesabc`.
Files are opened lazily (headers only); frames are read straight through the
format's reader and kept in a bounded cache; statistics and writes run as
parallel dask computations. Errors are lazyims errors that are also the built-in
class HEXRD raises in the same place. The differences from HEXRD are listed in
the README and in the documentation's "Coming from HEXRD" page.
"""

from __future__ import annotations

import sys
from typing import Any

from . import imageseriesabc, load, omega, process, save, stats
from ._bridge import HexrdAdapter, from_hexrd
from ._errors import SeriesShapeError, UnknownFormatError
from ._install import install, installed, uninstall
from .baseclass import ImageSeries

write = save.write


def open(filename: Any, format: str | None = None, **kwargs: Any) -> ImageSeries:  # noqa: A001
    """Open an image series with HEXRD's spelling: ``open(fname, format, **options)``.

    Parameters
    ----------
    filename
        The file (or an open ``h5py.File``/``Group`` for ``hdf5`` and ``frame-cache``);
        ``None`` for ``array`` and ``function``.
    format
        HEXRD's ``hdf5``, ``frame-cache``, ``image-files``, ``raw-image``, ``array``,
        ``function``, ``eiger-stream-v1``, ``eiger-stream-v2``, and lazyims' ``zarr``
        and ``eiger`` (any other format lazyims reads is opened by :func:`lazyims.open`);
        when None, found from the file as :func:`lazyims.open` does.
    **kwargs
        HEXRD's options: ``path``/``dataname`` (hdf5), ``style``/``path`` (frame-cache),
        ``data``/``meta`` (array), ``func``/``num_frames``/``meta`` (function).

    Examples
    --------
    >>> import numpy as np
    >>> from lazyims.hexrd import open as hexrd_open
    >>> ims = hexrd_open(None, "array", data=np.arange(12).reshape(3, 2, 2), meta={})
    >>> len(ims), ims.shape, ims[1, 0, 1]
    (3, (2, 2), np.int64(5))
    """
    if format is None:
        from ..api import open as lazy_open

        adapter: Any = load.LazyAdapter(lazy_open(filename, **kwargs))
    else:
        try:
            cls = load.Registry.adapter_registry[format]
        except (KeyError, TypeError):
            cls = None
        if cls is not None:
            adapter = cls(filename, **kwargs)
        elif isinstance(format, str) and format in _lazyims_formats():
            from ..api import open as lazy_open

            adapter = load.LazyAdapter(lazy_open(filename, format, **kwargs))
        else:
            known = sorted({*map(str, load.Registry.adapter_registry), *_lazyims_formats()})
            raise UnknownFormatError(f"unknown format {format!r}; known: {', '.join(known)}")
    ims = ImageSeries(adapter)
    if len(ims) == 0:
        raise SeriesShapeError("zero length imageseries")
    return ims


def _lazyims_formats() -> list[str]:
    from ..formats import names

    return names()


# HEXRD's paths: ``lazyims.hexrd.imageseries`` and ``lazyims.hexrd.core.imageseries``
# are this package too, so ``from lazyims.hexrd import imageseries`` reads as HEXRD's.
imageseries = core = sys.modules[__name__]

__all__ = [
    "HexrdAdapter",
    "ImageSeries",
    "core",
    "from_hexrd",
    "imageseries",
    "imageseriesabc",
    "install",
    "installed",
    "load",
    "omega",
    "open",
    "process",
    "save",
    "stats",
    "uninstall",
    "write",
]
