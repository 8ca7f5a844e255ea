"""``ProcessedImageSeries``: frames with a list of operations applied (HEXRD's ``process``).

Frames are processed one at a time as they are asked for, with lazyims' semantics
of each operation (:mod:`lazyims.processing`): an unsigned dark clips at 0, an
unknown flip code or a rectangle outside the frame is an error. Statistics and
writes of a processed series of lazyims frames run as lazy, parallel dask
operations (:func:`lazyims.processing.process`) instead of frame by frame.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.ndimage

from .. import processing as _lazy_ops
from ..errors import ProcessingError
from ..series import ImageSeries as LazySeries
from .baseclass import ImageSeries


def _rect_bounds(r: Any, shape: tuple[int, ...]) -> tuple[slice, slice]:
    try:
        (r0, r1), (c0, c1) = np.asarray(r).tolist()
    except (TypeError, ValueError):
        raise ProcessingError(f"a rectangle is ((row0, row1), (col0, col1)), not {r!r}") from None
    for lo, hi, size, axis in ((r0, r1, shape[0], "rows"), (c0, c1, shape[1], "columns")):
        if not all(isinstance(v, numbers.Integral) for v in (lo, hi)) or not 0 <= lo < hi <= size:
            raise ProcessingError(
                f"rectangle {axis} {lo}:{hi} do not fit in the frame's {size} {axis}"
            )
    return slice(r0, r1), slice(c0, c1)


def _insert_zeros(img: np.ndarray, index: Any, axis: int) -> np.ndarray:
    what = "row" if axis == 0 else "column"
    size = img.shape[axis]
    if not isinstance(index, numbers.Integral) or not -size <= index <= size:
        raise ProcessingError(f"cannot insert a {what} at {index!r} in frames of {size} {what}s")
    return np.insert(img, index, 0, axis=axis)


class ProcessedImageSeries(ImageSeries):
    """A series with HEXRD's list of ``(key, data)`` operations applied to each frame.

    Parameters
    ----------
    imser
        The series to process (any HEXRD-interface series).
    oplist
        The operations, applied in order: ``dark`` (subtract an image, clip at 0),
        ``flip`` (a HEXRD flip code; ``"none"`` does nothing), ``rectangle``
        (``((row0, row1), (col0, col1))``), ``add``, ``gauss_laplace``, ``add-row``,
        ``add-column``, ``threshold`` (values ``<=`` it become 0), and any added
        with :meth:`addop`. The list is used as it is when frames are read, so
        changing it changes the frames.
    frame_list
        Keep these frames, in this order (the ``omega`` metadata follows).
    """

    FLIP = "flip"
    DARK = "dark"
    RECT = "rectangle"
    ADD = "add"
    GAUSS_LAPLACE = "gauss_laplace"
    ADD_ROW = "add-row"
    ADD_COL = "add-column"
    THRESHOLD = "threshold"

    def __init__(self, imser: Any, oplist: list, **kwargs: Any):
        self._imser = imser
        self._meta = copy.deepcopy(imser.metadata)
        self._oplist = oplist
        self._frames = kwargs.pop("frame_list", None)
        if self._frames is not None and "omega" in self._meta:
            self._meta["omega"] = np.asarray(self._meta["omega"])[self._frames]
        self._opdict: dict[str, Callable[[np.ndarray, Any], np.ndarray]] = {}
        self._builtin = {
            self.DARK: self._subtract_dark,
            self.FLIP: self._flip,
            self.RECT: self._rectangle,
            self.ADD: self._add,
            self.GAUSS_LAPLACE: self._gauss_laplace,
            self.ADD_ROW: self._add_row,
            self.ADD_COL: self._add_col,
            self.THRESHOLD: self._threshold,
        }
        for key, func in self._builtin.items():
            self.addop(key, func)

    # -- frames ----------------------------------------------------------------------
    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, tuple):
            idx, rest = key[0], key[1:]
        else:
            idx, rest = key, ()
        idx = self._frames[idx] if self._frames is not None else idx
        oplist = self.oplist
        if not oplist:  # the source's own (fast) window read
            return self._imser[(idx, *rest)] if rest else self._imser[idx]
        if rest and all(k in (self.DARK, self.ADD, self.THRESHOLD) for k, _ in oplist):
            return self._pointwise_window(idx, rest, oplist)
        if oplist[0][0] == self.RECT:
            img = self._imser.get_region(idx, oplist[0][1])
            oplist = oplist[1:]
        else:
            img = self._imser[idx]
        for k, d in oplist:
            img = self._operation(k)(img, d)
        return img[rest] if rest else img

    def _operation(self, key: Any) -> Callable[[np.ndarray, Any], np.ndarray]:
        try:
            return self._opdict[key]
        except (KeyError, TypeError):
            raise ProcessingError(
                f"unknown operation {key!r}; known: {', '.join(map(str, self._opdict))}"
            ) from None

    def _pointwise_window(self, idx: Any, rest: tuple, oplist: list) -> np.ndarray:
        # Operations pixel by pixel: process only the window asked for (pull_spots).
        if any(self._opdict[k] is not self._builtin[k] for k, _ in oplist):
            return self[idx][rest]
        img = np.asarray(self._imser[(idx, *rest)])
        shape = tuple(self._imser.shape)
        for k, d in oplist:
            if k == self.THRESHOLD or np.ndim(d) == 0:
                img = self._opdict[k](img, d, check=False)
            else:
                d = np.asarray(d)
                if d.shape != shape:
                    raise ProcessingError(
                        f"the {k} image has shape {d.shape}, but the frames are {shape}"
                    )
                img = self._opdict[k](img, d[rest], check=False)
        return img

    def __len__(self) -> int:
        return len(self._frames) if self._frames is not None else len(self._imser)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # -- the operations, on one frame --------------------------------------------------
    def _subtract_dark(self, img: np.ndarray, dark: Any, check: bool = True) -> np.ndarray:
        img, dark = np.asarray(img), np.asarray(dark)
        if check and dark.shape != img.shape:
            raise ProcessingError(
                f"the dark image has shape {dark.shape}, but the frames are {img.shape}"
            )
        return _lazy_ops._subtract_dark_dense(img, dark, np.result_type(img.dtype, dark.dtype))

    def _flip(self, img: np.ndarray, flip: Any) -> np.ndarray:
        if flip is None or flip == "none":
            return img
        try:
            op = _lazy_ops.FLIPS[flip]
        except (KeyError, TypeError):
            raise ProcessingError(
                f"unknown flip code {flip!r}; use one of none, {', '.join(_lazy_ops.FLIPS)}"
            ) from None
        return op(np.asarray(img)[np.newaxis])[0]

    def _rectangle(self, img: np.ndarray, r: Any) -> np.ndarray:
        return img[_rect_bounds(r, img.shape)]

    def _add(self, img: np.ndarray, addend: Any, check: bool = True) -> np.ndarray:
        img = np.asarray(img)
        dtype = img.dtype if img.dtype.kind == "f" else np.dtype(np.float32)
        return _lazy_ops._add_block(img, addend, dtype)

    def _gauss_laplace(self, img: np.ndarray, sigma: Any) -> np.ndarray:
        return scipy.ndimage.gaussian_laplace(img, sigma)

    def _add_row(self, img: np.ndarray, index: Any) -> np.ndarray:
        return _insert_zeros(img, index, 0)

    def _add_col(self, img: np.ndarray, index: Any) -> np.ndarray:
        return _insert_zeros(img, index, 1)

    def _threshold(self, img: np.ndarray, t: Any, check: bool = True) -> np.ndarray:
        return _lazy_ops._zero_at_or_below(np.asarray(img), t)

    # -- HEXRD's API ---------------------------------------------------------------------
    @property
    def dtype(self) -> np.dtype:
        """The dtype of a processed frame."""
        return self[0].dtype

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of a processed frame."""
        return self[0].shape

    @property
    def metadata(self) -> dict[str, Any]:
        """A copy of the source's metadata, made at creation, that can be changed."""
        return self._meta

    def addop(self, key: str, func: Callable[[np.ndarray, Any], np.ndarray]) -> None:
        """Make ``key`` an operation: ``func(frame, data) -> frame``."""
        self._opdict[key] = func

    @property
    def oplist(self) -> list:
        """The list of ``(key, data)`` operations (changing it changes the frames)."""
        return self._oplist

    def set_option(self, key: str, value: Any) -> None:
        """Set an option of the source series."""
        self._imser.set_option(key, value)

    def option_values(self) -> dict[str, Any]:
        """The source series' options."""
        return self._imser.option_values()

    def _lazyims_series(self) -> LazySeries | None:
        """The same frames as lazy lazyims operations, when the source and ops allow."""
        from ._bridge import lazy_of

        base = lazy_of(self._imser)
        if base is None:
            return None
        ops = []
        for key, data in self.oplist:
            if self._opdict.get(key) is not self._builtin.get(key):
                return None  # an operation of the user's: frame by frame
            if key == self.FLIP and (data is None or data == "none"):
                continue
            ops.append((key, data))
        return _lazy_ops.process(base, ops, self._frames)

    def __repr__(self) -> str:
        return f"<lazyims.hexrd.ProcessedImageSeries of {self._imser!r}, {len(self.oplist)} ops>"
