"""``lazyims.open`` and ``lazyims.write``: the entry points that dispatch on format names."""

from __future__ import annotations

import inspect
import os
from typing import Any

from . import formats
from ._checks import check_not_empty
from .errors import FileContentError, FormatError, LazyImsError, OptionError
from .series import ImageSeries


def _check_options(func: Any, fmt: str, args: tuple, options: dict[str, Any]) -> None:
    try:
        inspect.signature(func).bind(*args, **options)
    except TypeError as exc:
        params = [
            p.name
            for p in list(inspect.signature(func).parameters.values())[len(args) :]
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        raise OptionError(
            f"{exc} (format {fmt!r} takes: {', '.join(params) or 'no options'})"
        ) from None


def open(source: Any, /, format: str | None = None, **options: Any) -> ImageSeries:  # noqa: A001
    """Open an image series lazily: only headers and metadata are read.

    Parameters
    ----------
    source
        A path (file or folder; a ``str`` is always a path), YAML text as
        ``io.StringIO(text)``, a numpy or dask array, or a callable ``frame(i)``
        (with ``nframes=``).
    format
        The format's name (``hdf5``, ``frame-cache``, ``image-files``,
        ``raw-image``, ``zarr``, ``array``, ``function``, ``eiger``,
        ``eiger-stream-v1``, ``eiger-stream-v2``); found from the file's
        name and content when not given.
    **options
        The format's options, for example ``path="imageseries"`` for ``hdf5``.

    Returns
    -------
    ImageSeries
        The frames as a chunked dask array with the metadata.

    Examples
    --------
    >>> ims = lazyims.open("scan.h5", path="imageseries")  # doctest: +SKIP
    >>> ims.max().compute()  # doctest: +SKIP
    """
    fmt = formats.detect(source) if format is None else formats.get(format)
    _check_options(fmt.open, fmt.name, (source,), options)
    where = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
    try:
        return fmt.open(source, **options)
    except LazyImsError:
        raise
    except OSError as exc:  # permission denied, I/O error: named, not a bare OSError
        reason = exc.strerror or str(exc)
        raise FileContentError(f"cannot read: {reason}", exc.filename or where) from None
    except RecursionError:
        raise FileContentError("the file nests too deeply to be read", where) from None


def write(
    series: ImageSeries,
    fname: str | os.PathLike,
    format: str | None = None,  # noqa: A002
    /,
    **options: Any,
) -> None:
    """Write ``series`` to ``fname`` in ``format``, block by block.

    Parameters
    ----------
    series
        What to write (an ImageSeries, or an array, which is wrapped first).
    fname
        The file to create. It appears only when complete; an existing file of
        that name is replaced then, and left intact if writing fails.
    format
        A format that writes (``hdf5``, ``frame-cache``, ``zarr``; see
        :func:`lazyims.formats.writable`); by default the one whose write
        extensions match the name (``.h5``/``.hdf5``: hdf5; ``.npz``, ``.fch5``,
        ``.yml``: frame-cache; ``.zarr``: zarr).
    **options
        The format's options, with HEXRD's names and defaults.
    """
    fmt = formats.for_writing(fname) if format is None else formats.get(format)
    if fmt.write is None:
        raise FormatError(f"format {fmt.name!r} can be read but not written")
    if not isinstance(series, ImageSeries):
        series = open(series)
    _check_options(fmt.write, fmt.name, (series, fname), options)
    check_not_empty(series, os.fspath(fname) if isinstance(fname, (str, os.PathLike)) else None)
    fmt.write(series, fname, **options)
