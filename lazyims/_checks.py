"""The first-argument check of the public functions of :mod:`lazyims.processing`,
:mod:`lazyims.stats` and :mod:`lazyims.omega`.

They take an :class:`~lazyims.ImageSeries`. Given anything else (a numpy array, a
list, None, a HEXRD imageseries), they raise the module's own error saying what
they were given and how to make a series of it, instead of failing deep inside
with an ``AttributeError`` or, worse, returning a result of the wrong kind.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import WriteError
from .series import ImageSeries

F = TypeVar("F", bound=Callable[..., Any])


def describe(value: Any) -> str:
    """A short phrase naming what ``value`` is: ``a numpy.ndarray of shape (3, 8, 8) and dtype float64``."""
    if value is None:
        return "None"
    kind = type(value)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    name = name.replace("numpy.ndarray", "numpy array").replace(
        "dask.array.core.Array", "dask array"
    )
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if isinstance(shape, tuple) and dtype is not None:
        return f"a {name} of shape {shape} and dtype {dtype}"
    if isinstance(value, (list, tuple, dict, set)):
        return f"a {name} of {len(value)} item(s)"
    if isinstance(value, (str, bytes)):
        return f"the {name} {value[:60]!r}"
    return f"a {name}"


def _advice(value: Any) -> str:
    """How to make an ImageSeries of ``value``, when there is a way."""
    if (
        hasattr(value, "shape")
        and hasattr(value, "dtype")
        and len(getattr(value, "shape", ())) == 3
    ):
        return "; wrap an array of frames with lazyims.open(array)"
    if callable(getattr(value, "__getitem__", None)) and hasattr(value, "metadata"):
        return "; a HEXRD-interface imageseries becomes one with lazyims.hexrd.from_hexrd(ims)"
    if isinstance(value, str) or hasattr(value, "__fspath__"):
        return "; open a file first with lazyims.open(path)"
    return "; lazyims.open(...) makes one of a file, an array of frames or a function"


def takes_series(error: type[Exception]) -> Callable[[F], F]:
    """Make a function check that its first argument is an :class:`~lazyims.ImageSeries`.

    Anything else raises ``error`` naming the function, what it was given and what it
    takes. The function keeps its name, docstring and signature (:func:`functools.wraps`).
    """

    def decorate(func: F) -> F:
        where = f"{func.__module__}.{func.__name__}"
        first = next(iter(inspect.signature(func).parameters))

        @functools.wraps(func)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if not args and first not in kwargs:
                return func(*args, **kwargs)  # Python's own error: a missing argument
            series = args[0] if args else kwargs[first]
            if not isinstance(series, ImageSeries):
                raise error(
                    f"{where}() takes a lazyims ImageSeries as its first argument, "
                    f"not {describe(series)}{_advice(series)}"
                )
            return func(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


def check_not_empty(series: ImageSeries, where: Any) -> None:
    """Refuse to write a series of no frames, or of frames of no pixels.

    Such a file could not be opened again, by lazyims or HEXRD. ``where`` (the file
    being written) is named in the :class:`~lazyims.WriteError`.
    """
    rows, cols = series.frame_shape
    if series.nframes == 0 or rows == 0 or cols == 0:
        raise WriteError(
            f"the series has {series.nframes} frame(s) of {rows}x{cols} pixels: an empty "
            "series (no frames, or frames of no pixels) cannot be written",
            where,
        )
