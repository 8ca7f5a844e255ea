"""One pass per frame for the everyday chain: dark, flips, crops, then a threshold.

``ims.dark(d).flip("v").threshold(t)`` or ``...to_framecache(out, threshold=t)`` builds,
as the user sees it, a lazy graph of one dask operation per step: each makes its own
full-frame temporaries. When such a chain is thresholded, :func:`thresholded` builds its
blocks instead, and when it is written to a frame-cache the writer asks
:func:`kept_pixels`: every task reads its frames through the format's reader and, frame
by frame, one compiled pass (:mod:`lazyims._fused_kernel`) subtracts the dark, follows
the flips and crops by index arithmetic (no copy of the frame), thresholds and writes the
output frame or the kept pixels' indices and values. The result equals the step-by-step
graph exactly (the same dtype rules, value for value); without numba, numpy does the
same steps.

The chain is known because :mod:`lazyims.processing` records, for each series it
makes from a reader's series by a dark, flip or rectangle, the recipe (the reader's
selection and the list of steps) under the name of its dask array.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from ._lazyframes import LazyFrames, _file_stamp, _runs

#: Per-frame steps the fused pass knows: ("dark", image), ("flip", code), ("crop", rect).
STEPS = ("dark", "flip", "crop")

_RECIPES: OrderedDict[str, Recipe] = OrderedDict()
_RECIPES_KEPT = 256
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Recipe:
    """A reader's selection and the per-frame steps applied to it, in order."""

    lazy: LazyFrames
    steps: tuple[tuple[str, Any], ...]


def recipe_of(series: Any) -> Recipe | None:
    """The recipe of ``series``: its reader's selection and steps, or None."""
    lazy = getattr(series, "_lazy", None)
    if lazy is not None:
        return Recipe(lazy, ())
    data = getattr(series, "_data", None)
    if data is None:
        return None
    with _LOCK:
        return _RECIPES.get(data.name)


def record(result: Any, source: Any, step: tuple[str, Any]) -> None:
    """Remember that ``result`` is ``source`` followed by ``step`` (when ``source``'s
    recipe is known and the step is one the fused pass knows)."""
    before = recipe_of(source)
    if before is None or before.lazy.sparse or step[0] not in STEPS:
        return
    data = getattr(result, "_data", None)
    if data is None:
        return
    with _LOCK:
        _RECIPES[data.name] = Recipe(before.lazy, (*before.steps, step))
        while len(_RECIPES) > _RECIPES_KEPT:
            _RECIPES.popitem(last=False)


def _transpose(a: np.ndarray) -> np.ndarray:
    return a.T


# HEXRD's flip codes on one 2-D frame, as views (the same as processing.FLIPS on frames)
_FLIPS = {
    "v": lambda a: a[:, ::-1],
    "y": lambda a: a[:, ::-1],
    "h": lambda a: a[::-1, :],
    "x": lambda a: a[::-1, :],
    "vh": lambda a: a[::-1, ::-1],
    "hv": lambda a: a[::-1, ::-1],
    "r180": lambda a: a[::-1, ::-1],
    "t": _transpose,
    "T": _transpose,
    "ccw90": lambda a: a.T[::-1, :],
    "r90": lambda a: a.T[::-1, :],
    "cw90": lambda a: a.T[:, ::-1],
    "r270": lambda a: a.T[:, ::-1],
}


def _geometry(view: np.ndarray, steps: tuple) -> np.ndarray:
    for kind, arg in steps:
        if kind == "flip":
            view = _FLIPS[arg](view)
        else:  # crop
            (r0, r1), (c0, c1) = arg
            view = view[r0:r1, c0:c1]
    return view


def kept_pixels(series: Any, threshold: Any) -> da.Array | None:
    """The pixels of ``series`` above ``threshold`` as sparse blocks (``sparse.COO``,
    whole frames), computed in one pass per frame from the reader; None when the
    series is not a reader's frames followed by known steps (the caller then
    thresholds the chunks of the step-by-step graph)."""
    import sparse

    meta = sparse.COO.from_numpy(np.zeros((0, 0, 0), dtype=series.dtype))
    return _fused_graph(series, threshold, _kept_block, "lazyims-fused", meta)


