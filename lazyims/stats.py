"""Frame-wise statistics of a series (HEXRD's ``imageseries.stats``), as lazy 2-D dask arrays.

``nframes`` > 0 uses only the first ``nframes`` frames (all of them when the series
is shorter); 0 uses every frame. Result dtypes are HEXRD's: :func:`max` and
:func:`min` keep the frames' dtype, :func:`sum` is float64, :func:`average`,
:func:`median` and :func:`percentile` are float32.

:func:`median` and :func:`percentile` need all frames of a pixel at once. They run
out of core: the frames are read in bands of rows, one band after another, so
memory holds one band of rows across the frames (at most :data:`BAND_BYTES`),
never the whole scan. A freshly opened series reads only each band's rows from
its files; a processed series is recomputed per band (a shared dark image is
computed only once).

Examples
--------
>>> import lazyims, numpy as np
>>> ims = lazyims.open(np.arange(24, dtype=np.uint16).reshape(3, 2, 4))
>>> lazyims.stats.median(ims).compute()
array([[ 8.,  9., 10., 11.],
       [12., 13., 14., 15.]], dtype=float32)
"""

from __future__ import annotations

import builtins
import functools
import math
import numbers
import os
import sys
import time
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize

from . import _sparse_stats
from ._checks import takes_series
from ._dask_graph import independent_copy
from ._files import reading
from ._lazyframes import _file_stamp, _runs
from ._spill import SPILL_BAND_BYTES, spilled_percentile
from .errors import OptionError, ProcessingError
from .processing import SHARED_LAYER_PREFIX
from .series import ImageSeries, as_chunks, is_sparse_array, todense

__all__ = ["BAND_BYTES", "average", "max", "median", "min", "percentile", "sum"]


