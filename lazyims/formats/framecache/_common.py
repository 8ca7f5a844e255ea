"""What the three frame-cache styles share: sparse blocks, thresholding, metadata checks.

A frame-cache stores, for every frame, the row and column (uint16) and value of
each pixel kept by a threshold. lazyims reads it as a dask array whose chunks are
``sparse.COO`` blocks of a few frames (fill value 0) and writes it from any series
by thresholding every chunk inside the dask graph, so that only small sparse
blocks reach the writer.
"""

from __future__ import annotations

import numbers
import re
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import dask.array as da
import numpy as np
import sparse

from ...errors import FileContentError, MetadataError, OptionError, WriteError
from ...series import is_sparse_array, todense
from .._limits import MAX_FRAMES
from ..base import series_from_reader

#: Header keys of the npz style; metadata may not use these names.
HEADER_KEYS = ("shape", "nframes", "dtype")
#: Names of the per-frame npz members: ``{i}_row``, ``{i}_col``, ``{i}_data``.
FRAME_MEMBER = re.compile(r"^(\d+)_(row|col|data)$")
#: Rows and columns are stored as uint16, so indices go up to 65535.
MAX_INDEX = np.iinfo(np.uint16).max
#: HEXRD warns when a frame keeps more than this fraction of its pixels.
DENSE_WARNING_FRACTION = 0.1


def parse_dtype(value: Any, path: str) -> np.dtype:
    """The series dtype from a header value (bytes, str, or a 0-d array of either)."""
    if isinstance(value, np.ndarray):
        value = value[()] if value.ndim == 0 else value
    if isinstance(value, (bytes, np.bytes_)):
        value = value.decode("ascii", errors="replace")
    try:
        dtype = np.dtype(str(value))
    except TypeError:
        raise FileContentError(f"the header dtype {value!r} is not a numpy dtype", path) from None
    if dtype.kind not in "biuf":
        raise FileContentError(f"the header dtype {dtype} is not a numeric dtype", path)
    return dtype


def parse_shape(value: Any, path: str) -> tuple[int, int]:
    """The frame shape (rows, cols) from a header value."""
    try:
        values = np.asarray(value).ravel()
        shape = tuple(int(v) for v in values)
        if any(v != s for v, s in zip(values.tolist(), shape)):
            shape = ()  # 2.5 rows
    except (TypeError, ValueError, OverflowError):
        shape = ()
    if len(shape) != 2 or min(shape) < 1:
        raise FileContentError(f"the header shape {value!r} is not (rows, cols)", path)
    if max(shape) - 1 > MAX_INDEX:
        raise FileContentError(
            f"the header shape {shape} is larger than a frame-cache can index "
            f"({MAX_INDEX + 1} rows and columns at most)",
            path,
        )
    return shape


def parse_nframes(value: Any, path: str) -> int:
    try:
        array = np.asarray(value)
        nframes = int(array.ravel()[0]) if array.size == 1 else -1
        if array.size == 1 and array.ravel()[0] != nframes:
            nframes = -1  # 2.5 frames
    except (TypeError, ValueError, OverflowError):
        nframes = -1
    if nframes < 1:
        raise FileContentError(
            f"the header nframes {value!r} is not a positive frame count "
            "(a frame-cache of no frames cannot be opened)",
            path,
        )
    if nframes > MAX_FRAMES:  # before anything is sized by it
        raise FileContentError(
            f"the header declares {nframes} frames, more than lazyims opens ({MAX_FRAMES}); "
            "the file is damaged or not what it seems",
            path,
        )
    return nframes