def thresholded(series: Any, threshold: Any) -> da.Array | None:
    """``series.threshold(threshold)`` as dense blocks computed in one pass per frame from
    the reader (values ``<= threshold`` set to 0); None when the chain is not fusable or
    the fused blocks (whole frames) would not have the step-by-step graph's chunks."""
    meta = np.empty((0, 0, 0), dtype=series.dtype)
    data = _fused_graph(series, threshold, _thresholded_block, "lazyims-fused-threshold", meta)
    if data is None or data.chunks != series.chunks:
        return None
    return data


def _fused_graph(series: Any, threshold: Any, task: Any, prefix: str, meta: Any) -> Any:
    """One ``task`` per chunk of frames of ``series``' recipe, or None when not fusable."""
    recipe = recipe_of(series)
    if recipe is None or not recipe.steps or recipe.lazy.sparse:
        return None
    steps = recipe.steps
    darks = [i for i, (kind, _) in enumerate(steps) if kind == "dark"]
    if darks not in ([], [0]):
        return None  # a dark after a flip or crop: not fused (rare)
    lazy = recipe.lazy
    dark = steps[0][1] if darks else None
    geometry = steps[1:] if darks else steps
    out_dtype = np.dtype(series.dtype)
    frame_shape = tuple(series.frame_shape)
    frames = np.asarray(lazy.frames, dtype=np.intp)
    chunks = lazy.chunks()[0]
    starts = np.cumsum((0,) + chunks[:-1])
    stamps = [_file_stamp(f) for f in lazy.reader.files()]
    dependencies = []
    if dark is None:
        dark_ref = None
    elif isinstance(dark, da.Array):
        whole = dark.rechunk(-1)
        dependencies.append(whole)
        dark_ref = (whole.name,) + (0,) * whole.ndim
    else:
        dark_ref = None
        dark = np.asarray(dark)
    token = tokenize(lazy, geometry, out_dtype, threshold, stamps, dark_ref or dark)
    name = f"{prefix}-{token}"
    dsk: dict = {}
    if dark is not None and dark_ref is None:
        dark_ref = (f"lazyims-fused-dark-{token}",)
        dsk[dark_ref] = dark
    for i, (start, n) in enumerate(zip(starts, chunks)):
        dsk[(name, i, 0, 0)] = (
            task,
            lazy.reader,
            _runs(frames[start : start + n]),
            lazy.rows,
            lazy.cols,
            dark_ref,
            geometry,
            out_dtype.str,
            threshold,
            frame_shape,
        )
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=dependencies)
    return da.Array(graph, name, (chunks, (frame_shape[0],), (frame_shape[1],)), meta=meta)


def _frames_of(reader: Any, runs: tuple, rows: slice, cols: slice):
    """The frames of ``runs``, one 2-D array at a time (read a run at a time)."""
    for start, stop in runs:
        yield from np.asarray(reader.read(start, stop, rows, cols))


def _dark_in(dark: Any, out_dtype: np.dtype) -> np.ndarray | None:
    if dark is None:
        return None
    dark = np.asarray(dark.todense() if hasattr(dark, "todense") else dark)
    return dark.astype(out_dtype, copy=False)


def _kernel_for(frame: np.ndarray, out_dtype: np.dtype) -> bool:
    """Whether the compiled kernels take this frame (plain numbers, numba present)."""
    return (
        out_dtype.kind in "uif"
        and out_dtype.itemsize <= 8
        and frame.dtype.kind in "uif"
        and _numba_kernel() is not None
    )


