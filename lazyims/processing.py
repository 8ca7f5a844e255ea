"""Lazy per-frame processing with HEXRD's semantics (``ProcessedImageSeries``).

Every operation takes an :class:`~lazyims.ImageSeries` and returns a new one
whose frames are computed only when asked. Operations chain
(``series.dark(img).flip("v").threshold(20)``) and per-frame metadata
(``omega``) follows the frames.

Sparse series (frame-caches) stay sparse through :func:`flip`,
:func:`rectangle`, :func:`threshold`, :func:`frames` and :func:`dark`; the other
operations make dense frames.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np
from dask.base import tokenize

from . import _fused
from ._checks import takes_series
from .errors import ProcessingError
from .series import ImageSeries, is_sparse_array, todense

#: Prefix of the graph layers that are shared by every frame (a dark image).
#: Out-of-core statistics read a series in bands and must not recompute these per band.
SHARED_LAYER_PREFIX = "lazyims-shared-"


# -- dark ------------------------------------------------------------------------------
def _subtract_dark_dense(frames: np.ndarray, dark: np.ndarray, dtype: np.dtype) -> np.ndarray:
    # max(frame, dark) - dark is frame - dark clipped at 0, and never wraps for unsigned
    # types (HEXRD's uint16 - uint16 wraps around instead of clipping).
    frames = np.asarray(frames).astype(dtype, copy=False)
    dark = np.asarray(dark).astype(dtype, copy=False)
    return np.maximum(frames, dark) - dark


def _subtract_dark(frames: Any, dark: np.ndarray, dtype: np.dtype) -> Any:
    dark = np.asarray(dark)
    if not is_sparse_array(frames):
        return _subtract_dark_dense(frames, dark, dtype)
    import sparse

    if frames.fill_value != 0 or (dark < 0).any():
        # A negative dark turns the implicit zeros into positive values: do it densely.
        return sparse.COO.from_numpy(_subtract_dark_dense(frames.todense(), dark, dtype))
    # Implicit zeros stay zero (0 - dark clips at 0): subtract only at the stored values.
    coords = frames.coords
    values = _subtract_dark_dense(frames.data, dark[coords[1], coords[2]], dtype)
    keep = values != 0
    return sparse.COO(coords[:, keep], values[keep], shape=frames.shape, fill_value=dtype.type(0))


@takes_series(ProcessingError)
def dark(series: ImageSeries, image: Any) -> ImageSeries:
    """Subtract a dark image from every frame, clipping negative values at 0.

    Parameters
    ----------
    series
        The frames.
    image
        A 2-D numpy or dask array of one frame's shape, for example
        ``series.median(nframes=100)``; a dask dark stays lazy and is computed
        once per graph.

    Returns
    -------
    ImageSeries
        Frames of numpy's promoted dtype of (frames, dark) (float32 for uint16
        frames and a float32 median). Unlike HEXRD, unsigned frames minus an
        unsigned dark clip at 0 instead of wrapping around.
    """
    if not hasattr(image, "ndim") or not hasattr(image, "dtype"):
        image = np.asarray(image)
    if image.ndim != 2 or tuple(image.shape) != tuple(series.frame_shape):
        raise ProcessingError(
            f"the dark image has shape {tuple(image.shape)}, "
            f"but the frames are {tuple(series.frame_shape)}"
        )
    if series.dtype.kind not in "iuf" or np.dtype(image.dtype).kind not in "iuf":
        raise ProcessingError(
            f"a dark is subtracted from numbers; the frames are {series.dtype} and the dark "
            f"{image.dtype} (convert bool frames first, e.g. with series.add(0))"
        )
    dtype = np.result_type(series.dtype, image.dtype)
    original = image
    if isinstance(image, da.Array):
        # A named layer, so out-of-core statistics keep it shared instead of recomputing it.
        image = image.map_blocks(
            todense, dtype=image.dtype, name=f"{SHARED_LAYER_PREFIX}dark-{tokenize(image)}"
        )
        # Cut to the frames' row and column chunks, so the result keeps the frames' chunking.
        image = image.rechunk(series.chunks[1:])
    else:
        scattered = _scattered(np.asarray(image))  # None without a dask.distributed client
        if scattered is not None:
            original = scattered  # the fused frame-cache writer then refers to it too
            image = scattered
        else:
            image = da.from_array(np.asarray(image), chunks=image.shape)
        image = image.rechunk(series.chunks[1:])
    data = da.blockwise(
        _subtract_dark,
        "frc",
        series.to_dask(sparse=None),
        "frc",
        image,
        "rc",
        dtype,
        None,
        dtype=dtype,
        meta=_meta_like(series.to_dask(sparse=None), dtype),
    )
    result = series._replace(data=data)
    _fused.record(result, series, ("dark", original))
    return result


def _scattered(image: np.ndarray) -> da.Array | None:
    """``image`` scattered once to every worker of the dask.distributed client that is
    dask's scheduler, as a dask array whose graph holds only its key; None without one
    (then the image is part of the graph, which is fine locally)."""
    from ._progress import distributed_client

    client = distributed_client(())
    if client is None:
        return None
    future = client.scatter(image, broadcast=True, hash=True)
    name = f"{SHARED_LAYER_PREFIX}scattered-{future.key}"
    return da.from_delayed(dask.delayed(future), image.shape, image.dtype, name=name)


def _meta_like(data: da.Array, dtype: Any) -> Any:
    """An empty 3-D chunk of ``dtype``, sparse when ``data``'s chunks are."""
    if is_sparse_array(data):
        import sparse

        return sparse.COO.from_numpy(np.zeros((0, 0, 0), dtype=dtype))
    return np.empty((0, 0, 0), dtype=dtype)


