"""Turning a plain-data frame reader into a chunked dask array.

A reader is a small frozen dataclass that holds only plain data (paths, dataset
names, dtypes) and opens its file itself in :meth:`FrameReader.read`. Readers
pickle, so the task graphs built from them run on dask.distributed workers.
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass, replace
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize

from ..errors import OptionError

#: Default target size of one dask chunk, in bytes (dense).
TARGET_CHUNK_BYTES = 32 * 2**20


@dataclass(frozen=True)
class FrameReader:
    """Base class of the per-format readers: where frames live, as plain data."""

    def read(self, start: int, stop: int, rows: slice, cols: slice) -> Any:
        """Frames ``start:stop``, rows and columns as given: an array (numpy or sparse)."""
        raise NotImplementedError

    def files(self) -> tuple[str, ...]:
        """The files this reader reads (used to make graph keys change when files do)."""
        return ()


def _read_block(reader: FrameReader, frame0: int, row0: int, col0: int, block_info=None) -> Any:
    (f0, f1), (r0, r1), (c0, c1) = block_info[None]["array-location"]
    return reader.read(
        frame0 + f0, frame0 + f1, slice(row0 + r0, row0 + r1), slice(col0 + c0, col0 + c1)
    )


def frames_per_chunk_for(frame_shape: tuple[int, int], dtype: Any, multiple_of: int = 1) -> int:
    """Frames per chunk near :data:`TARGET_CHUNK_BYTES`, a whole multiple of ``multiple_of``."""
    frame_bytes = max(1, int(np.prod(frame_shape)) * np.dtype(dtype).itemsize)
    n = max(1, TARGET_CHUNK_BYTES // frame_bytes)
    return max(multiple_of, n - n % multiple_of)


def check_frames_per_chunk(value: Any, path: Any = None) -> int:
    """``value`` as a positive int, or an OptionError naming ``path``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise OptionError(f"frames_per_chunk must be a positive integer, not {value!r}", path)
    return int(value)


def frame_chunks(nframes: int, per_chunk: int) -> tuple[int, ...]:
    """Chunk lengths along the frame axis: ``per_chunk`` frames each, the last shorter."""
    full, rest = divmod(nframes, per_chunk)
    return (per_chunk,) * full + ((rest,) if rest else ())


def lazy_frames(
    reader: FrameReader,
    nframes: int,
    frame_shape: tuple[int, int],
    dtype: Any,
    frames_per_chunk: int,
    *,
    region: tuple[slice, slice] | None = None,
    sparse: bool = False,
    name: str = "frames",
    first_frame: int = 0,
) -> da.Array:
    """A dask array whose chunks are read by ``reader``, ``frames_per_chunk`` frames each.

    ``region`` (row slice, column slice with explicit starts and stops) reads only
    part of every frame; the array's frames are the reader's frames
    ``first_frame:first_frame + nframes``.
    """
    rows, cols = region or (slice(0, frame_shape[0]), slice(0, frame_shape[1]))
    chunks = (
        frame_chunks(nframes, frames_per_chunk),
        (rows.stop - rows.start,),
        (cols.stop - cols.start,),
    )
    dtype = np.dtype(dtype)
    if sparse:
        import sparse as sp

        meta = sp.COO.from_numpy(np.zeros((0, 0, 0), dtype=dtype))
    else:
        meta = np.empty((0, 0, 0), dtype=dtype)
    stamps = [_file_stamp(f) for f in reader.files()]
    token = tokenize(reader, first_frame, rows.start, cols.start, chunks, stamps)
    return da.map_blocks(
        _read_block,
        reader,
        first_frame,
        rows.start,
        cols.start,
        chunks=chunks,
        dtype=dtype,
        meta=meta,
        name=f"{name}-{token}",
    )


@dataclass(frozen=True)
class FrameSource:
    """Everything needed to build a series' dask array from its reader, as plain data.

    A freshly opened series keeps its FrameSource (``ImageSeries.origin``) so that
    operations such as a rectangle can re-read only part of each frame instead of
    reading whole frames and cutting them.
    """

    reader: FrameReader
    nframes: int
    frame_shape: tuple[int, int]
    dtype: Any
    frames_per_chunk: int
    sparse: bool = False
    name: str = "frames"
    region: tuple[slice, slice] | None = None

    def to_dask(self) -> da.Array:
        """The dask array of the (region of the) frames."""
        return self._frames(0, self.nframes, self.frames_per_chunk)

    def frame(self, index: int) -> da.Array:
        """Frame ``index`` alone, as a (1, rows, cols) dask array: one read of one frame,
        not of the whole chunk that holds it."""
        return self._frames(index, 1, 1)

    def _frames(self, first: int, count: int, per_chunk: int) -> da.Array:
        return lazy_frames(
            self.reader,
            count,
            self.frame_shape,
            self.dtype,
            per_chunk,
            region=self.region,
            sparse=self.sparse,
            name=self.name,
            first_frame=first,
        )

    def cropped(self, rows: slice, cols: slice) -> FrameSource:
        """The same frames cut to ``rows`` and ``cols`` (relative to the current region)."""
        (r0, _), (c0, _) = ((s.start, s.stop) for s in self.current_region())
        return replace(
            self,
            region=(
                slice(r0 + rows.start, r0 + rows.stop),
                slice(c0 + cols.start, c0 + cols.stop),
            ),
        )

    def current_region(self) -> tuple[slice, slice]:
        """The region read, with explicit starts and stops."""
        return self.region or (slice(0, self.frame_shape[0]), slice(0, self.frame_shape[1]))


def _file_stamp(path: str) -> tuple:
    try:
        st = os.stat(path)
    except OSError:
        return (path,)
    return (path, st.st_size, st.st_mtime_ns)
