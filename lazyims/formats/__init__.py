"""The formats lazyims reads and writes, one module each, registered by name.

Importing this package registers every format; :func:`lazyims.open` and
:func:`lazyims.write` find them through :mod:`lazyims.formats._registry`.
"""

from . import array, hdf5, zarr  # noqa: F401 - importing registers the format
from ._registry import Format, detect, get, names, register

__all__ = ["Format", "detect", "get", "names", "register"]
