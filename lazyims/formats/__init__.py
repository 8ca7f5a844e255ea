"""The formats lazyims reads and writes, one module each, registered by name.

Importing this package registers every format; :func:`lazyims.open` and
:func:`lazyims.write` find them through :mod:`lazyims.formats._registry`.
"""

# Importing a format's module registers it.
from . import array, eiger_stream, framecache, hdf5, image_files, raw_image, zarr  # noqa: F401
from ._registry import Format, detect, get, names, register

__all__ = ["Format", "detect", "get", "names", "register"]