def _kept_block(
    reader: Any,
    runs: tuple,
    rows: slice,
    cols: slice,
    dark: np.ndarray | None,
    geometry: tuple,
    dtype: str,
    threshold: Any,
    frame_shape: tuple[int, int],
) -> Any:
    """One task: read the runs of frames, and keep each frame's pixels above the threshold."""
    import sparse

    out_dtype = np.dtype(dtype)
    dark = _dark_in(dark, out_dtype)
    coords, values, k = [], [], 0
    for frame in _frames_of(reader, runs, rows, cols):
        if _kernel_for(frame, out_dtype):
            r, c, v = _kept_numba(frame, dark, geometry, out_dtype, threshold)
        else:
            r, c, v = _kept_numpy(frame, dark, geometry, out_dtype, threshold)
        coords.append(np.stack([np.full(r.size, k, np.int32), r, c]))
        values.append(v)
        k += 1
    shape = (k, *frame_shape)
    coords_all = np.concatenate(coords, axis=1) if coords else np.zeros((3, 0), np.int32)
    data = np.concatenate(values) if values else np.zeros(0, out_dtype)
    return sparse.COO(
        coords_all,
        data,
        shape=shape,
        has_duplicates=False,
        sorted=True,
        fill_value=out_dtype.type(0),
    )


def _thresholded_block(
    reader: Any,
    runs: tuple,
    rows: slice,
    cols: slice,
    dark: np.ndarray | None,
    geometry: tuple,
    dtype: str,
    threshold: Any,
    frame_shape: tuple[int, int],
) -> np.ndarray:
    """One task: read the runs of frames, and write each frame thresholded (dense)."""
    out_dtype = np.dtype(dtype)
    dark = _dark_in(dark, out_dtype)
    nframes = sum(stop - start for start, stop in runs)
    out = np.empty((nframes, *frame_shape), out_dtype)
    for k, frame in enumerate(_frames_of(reader, runs, rows, cols)):
        if _kernel_for(frame, out_dtype):
            _thresholded_numba(frame, dark, geometry, out_dtype, threshold, out[k])
        else:
            image = _geometry(_darkened(frame, dark, out_dtype), geometry)
            np.copyto(out[k], np.where(image <= threshold, out_dtype.type(0), image))
    return out


def _darkened(frame, dark, out_dtype) -> np.ndarray:
    """The frame minus the dark as ``processing.dark`` computes it (``max(frame, dark) -
    dark`` in the promoted dtype), in one new work frame; or the frame as is."""
    if dark is None:
        return frame.astype(out_dtype, copy=False)
    work = frame.astype(out_dtype)
    np.maximum(work, dark, out=work)
    np.subtract(work, dark, out=work)
    return work


def _kept_numpy(frame, dark, geometry, out_dtype, threshold):
    """The kept pixels of one frame with numpy (without numba): the same operations as
    the step-by-step graph."""
    image = _geometry(_darkened(frame, dark, out_dtype), geometry)
    r, c = np.nonzero(image > threshold)
    return r.astype(np.int32), c.astype(np.int32), image[r, c]


def _affine(shape: tuple[int, int], geometry: tuple) -> tuple[np.ndarray, tuple[int, int]]:
    """The output frame's shape and the map from output (i, j) to input (a, b):
    ``a = m[0] i + m[1] j + m[2]``, ``b = m[3] i + m[4] j + m[5]``."""
    m = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.int64)
    rows, cols = shape
    for kind, arg in geometry:
        codes = _AS_BASIC[arg] if kind == "flip" else ("crop",)
        for code in codes:
            if code == "t":
                step = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]])
                rows, cols = cols, rows
            elif code == "h":
                step = np.array([[-1, 0, rows - 1], [0, 1, 0], [0, 0, 1]])
            elif code == "v":
                step = np.array([[1, 0, 0], [0, -1, cols - 1], [0, 0, 1]])
            else:
                (r0, r1), (c0, c1) = arg
                step = np.array([[1, 0, r0], [0, 1, c0], [0, 0, 1]])
                rows, cols = r1 - r0, c1 - c0
            m = m @ step
    return m[:2].ravel().astype(np.int64), (rows, cols)


