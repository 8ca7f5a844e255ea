"""Opening HDF5 files for the hdf5 and frame-cache formats."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import h5py
import hdf5plugin  # noqa: F401 - registers Blosc, LZ4, bitshuffle... so compressed data reads

from ..errors import FileContentError, MissingFileError


@contextmanager
def open_h5(path: str | os.PathLike) -> Iterator[h5py.File]:
    """Open an HDF5 file read-only, without HDF5 file locking (NFS, read-only mounts)."""
    if not os.path.exists(path):
        raise MissingFileError("no such file", path)
    try:
        f = h5py.File(path, "r", locking=False)
    except OSError as exc:
        raise FileContentError(f"not a readable HDF5 file ({exc})", path) from None
    try:
        yield f
    finally:
        f.close()


def missing_filters(dataset: h5py.Dataset) -> list[str]:
    """Names of the filters ``dataset`` needs that this HDF5 library cannot apply."""
    plist = dataset.id.get_create_plist()
    missing = []
    for i in range(plist.get_nfilters()):
        code, _flags, _values, name = plist.get_filter(i)
        if not h5py.h5z.filter_avail(code):
            label = name.decode(errors="replace") if isinstance(name, bytes) else str(name)
            missing.append(f"{label or 'filter'} (id {code})")
    return missing
