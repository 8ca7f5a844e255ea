"""Writing HEXRD's hdf5 layout into an open h5py File or Group (HEXRD writes into open files).

The layout, options and metadata checks are those of :mod:`lazyims.formats.hdf5`;
only the destination differs: a new group of a file the caller holds open. So the
write is not atomic (the caller owns the file): until it ends, other readers of the
file may see a partly written group. If it fails, the group it created is removed
again (HDF5 does not give the space back).
"""

from __future__ import annotations

from typing import Any

import h5py

from .._files import check_not_a_source
from ..formats.hdf5 import attribute_value, dataset_layout, write_dataset
from ..series import ImageSeries
from ._errors import HandleWriteError
from ._handles import first_missing


def write_hdf5_group(
    series: ImageSeries,
    handle: h5py.Group,
    path: str,
    dataname: str = "images",
    **options: Any,
) -> None:
    """Write ``series`` into the new group ``path`` of ``handle``, dataset ``dataname``.

    ``options`` are :func:`lazyims.formats.hdf5.write_hdf5`'s (``gzip``, ``shuffle``,
    ``chunk_rows``, ``compression``, ``checksum``). Everything is checked before
    the group is created: a read-only handle, a group that exists, a file the
    series reads from and metadata HDF5 cannot store are errors naming the file.
    """
    where = handle.file.filename
    if handle.file.mode != "r+":
        raise HandleWriteError("the h5py file is open read-only; open it with 'a' or 'r+'", where)
    check_not_a_source(where, series.files)
    if not isinstance(path, str) or not path.strip("/"):
        raise HandleWriteError(f"path must name a group to create, not {path!r}", where)
    if path in handle:
        raise HandleWriteError(f"{path!r} already exists in {handle.name!r}", where)
    layout = dataset_layout(series, where, **options)
    attrs = {k: attribute_value(k, v, where) for k, v in series.metadata.items()}
    created = first_missing(handle, path)  # with it go the groups made below it
    try:
        group = handle.create_group(path)
    except ValueError as exc:  # a dataset in the way of the path, ...
        raise HandleWriteError(f"cannot create group {path!r}: {exc}", where) from None
    try:
        write_dataset(series, group, dataname, layout, attrs)
    except BaseException:
        del handle[created]  # no half-written group, nor the groups made on its way, is left
        raise
    handle.file.flush()