def _default_band_bytes() -> int:
    """A quarter of this machine's memory (at least 512 MiB; 2 GiB where unknown)."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 2 * 2**30
    return builtins.max(512 * 2**20, physical // 4)


#: Memory budget of one band of rows in :func:`median` and :func:`percentile`, in
#: bytes (the band's frames plus the working copies of its column pieces). A scan
#: larger than this is read in several bands, each band reading every frame again.
#: Change it here or pass ``band_bytes=`` (e.g. for workers with less memory).
BAND_BYTES = _default_band_bytes()

#: The band's frames plus the per-task copies of the pixels being ordered.
_BAND_OVERHEAD = 1.25

#: A band is split into column pieces of about this size, each a task: several cores
#: share the work, and each task's working copy of its pixels stays small.
_SPLIT_COLUMNS_BYTES = 32 * 2**20

#: At most this many column pieces per band.
_MAX_PIECES = 32


def _first_frames(series: ImageSeries, nframes: Any) -> tuple[ImageSeries, int]:
    """The first ``nframes`` frames of ``series`` (all for 0), and how many."""
    if not isinstance(series, ImageSeries):
        raise ProcessingError(f"statistics need an ImageSeries, not {type(series).__name__}")
    if not isinstance(nframes, numbers.Integral) or isinstance(nframes, bool) or nframes < 0:
        raise OptionError(f"nframes must be an integer >= 0, not {nframes!r}")
    n = series.nframes if nframes == 0 else builtins.min(int(nframes), series.nframes)
    where = series.source if series.files else None
    if n == 0:
        raise ProcessingError(
            "a statistic over frames needs at least one frame; the series has none", where
        )
    rows, cols = series.frame_shape
    if rows == 0 or cols == 0:
        raise ProcessingError(
            f"a statistic over frames needs pixels; the frames are {rows} x {cols} "
            "(a rectangle or crop that keeps no row or no column?)",
            where,
        )
    # Indexing narrows what a series opened from files reads: only these frames.
    return series[:n], n


def _result(result: da.Array, data: da.Array, sparse: bool) -> da.Array:
    """A reduction of ``data`` with numpy chunks, or sparse ones when ``sparse``."""
    if is_sparse_array(data) and not is_sparse_array(result):
        # dask's reductions of sparse chunks give sparse results but report numpy meta
        import sparse as sparse_module

        meta = sparse_module.COO.from_numpy(np.zeros((0, 0), dtype=result.dtype))
        result = da.Array(result.dask, result.name, result.chunks, meta=meta)
    return as_chunks(result, sparse=sparse)


def _fold(data: da.Array, ufunc: np.ufunc) -> da.Array:
    """``ufunc.reduce`` over the frames, folding the chunks' results pairwise.

    dask's own ``max(axis=0)`` concatenates the partial results of up to 16 chunks
    before reducing them: for detector frames of 36-72 MB (Eiger) that copy and its
    page faults cost more than decoding the frames. Folding them into one output per
    group (``ufunc(out, part, out=out)``) touches each partial result once.
    Sparse chunks go to dask's reduction (``sparse`` reduces them itself).
    """
    if is_sparse_array(data):
        return _dask_reduce(data, ufunc)
    meta = np.empty((0, 0), dtype=data.dtype)
    return da.reduction(
        data,
        functools.partial(_fold_chunk, ufunc=ufunc),
        functools.partial(_fold_aggregate, ufunc=ufunc),
        combine=functools.partial(_fold_combine, ufunc=ufunc),
        axis=0,
        concatenate=False,
        dtype=data.dtype,
        split_every=_fold_group(data),
        meta=meta,
        name=f"fold-{ufunc.__name__}",
    )


#: Bytes of the partial results one fold task gathers (they wait in memory for it).
_FOLD_GROUP_BYTES = 128 * 2**20


def _fold_group(data: da.Array) -> int:
    """Partial results per fold task: 2 to 16, about :data:`_FOLD_GROUP_BYTES` of them."""
    part_bytes = builtins.max(1, data.dtype.itemsize * math.prod(c[0] for c in data.chunks[1:]))
    return builtins.max(2, builtins.min(16, _FOLD_GROUP_BYTES // part_bytes))


def _dask_reduce(data: da.Array, ufunc: np.ufunc) -> da.Array:
    return data.max(axis=0) if ufunc is np.maximum else data.min(axis=0)


def _fold_chunk(block: np.ndarray, axis: Any, keepdims: bool, ufunc: np.ufunc) -> np.ndarray:
    # A one-frame chunk is its own partial result (not copied; never written to).
    return block if block.shape[0] == 1 else ufunc.reduce(block, axis=0, keepdims=True)


def _fold_combine(parts: Any, axis: Any, keepdims: bool, ufunc: np.ufunc) -> np.ndarray:
    from dask.core import flatten

    parts = list(flatten(parts)) if isinstance(parts, list) else [parts]
    if len(parts) == 1:
        return parts[0]
    out = ufunc(parts[0], parts[1])  # a new array: the parts may be the readers' frames
    for part in parts[2:]:
        ufunc(out, part, out=out)
    return out


def _fold_aggregate(parts: Any, axis: Any, keepdims: bool, ufunc: np.ufunc) -> np.ndarray:
    from dask.core import flatten

    alone = not isinstance(parts, list) or len(list(flatten(parts))) == 1
    result = _fold_combine(parts, axis, keepdims, ufunc)[0]
    # A lone part may be a chunk itself (a user's array): the result must not share it.
    return result.copy() if alone else result


@takes_series(ProcessingError)
def max(series: ImageSeries, nframes: int = 0, *, sparse: bool = False) -> da.Array:  # noqa: A001
    """The maximum over frames of every pixel, in the frames' dtype.

    The result computes to a numpy array; ``sparse=True`` gives ``sparse.COO``
    chunks instead (the same for :func:`min`, :func:`sum` and :func:`average`).
    Of a frame-cache as opened it is computed straight from the stored pixels.
    """
    return _reduce(series, nframes, sparse, "max", lambda data: _fold(data, np.maximum))


@takes_series(ProcessingError)
def min(series: ImageSeries, nframes: int = 0, *, sparse: bool = False) -> da.Array:  # noqa: A001
    """The minimum over frames of every pixel, in the frames' dtype."""
    return _reduce(series, nframes, sparse, "min", lambda data: _fold(data, np.minimum))


