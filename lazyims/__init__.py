"""lazyims: HEXRD image series as lazy, chunked dask arrays.

Open a scan with :func:`open`, process it lazily, and write it with
:func:`write`; nothing is read until a result is computed.
"""

from . import _scheduler, hexrd, omega, processing, scanreport, stats
from ._version import __version__
from .api import open, write
from .errors import (
    FileContentError,
    FormatError,
    FrameIndexError,
    LazyImsError,
    MetadataError,
    MissingFileError,
    OmegaError,
    OptionError,
    ProcessingError,
    WriteError,
)
from .formats import names as available_formats
from .formats.eiger import pixel_mask as eiger_pixel_mask
from .omega import OmegaWedges
from .processing import process, register_operation
from .scanreport import report
from .series import ImageSeries

__all__ = [
    "FileContentError",
    "FormatError",
    "FrameIndexError",
    "ImageSeries",
    "LazyImsError",
    "MetadataError",
    "MissingFileError",
    "OmegaWedges",
    "OmegaError",
    "OptionError",
    "ProcessingError",
    "WriteError",
    "__version__",
    "available_formats",
    "eiger_pixel_mask",
    "omega",
    "hexrd",
    "open",
    "process",
    "processing",
    "register_operation",
    "report",
    "scanreport",
    "stats",
    "write",
]

_scheduler.install()