# -- flips -----------------------------------------------------------------------------
def _transpose(d: da.Array) -> da.Array:
    return d.transpose(0, 2, 1)


#: HEXRD's flip codes and what they do to the (frames, rows, cols) array.
FLIPS: dict[str, Callable[[da.Array], da.Array]] = {
    "v": lambda d: d[:, :, ::-1],
    "y": lambda d: d[:, :, ::-1],
    "h": lambda d: d[:, ::-1, :],
    "x": lambda d: d[:, ::-1, :],
    "vh": lambda d: d[:, ::-1, ::-1],
    "hv": lambda d: d[:, ::-1, ::-1],
    "r180": lambda d: d[:, ::-1, ::-1],
    "t": _transpose,
    "T": _transpose,
    "ccw90": lambda d: _transpose(d)[:, ::-1, :],
    "r90": lambda d: _transpose(d)[:, ::-1, :],
    "cw90": lambda d: _transpose(d)[:, :, ::-1],
    "r270": lambda d: _transpose(d)[:, :, ::-1],
}


@takes_series(ProcessingError)
def flip(series: ImageSeries, code: str) -> ImageSeries:
    """Flip, transpose or rotate every frame with one of HEXRD's codes.

    ``v``/``y``: columns reversed; ``h``/``x``: rows reversed; ``vh``/``hv``/``r180``:
    both; ``t``/``T``: transpose; ``ccw90``/``r90``: rotate 90 degrees
    counter-clockwise; ``cw90``/``r270``: clockwise. An unknown code is an error
    (HEXRD silently does nothing).
    """
    try:
        op = FLIPS[code]
    except (KeyError, TypeError):
        raise ProcessingError(
            f"unknown flip code {code!r}; use one of {', '.join(FLIPS)}"
        ) from None
    result = series._replace(data=op(series.to_dask(sparse=None)))
    _fused.record(result, series, ("flip", code))
    return result


