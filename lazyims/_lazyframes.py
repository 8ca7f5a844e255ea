"""The lazy reading layer: a format's reader plus a selection of frames, rows and columns.

A series opened from a file holds a :class:`LazyFrames`: the format's reader (plain
data, see :class:`lazyims.formats.base.FrameReader`), which of the reader's frames
the series shows (in order) and which rows and columns. Every narrowing of the
series (indexing, a rectangle, a frame selection, omega ranges, the row bands of
out-of-core statistics, a single frame) composes into a new selection, so what is
read shrinks through this one path; the dask array is built from the selection
only when an operation needs one, and :meth:`LazyFrames.read_frame` reads a frame
straight through the reader, without dask.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from ._files import reading

#: A selection of the reader's frames: a range, or a tuple of frame numbers.
Frames = range | tuple[int, ...]


def _chunk_starts(frames: np.ndarray, frames_per_chunk: int) -> np.ndarray:
    """Positions where a new dask chunk begins: where the reader's chunk of
    ``frames_per_chunk`` frames changes, or the frames stop ascending (so a chunk holds
    at most ``frames_per_chunk`` frames, all from one of the reader's chunks)."""
    if frames.size == 0:
        return np.zeros(0, np.intp)
    block = frames // frames_per_chunk
    new = np.ones(frames.size, bool)
    new[1:] = (block[1:] != block[:-1]) | (frames[1:] <= frames[:-1])
    return np.flatnonzero(new)


def _runs(frames: np.ndarray) -> tuple[tuple[int, int], ...]:
    """``frames`` as runs of consecutive frame numbers, (start, stop) each."""
    if frames.size == 0:
        return ()
    breaks = np.flatnonzero(np.diff(frames) != 1) + 1
    bounds = np.concatenate([[0], breaks, [frames.size]])
    return tuple((int(frames[a]), int(frames[b - 1]) + 1) for a, b in zip(bounds[:-1], bounds[1:]))


def read_runs(reader: Any, runs: tuple, rows: slice, cols: slice) -> Any:
    """The frames of ``runs`` (one read per run), stacked: numpy or sparse, as the reader gives."""
    with reading(reader):
        parts = [reader.read(start, stop, rows, cols) for start, stop in runs]
    if len(parts) == 1:
        return parts[0]
    if type(parts[0]).__module__.split(".")[0] == "sparse":
        import sparse

        return sparse.concatenate(parts, axis=0)
    return np.concatenate(parts, axis=0)


@dataclass(frozen=True)
class LazyFrames:
    """A format's reader and the frames, rows and columns a series shows of it.

    ``frames`` are the reader's frame numbers in series order; ``rows`` and ``cols``
    are slices of the reader's frames with explicit starts and stops and step 1.
    """

    reader: Any
    frame_shape: tuple[int, int]
    dtype: np.dtype
    frames_per_chunk: int
    frames: Frames
    rows: slice
    cols: slice
    sparse: bool = False
    name: str = "frames"

    @classmethod
    def of(
        cls,
        reader: Any,
        nframes: int,
        frame_shape: tuple[int, int],
        dtype: Any,
        frames_per_chunk: int,
        *,
        sparse: bool = False,
        name: str = "frames",
    ) -> LazyFrames:
        """All frames of ``reader``, whole."""
        rows, cols = (int(n) for n in frame_shape)
        return cls(
            reader,
            (rows, cols),
            np.dtype(dtype),
            int(frames_per_chunk),
            range(int(nframes)),
            slice(0, rows),
            slice(0, cols),
            sparse,
            name,
        )

    # -- what it shows ---------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        return (
            len(self.frames),
            self.rows.stop - self.rows.start,
            self.cols.stop - self.cols.start,
        )

    def chunks(self) -> tuple[tuple[int, ...], tuple[int], tuple[int]]:
        """The dask chunks the array of :meth:`to_dask` has."""
        frames = np.asarray(self.frames, dtype=np.intp)
        starts = _chunk_starts(frames, self.frames_per_chunk)
        lengths = np.diff(np.append(starts, frames.size))
        return (tuple(int(n) for n in lengths), (self.shape[1],), (self.shape[2],))

    # -- narrowing -------------------------------------------------------------
    def narrowed(
        self, frames: slice | np.ndarray | None = None, rows: slice | None = None, cols=None
    ) -> LazyFrames:
        """The selection of ``frames`` (a slice or frame positions of this selection), and
        ``rows``/``cols`` (step-1 slices with explicit bounds, relative to this selection)."""
        selected = self.frames
        if frames is not None:
            if isinstance(frames, slice):
                selected = self.frames[frames]
            else:
                picked = np.asarray(self.frames)[np.asarray(frames, dtype=np.intp)]
                selected = _as_frames(picked)
        return replace(
            self,
            frames=selected,
            rows=_within(self.rows, rows),
            cols=_within(self.cols, cols),
        )

    # -- reading -----------------------------------------------------------------
    def read_frame(
        self, index: int, rows: slice | None = None, cols: slice | None = None, dense: bool = True
    ) -> Any:
        """Frame ``index`` of this selection (rows/cols relative to it), read now: numpy,
        or with ``dense=False`` as the reader gives it (``sparse.COO`` for a frame-cache)."""
        frame = self.frames[index]
        with reading(self.reader):
            block = self.reader.read(
                frame, frame + 1, _within(self.rows, rows), _within(self.cols, cols)
            )
        if not dense:
            return block[0]
        if self.sparse:
            block = block.todense()  # indexing a sparse.COO would compile numba code first
        return np.asarray(block)[0]

    def to_dask(self) -> da.Array:
        """The selection as a dask array: one task per chunk, each reading its frames' runs."""
        frames = np.asarray(self.frames, dtype=np.intp)
        chunks = self.chunks()
        stamps = [_file_stamp(f) for f in self.reader.files()]
        token = tokenize(self.reader, self.frames, self.rows, self.cols, chunks, stamps)
        name = f"{self.name}-{token}"
        starts = np.cumsum((0,) + chunks[0][:-1])
        # Tasks in dask's documented graph format: (function, arguments...).
        dsk = {
            (name, i, 0, 0): (
                read_runs,
                self.reader,
                _runs(frames[s : s + n]),
                self.rows,
                self.cols,
            )
            for i, (s, n) in enumerate(zip(starts.tolist(), chunks[0]))
        }
        graph = HighLevelGraph.from_collections(name, dsk, dependencies=())
        return da.Array(graph, name, chunks, meta=self.meta())

    def meta(self) -> Any:
        """An empty chunk of this selection's kind (numpy, or sparse.COO)."""
        if self.sparse:
            import sparse

            return sparse.COO.from_numpy(np.zeros((0, 0, 0), dtype=self.dtype))
        return np.empty((0, 0, 0), dtype=self.dtype)


def _as_frames(picked: np.ndarray) -> Frames:
    """Frame numbers as a range when they are one (small graphs, cheap tokens), else a tuple."""
    if picked.size == 0:
        return range(0)
    if picked.size == 1:
        return range(int(picked[0]), int(picked[0]) + 1)
    step = int(picked[1] - picked[0])
    if step > 0 and (np.diff(picked) == step).all():
        return range(int(picked[0]), int(picked[-1]) + 1, step)
    return tuple(int(f) for f in picked)


def _within(outer: slice, inner: slice | None) -> slice:
    """``inner`` (relative to ``outer``, explicit bounds, step 1) in the reader's coordinates."""
    if inner is None:
        return outer
    return slice(outer.start + inner.start, outer.start + inner.stop)


def _file_stamp(path: str) -> tuple:
    try:
        st = os.stat(path)
    except OSError:
        return (path,)
    return (path, st.st_size, st.st_mtime_ns)
