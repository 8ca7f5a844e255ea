"""Opening HDF5 files for the hdf5 and frame-cache formats."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager

import h5py
import hdf5plugin  # noqa: F401 - registers Blosc, LZ4, bitshuffle... so compressed data reads

from .._files import check_regular_file
from ..errors import FileContentError, LazyImsError

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
    check_regular_file(path)
    try:
        f = h5_file(path)
    except OSError as exc:
        if LOCK_CLASH in str(exc) or "HDF5_USE_FILE_LOCKING" in str(exc):
            raise FileContentError(str(exc), path) from None
        raise FileContentError(f"not a readable HDF5 file ({exc})", path) from None
    try:
        yield f
    except LazyImsError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        # h5py reports damaged structures (bad checksums, broken B-trees...) this way
        raise FileContentError(f"the HDF5 file is damaged ({exc})", path) from None
    finally:
        f.close()


#: The attribute in which lazyims notes, on each chunked dataset it writes, how many
#: chunks it wrote. HDF5 reads a chunk missing from its index as the fill value; with
#: the count noted, a missing chunk is an error at open (HEXRD ignores the attribute).
WRITTEN_CHUNKS_ATTR = "lazyims_written_chunks"


def note_written_chunks(dataset: h5py.Dataset) -> None:
    """Note on ``dataset`` (written, chunked) how many chunks it holds."""
    if dataset.chunks is not None:
        dataset.attrs[WRITTEN_CHUNKS_ATTR] = dataset.id.get_num_chunks()


def check_written_chunks(dataset: h5py.Dataset, path: str | os.PathLike) -> None:
    """A FileContentError when ``dataset`` holds fewer chunks than lazyims noted it wrote
    (one count from HDF5's chunk index, no chunk read)."""
    noted = dataset.attrs.get(WRITTEN_CHUNKS_ATTR)
    if noted is None or dataset.chunks is None:
        return
    held = dataset.id.get_num_chunks()
    if held < int(noted):
        raise FileContentError(
            f"dataset {dataset.name!r} holds {held} chunks but lazyims wrote {int(noted)}: "
            "chunks are missing (they would read as the fill value); the file is damaged",
            path,
        )


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


class GuardedFile:
    """A new file that HDF5 writes through (h5py's file-object driver) without ever seeing
    a failed write.

    When the file system refuses a write (disk full, quota, I/O error), HDF5 left to
    itself reports it from deep inside a write, and freeing the objects of that failed
    write can crash the process (a segmentation fault). Here the first failure is kept
    and later writes are dropped, so HDF5 goes on and closes cleanly; the writer then
    calls :meth:`check`, which raises the kept error (the file is thrown away).
    """

    def __init__(self, path: str | os.PathLike):
        # unbuffered: a buffer would report a failed write later, from seek() or read()
        self._fh = open(path, "w+b", buffering=0)  # noqa: SIM115 - closed by close()
        self.error: OSError | None = None

    def check(self) -> None:
        """Raise the first write error, if there was one."""
        if self.error is not None:
            raise self.error

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while self.error is None and done < len(view):
            try:
                written = self._fh.write(view[done:])
            except OSError as exc:
                self.error = exc
                break
            if not written:
                self.error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            done += written or 0
        if done < len(view):  # keep HDF5's idea of the file's end right
            self._fh.seek(len(view) - done, os.SEEK_CUR)
        return len(view)

    def flush(self) -> None:
        if self.error is None:
            try:
                self._fh.flush()
            except OSError as exc:
                self.error = exc

    def truncate(self, size: int | None = None) -> int:
        if self.error is None:
            try:
                return self._fh.truncate(size)
            except OSError as exc:
                self.error = exc
        return size if size is not None else self._fh.tell()

    def read(self, size: int = -1) -> bytes:
        return self._fh.read(size)

    def readinto(self, buffer) -> int:
        return self._fh.readinto(buffer)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def close(self) -> None:
        try:
            self._fh.close()
        except OSError as exc:
            self.error = self.error or exc


@contextmanager
def create_h5(path: str | os.PathLike) -> Iterator[tuple[h5py.File, GuardedFile]]:
    """A new HDF5 file at ``path`` written through a :class:`GuardedFile`.

    Raises the first write error once the file is closed; writers call
    ``guard.check()`` between blocks to stop early.
    """
    guard = GuardedFile(path)
    try:
        # HDF5 1.10 file format: superblock, object headers and chunk indexes carry
        # checksums (read by any h5py of the last years, HEXRD's included)
        with h5py.File(guard, "w", libver=("v110", "latest")) as f:
            yield f, guard
    finally:
        guard.close()
    guard.check()
