"""Opening HDF5 files for the hdf5 and frame-cache formats."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import h5py
import hdf5plugin  # noqa: F401 - registers Blosc, LZ4, bitshuffle... so compressed data reads

from ..errors import FileContentError, MissingFileError

#: What HDF5 says when the file is already open in this process with file locking on.
LOCK_CLASH = "file locking flag values don't match"


def lock_clash_message(exc: BaseException) -> str:
    """Why an HDF5 file that is open elsewhere in this process cannot be read, and the fix."""
    return (
        f"the file is already open in this process (h5py.File) with other file-locking "
        f"settings, and HDF5 cannot open it again ({exc}); close the other handle, or set "
        "the environment variable HDF5_USE_FILE_LOCKING=FALSE before Python starts "
        "(before h5py opens any file)"
    )


def h5_file(path: str | os.PathLike) -> h5py.File:
    """The HDF5 file ``path`` opened read-only, without HDF5 file locking (NFS, read-only
    mounts); an OSError from h5py when it is not readable.

    HDF5 opens a file that is already open in this process (a notebook's
    ``h5py.File``) only with that handle's locking settings, so these are tried next.
    """
    try:
        return h5py.File(path, "r", locking=False)
    except OSError as exc:
        if LOCK_CLASH not in str(exc):
            raise
        first = exc
    for locking in (None, True):  # HDF5's default (best effort), then strict locking
        try:
            return h5py.File(path, "r", locking=locking)
        except OSError:
            continue
    raise OSError(lock_clash_message(first))


@contextmanager
def open_h5(path: str | os.PathLike) -> Iterator[h5py.File]:
    """Open an HDF5 file read-only with :func:`h5_file`; a lazyims error if it cannot be."""
    if not os.path.exists(path):
        raise MissingFileError("no such file", path)
    try:
        f = h5_file(path)
    except OSError as exc:
        if LOCK_CLASH in str(exc) or "HDF5_USE_FILE_LOCKING" in str(exc):
            raise FileContentError(str(exc), path) from None
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
