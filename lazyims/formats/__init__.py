"""The formats lazyims reads and writes, one module each, registered by name.

Every module of this package (whose name does not start with ``_``) is imported
here and registers its formats (:func:`register`); formats of other packages come
from the entry point group ``lazyims.formats``. :func:`lazyims.open`,
:func:`lazyims.write` and the CLI find them all through this package. The contract
a format follows is :mod:`lazyims.formats.base`.
"""

from ._registry import (
    detect,
    for_writing,
    formats,
    get,
    load_built_in,
    names,
    register,
    writable,
)
from .base import Format, FrameReader, series_from_reader

load_built_in()

__all__ = [
    "Format",
    "FrameReader",
    "detect",
    "for_writing",
    "formats",
    "get",
    "names",
    "register",
    "series_from_reader",
    "writable",
]
