"""Writing an fch5 frame-cache into an open h5py File or Group (HEXRD writes into state files).

The layout and the checks are those of :mod:`lazyims.formats.framecache.fch5`; only
the destination differs: a group of a file the caller holds open (so the write is
not atomic: the caller owns the file).
"""

from __future__ import annotations

from typing import Any

import h5py

from .._files import check_not_a_source
from .._streaming import stream_blocks
from ..errors import WriteError
from ..formats.framecache._common import DensityWarningCounter, check_metadata, kept_pixels
from ..formats.framecache.fch5 import Fch5Writer, _write_metadata
from ..formats.framecache.npz import check_writable
from ..series import ImageSeries


def write_fch5_group(
    series: ImageSeries, group: h5py.Group, threshold: Any, path: str | None = None
) -> None:
    """Write ``series`` as an fch5 frame-cache into ``group`` (or its new subgroup ``path``)."""
    where = group.file.filename
    check_not_a_source(where, series.files)  # the series' reads would see the file change
    check_writable(series, threshold, where)
    metadata = check_metadata(series.metadata, where, reserved=False, nested=True)
    if path:
        if path in group:
            raise WriteError(f"group {path!r} already exists in {group.name!r}", where)
        group = group.create_group(path)
    density = DensityWarningCounter(series.frame_shape, where)
    writer = Fch5Writer(group, series, density)
    _write_metadata(group.create_group("metadata"), metadata)
    stream_blocks(kept_pixels(series, threshold), writer.add_frames)
    density.warn()
