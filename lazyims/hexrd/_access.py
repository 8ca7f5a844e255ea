"""Fast frame and window access for the HEXRD layer.

HEXRD's analysis (``pull_spots`` in fit-grains) reads small windows of single frames
in random order, thousands of times. A dask graph per access would cost milliseconds
each, so here a frame is read straight through the format's reader, and the decoded
frames are kept in a least-recently-used cache bounded in bytes: a frame read again
costs what HEXRD's in-memory frame list costs, and memory stays bounded. Frame-cache
frames are kept sparse (as decoded) and a window is cut from the stored pixels alone.

Frame-cache frames are read a block at a time (within the reader's chunk, at most
:data:`BLOCK_FRAMES` frames and about :data:`BLOCK_BYTES` of stored pixels): a
frame's stored pixels are often a few kilobytes, so one read of a block's members
costs about what one frame's costs, and ``pull_spots``'s random windows soon find
their frames in the cache, while the first read stays short.
"""

from __future__ import annotations

import numbers
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from ..errors import FrameIndexError, LazyImsError
from ..series import ImageSeries, is_sparse_array

#: Default bound of one series' cache of decoded frames, in bytes.
CACHE_BYTES = 512 * 2**20
#: The most frame-cache frames read together (the reader's chunk, when smaller) ...
BLOCK_FRAMES = 64
#: ... and about the most bytes of stored pixels (uncompressed) they hold.
BLOCK_BYTES = 2**20