def metadata_value(value: Any) -> Any:
    """A stored metadata value as users expect it: 0-d arrays as scalars, text as str."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.str_):
        return str(value)
    return value


# -- reading -------------------------------------------------------------------------
#: Target of one chunk's stored pixels (row, column and value bytes as stored, uncompressed):
#: a chunk of a frame-cache holds as many frames as make this many bytes...
TARGET_STORED_CHUNK_BYTES = 8 * 2**20
#: ...and at most as many as make this many bytes once dense (``.dense()``, a dark that
#: makes zeros non-zero, ``compute()``), so a chunk never expands beyond it.
MAX_DENSE_CHUNK_BYTES = 256 * 2**20


def frames_per_chunk_by_bytes(
    stored_bytes: np.ndarray, frame_shape: tuple[int, int], dtype: Any
) -> int:
    """Frames per chunk from the frames' stored bytes (``stored_bytes[i]`` for frame i).

    Sparse frames are small: chunks of a fixed dense size (2 frames of a large detector)
    would make each chunk's fixed costs (a task, a file open) dominate. Chunks are sized
    by what is stored instead, capped by their dense size.
    """
    nframes = max(1, len(stored_bytes))
    mean = max(1.0, float(np.sum(stored_bytes)) / nframes)
    dense_frame = max(1, int(np.prod(frame_shape)) * np.dtype(dtype).itemsize)
    by_bytes = int(TARGET_STORED_CHUNK_BYTES // mean)
    return int(np.clip(by_bytes, 1, max(1, MAX_DENSE_CHUNK_BYTES // dense_frame)))


def framecache_series(
    reader: Any,
    nframes: int,
    frame_shape: tuple[int, int],
    dtype: np.dtype,
    frames_per_chunk: int | None,
    metadata: dict[str, Any],
    source: str,
    files: tuple[str, ...] | None = None,
) -> Any:
    """The lazy sparse series of a frame-cache reader (any style); chunks sized by the
    stored bytes unless ``frames_per_chunk`` is given."""
    if frames_per_chunk is None:
        frames_per_chunk = frames_per_chunk_by_bytes(
            reader.stored_bytes(nframes), frame_shape, dtype
        )
    return series_from_reader(
        reader,
        nframes=nframes,
        frame_shape=frame_shape,
        dtype=dtype,
        frames_per_chunk=frames_per_chunk,
        metadata=metadata,
        format="frame-cache",
        source=source,
        files=files,
        sparse=True,
    )


def stored_pixels(
    frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    frame_shape: tuple[int, int],
    dtype: np.dtype,
    rows: slice,
    cols: slice,
    path: str,
    first_frame: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(frame, row, col, value) of every stored pixel inside ``rows`` x ``cols``, all frames
    at once (frame counted from 0, row and column relative to the region).

    Checks that each frame's arrays agree in length and that its pixels lie in the frame
    (vectorised, one pass over the indices).
    """
    nrows, ncols = frame_shape
    lengths = np.array([len(f[0]) for f in frames], dtype=np.intp)
    for k, (row, col, data) in enumerate(frames):
        if not row.shape == col.shape == data.shape or row.ndim != 1:
            raise FileContentError(
                f"frame {first_frame + k}: row, col and data differ in length "
                f"({row.shape}, {col.shape}, {data.shape})",
                path,
            )
    if not frames:
        empty = np.zeros(0, np.intp)
        return empty, empty, empty, np.zeros(0, dtype)
    row = np.concatenate([f[0] for f in frames])
    col = np.concatenate([f[1] for f in frames])
    data = np.concatenate([f[2] for f in frames])
    where = f"frames {first_frame}-{first_frame + len(frames) - 1}"
    if row.dtype.kind not in "iu" or col.dtype.kind not in "iu":
        raise FileContentError(
            f"{where}: rows and columns are {row.dtype}/{col.dtype}, not integers", path
        )
    if data.dtype != dtype and data.size and not values_fit(data, dtype):
        # a cast would wrap or cut them: other pixel values than stored
        raise FileContentError(
            f"{where}: values of type {data.dtype} (from {data.min()} to {data.max()}) "
            f"do not fit the cache's dtype {dtype}",
            path,
        )
    data = data.astype(dtype, copy=False)
    frame = np.repeat(np.arange(len(frames), dtype=np.intp), lengths)
    if row.size:
        outside = (row >= nrows) | (col >= ncols)
        if row.dtype.kind == "i" or col.dtype.kind == "i":
            outside |= (row < 0) | (col < 0)
        if outside.any():
            k = int(frame[np.argmax(outside)])
            raise FileContentError(
                f"frame {first_frame + k}: a pixel lies outside the {nrows}x{ncols} frame", path
            )
    row = row.astype(np.intp, copy=False)
    col = col.astype(np.intp, copy=False)
    if (rows.start, rows.stop, cols.start, cols.stop) != (0, nrows, 0, ncols):
        inside = (row >= rows.start) & (row < rows.stop) & (col >= cols.start) & (col < cols.stop)
        frame, row, col, data = frame[inside], row[inside], col[inside], data[inside]
        row = row - rows.start
        col = col - cols.start
    return frame, row, col, data


