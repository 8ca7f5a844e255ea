"""The ``array`` and ``function`` formats: series from memory or from a Python callable."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np

from ..errors import OptionError
from ..series import ImageSeries
from ._registry import Format, register
from .base import FrameReader, frames_per_chunk_for, series_from_reader


def open_array(
    array: Any,
    metadata: Mapping[str, Any] | None = None,
    frames_per_chunk: int | None = None,
) -> ImageSeries:
    """A series from a numpy or dask array: 2-D is one frame, 3-D is (frames, rows, cols).

    A numpy array is split into chunks of ``frames_per_chunk`` frames (about 32 MiB
    by default); a dask array keeps its chunks unless ``frames_per_chunk`` is given.
    """
    if not isinstance(array, da.Array):
        array = np.asarray(array)
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3:
        raise OptionError(f"an array series must be 2-D or 3-D, not {array.ndim}-D")
    if array.shape[0] == 0:
        raise OptionError("an array series needs at least one frame")
    if frames_per_chunk is None and not isinstance(array, da.Array):
        frames_per_chunk = frames_per_chunk_for(array.shape[1:], array.dtype)
    if frames_per_chunk is not None:
        array = da.asarray(array).rechunk((int(frames_per_chunk), -1, -1))
    return ImageSeries(array, metadata, format="array", source=f"{type(array).__name__}")


@dataclass(frozen=True)
class FunctionFrames(FrameReader):
    """Frames made by calling ``func(i)`` (HEXRD's ``function`` format)."""

    func: Callable[[int], Any]
    dtype: str

    def read(self, start: int, stop: int, rows: slice, cols: slice) -> np.ndarray:
        frames = [
            np.asarray(self.func(i), dtype=self.dtype)[rows, cols] for i in range(start, stop)
        ]
        return np.stack(frames)


def open_function(
    func: Callable[[int], Any],
    nframes: int,
    shape: tuple[int, int] | None = None,
    dtype: Any = None,
    metadata: Mapping[str, Any] | None = None,
    frames_per_chunk: int = 1,
) -> ImageSeries:
    """A series whose frame ``i`` is ``func(i)``.

    ``shape`` and ``dtype`` are taken from ``func(0)`` when not given. ``func``
    must be picklable (a module-level function) to run on distributed workers.
    """
    if not callable(func):
        raise OptionError(f"the function format needs a callable, not {type(func).__name__}")
    if not isinstance(nframes, (int, np.integer)) or nframes < 1:
        raise OptionError(f"nframes must be a positive integer, not {nframes!r}")
    if shape is None or dtype is None:
        first = np.asarray(func(0))
        shape = first.shape if shape is None else shape
        dtype = first.dtype if dtype is None else dtype
    if len(shape) != 2:
        raise OptionError(f"frames must be 2-D, got shape {tuple(shape)}")
    return series_from_reader(
        FunctionFrames(func=func, dtype=np.dtype(dtype).str),
        nframes=int(nframes),
        frame_shape=tuple(shape),
        dtype=dtype,
        frames_per_chunk=frames_per_chunk,
        metadata=metadata,
        format="function",
        source=getattr(func, "__name__", "function"),
    )


def _is_array(obj: Any) -> bool:
    return isinstance(obj, (np.ndarray, da.Array))


register(
    Format(name="array", open=open_array, accepts=_is_array, description="a numpy or dask array")
)
register(
    Format(
        name="function",
        open=open_function,
        accepts=callable,
        description="a callable frame(i) with a frame count",
    )
)