# every flip code as transposes ("t") and reversals of rows ("h") or columns ("v"), in order
_AS_BASIC = {
    "v": ("v",), "y": ("v",), "h": ("h",), "x": ("h",),
    "vh": ("h", "v"), "hv": ("h", "v"), "r180": ("h", "v"),
    "t": ("t",), "T": ("t",), "ccw90": ("t", "h"), "r90": ("t", "h"),
    "cw90": ("t", "v"), "r270": ("t", "v"),
}  # fmt: skip


def _comparison(out_dtype: np.dtype, threshold: Any) -> np.ndarray:
    """``threshold`` as a 1-element array of the dtype numpy compares ``image > threshold`` in."""
    if out_dtype.kind in "iu" and isinstance(threshold, (int, np.integer)):
        # numpy compares integers with integers exactly: so do int64 values
        return np.array([min(max(int(threshold), -(2**63)), 2**63 - 1)], dtype=np.int64)
    return np.array([threshold], dtype=np.result_type(out_dtype, threshold))


def _no_dark(dtype: np.dtype) -> np.ndarray:
    return np.zeros((0, 0), dtype)


def _plan(shape, geometry, out_dtype, threshold) -> tuple[np.ndarray, tuple[int, int], np.ndarray]:
    """The kernel's map, output shape and threshold for frames of ``shape``."""
    m, out_shape = _affine(shape, geometry)
    return m, out_shape, _comparison(out_dtype, threshold)


#: Per-thread buffers of the compiled pass, reused from task to task. Frame-sized, but
#: only the pages written become resident: about a hundredth of a frame for kept pixels.
_SCRATCH = threading.local()


def _scratch(name: str, size: int, dtype: np.dtype, count: int = 1) -> list[np.ndarray]:
    """This thread's ``count`` buffers ``name`` of at least ``size`` items of ``dtype``."""
    buffers = getattr(_SCRATCH, name, None)
    if buffers is None or buffers[0].dtype != dtype or buffers[0].size < size:
        buffers = [np.empty(size, dtype) for _ in range(count)]
        setattr(_SCRATCH, name, buffers)
    return buffers


def _kept_numba(frame, dark, geometry, out_dtype, threshold):
    """The kept pixels of one frame: dark, flips, crops, threshold and collection in one
    compiled pass (no darkened or flipped copy of the frame, no boolean mask)."""
    m, (rows, cols), thr = _plan(frame.shape, geometry, out_dtype, threshold)
    r, c = _scratch("coords", max(1, rows * cols), np.dtype(np.int32), 2)
    (v,) = _scratch("values", max(1, rows * cols), out_dtype)
    (row,) = _scratch("row", max(1, cols), out_dtype)
    dark = _no_dark(out_dtype) if dark is None else dark
    n = _numba_kernel()(frame, dark, m, rows, cols, thr, r, c, v, row)
    return r[:n].copy(), c[:n].copy(), v[:n].copy()


def _thresholded_numba(frame, dark, geometry, out_dtype, threshold, out) -> None:
    """Write one frame after the dark, flips and crops, thresholded, into ``out``."""
    m, (rows, cols), thr = _plan(frame.shape, geometry, out_dtype, threshold)
    (row,) = _scratch("row", max(1, cols), out_dtype)
    dark = _no_dark(out_dtype) if dark is None else dark
    _numba_kernel(dense=True)(frame, dark, m, rows, cols, thr, out, row)


def _numba_kernel(dense: bool = False) -> Any:
    """A compiled one-pass kernel (numba, installed with ``sparse``), or None without numba:
    the kept pixels' kernel, or with ``dense`` the thresholded frame's."""
    try:
        from ._fused_kernel import kept_pixels_of_frame, thresholded_frame
    except ImportError:  # pragma: no cover - sparse needs numba
        return None
    return thresholded_frame if dense else kept_pixels_of_frame