def frames_to_coo(
    frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    frame_shape: tuple[int, int],
    dtype: np.dtype,
    rows: slice,
    cols: slice,
    path: str,
    first_frame: int,
) -> sparse.COO:
    """One sparse block from each frame's (row, col, data), cut to ``rows`` x ``cols``."""
    frame, row, col, data = stored_pixels(frames, frame_shape, dtype, rows, cols, path, first_frame)
    shape = (len(frames), rows.stop - rows.start, cols.stop - cols.start)
    return canonical_coo(np.stack([frame, row, col]), data, shape, path)


def sum_repeats(data: np.ndarray, starts: np.ndarray, path: Any = None) -> np.ndarray:
    """``np.add.reduceat(data, starts)`` in ``data``'s dtype: the sums of repeated pixels.

    The sums are taken in a wider type and an error (naming ``path``) is raised when
    one does not fit in ``data``'s dtype: a wrapped integer or an infinity made of
    finite values would be a wrong pixel value, read without a word.
    """
    kind, dtype = data.dtype.kind, data.dtype
    if kind not in "iuf":
        return np.add.reduceat(data, starts).astype(dtype, copy=False)
    if kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            sums = np.add.reduceat(data.astype(np.longdouble), starts)
            cast = sums.astype(dtype)
        inputs_finite = ~np.logical_or.reduceat(~np.isfinite(data), starts)
        bad = inputs_finite & ~np.isfinite(cast)
    else:
        wide = object if dtype.itemsize == 8 else (np.int64 if kind == "i" else np.uint64)
        sums = np.add.reduceat(data.astype(wide), starts)
        info = np.iinfo(dtype)
        bad = (
            np.array([not (info.min <= v <= info.max) for v in sums])
            if wide is object
            else ((sums < info.min) | (sums > info.max))
        )
        cast = None
    if bad.any():
        k = int(np.argmax(bad))
        raise FileContentError(
            f"a pixel is stored more than once and its values sum to {sums[k]}, which does "
            f"not fit in {dtype} (the sum would wrap or overflow)",
            path,
        )
    return cast if cast is not None else sums.astype(dtype)