@takes_series(ProcessingError)
def sum(series: ImageSeries, nframes: int = 0, *, sparse: bool = False) -> da.Array:  # noqa: A001
    """The sum over frames of every pixel, as float64."""
    return _reduce(series, nframes, sparse, "sum", lambda data: data.sum(axis=0, dtype=np.float64))


def _reduce(series: ImageSeries, nframes: int, sparse: bool, op: str, reduce: Any) -> da.Array:
    """``op`` over the first ``nframes`` frames: from a frame-cache's stored pixels where
    its reader can, else ``reduce(frames)`` of the frames' dask array."""
    first, _ = _first_frames(series, nframes)
    stored = None if sparse else _from_stored_pixels(first, op)
    if stored is not None:
        return stored
    data = first.to_dask(sparse=None)
    return _result(reduce(data), data, sparse)


@takes_series(ProcessingError)
def average(series: ImageSeries, nframes: int = 0, *, sparse: bool = False) -> da.Array:
    """The mean over frames of every pixel (summed in float64), as float32."""
    first, n = _first_frames(series, nframes)
    total = None if sparse else _from_stored_pixels(first, "sum")
    if total is not None:
        return (total / n).astype(np.float32)
    data = first.to_dask(sparse=None)
    return _result((data.sum(axis=0, dtype=np.float64) / n).astype(np.float32), data, sparse)


#: Stored bytes (uncompressed) of the frames one task of a frame-cache reduction reads.
STORED_BYTES_PER_TASK = 8 * 2**20


def _from_stored_pixels(series: ImageSeries, op: str) -> da.Array | None:
    """``op`` over the frames of a frame-cache as read (any frames, rows and columns of it),
    computed from its stored pixels.

    Each task reads the stored (row, col, value) of about :data:`STORED_BYTES_PER_TASK`
    of the frames and scatters them into one dense accumulator; dask combines the
    tasks' results. No sparse array is built. None when the series is not a format's
    frames as read or its reader cannot (then the caller reduces the chunks).
    """
    lazy = series._lazy
    reader = getattr(lazy, "reader", None)
    can_reduce = getattr(reader, "can_reduce", None)
    if can_reduce is None or not can_reduce(op) or len(lazy.frames) == 0:
        return None
    frames = np.asarray(lazy.frames, dtype=np.intp)
    sizes = np.asarray(reader.stored_bytes(int(frames.max()) + 1), dtype=np.int64)[frames]
    tasks = [_runs(frames[a:b]) for a, b in _runs_of_bytes(sizes, STORED_BYTES_PER_TASK)]
    rows, cols = lazy.rows, lazy.cols
    dtype = np.dtype(np.float64) if op == "sum" else series.dtype
    shape = (rows.stop - rows.start, cols.stop - cols.start)
    stamps = [_file_stamp(f) for f in reader.files()]
    parts = da.map_blocks(
        _reduce_runs,
        reader,
        op,
        tasks,
        rows,
        cols,
        chunks=((1,) * len(tasks), (shape[0],), (shape[1],)),
        dtype=dtype,
        meta=np.empty((0, 0, 0), dtype=dtype),
        name=f"lazyims-stored-{op}-{tokenize(reader, op, tasks, rows, cols, stamps)}",
    )
    if op == "sum":
        return parts.sum(axis=0, dtype=np.float64)
    return parts.max(axis=0) if op == "max" else parts.min(axis=0)


