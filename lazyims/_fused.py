"""One pass per frame for the everyday chain: dark, flips, crops, then a frame-cache write.

``ims.dark(d).flip("v").to_framecache(out, threshold=t)`` builds, as the user sees
it, a lazy graph of one dask operation per step: each makes its own full-frame
temporaries. When such a chain is written to a frame-cache, the writer asks
:func:`kept_pixels` instead: every task reads its frames through the format's
reader and, frame by frame, subtracts the dark, flips/crops by indexing (views, no
copies), thresholds and keeps the surviving pixels' indices and values, with one
float frame per thread as the only temporary. The result equals the step-by-step
graph exactly (the same numpy operations on the same values).

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
    name = f"lazyims-fused-{token}"
    dsk: dict = {}
    if dark is not None and dark_ref is None:
        dark_ref = (f"lazyims-fused-dark-{token}",)
        dsk[dark_ref] = dark
    for i, (start, n) in enumerate(zip(starts, chunks)):
        dsk[(name, i, 0, 0)] = (
            _kept_block,
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
    import sparse

    meta = sparse.COO.from_numpy(np.zeros((0, 0, 0), dtype=out_dtype))
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=dependencies)
    return da.Array(graph, name, (chunks, (frame_shape[0],), (frame_shape[1],)), meta=meta)


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
    if dark is not None:
        dark = np.asarray(dark.todense() if hasattr(dark, "todense") else dark)
        dark = dark.astype(out_dtype, copy=False)
    kernel = _numba_kernel() if out_dtype.kind in "uif" and out_dtype.itemsize <= 8 else None
    coords, values, k = [], [], 0
    state: dict = {}
    for start, stop in runs:
        block = np.asarray(reader.read(start, stop, rows, cols))
        for frame in block:
            if kernel is not None and frame.dtype.kind in "uif":
                r, c, v = _kept_numba(kernel, frame, dark, geometry, out_dtype, threshold, state)
            else:
                r, c, v = _kept_numpy(frame, dark, geometry, out_dtype, threshold, state)
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


def _darkened(frame, dark, out_dtype, state) -> np.ndarray:
    """The frame minus the dark as ``processing.dark`` computes it (``max(frame, dark) -
    dark`` in the promoted dtype), in the task's one work frame; or the frame as is."""
    if dark is None:
        return frame.astype(out_dtype, copy=False)
    work = state.get("work")
    if work is None or work.shape != frame.shape:
        work = state["work"] = np.empty(frame.shape, out_dtype)
    np.copyto(work, frame, casting="unsafe")
    np.maximum(work, dark, out=work)
    np.subtract(work, dark, out=work)
    return work


def _kept_numpy(frame, dark, geometry, out_dtype, threshold, state):
    """The kept pixels of one frame with numpy: the same operations as the step-by-step graph."""
    image = _geometry(_darkened(frame, dark, out_dtype, state), geometry)
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


def _kept_numba(kernel, frame, dark, geometry, out_dtype, threshold, state):
    """The kept pixels of one frame: the dark by numpy in the work frame, then flips, crops,
    threshold and collection in one compiled pass (no flipped copy, no boolean mask)."""
    key = (frame.shape, geometry, out_dtype)
    if state.get("key") != key:
        m, (rows, cols) = _affine(frame.shape, geometry)
        state.update(
            key=key,
            m=m,
            out_shape=(rows, cols),
            thr=_comparison(out_dtype, threshold),
            r=np.empty(rows * cols, np.int32),
            c=np.empty(rows * cols, np.int32),
            v=np.empty(rows * cols, out_dtype),
        )
    image = _darkened(frame, dark, out_dtype, state)
    rows, cols = state["out_shape"]
    n = kernel(image, state["m"], rows, cols, state["thr"], state["r"], state["c"], state["v"])
    return state["r"][:n].copy(), state["c"][:n].copy(), state["v"][:n].copy()


def _numba_kernel() -> Any:
    """The compiled one-pass kernel (numba, installed with ``sparse``), or None without numba."""
    try:
        from ._fused_kernel import kept_pixels_of_frame
    except ImportError:  # pragma: no cover - sparse needs numba
        return None
    return kept_pixels_of_frame
