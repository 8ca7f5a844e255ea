"""The formats lazyims reads and writes, one module each, registered by name.

Importing this package registers every format; :func:`lazyims.open` and
:func:`lazyims.write` find them through :mod:`lazyims.formats._registry`.
"""

from . import array, hdf5  # noqa: F401 - importing registers the format
from ._registry import Format, detect, get, names, register
from .image_files import open_image_files  # noqa: F401 - importing registers the format
from .raw_image import open_raw_image  # noqa: F401 - importing registers the format

__all__ = ["Format", "detect", "get", "names", "register"]