def _runs_of_bytes(sizes: np.ndarray, target: int) -> list[tuple[int, int]]:
    """Consecutive frame ranges of about ``target`` stored bytes each (at least one frame)."""
    n = len(sizes)
    if n == 0:
        return []
    ends = np.cumsum(sizes)
    bounds, start = [], 0
    while start < n:
        goal = (ends[start - 1] if start else 0) + target
        stop = int(np.searchsorted(ends, goal, side="right"))
        stop = builtins.min(n, builtins.max(stop, start + 1))
        bounds.append((start, stop))
        start = stop
    return bounds


def _reduce_runs(reader: Any, op: str, tasks: list, rows: slice, cols: slice, block_info=None):
    """One task: ``op`` over its runs of consecutive frames, each reduced by the reader."""
    runs = tasks[block_info[None]["chunk-location"][0]]
    with reading(reader):
        out = reader.reduce(op, *runs[0], rows, cols)
    combine = {"max": np.maximum, "min": np.minimum, "sum": np.add}[op]
    for start, stop in runs[1:]:
        with reading(reader):
            combine(out, reader.reduce(op, start, stop, rows, cols), out=out)
    return out[None]


@takes_series(ProcessingError)
def median(
    series: ImageSeries,
    nframes: int = 0,
    *,
    band_bytes: int | None = None,
    tmpdir: str | os.PathLike | None = None,
) -> da.Array:
    """The median over frames of every pixel, as float32, computed out of core.

    The usual dark image: ``series.median(nframes=100)``. See :func:`percentile`.
    """
    return percentile(series, 50, nframes, band_bytes=band_bytes, tmpdir=tmpdir)