def _summed_duplicates(
    frame: np.ndarray, linear: np.ndarray, data: np.ndarray, size: int, path: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixels with repeats within a frame summed (HEXRD's sparse matrices sum them).

    HEXRD and lazyims store each frame's pixels in increasing order without repeats;
    that is checked in one pass and anything else is sorted and summed.
    """
    key = frame.astype(np.int64) * size + linear
    if key.size < 2 or (np.diff(key) > 0).all():
        return frame, linear, data
    order = np.argsort(key, kind="stable")
    key, data = key[order], data[order]
    first = np.concatenate([[True], np.diff(key) != 0])
    data = sum_repeats(data, np.flatnonzero(first), path)
    key = key[first]
    return key // size, key % size, data


#: The reductions computed straight from stored pixels, and how partial results combine.
REDUCTIONS = ("max", "min", "sum")


def reduce_stored_pixels(
    op: str,
    frame: np.ndarray,
    row: np.ndarray,
    col: np.ndarray,
    data: np.ndarray,
    nframes: int,
    shape: tuple[int, int],
    path: Any = None,
) -> np.ndarray:
    """The ``op`` over ``nframes`` sparse frames of ``shape`` given by their stored pixels.

    One dense accumulator of the frame's shape; every stored pixel is scattered into it
    (no sparse array is built). Pixels not stored in some frame count as 0, as in the
    dense frames. ``max``/``min`` keep ``data``'s dtype, ``sum`` is float64.
    """
    if data.dtype.kind == "b" and op != "sum":  # bools as 0 and 1
        as_bytes = data.view(np.uint8)
        return reduce_stored_pixels(op, frame, row, col, as_bytes, nframes, shape).astype(bool)
    size = int(shape[0]) * int(shape[1])
    linear = row * shape[1] + col
    frame, linear, data = _summed_duplicates(frame, linear, data, size, path)
    if op == "sum":
        return np.bincount(linear, weights=data.astype(np.float64), minlength=size).reshape(shape)
    dtype = data.dtype
    if dtype.kind == "u":
        # every value is >= 0: for max, the implicit zeros are the start; for min, they win
        if op == "max":
            acc = np.zeros(size, dtype)
            np.maximum.at(acc, linear, data)
            return acc.reshape(shape)
        everywhere = np.bincount(linear, minlength=size) == nframes
        acc = np.zeros(size, dtype)
        if everywhere.any():
            acc[everywhere] = np.iinfo(dtype).max
            np.minimum.at(acc, linear, data)
            acc[~everywhere] = 0
        return acc.reshape(shape)
    info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    with np.errstate(invalid="ignore"):  # NaN propagates, as numpy's max, without a warning
        if op == "max":
            acc = np.full(size, -np.inf if dtype.kind == "f" else info.min, dtype)
            np.maximum.at(acc, linear, data)
        else:
            acc = np.full(size, np.inf if dtype.kind == "f" else info.max, dtype)
            np.minimum.at(acc, linear, data)
    missing = np.bincount(linear, minlength=size) < nframes  # some frame has an implicit 0
    zero = dtype.type(0)
    combine = np.maximum if op == "max" else np.minimum
    acc[missing] = combine(acc[missing], zero)
    return acc.reshape(shape)


def combine_reductions(op: str, partials: list[np.ndarray]) -> np.ndarray:
    """The reduction of several frame ranges from their partial results."""
    if op == "sum":
        out = partials[0].copy()
        for p in partials[1:]:
            out += p
        return out
    ufunc = np.maximum if op == "max" else np.minimum
    out = partials[0].copy()
    for p in partials[1:]:
        ufunc(out, p, out=out)
    return out


#: Stored bytes read at a time by :meth:`StoredPixelsReader.stored_values`.
STORED_VALUES_READ_BYTES = 16 * 2**20


def _pieces_of_bytes(sizes: np.ndarray, target: int) -> list[tuple[int, int]]:
    """Consecutive ranges of ``sizes`` of about ``target`` bytes each (at least one item)."""
    ends = np.cumsum(sizes)
    pieces, start = [], 0
    while start < len(sizes):
        goal = (ends[start - 1] if start else 0) + target
        stop = max(int(np.searchsorted(ends, goal, side="right")), start + 1)
        pieces.append((start, min(stop, len(sizes))))
        start = stop
    return pieces


def _sorted_by_pixel(linear: np.ndarray, data: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """``linear`` and ``data`` sorted by pixel, then by value (NaN last).

    Integers of up to 32 bits and bools are sorted as one 64-bit key (pixel in the
    high bits, value above the smallest in the low bits) when both fit: one sort of
    runs already in order (each frame's pixels are), not an index sort of two keys.
    """
    if data.size == 0:
        return linear, data
    if data.dtype.kind in "biu" and data.dtype.itemsize <= 4:
        low = int(data.min())
        offset = data.astype(np.int64) - low
        bits = int(offset.max()).bit_length()
        if int(size).bit_length() + bits <= 63:
            key = (linear.astype(np.int64) << bits) | offset
            key.sort(kind="stable")
            values = (key & ((1 << bits) - 1)) + low
            return key >> bits, values.astype(data.dtype)
    order = np.lexsort((data, linear))
    return linear[order], data[order]


class StoredPixelsReader:
    """What the frame-cache readers share: sparse blocks and reductions from stored pixels.

    A reader (a frozen dataclass with ``path``, ``frame_shape`` and ``dtype``) provides
    ``read_stored(start, stop)`` (each frame's row, col and data arrays as stored) and
    ``stored_bytes()`` (the bytes stored for each frame, from the file's index).
    """

    def read(self, start: int, stop: int, rows: slice, cols: slice) -> sparse.COO:
        frames = self.read_stored(start, stop)
        return frames_to_coo(
            frames, self.frame_shape, np.dtype(self.dtype), rows, cols, self.path, start
        )

    def summed_pixels(
        self, start: int, stop: int, rows: slice, cols: slice
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frames ``start:stop``'s stored pixels inside ``rows`` x ``cols``: ``(frame,
        linear, data)``, frame relative to ``start``, linear index ``row * ncols + col``
        relative to the region, sorted by frame then pixel, repeats within a frame summed
        (an error naming the file when their sum does not fit the dtype)."""
        frame, row, col, data = stored_pixels(
            self.read_stored(start, stop),
            self.frame_shape,
            np.dtype(self.dtype),
            rows,
            cols,
            self.path,
            start,
        )
        ncols = cols.stop - cols.start
        size = (rows.stop - rows.start) * ncols
        return _summed_duplicates(frame, row * ncols + col, data, size, self.path)

    def read_frame_pixels(
        self, index: int, rows: slice, cols: slice
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row, column and value of frame ``index``'s stored pixels inside ``rows`` x
        ``cols`` (relative to the region), sorted, repeats summed; no sparse array built.

        The HEXRD layer's window reads go through here: building a ``sparse.COO`` per
        frame would cost more than reading the frame's members.
        """
        _, linear, data = self.summed_pixels(index, index + 1, rows, cols)
        row, col = np.divmod(linear, cols.stop - cols.start)
        return row, col, data

    def read_dense(self, start: int, stop: int, rows: slice, cols: slice) -> np.ndarray:
        """Frames ``start:stop`` of the region as one dense array, scattered straight from
        their stored pixels (no sparse block built; zeros left to the allocator)."""
        frame, linear, data = self.summed_pixels(start, stop, rows, cols)
        shape = (stop - start, rows.stop - rows.start, cols.stop - cols.start)
        out = np.zeros(shape, dtype=np.dtype(self.dtype))
        out.reshape(len(out), -1)[frame, linear] = data
        return out

    def stored_values(
        self, runs: tuple[tuple[int, int], ...], rows: slice, cols: slice
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every value stored by the frames of ``runs`` inside ``rows`` x ``cols``, grouped
        per pixel: ``(pixels, counts, values)``.

        ``pixels`` are the increasing linear indexes (``row * ncols + col``, relative to
        the region) of the pixels some frame stores, ``counts[i]`` how many of the frames
        store pixel ``pixels[i]`` (repeats within a frame summed, as in the frames), and
        ``values`` their values, pixel after pixel, each pixel's in increasing order
        (NaN last). The frames are read :data:`STORED_VALUES_READ_BYTES` at a time: memory
        holds the stored pixels of the region, never a dense frame.
        """
        ncols = cols.stop - cols.start
        size = (rows.stop - rows.start) * ncols
        dtype = np.dtype(self.dtype)
        sizes = np.asarray(self.stored_bytes(max((b for _, b in runs), default=0)))
        linears, values = [], []
        for start, stop in runs:
            for a, b in _pieces_of_bytes(sizes[start:stop], STORED_VALUES_READ_BYTES):
                _, linear, data = self.summed_pixels(start + a, start + b, rows, cols)
                linears.append(linear)
                values.append(data)
        linear = np.concatenate(linears) if linears else np.zeros(0, np.intp)
        data = np.concatenate(values) if values else np.zeros(0, dtype)
        linear, data = _sorted_by_pixel(linear, data, size)
        if linear.size == 0:
            return linear, np.zeros(0, np.intp), data
        starts = np.flatnonzero(np.diff(linear)) + 1
        starts = np.concatenate([[0], starts])
        counts = np.diff(np.append(starts, linear.size))
        return linear[starts], counts, data

    def can_reduce(self, op: str) -> bool:
        """Whether :meth:`reduce` computes ``op`` for these frames' dtype."""
        return op in REDUCTIONS and np.dtype(self.dtype).kind in "biuf"

    def reduce(self, op: str, start: int, stop: int, rows: slice, cols: slice) -> np.ndarray:
        """``op`` (max, min or sum) over frames ``start:stop`` of the region, dense, computed
        from the stored pixels (see :func:`reduce_stored_pixels`)."""
        frame, row, col, data = stored_pixels(
            self.read_stored(start, stop),
            self.frame_shape,
            np.dtype(self.dtype),
            rows,
            cols,
            self.path,
            start,
        )
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        return reduce_stored_pixels(op, frame, row, col, data, stop - start, shape, self.path)


def values_fit(values: np.ndarray, dtype: np.dtype) -> bool:
    """True when casting ``values`` to ``dtype`` keeps every value (NaN stays NaN)."""
    if values.dtype == dtype or np.can_cast(values.dtype, dtype, "safe"):
        return True
    if values.dtype.kind not in "biuf":
        return False
    if dtype.kind in "iu":
        if values.dtype.kind == "f" and not (
            np.isfinite(values).all() and (np.floor(values) == values).all()
        ):
            return False
        info = np.iinfo(dtype)
        return bool(info.min <= values.min() and values.max() <= info.max)
    if dtype.kind == "f":
        finite = np.isfinite(values) if values.dtype.kind == "f" else True
        with np.errstate(over="ignore", invalid="ignore"):
            cast = values.astype(dtype)
        return bool((np.isfinite(cast) == finite).all())
    return dtype.kind == "b" and bool(((values == 0) | (values == 1)).all())


def canonical_coo(
    coords: np.ndarray, data: np.ndarray, shape: tuple[int, ...], path: Any = None
) -> sparse.COO:
    """A COO (fill value 0) with its pixels sorted and repeated pixels summed.

    Done with numpy: letting ``sparse.COO`` do it compiles numba code in every new
    process (about a second, longer than reading a frame). Repeated pixels (never
    written by HEXRD or lazyims) are summed, as HEXRD's sparse matrices do.
    """
    linear = np.ravel_multi_index(tuple(coords), shape) if data.size else np.zeros(0, np.intp)
    if linear.size > 1 and not (np.diff(linear) > 0).all():
        order = np.argsort(linear, kind="stable")
        linear, data = linear[order], data[order]
        first = np.concatenate([[True], np.diff(linear) != 0])
        if not first.all():
            data = sum_repeats(data, np.flatnonzero(first), path)
            linear = linear[first]
        coords = np.stack(np.unravel_index(linear, shape))
    return sparse.COO(
        coords.astype(np.int32 if max(shape, default=0) < 2**31 else np.int64, copy=False),
        data,
        shape=shape,
        has_duplicates=False,
        sorted=True,
        fill_value=data.dtype.type(0),
    )


# -- writing -------------------------------------------------------------------------
def check_threshold(threshold: Any, path: str) -> float | int:
    """A threshold is a real number, not NaN."""
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or np.isnan(float(threshold))
    ):
        raise OptionError(f"threshold must be a real number (not NaN), not {threshold!r}", path)
    return threshold


def check_frame_shape(frame_shape: tuple[int, int], path: str) -> None:
    """Rows and columns are stored as uint16: larger frames cannot be stored."""
    rows, cols = frame_shape
    if rows - 1 > MAX_INDEX or cols - 1 > MAX_INDEX:
        raise WriteError(
            f"frames of {rows}x{cols} cannot be stored in a frame-cache: its rows and "
            f"columns are uint16, so frames may have at most {MAX_INDEX + 1} rows and columns",
            path,
        )


def check_series_dtype(dtype: np.dtype, path: str) -> None:
    if np.dtype(dtype).kind not in "biuf":
        raise WriteError(f"a frame-cache stores numbers; the series' dtype is {dtype}", path)


def check_metadata(
    metadata: Mapping[str, Any], path: str, *, reserved: bool, nested: bool = False
) -> dict[str, Any]:
    """Metadata as numpy values, checked before anything is written.

    ``None`` and values that numpy could only store as objects (which HEXRD cannot
    load without pickle) are errors; with ``reserved``, names that would overwrite
    the npz header or a frame's members are errors too. ``nested`` allows dicts
    (stored as groups in fch5).
    """
    checked: dict[str, Any] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or "/" in key or "\0" in key:
            # '/' would make an HDF5 path or a zip folder; NUL ends names in HDF5 and zip
            raise MetadataError(
                f"metadata name {key!r} cannot be stored (empty, or with '/' or NUL)", path
            )
        if reserved and (key in HEADER_KEYS or FRAME_MEMBER.match(key)):
            raise MetadataError(
                f"metadata name {key!r} is reserved in a frame-cache "
                "(shape, nframes, dtype and {i}_row/{i}_col/{i}_data hold the frames)",
                path,
            )
        if isinstance(value, Mapping):
            if not nested:
                raise MetadataError(
                    f"metadata {key!r} is a dict; this frame-cache style stores only arrays, "
                    "numbers and text (the fch5 style stores dicts)",
                    path,
                )
            checked[key] = check_metadata(value, path, reserved=False, nested=True)
            continue
        if value is None:
            raise MetadataError(f"metadata {key!r} is None, which a frame-cache cannot store", path)
        try:
            array = np.asarray(value)
        except (ValueError, TypeError) as exc:
            raise MetadataError(f"metadata {key!r} is not an array ({exc})", path) from None
        if array.dtype.kind not in "biufcSU":
            raise MetadataError(
                f"metadata {key!r} of type {type(value).__name__} would need pickle to be "
                "stored, which HEXRD refuses to load",
                path,
            )
        checked[key] = array
    return checked


def _kept_above(block: Any, threshold: Any) -> sparse.COO:
    """Pixels of ``block`` strictly greater than ``threshold`` as a sorted COO (NaN never)."""
    if is_sparse_array(block) and threshold >= 0 and block.fill_value == 0:
        # Implicit zeros are not kept, so only the stored values need looking at.
        keep = block.data > threshold
        return canonical_coo(block.coords[:, keep], block.data[keep], block.shape)
    dense = todense(block)
    keep = dense > threshold
    return sparse.COO(
        np.stack(np.nonzero(keep)),  # C order: frames, then rows, then columns
        dense[keep],
        shape=dense.shape,
        has_duplicates=False,
        sorted=True,
        fill_value=dense.dtype.type(0),
        idx_dtype=np.int32,
    )


def thresholded(data: da.Array, threshold: Any) -> da.Array:
    """The lazy sparse array of pixels above ``threshold``, whole frames per chunk.

    The thresholding runs in the dask graph, chunk by chunk, on the workers.
    """
    data = data.rechunk({1: -1, 2: -1})
    meta = sparse.COO.from_numpy(np.zeros((0, 0, 0), dtype=data.dtype))
    return data.map_blocks(_kept_above, threshold, dtype=data.dtype, meta=meta)


def kept_pixels(series: Any, threshold: Any) -> da.Array:
    """The pixels of ``series`` above ``threshold`` as sparse blocks of whole frames: in one
    fused pass per frame when the series is a reader's frames after a dark, flips and
    crops (see :mod:`lazyims._fused`), else thresholded chunk by chunk."""
    from ..._fused import kept_pixels as fused

    blocks = fused(series, threshold)
    if blocks is None:
        blocks = thresholded(series.to_dask(sparse=None), threshold)
    return blocks


def split_frames(block: sparse.COO) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(row uint16, col uint16, data) of every frame of a sorted sparse block."""
    frame_of = block.coords[0]
    bounds = np.searchsorted(frame_of, np.arange(block.shape[0] + 1))
    for a, b in zip(bounds[:-1], bounds[1:]):
        yield (
            block.coords[1, a:b].astype(np.uint16),
            block.coords[2, a:b].astype(np.uint16),
            block.data[a:b],
        )


class DensityWarningCounter:
    """Counts frames keeping more than 10% of their pixels, and the pixels kept in all.

    The first such frame is reported at once (frames arrive in order, so a too-low
    threshold shows on the first block, before its frames are written, not after a
    long write); :meth:`warn` sums them up at the end. Given the ``series`` and
    ``threshold`` written, :meth:`warn` also warns when the cache keeps no pixel, or
    fewer than :data:`EMPTY_WARNING_FRACTION` of them, saying which threshold keeps some.
    """

    def __init__(
        self,
        frame_shape: tuple[int, int],
        path: str,
        series: Any = None,
        threshold: Any = None,
    ):
        self._limit = DENSE_WARNING_FRACTION * frame_shape[0] * frame_shape[1]
        self._pixels = frame_shape[0] * frame_shape[1]
        self._path = path
        self._frames: list[tuple[int, float]] = []
        self._series = series
        self._threshold = threshold
        self._kept = 0
        self._seen = 0

    def check(self, frame: int, kept: int) -> None:
        self._kept += int(kept)
        self._seen += 1
        if kept > self._limit:
            self._frames.append((frame, kept / self._pixels))
            if len(self._frames) == 1:
                warnings.warn(
                    f"{self._path}: frame {frame} keeps {kept / self._pixels:.0%} of its pixels; "
                    "a frame-cache is meant to be sparse, consider a higher threshold "
                    "(writing goes on; interrupt it to choose another threshold)",
                    UserWarning,
                    stacklevel=2,
                )

    def warn(self) -> None:
        self._warn_if_nearly_empty()
        if not self._frames:
            return
        frame, fraction = self._frames[0]
        warnings.warn(
            f"{self._path}: {len(self._frames)} frame(s) keep more than 10% of their pixels "
            f"(first: frame {frame}, {fraction:.0%}); a frame-cache is meant to be sparse, "
            "consider a higher threshold",
            UserWarning,
            stacklevel=4,
        )

    def _warn_if_nearly_empty(self) -> None:
        total = self._seen * self._pixels
        if self._series is None or total == 0 or self._kept >= EMPTY_WARNING_FRACTION * total:
            return
        kept = (
            "keeps no pixel"
            if self._kept == 0
            else f"keeps only {self._kept} of {total} pixels ({100 * self._kept / total:.2g}%)"
        )
        warnings.warn(
            f"{self._path}: the threshold {self._threshold:g} {kept} of {self._seen} frame(s); "
            + threshold_advice(self._series, self._threshold),
            UserWarning,
            stacklevel=4,
        )


#: A frame-cache keeping fewer than this fraction of the pixels written is warned about.
EMPTY_WARNING_FRACTION = 1e-5

#: Bytes of the first frames :func:`threshold_advice` reads to suggest a threshold.
ADVICE_SAMPLE_BYTES = 64 * 2**20


def threshold_advice(series: Any, threshold: Any, fraction: float = 1e-3) -> str:
    """Which threshold keeps some pixels of ``series``, from its first frames.

    Reads the first frames (about :data:`ADVICE_SAMPLE_BYTES` of them, at least one)
    and names their largest value and the threshold below which about ``fraction``
    of their pixels are kept.
    """
    rows, cols = series.frame_shape
    frame_bytes = max(1, rows * cols * series.dtype.itemsize)
    nframes = int(np.clip(ADVICE_SAMPLE_BYTES // frame_bytes, 1, series.nframes))
    values = np.asarray(todense(series[:nframes].compute())).ravel()
    if values.dtype.kind == "f":
        values = values[~np.isnan(values)]
    if values.dtype.kind == "b":
        values = values.astype(np.uint8)
    which = f"the first {nframes} frame(s)" if nframes < series.nframes else "the frames"
    if values.size == 0:
        return f"{which} hold no number (all NaN)"
    top = values.max()
    if top == values.min():
        return f"every pixel of {which} is {top:g}: no threshold keeps only some of them"
    k = max(1, int(np.ceil(fraction * values.size)))
    kth = np.partition(values, values.size - k)[values.size - k]  # the k-th largest
    if kth == values.min():  # most pixels share the lowest value: keep those above it
        kth = np.unique(values)[1]
    return (
        f"the largest value of {which} is {top:g}; a threshold below {kth:g} keeps about "
        f"{100 * np.count_nonzero(values >= kth) / values.size:.2g}% of their pixels"
    )
