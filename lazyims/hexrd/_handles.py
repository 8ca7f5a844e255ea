"""Series read through an h5py File or Group the caller holds open.

A file handed in as an open h5py object is read again by its name when HDF5 lets
this process open it a second time (the series is then lazy and picklable). When
it does not (the file is open for writing, or with other file-locking flags), these
read through the caller's handle instead: an HDF5 dataset lazily (while the handle
is open), an fch5 frame-cache into memory at once (it is sparse).
"""

from __future__ import annotations

import dask.array as da
import h5py
import numpy as np

from ..errors import FileContentError
from ..formats.array import open_array
from ..formats.framecache._common import (
    frames_per_chunk_by_bytes,
    frames_to_coo,
    parse_dtype,
    parse_nframes,
    parse_shape,
)
from ..formats.framecache.fch5 import Fch5Frames, _read_metadata
from ..series import ImageSeries


def _group(handle: h5py.Group, path: str | None, where: str) -> h5py.Group:
    group = handle[path] if path else handle
    if not isinstance(group, h5py.Group):
        raise FileContentError(f"{path!r} is not a group", where)
    return group


def hdf5_from_handle(handle: h5py.Group, path: str | None, dataname: str) -> ImageSeries:
    """Frames of dataset ``path/dataname`` under ``handle``, read lazily through it."""
    where = handle.file.filename
    group = _group(handle, path, where)
    dset = group.get(dataname)
    if not isinstance(dset, h5py.Dataset) or dset.ndim not in (2, 3):
        raise FileContentError(f"no 2-D or 3-D dataset {dataname!r} in {group.name!r}", where)
    frames = da.from_array(dset, chunks=(1, -1, -1) if dset.ndim == 3 else (-1, -1))
    return open_array(frames, metadata=dict(group.attrs))


def fch5_from_handle(handle: h5py.Group, path: str | None) -> ImageSeries:
    """The fch5 frame-cache in group ``path`` of ``handle``, read into memory (sparse)."""
    where = handle.file.filename
    group = _group(handle, path, where)
    shape = parse_shape(group["shape"][()], where)
    nframes = parse_nframes(group["nframes"][()], where)
    dtype = parse_dtype(group["dtype"][()], where)
    ids = group["frame_ids"][: 2 * nframes].astype(np.int64).reshape(-1, 2)
    reader = Fch5Frames(path=where, group=group.name, frame_shape=shape, dtype=dtype.str)
    frames = reader._frames(group, ids)
    full = (slice(0, shape[0]), slice(0, shape[1]))
    coo = frames_to_coo(frames, shape, dtype, *full, where, 0)
    stored = (ids[:, 1] - ids[:, 0]) * (4 + group["data"].dtype.itemsize)
    per_chunk = frames_per_chunk_by_bytes(stored, shape, dtype)
    data = da.from_array(coo, chunks=(per_chunk, -1, -1), asarray=False)
    metadata = _read_metadata(group["metadata"]) if "metadata" in group else {}
    return open_array(data, metadata=metadata)


def refused_second_open(error: Exception) -> bool:
    """True when ``error`` says HDF5 would not open an already open file a second time."""
    return isinstance(error, FileContentError) and "not a readable HDF5 file" in error.message


def first_missing(handle: h5py.Group, path: str) -> str:
    """The shortest leading part of ``path`` not yet in ``handle``: the first group that
    ``handle.create_group(path)`` makes (deleting it undoes the whole creation)."""
    parts = [p for p in path.split("/") if p]
    prefix = "/" if path.startswith("/") else ""
    for k in range(1, len(parts) + 1):
        name = prefix + "/".join(parts[:k])
        if name not in handle:
            return name
    return path