# -- cutting and padding ---------------------------------------------------------------
def _check_int(value: Any, what: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise ProcessingError(f"{what} must be an integer, not {value!r}")
    return int(value)


@takes_series(ProcessingError)
def rectangle(series: ImageSeries, rect: Any) -> ImageSeries:
    """Keep rows ``r0:r1`` and columns ``c0:c1`` of every frame, ``rect = ((r0, r1), (c0, c1))``.

    A freshly opened series re-reads only that region (HDF5 reads only those rows
    and columns). A rectangle that is empty or reaches outside the frame is an error.
    """
    try:
        (r0, r1), (c0, c1) = np.asarray(rect).tolist()
    except (TypeError, ValueError):
        raise ProcessingError(
            f"a rectangle is ((row0, row1), (col0, col1)), not {rect!r}"
        ) from None
    rows, cols = series.frame_shape
    for (lo, hi), size, axis in (((r0, r1), rows, "rows"), ((c0, c1), cols, "columns")):
        lo, hi = _check_int(lo, f"rectangle {axis}"), _check_int(hi, f"rectangle {axis}")
        if not 0 <= lo < hi <= size:
            raise ProcessingError(
                f"rectangle {axis} {lo}:{hi} do not fit in the frame's {size} {axis}"
            )
    # Indexing narrows what a series opened from files reads: only this region.
    result = series[:, int(r0) : int(r1), int(c0) : int(c1)]
    _fused.record(result, series, ("crop", ((int(r0), int(r1)), (int(c0), int(c1)))))
    return result


def _insert_zeros(series: ImageSeries, index: Any, axis: int) -> ImageSeries:
    what = "row" if axis == 1 else "column"
    index = _check_int(index, f"the {what} index")
    size = series.shape[axis]
    if not -size <= index <= size:
        raise ProcessingError(f"cannot insert a {what} at {index} in frames of {size} {what}s")
    index = index + size if index < 0 else index
    data = series.dense().data
    zeros_shape = list(data.shape)
    zeros_shape[axis] = 1
    zeros_chunks = list(data.chunks)
    zeros_chunks[axis] = (1,)
    zeros = da.zeros(zeros_shape, dtype=data.dtype, chunks=tuple(zeros_chunks))
    before = data[(slice(None),) * axis + (slice(0, index),)]
    after = data[(slice(None),) * axis + (slice(index, None),)]
    pieces = [p for p in (before, zeros, after) if p.shape[axis] > 0]
    return series._replace(data=da.concatenate(pieces, axis=axis))


@takes_series(ProcessingError)
def add_row(series: ImageSeries, index: int) -> ImageSeries:
    """Insert a row of zeros before row ``index`` of every frame (a panel gap)."""
    return _insert_zeros(series, index, 1)


@takes_series(ProcessingError)
def add_column(series: ImageSeries, index: int) -> ImageSeries:
    """Insert a column of zeros before column ``index`` of every frame (a panel gap)."""
    return _insert_zeros(series, index, 2)


# -- values ----------------------------------------------------------------------------
def _add_block(block: np.ndarray, value: Any, dtype: np.dtype) -> np.ndarray:
    out = np.array(block, dtype=dtype)
    np.add(out, value, out=out, casting="same_kind")
    return out


@takes_series(ProcessingError)
def add(series: ImageSeries, value: Any) -> ImageSeries:
    """Add a number (or a frame-shaped array) to every frame.

    As in HEXRD, frames that are not floating point become float32 first, and the
    result keeps the frames' dtype.
    """
    dtype = series.dtype if series.dtype.kind == "f" else np.dtype(np.float32)
    data = series.dense().data
    value = np.asarray(value)
    if value.ndim == 0:
        if value.dtype.kind not in "biuf":
            raise ProcessingError(f"cannot add {value!r} to frames")
        if not np.can_cast(value.dtype, dtype, casting="same_kind"):
            raise ProcessingError(f"cannot add a {value.dtype} value to {dtype} frames")
        result = data.map_blocks(_add_block, value, dtype, dtype=dtype)
    else:
        if value.shape != tuple(series.frame_shape):
            raise ProcessingError(
                f"cannot add an array of shape {value.shape} to frames of {series.frame_shape}"
            )
        result = da.blockwise(_add_block, "frc", data, "frc", value, "rc", dtype, None, dtype=dtype)
    return series._replace(data=result)


def _gauss_laplace_block(block: np.ndarray, sigma: Any) -> np.ndarray:
    from scipy import ndimage

    return np.stack([ndimage.gaussian_laplace(frame, sigma) for frame in block])


@takes_series(ProcessingError)
def gauss_laplace(series: ImageSeries, sigma: Any) -> ImageSeries:
    """The Laplacian of Gaussian filter (:func:`scipy.ndimage.gaussian_laplace`) of every frame.

    Each frame is filtered whole, whatever the chunking, so results equal scipy's
    on the full frame; the output keeps the frames' dtype, as in HEXRD.
    """
    sigmas = np.atleast_1d(np.asarray(sigma, dtype=float))
    if sigmas.ndim != 1 or sigmas.size not in (1, 2) or not (sigmas > 0).all():
        raise ProcessingError(f"sigma must be a positive number (or one per axis), not {sigma!r}")
    data = series.dense().data.rechunk({1: -1, 2: -1})
    return series._replace(data=data.map_blocks(_gauss_laplace_block, sigma, dtype=data.dtype))


def _zero_at_or_below(block: Any, t: Any) -> Any:
    if is_sparse_array(block):
        import sparse

        if block.fill_value != 0:
            return sparse.COO.from_numpy(_zero_at_or_below(block.todense(), t))
        keep = ~(block.data <= t)
        return sparse.COO(
            block.coords[:, keep], block.data[keep], shape=block.shape, fill_value=block.fill_value
        )
    return np.where(block <= t, block.dtype.type(0), block)


@takes_series(ProcessingError)
def threshold(series: ImageSeries, t: float) -> ImageSeries:
    """Set every value ``<= t`` to 0 (the values a frame-cache with threshold ``t`` drops)."""
    if not isinstance(t, numbers.Real) or isinstance(t, bool) or np.isnan(t):
        raise ProcessingError(f"the threshold must be a number, not {t!r}")
    # A reader's frames after a dark, flips and crops: one compiled pass per frame.
    data = _fused.thresholded(series, t)
    if data is None:
        data = series.to_dask(sparse=None).map_blocks(_zero_at_or_below, t, dtype=series.dtype)
    return series._replace(data=data)


@takes_series(ProcessingError)
def frames(series: ImageSeries, selection: Any) -> ImageSeries:
    """Keep the frames ``selection`` (indices, slice or boolean mask), in that order.

    Per-frame metadata (``omega``) is selected with them (HEXRD's ``frame_list``).
    """
    return series[list(selection) if isinstance(selection, (range, tuple)) else selection]


# -- HEXRD's operation lists -----------------------------------------------------------
_OPERATIONS: dict[str, Callable[[ImageSeries, Any], ImageSeries]] = {}


def register_operation(key: str, func: Callable[..., Any], *, per_frame: bool = False) -> None:
    """Make ``key`` usable in :func:`process` operation lists.

    Parameters
    ----------
    key
        The operation's name in ``(key, data)`` pairs; an existing key is replaced.
    func
        ``func(series, data) -> ImageSeries``, or with ``per_frame=True``
        ``func(frame, data) -> frame`` on one 2-D numpy frame (HEXRD's ``addop``
        style); it must be picklable to run on distributed workers.
    per_frame
        Whether ``func`` works on single frames.
    """
    if not isinstance(key, str) or not callable(func):
        raise ProcessingError("register_operation needs a str key and a callable")
    _OPERATIONS[key] = _per_frame_operation(func) if per_frame else func


def _apply_per_frame(block: np.ndarray, func: Callable, data: Any) -> np.ndarray:
    return np.stack([np.asarray(func(frame, data)) for frame in block])


def _per_frame_operation(func: Callable) -> Callable[[ImageSeries, Any], ImageSeries]:
    def operation(series: ImageSeries, data: Any) -> ImageSeries:
        # The output's shape and dtype, from a frame of zeros (no pixel is read).
        sample = np.asarray(func(np.zeros(series.frame_shape, series.dtype), data))
        if sample.ndim != 2:
            raise ProcessingError(f"{func!r} must return a 2-D frame, got {sample.ndim}-D")
        frames_in = series.dense().data.rechunk({1: -1, 2: -1})
        result = frames_in.map_blocks(
            _apply_per_frame,
            func,
            data,
            chunks=(frames_in.chunks[0], (sample.shape[0],), (sample.shape[1],)),
            dtype=sample.dtype,
        )
        return series._replace(data=result)

    return operation


def operation_keys() -> list[str]:
    """The keys :func:`process` understands."""
    return sorted(_OPERATIONS)


@takes_series(ProcessingError)
def process(
    series: ImageSeries,
    oplist: Iterable[Sequence[Any]],
    frame_list: Any = None,
) -> ImageSeries:
    """Apply HEXRD's list of ``(key, data)`` operations to the frames ``frame_list``.

    Keys: ``dark``, ``flip``, ``rectangle``, ``add``, ``gauss_laplace``, ``add-row``,
    ``add-column``, ``threshold`` and any registered with :func:`register_operation`.
    The operations are applied in order; ``frame_list`` (all frames by default)
    selects the frames first, with their ``omega``.
    """
    if frame_list is not None:
        series = frames(series, frame_list)
    for item in oplist:
        try:
            key, data = item
        except (TypeError, ValueError):
            raise ProcessingError(f"an operation is a (key, data) pair, not {item!r}") from None
        try:
            op = _OPERATIONS[key]
        except (KeyError, TypeError):
            raise ProcessingError(
                f"unknown operation {key!r}; known: {', '.join(operation_keys())}"
            ) from None
        series = op(series, data)
    return series


for _key, _func in {
    "dark": dark,
    "flip": flip,
    "rectangle": rectangle,
    "add": add,
    "gauss_laplace": gauss_laplace,
    "add-row": add_row,
    "add-column": add_column,
    "add_row": add_row,
    "add_column": add_column,
    "threshold": threshold,
}.items():
    register_operation(_key, _func)
del _key, _func