@takes_series(ProcessingError)
def percentile(
    series: ImageSeries,
    pct: float,
    nframes: int = 0,
    *,
    band_bytes: int | None = None,
    tmpdir: str | os.PathLike | None = None,
) -> da.Array:
    """The ``pct`` percentile over frames of every pixel, as float32, computed out of core.

    Parameters
    ----------
    series
        The frames.
    pct
        The percentile, 0 to 100 (numpy's default linear interpolation).
    nframes
        Use only the first ``nframes`` frames (0: all).
    band_bytes
        Memory budget of one band of rows, read band after band (each band reading
        every frame again); by default the frames are spilled instead (below).
    tmpdir
        Folder for the spill files (default: the system's temporary folder); on a
        dask.distributed cluster, a folder every worker sees.

    Returns
    -------
    dask.array.Array
        A lazy (rows, cols) float32 array.

    Notes
    -----
    A scan larger than one band (64 MiB) is computed in one pass over the frames:
    each frame is read once and its rows are written to one spill file per band of
    rows, then each band's percentile is taken (memory: a band or two per thread,
    whatever the number of frames; see :mod:`lazyims._spill`). The files are removed
    afterwards, and a killed run's files by the next run. With a dask.distributed
    client and no ``tmpdir`` (workers may not share a folder), and with
    ``band_bytes=``, bands are read from the frames instead.

    Integer frames: each pixel's two values around ``pct`` are selected without
    sorting (numba; numpy sorts where numba is missing), then interpolated as
    ``np.percentile`` does, except that their difference is taken exactly where numpy
    wraps it around in the frames' dtype (signed values further apart than the dtype
    holds). The median (``pct`` 50) is ``np.median``'s.
    """
    if not isinstance(pct, numbers.Real) or isinstance(pct, bool) or not 0 <= pct <= 100:
        raise OptionError(f"the percentile must be a number from 0 to 100, not {pct!r}")
    budget = BAND_BYTES if band_bytes is None else band_bytes
    if not isinstance(budget, numbers.Integral) or budget < 1:
        raise OptionError(f"band_bytes must be a positive integer, not {band_bytes!r}")
    first, n = _first_frames(series, nframes)
    stored = _sparse_stats.stored_percentile(first, float(pct))  # a frame-cache as opened
    if stored is not None:
        return stored
    rows, cols = series.frame_shape
    total = n * rows * cols * series.dtype.itemsize
    if band_bytes is None and total > SPILL_BAND_BYTES and (tmpdir is not None or not _client()):
        return spilled_percentile(first.to_dask(sparse=None), float(pct), tmpdir, _band_of_file)
    # The band's frames, plus the stacked copy np.percentile partitions in place.
    row_bytes = int(n * cols * series.dtype.itemsize * _BAND_OVERHEAD)
    band_rows = int(np.clip(budget // row_bytes, 1, rows))
    results: list[da.Array] = []
    for r0 in range(0, rows, band_rows):
        r1 = builtins.min(rows, r0 + band_rows)
        band = _band(first, r0, r1)
        if results:
            # A copy of the band's graph that starts reading only when the previous
            # band is done, so one band of frames is in memory at a time.
            band = independent_copy(band, results[-1], f"band{r0}", SHARED_LAYER_PREFIX)
        results.append(_band_percentile(band, float(pct), n))
    return results[0] if len(results) == 1 else da.concatenate(results, axis=0)


def _band(series: ImageSeries, r0: int, r1: int) -> da.Array:
    """Rows ``r0:r1`` of every frame, as a graph that does not share chunks with other bands."""
    band = series[:, r0:r1]
    if band._reads_files:
        # A series opened from files reads only these rows: nothing is shared.
        return band.to_dask(sparse=None)
    # Slices of the processed frames: every band after the first gets its own copy of
    # the upstream tasks (independent_copy), so no frame chunk waits for every band.
    # A copy of the rows, not a view, so each whole processed chunk is freed at once.
    data = band.to_dask(sparse=None)
    return data.map_blocks(_copy, dtype=data.dtype, meta=data._meta)


def _band_percentile(band: da.Array, pct: float, n: int) -> da.Array:
    rows, cols = band.shape[1], band.shape[2]
    band_bytes = n * rows * cols * band.dtype.itemsize
    pieces = int(np.clip(band_bytes // _SPLIT_COLUMNS_BYTES, 1, _MAX_PIECES))
    band = band.rechunk({1: -1, 2: -(-cols // pieces)})
    return da.blockwise(
        _percentile_of_pieces,
        "rc",
        band,
        "frc",
        pct,
        None,
        concatenate=False,
        dtype=np.float32,
        meta=np.empty((0, 0), dtype=np.float32),
    )


def _band_of_file(values: np.ndarray, pct: float) -> np.ndarray:
    return _percentile_of_pieces([values], pct)


def _client() -> bool:
    """Whether a dask.distributed client is the default scheduler (never imports it)."""
    if "distributed" not in sys.modules:
        return False
    from distributed import default_client

    try:
        default_client()
    except ValueError:
        return False
    return True


def _percentile_of_pieces(pieces: list[Any], pct: float) -> np.ndarray:
    pieces = [todense(p) for p in pieces]
    if pieces[0].dtype.kind == "b":  # numpy's percentile cannot interpolate bools
        pieces = [p.view(np.uint8) for p in pieces]
    if pieces[0].dtype.kind in "iu":
        return _integer_percentile_of_frames(pieces, pct).astype(np.float32)
    # The stacked array is our own copy, so the percentile may partition it in place.
    stacked = np.concatenate(pieces, axis=0)
    if pct == 50:  # numpy's median (the mean of the middle two), bit for bit, float16 too
        return np.median(stacked, axis=0, overwrite_input=True).astype(np.float32)
    return np.percentile(stacked, pct, axis=0, overwrite_input=True).astype(np.float32)


def _integer_percentile_of_frames(pieces: list[np.ndarray], pct: float) -> np.ndarray:
    """The ``pct`` percentile (float64) over the frames of integer ``pieces`` (consecutive
    runs of frames, ``(frames, rows, cols)`` each), as :func:`_interpolated` defines it.

    With numba, each pixel's two order statistics are selected from the frames as they
    lie (:mod:`lazyims._select_kernel`: no sort, no pixel-major copy); without it, the
    values are copied pixel-major and ordered by numpy (:func:`_integer_percentile`).
    """
    kernel = _select_kernel()
    if kernel is None:
        return _integer_percentile(_by_pixel(pieces), pct)
    frames = pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=0)
    if not frames.dtype.isnative:  # the compiled kernel takes the machine's byte order
        frames = frames.astype(frames.dtype.newbyteorder("="))
    lo, hi, t = _ranks(frames.shape[0], pct)
    below, above = _selected(kernel, frames, lo, hi)
    return _interpolated(below, above, pct, t)


def _select_kernel() -> Any:
    """The compiled selection (:func:`lazyims._select_kernel.select_pair`), or None
    without numba (then numpy sorts)."""
    try:
        from ._select_kernel import select_pair
    except ImportError:
        return None
    return select_pair


def _ranks(n: int, pct: float) -> tuple[int, int, float]:
    """numpy's linear method: the ``pct`` percentile of ``n`` sorted values lies between
    the ``lo``-th and the ``hi``-th (from 0), ``t`` of the way from the first."""
    position = pct / 100.0 * (n - 1)
    lo = int(np.floor(position))
    t = position - lo
    return lo, lo if t == 0 else builtins.min(lo + 1, n - 1), t


def _selected(kernel: Any, frames: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``lo``-th and ``hi``-th smallest (``hi`` is ``lo`` or ``lo + 1``) of each pixel's
    values over the frames of integer ``frames`` (frames, rows, cols), by ``kernel``."""
    from ._select_kernel import block_width, count_dtype

    n, rows, cols = frames.shape
    dtype = frames.dtype
    values = np.ascontiguousarray(frames).reshape(n, rows * cols)
    if dtype == np.uint64:  # compared as int64 keys in the same order
        values = values.view(np.int64) ^ np.int64(np.iinfo(np.int64).min)
    width = block_width(n, values.shape[1], values.itemsize)
    lows = np.empty(values.shape[1], values.dtype)
    nexts = np.empty_like(lows) if hi > lo else lows
    kernel(
        values,
        lo,
        hi > lo,
        np.iinfo(values.dtype).max,
        lows,
        nexts,
        np.zeros(width, count_dtype(n)),
        np.empty(width, values.dtype),
        np.empty(width, values.dtype),
    )
    if dtype == np.uint64:
        lows = (lows ^ np.int64(np.iinfo(np.int64).min)).view(np.uint64)
        nexts = lows if hi == lo else (nexts ^ np.int64(np.iinfo(np.int64).min)).view(np.uint64)
    return lows.reshape(rows, cols), nexts.reshape(rows, cols)


def _interpolated(below: np.ndarray, above: np.ndarray, pct: float, t: float) -> np.ndarray:
    """The percentile (float64) between each pixel's two order statistics ``below`` <=
    ``above`` (integers), ``t`` of the way up, the way numpy computes it.

    The median (``pct`` 50) is ``np.median``'s: the mean of the middle two values. Other
    percentiles are ``np.percentile``'s linear interpolation, from the nearer end. The
    difference ``above - below`` is taken exactly, where numpy takes it in the frames'
    dtype: for signed integers whose values lie further apart than the dtype's largest
    value (e.g. -100 and 100 in int8), numpy's difference wraps around and its percentile
    is wrong; lazyims' is the true one, as ``np.median``'s is.
    """
    low = below.astype(np.float64)
    if pct == 50:
        return (low + above.astype(np.float64)) / 2
    if below.dtype.itemsize < 8:
        step = (above.astype(np.int64) - below.astype(np.int64)).astype(np.float64)
    else:  # exact modulo 2**64, and the true difference lies in [0, 2**64)
        step = (above.view(np.uint64) - below.view(np.uint64)).astype(np.float64)
    if t < 0.5:
        return low + step * t
    return above.astype(np.float64) - step * (1 - t)


#: Frames copied at a time into pixel-major order (see :func:`_by_pixel`).
_COPY_FRAMES = 64


def _by_pixel(pieces: list[np.ndarray]) -> np.ndarray:
    """The frames' pieces as one (rows, cols, frames) array, each pixel's values contiguous.

    Filled piece by piece, without first stacking the frames, so a task's working
    memory is one copy of its pixels. The copy goes :data:`_COPY_FRAMES` frames at a
    time: one copy of all frames walks the frame axis a whole band per step, a cache and
    TLB miss per value from a few hundred frames on (5 ns per value at 400 frames, 7 at
    1440, 0.9 at 100, on the benchmark machine); 64 at a time stay at 0.6-1 ns.
    """
    n = builtins.sum(p.shape[0] for p in pieces)
    rows, cols = pieces[0].shape[1:]
    out = np.empty((rows, cols, n), dtype=pieces[0].dtype)
    start = 0
    for piece in pieces:
        for k in range(0, piece.shape[0], _COPY_FRAMES):
            part = piece[k : k + _COPY_FRAMES]
            out[:, :, start : start + part.shape[0]] = np.moveaxis(part, 0, -1)
            start += part.shape[0]
    return out


def _integer_percentile(by_pixel: np.ndarray, pct: float) -> np.ndarray:
    """The ``pct`` percentile (float64, as :func:`_interpolated`) of integer frames given
    as ``by_pixel`` = (rows, cols, frames), each pixel's values contiguous; sorts in place.

    The way without numba: numpy partitions along the frame axis, striding through
    memory; here each pixel's values are sorted (or partitioned) where they lie, by
    whichever of numpy's ways is fastest on this machine (:func:`_ordering`).
    """
    lo, hi, t = _ranks(by_pixel.shape[-1], pct)
    kth = sorted({lo, hi})
    _order_in_place(by_pixel, _ordering(by_pixel, kth), kth)
    return _interpolated(by_pixel[..., lo], by_pixel[..., hi], pct, t)


#: How each pixel's values are put in order: numpy's default sort (vectorised by
#: x86-simd-sort or Highway where numpy has them for the dtype: 5-10x faster than
#: the others), its stable sort (a radix sort for 8- and 16-bit values) or a partition
#: around the wanted ranks. Which is fastest depends on the CPU and numpy's build
#: (without AVX512-ICL, numpy's default 16-bit sort is 5x slower than its radix sort),
#: so it is measured once per dtype and number of frames on a sample of the values
#: (about half a million of them).
_ORDERINGS = ("sort", "radix", "partition")
_FASTEST: dict[tuple[str, int], str] = {}
_SAMPLE_VALUES = 2**19  # all six trials: ~20 ms here, whatever the number of frames


def _order_in_place(values: np.ndarray, how: str, kth: list[int]) -> None:
    if how == "sort":
        values.sort(axis=-1)
    elif how == "radix":
        values.sort(axis=-1, kind="stable")
    else:
        values.partition(kth, axis=-1)


def _ordering(by_pixel: np.ndarray, kth: list[int]) -> str:
    """The fastest of :data:`_ORDERINGS` here for these values (measured once per dtype
    and number of frames; every ordering gives the same percentile)."""
    n = by_pixel.shape[-1]
    key = (by_pixel.dtype.str, n)
    how = _FASTEST.get(key)
    if how is None:
        sample = by_pixel.reshape(-1, n)[: builtins.max(16, _SAMPLE_VALUES // n)]
        best = {}
        for candidate in _ORDERINGS:
            times = []
            for _ in range(2):
                trial = sample.copy()
                start = time.perf_counter()
                _order_in_place(trial, candidate, kth)
                times.append(time.perf_counter() - start)
            best[candidate] = builtins.min(times)
        how = _FASTEST.setdefault(key, builtins.min(best, key=best.get))
    return how


def _copy(block: Any) -> Any:
    return block.copy()