class FrameCache:
    """A thread-safe least-recently-used cache of frames, bounded in bytes.

    Parameters
    ----------
    max_bytes
        The most bytes of frames held; 0 holds nothing.
    """

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = int(max_bytes)
        self._frames: OrderedDict[int, Any] = OrderedDict()
        self._sizes: dict[int, int] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """The bytes of frames held now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._frames)

    def get(self, index: int) -> Any:
        """Frame ``index`` when held (and mark it recently used), else None."""
        with self._lock:
            frame = self._frames.get(index)
            if frame is not None:
                self._frames.move_to_end(index)
            return frame

    def put(self, index: int, frame: Any) -> None:
        """Hold ``frame``, dropping the least recently used frames beyond the bound."""
        size = frame_nbytes(frame)
        if size > self.max_bytes:
            return
        with self._lock:
            if index in self._frames:
                self._bytes -= self._sizes.pop(index)
                del self._frames[index]
            self._frames[index] = frame
            self._sizes[index] = size
            self._bytes += size
            self._evict()

    def resize(self, max_bytes: int) -> None:
        """Change the bound, dropping the least recently used frames beyond it."""
        with self._lock:
            self.max_bytes = int(max_bytes)
            self._evict()

    def _evict(self) -> None:
        while self._bytes > self.max_bytes:
            old, _ = self._frames.popitem(last=False)
            self._bytes -= self._sizes.pop(old)

    def clear(self) -> None:
        """Drop every frame."""
        with self._lock:
            self._frames.clear()
            self._sizes.clear()
            self._bytes = 0


class SparseFrame:
    """One frame-cache frame as its stored pixels: row, column and value arrays.

    Plain numpy (no ``sparse`` indexing, whose first use compiles for seconds).

    ``row_sorted``: the pixels are in increasing row order (as frame-caches store them),
    so a window's rows are found by bisection instead of a pass over every pixel.
    """

    __slots__ = ("rows", "cols", "values", "shape", "row_sorted")

    def __init__(
        self,
        rows: np.ndarray,
        cols: np.ndarray,
        values: np.ndarray,
        shape: tuple,
        row_sorted: bool = False,
    ):
        self.rows, self.cols, self.values, self.shape = rows, cols, values, tuple(shape)
        self.row_sorted = row_sorted

    @property
    def dtype(self) -> np.dtype:
        return self.values.dtype

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes + self.cols.nbytes + self.values.nbytes)

    def todense(self) -> np.ndarray:
        """The frame as a new dense array."""
        out = np.zeros(self.shape, dtype=self.values.dtype)
        out[self.rows, self.cols] = self.values
        return out

    def window(self, rest: tuple) -> np.ndarray:
        """``frame[rest]``, making dense only the window it covers."""
        keys = rest + (slice(None),) * (2 - len(rest)) if len(rest) <= 2 else None
        bounds = None if keys is None else [_axis_bounds(k, n) for k, n in zip(keys, self.shape)]
        if bounds is None or None in bounds:
            return np.asarray(self.todense()[rest])  # anything unusual: the plain way
        (r0, r1, rkey), (c0, c1, ckey) = bounds
        r, c, values = self.rows, self.cols, self.values
        if self.row_sorted:  # only the pixels of rows r0:r1
            a, b = np.searchsorted(r, (r0, r1))
            r, c, values = r[a:b], c[a:b], values[a:b]
            inside = (c >= c0) & (c < c1)
        else:
            inside = (r >= r0) & (r < r1) & (c >= c0) & (c < c1)
        window = np.zeros((r1 - r0, c1 - c0), dtype=values.dtype)
        window[r[inside] - r0, c[inside] - c0] = values[inside]
        return window[rkey, ckey]


def split_block(block: Any) -> list[Any]:
    """The frames of a block (numpy, or ``sparse.COO`` of a frame-cache) one by one."""
    if not is_sparse_array(block):
        return list(np.asarray(block))
    coords, values = block.coords, block.data
    shape = block.shape[1:]
    if block.shape[0] == 1:
        return [SparseFrame(coords[1], coords[2], values, shape)]
    order = np.argsort(coords[0], kind="stable")
    coords, values = coords[:, order], values[order]
    bounds = np.searchsorted(coords[0], np.arange(block.shape[0] + 1))
    return [
        SparseFrame(coords[1, a:b], coords[2, a:b], values[a:b], shape)
        for a, b in zip(bounds[:-1], bounds[1:])
    ]


def frame_nbytes(frame: Any) -> int:
    """Bytes a decoded frame holds (stored values and coordinates for a sparse one)."""
    return int(frame.nbytes)


def _read_one(series: ImageSeries, index: int, per: int = 1) -> dict[int, Any] | None:
    """Frame ``index`` of ``series`` through the format's reader, with no scheduler, or None.

    Gives ``{series index: frame}``: numpy, or :class:`SparseFrame` for frame-caches,
    which are read ``per`` frames at a time (:func:`_read_block`).
    """
    if series._reads_files:  # the lazy selection of a series read from files
        # Its reader's one-frame block, not read_frame(dense=False): that indexes a
        # sparse.COO, whose first use compiles numba code for seconds.
        lazy = series._lazy
        frame = lazy.frames[index]
        if getattr(lazy.reader, "read_stored", None) is not None:
            try:
                block = _read_block(lazy, index, per) if per > 1 else None
            except LazyImsError:  # a damaged frame of the block: read this frame alone
                block = None
            if block is not None:
                return block
        pixels = getattr(lazy.reader, "read_frame_pixels", None)
        if pixels is not None:  # a frame-cache: its stored pixels, no sparse.COO
            rows, cols = lazy.rows, lazy.cols
            shape = (rows.stop - rows.start, cols.stop - cols.start)
            return {index: SparseFrame(*pixels(frame, rows, cols), shape, row_sorted=True)}
        return {index: split_block(lazy.reader.read(frame, frame + 1, lazy.rows, lazy.cols))[0]}
    return None


def block_frames(lazy: Any) -> int:
    """How many frame-cache frames to read together (1: one by one).

    Within the reader's chunk and :data:`BLOCK_FRAMES`, as many as hold about
    :data:`BLOCK_BYTES` of stored pixels on average (from the file's index); 1 when the
    series' frames are not a plain run of the reader's.
    """
    frames, reader = lazy.frames, lazy.reader
    if not isinstance(frames, range) or frames.step != 1 or len(frames) == 0:
        return 1
    if getattr(reader, "read_stored", None) is None:
        return 1
    limit = max(1, min(int(lazy.frames_per_chunk), BLOCK_FRAMES))
    sizes = getattr(reader, "stored_bytes", None)
    if sizes is None:
        return limit
    try:
        mean = float(np.mean(sizes(frames.stop)[frames.start :]))
    except (LazyImsError, OSError):  # the reads themselves will say what is wrong
        return 1
    return int(np.clip(BLOCK_BYTES // max(mean, 1.0), 1, limit))


def _read_block(lazy: Any, index: int, per: int) -> dict[int, SparseFrame] | None:
    """The ``per`` frame-cache frames (aligned to ``per``) holding series frame ``index``,
    as {series index: SparseFrame}; None when the series' frames are not a plain run.

    One ``read_stored`` of the block's frames; each frame's pixels sorted, repeats
    summed, as ``read_frame_pixels`` gives them.
    """
    frames = lazy.frames
    if not isinstance(frames, range) or frames.step != 1:
        return None
    reader, rows, cols = lazy.reader, lazy.rows, lazy.cols
    frame = frames[index]
    start = max(frame - frame % per, frames.start)
    stop = min(start + per, frames.stop)
    which, linear, data = reader.summed_pixels(start, stop, rows, cols)
    shape = (rows.stop - rows.start, cols.stop - cols.start)
    row, col = np.divmod(linear, shape[1])
    bounds = np.searchsorted(which, np.arange(stop - start + 1))
    first = start - frames.start
    # Copies, not views: the cache drops frames one by one, and a view would keep the
    # whole block's arrays alive.
    return {
        first + k: SparseFrame(
            row[a:b].copy(), col[a:b].copy(), data[a:b].copy(), shape, row_sorted=True
        )
        for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))
    }


class FrameAccess:
    """Frames of a lazyims series for the HEXRD interface: direct reads and a frame cache.

    Frames of a series with a reader are read one by one through it; frames of a
    processed series are computed a dask chunk at a time (every frame of the chunk
    is cached). Picklable: the cache and its lock are not sent.
    """

    def __init__(self, series: ImageSeries, cache_bytes: int = CACHE_BYTES):
        self.series = series
        self.cache = FrameCache(cache_bytes)
        self._starts = np.cumsum((0,) + series.chunks[0])
        self._chunk_lock = threading.Lock()
        self._per: int | None = None  # frames read together, found at the first read

    def __getstate__(self) -> dict[str, Any]:
        return {"series": self.series, "cache_bytes": self.cache.max_bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["series"], state["cache_bytes"])

    def __len__(self) -> int:
        return self.series.nframes

    def check_index(self, key: Any) -> int:
        """``key`` as a frame number in range (negative counts from the end)."""
        if not isinstance(key, numbers.Integral) or isinstance(key, bool):
            raise FrameIndexError(f"frames are indexed by an integer, not {key!r}")
        n = self.series.nframes
        i = int(key)
        if not -n <= i < n:
            raise FrameIndexError(f"frame {i} is out of range for {n} frames")
        return i % n

    def decoded(self, key: Any) -> Any:
        """Frame ``key`` as decoded (numpy, or a SparseFrame); cached, do not modify."""
        i = self.check_index(key)
        frame = self.cache.get(i)
        if frame is None:
            if self._per is None:
                lazy = self.series._lazy if self.series._reads_files else None
                self._per = block_frames(lazy) if lazy is not None else 1
            block = _read_one(self.series, i, self._per)
            if block is None:
                return self._from_chunk(i)
            for k, one in block.items():
                if k != i:
                    self.cache.put(k, one)
            frame = block[i]
            self.cache.put(i, frame)  # last: the most recently used
        return frame

    def _from_chunk(self, i: int) -> Any:
        chunk = int(np.searchsorted(self._starts, i, side="right")) - 1
        with self._chunk_lock:  # one thread computes a chunk, the others then find it
            frame = self.cache.get(i)
            if frame is not None:
                return frame
            block = split_block(self.series.to_dask(sparse=None).blocks[chunk].compute())
            first = int(self._starts[chunk])
            for k, one in enumerate(block):
                self.cache.put(first + k, one)
            return block[i - first]

    def frame(self, key: Any) -> np.ndarray:
        """Frame ``key`` as a new dense numpy array."""
        frame = self.decoded(key)
        return frame.todense() if isinstance(frame, SparseFrame) else np.array(frame)

    def __getitem__(self, key: Any) -> Any:
        """HEXRD's indexing: ``ims[i]`` a frame, ``ims[i, rows, cols]`` part of it."""
        if not isinstance(key, tuple):
            return self.frame(key)
        if not key:
            raise FrameIndexError("an empty tuple is no frame index")
        frame = self.decoded(key[0])
        rest = key[1:]
        if not rest:
            return self.frame(key[0])
        if isinstance(frame, SparseFrame):
            return frame.window(rest)
        return np.array(frame[rest])

    def region(self, key: Any, region: Any) -> np.ndarray:
        """``((row0, row1), (col0, col1))`` of frame ``key``, as HEXRD's ``get_region``."""
        try:
            (r0, r1), (c0, c1) = region
        except (TypeError, ValueError):
            raise FrameIndexError(
                f"a region is ((row0, row1), (col0, col1)), not {region!r}"
            ) from None
        return self[key, slice(r0, r1), slice(c0, c1)]


def _axis_bounds(key: Any, n: int) -> tuple[int, int, Any] | None:
    """(first, stop, key relative to first) of one axis' index, None when unusual."""
    if isinstance(key, numbers.Integral) and not isinstance(key, bool):
        k = int(key) + (n if key < 0 else 0)
        return (k, k + 1, 0) if 0 <= k < n else None
    if isinstance(key, slice):
        r = range(*key.indices(n))
        if not r:
            return None
        lo, hi = min(r[0], r[-1]), max(r[0], r[-1]) + 1
        stop = r.stop - lo
        return lo, hi, slice(r.start - lo, stop if stop >= 0 else None, r.step)
    if isinstance(key, np.ndarray) and key.dtype.kind in "iu" and key.size:
        lo, hi = int(key.min()), int(key.max()) + 1
        k = key
        if lo < 0:  # negative indices count from the end
            k = np.where(key < 0, key + n, key)
            lo, hi = int(k.min()), int(k.max()) + 1
        return (lo, hi, k - lo) if lo >= 0 and hi <= n else None
    return None
