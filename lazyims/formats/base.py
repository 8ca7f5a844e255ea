"""The format contract: what a format gives lazyims, and what lazyims gives a format.

A format is one :class:`Format` object, registered by name (:func:`register` in a
module of :mod:`lazyims.formats`, or the entry point group ``lazyims.formats`` for a
package of its own). It tells :func:`lazyims.open`, :func:`lazyims.write` and the
``lazyims`` command everything they need: its name, the file names that suggest it,
how to recognise a file (:attr:`Format.guess_can_open`), how to open one and,
optionally, how to write one.

Its ``open`` reads the file's headers and metadata (never pixels), makes a
:class:`FrameReader` (plain data: paths, dataset names, dtypes) and returns
:func:`series_from_reader`. The series holds the reader lazily: indexing, a
rectangle, a frame selection and the row bands of statistics all narrow what the
reader is asked for, and each dask chunk calls :meth:`FrameReader.read` on a
worker. See the documentation's "Writing a format" page.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._lazyframes import LazyFrames
from ..errors import OptionError
from ..series import ImageSeries
from ._limits import check_declared_size


@dataclass(frozen=True)
class Format:
    """One format: everything :func:`lazyims.open`, :func:`lazyims.write` and the CLI need.

    Attributes
    ----------
    name
        The format's name, as users type it (``format="hdf5"``, ``--to hdf5``).
    open
        ``open(source, **options) -> ImageSeries``: reads headers and metadata only,
        and builds the series with :func:`series_from_reader`. Its keyword
        parameters are the format's options (checked by :func:`lazyims.open`).
    write
        ``write(series, path, **options) -> None``, or None for a read-only format.
        It must write atomically (``lazyims._files.atomic_output``) and refuse to
        write over ``series.files``.
    extensions
        File name endings (lower case, with the dot) that suggest this format for
        reading; the files are then checked with ``guess_can_open``.
    guess_can_open
        ``guess_can_open(path) -> bool``: looks cheaply at a file's content (a header,
        a few keys) and says whether this format reads it; never raises. Without
        it, a file is this format's when its extension is listed and no other
        format claims it.
    refines
        Names of the formats this one is a special case of: when both recognise a
        file, this one is chosen (an fch5 frame-cache is also an HDF5 file).
    write_extensions
        File name endings that make :func:`lazyims.write` and ``lazyims convert``
        choose this format when none is named.
    accepts
        ``accepts(obj) -> bool`` for sources that are not paths (arrays, callables).
    description
        One line for ``lazyims formats`` and the documentation.
    """

    name: str
    open: Callable[..., Any]
    write: Callable[..., None] | None = None
    extensions: tuple[str, ...] = ()
    guess_can_open: Callable[[Path], bool] | None = None
    refines: tuple[str, ...] = ()
    write_extensions: tuple[str, ...] = ()
    accepts: Callable[[Any], bool] | None = None
    description: str = ""


#: Default target size of one dask chunk, in bytes (dense).
TARGET_CHUNK_BYTES = 32 * 2**20


@dataclass(frozen=True)
class FrameReader:
    """Base class of the per-format readers: where frames live, as plain data.

    A reader is a frozen dataclass holding only plain data (absolute paths, dataset
    names, dtype strings): it is pickled into task graphs and run on
    dask.distributed workers, so it opens its file itself in every :meth:`read`.
    """

    def read(self, start: int, stop: int, rows: slice, cols: slice) -> Any:
        """Frames ``start:stop``, rows and columns as given, as an array of shape
        ``(stop - start, rows.stop - rows.start, cols.stop - cols.start)``.

        ``rows`` and ``cols`` have explicit, in-range starts and stops and step 1.
        Return numpy (or ``sparse.COO`` for a sparse format) in the dtype the format
        announced. Errors are lazyims errors naming the file.
        """
        raise NotImplementedError

    def files(self) -> tuple[str, ...]:
        """The files this reader reads; graph keys change when they change on disk."""
        return ()


def frames_per_chunk_for(
    frame_shape: tuple[int, int],
    dtype: Any,
    multiple_of: int = 1,
    target_bytes: int = TARGET_CHUNK_BYTES,
    max_frames: int | None = None,
) -> int:
    """Frames per dask chunk: about ``target_bytes`` (dense), a whole multiple of
    ``multiple_of`` (the file's own chunk), at most ``max_frames`` when given."""
    frame_bytes = max(1, int(np.prod(frame_shape)) * np.dtype(dtype).itemsize)
    n = max(1, target_bytes // frame_bytes)
    if max_frames is not None:
        n = min(n, max_frames)
    return max(multiple_of, n - n % multiple_of)


def check_frames_per_chunk(value: Any, path: Any = None) -> int:
    """``value`` as a positive int, or an OptionError naming ``path``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise OptionError(f"frames_per_chunk must be a positive integer, not {value!r}", path)
    return int(value)


def series_from_reader(
    reader: FrameReader,
    *,
    nframes: int,
    frame_shape: tuple[int, int],
    dtype: Any,
    frames_per_chunk: int,
    metadata: Mapping[str, Any] | None = None,
    format: str,  # noqa: A002 - the series' attribute of this name
    source: str | None = None,
    files: tuple[str, ...] | None = None,
    sparse: bool = False,
) -> ImageSeries:
    """The lazy series of all frames ``reader`` reads.

    Parameters
    ----------
    reader
        The format's reader.
    nframes, frame_shape, dtype
        What the reader gives (from the file's headers).
    frames_per_chunk
        Frames per dask chunk (checked here); see :func:`frames_per_chunk_for`.
    metadata
        The series' metadata.
    format
        The format's name.
    source
        Where the frames come from, for display (default: the reader's first file).
    files
        The files the series reads, which writers refuse to overwrite (default:
        ``reader.files()``).
    sparse
        Whether the reader gives ``sparse.COO`` blocks.
    """
    files = tuple(reader.files()) if files is None else tuple(files)
    check_declared_size(nframes, frame_shape, source or (files[0] if files else None))
    per_chunk = check_frames_per_chunk(frames_per_chunk, files[0] if files else source)
    lazy = LazyFrames.of(reader, nframes, frame_shape, dtype, per_chunk, sparse=sparse, name=format)
    source = source or (files[0] if files else None)
    return ImageSeries._from_lazy(lazy, metadata, format=format, source=source, files=files)
