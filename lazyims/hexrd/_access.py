"""Fast frame and window access for the HEXRD layer.

HEXRD's analysis (``pull_spots`` in fit-grains) reads small windows of single frames
in random order, thousands of times. A dask graph per access would cost milliseconds
each, so here a frame is read straight through the format's reader, and the decoded
frames are kept in a least-recently-used cache bounded in bytes: a frame read again
costs what HEXRD's in-memory frame list costs, and memory stays bounded. Frame-cache
frames are kept sparse (as decoded) and a window is cut from the stored pixels alone.
"""

from __future__ import annotations

import numbers
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from ..errors import FrameIndexError
from ..series import ImageSeries, is_sparse_array

#: Default bound of one series' cache of decoded frames, in bytes.
CACHE_BYTES = 512 * 2**20


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
    """

    __slots__ = ("rows", "cols", "values", "shape")

    def __init__(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple):
        self.rows, self.cols, self.values, self.shape = rows, cols, values, tuple(shape)

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
        r, c = self.rows, self.cols
        inside = (r >= r0) & (r < r1) & (c >= c0) & (c < c1)
        window = np.zeros((r1 - r0, c1 - c0), dtype=self.values.dtype)
        window[r[inside] - r0, c[inside] - c0] = self.values[inside]
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


def _read_one(series: ImageSeries, index: int) -> Any:
    """Frame ``index`` of ``series`` through the format's reader, with no scheduler, or None.

    Gives numpy, or a :class:`SparseFrame` for frame-caches.
    """
    if series._reads_files:  # the lazy selection of a series read from files
        # Its reader's one-frame block, not read_frame(dense=False): that indexes a
        # sparse.COO, whose first use compiles numba code for seconds.
        lazy = series._lazy
        frame = lazy.frames[index]
        pixels = getattr(lazy.reader, "read_frame_pixels", None)
        if pixels is not None:  # a frame-cache: its stored pixels, no sparse.COO
            rows, cols = lazy.rows, lazy.cols
            shape = (rows.stop - rows.start, cols.stop - cols.start)
            return SparseFrame(*pixels(frame, rows, cols), shape)
        return split_block(lazy.reader.read(frame, frame + 1, lazy.rows, lazy.cols))[0]
    return None


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
            frame = _read_one(self.series, i)
            if frame is None:
                return self._from_chunk(i)
            self.cache.put(i, frame)
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
