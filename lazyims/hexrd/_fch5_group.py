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
from ..formats.framecache import little_endian
from ..formats.framecache._common import DensityWarningCounter, check_metadata, kept_pixels
from ..formats.framecache.fch5 import VERSION_ATTR, Fch5Writer, _write_metadata
from ..formats.framecache.npz import check_writable
from ..series import ImageSeries
from ._handles import first_missing

#: What an fch5 frame-cache puts in its group (besides the version attribute).
_MEMBERS = ("shape", "nframes", "dtype", "data", "indices", "frame_ids", "metadata")


def write_fch5_group(
    series: ImageSeries, group: h5py.Group, threshold: Any, path: str | None = None
) -> None:
    """Write ``series`` as an fch5 frame-cache into ``group`` (or its new subgroup ``path``).

    A write that fails takes out again what it added: the groups it made, or, written
    into ``group`` itself, its datasets and version attributes.
    """
    where = group.file.filename
    check_not_a_source(where, series.files)  # the series' reads would see the file change
    series = little_endian(series)  # as every frame-cache writer stores values
    check_writable(series, threshold, where)
    metadata = check_metadata(series.metadata, where, reserved=False, nested=True)
    created = None
    if path:
        if path in group:
            raise WriteError(f"group {path!r} already exists in {group.name!r}", where)
        created = first_missing(group, path)
        target = group.create_group(path)
    else:
        target = group
        taken = [name for name in _MEMBERS if name in group]
        if taken:
            raise WriteError(
                f"{group.name!r} already holds {', '.join(taken)}: give path= a new group",
                where,
            )
    had_version = (VERSION_ATTR in group.file.attrs, VERSION_ATTR in target.attrs)
    try:
        density = DensityWarningCounter(series.frame_shape, where, series, threshold)
        writer = Fch5Writer(target, series, density)
        _write_metadata(target.create_group("metadata"), metadata)
        stream_blocks(kept_pixels(series, threshold), writer.add_frames)
        writer.finish()
    except BaseException:
        _undo(group, target, created, had_version)
        raise
    density.warn()


def _undo(group: h5py.Group, target: h5py.Group, created: str | None, had: tuple) -> None:
    """Take out what a failed write added to the caller's file."""
    if created is not None:
        del group[created]
    else:
        for name in _MEMBERS:
            if name in target:
                del target[name]
    for owner, present in zip((group.file, target), had):
        if not present and VERSION_ATTR in owner.attrs:
            del owner.attrs[VERSION_ATTR]
