"""The formats lazyims reads and writes, one module each, registered by name.

Importing this package registers every format; :func:`lazyims.open` and
:func:`lazyims.write` find them through :mod:`lazyims.formats._registry`.
"""

from . import array, hdf5  # noqa: F401 - importing registers the format
from . import framecache  # noqa: F401 - registers frame-cache (npz, fch5, yml)
from ._registry import Format, detect, get, names, register

__all__ = ["Format", "detect", "get", "names", "register"]
