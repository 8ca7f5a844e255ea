"""Safe writing: a file appears under its final name only once it is whole, and a
writer never touches a file the series it writes was opened from."""

from __future__ import annotations

import errno
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import LazyImsError, WriteError

#: errno values that mean "the file system cannot take this write": reported as WriteError.
_WRITE_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the file system is read-only",
    errno.ENAMETOOLONG: "the file name is too long for the file system",
    errno.EFBIG: "the file is too large for the file system",
    errno.EIO: "input/output error",
}


def _identity(path: str | os.PathLike) -> tuple[str, tuple[int, int] | None]:
    """The canonical path (symlinks, ``..`` and relative parts resolved) and (device, inode)."""
    real = os.path.realpath(absolute(path))  # abspath would cut ``link/..`` out as text
    try:
        st = os.stat(real)
    except (OSError, ValueError):
        return real, None
    return real, (st.st_dev, st.st_ino)


def _within(inner: str, outer: str) -> bool:
    """True when the canonical path ``inner`` lies inside the folder ``outer``."""
    return inner != outer and inner.startswith(outer.rstrip(os.sep) + os.sep)


def check_not_a_source(path: str | os.PathLike, sources: Iterable[str | os.PathLike]) -> None:
    """Refuse a write target that is, contains or lies inside a file the series reads.

    ``sources`` are the files (and folders, for zarr stores) a series was opened
    from (:attr:`lazyims.ImageSeries.files`). The target is compared by canonical
    path, so symlinks, relative spellings and ``..`` are seen through, and by
    (device, inode), so a hard link to a source is refused too.
    """
    target, target_id = _identity(path)
    for src in sources:
        source, source_id = _identity(src)
        if target == source or (target_id is not None and target_id == source_id):
            reason = "it is a file this series reads from"
        elif _within(target, source):
            reason = f"it lies inside {source}, which this series reads from"
        elif _within(source, target):
            reason = f"it contains {source}, which this series reads from"
        else:
            continue
        raise WriteError(f"refusing to write here: {reason}", path)


def write_error(exc: OSError, path: str | os.PathLike, tmp: Path | None = None) -> WriteError:
    """A WriteError naming ``path`` (the target, never the hidden temporary ``tmp``) for ``exc``."""
    reason = _WRITE_ERRNOS.get(exc.errno or -1) or exc.strerror or str(exc)
    if tmp is not None:
        reason = reason.replace(os.fspath(tmp), os.fspath(path))
    return WriteError(f"cannot write: {reason} (nothing was changed)", path)


def temporary_name(final: Path, suffix: str = "part") -> Path:
    """A hidden name beside ``final`` for its temporary: ``.NAME.XXXXXXXX.part``.

    When ``final``'s name is near the file system's limit, the temporary uses a
    shortened copy of it, so that only the final name can be too long.
    """
    tag = uuid.uuid4().hex[:8]
    name = final.name
    try:
        limit = os.pathconf(final.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    room = limit - len(f"..{tag}.{suffix}")
    if len(os.fsencode(name)) > room:
        name = os.fsdecode(os.fsencode(name)[: max(room, 1)]).rstrip("\udcff")[: max(room, 1)]
    return final.with_name(f".{name}.{tag}.{suffix}")


def check_name_length(final: Path) -> None:
    """A name longer than the file system allows is refused before any work is done."""
    try:
        limit = os.pathconf(final.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    if len(os.fsencode(final.name)) > limit:
        raise WriteError(
            f"cannot write: the file name is too long for the file system "
            f"({len(os.fsencode(final.name))} bytes, at most {limit})",
            final,
        )


def check_target(final: Path, sources: Iterable[str | os.PathLike]) -> None:
    """What every writer checks before creating anything: not a source, a folder that exists."""
    check_not_a_source(final, sources)
    if not final.parent.is_dir():
        raise WriteError("the folder to write into does not exist", final)
    check_name_length(final)
    if final.is_dir():
        raise WriteError("a folder is in the way of the file to write", final)
    check_replaceable_file(final)


def check_replaceable_file(final: Path) -> None:
    """Refuse a target that exists and is not a regular file (after symlinks): a device,
    FIFO or socket is never replaced by a writer (``os.replace`` would put a file in its
    place, e.g. over ``/dev/null`` for a user allowed to)."""
    import stat

    try:
        mode = os.stat(final).st_mode
    except FileNotFoundError:
        return  # nothing there, or a dangling symlink: os.replace puts the file in its place
    except OSError as exc:
        raise write_error(exc, final) from None
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise WriteError(
            "the target is not a regular file (a device, FIFO or socket); it is never "
            "replaced: write to another name",
            final,
        )


@contextmanager
def atomic_output(path: str | os.PathLike, sources: Iterable[str] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    On any failure (or interruption) the temporary file is removed and an existing
    file at ``path`` is left as it was; an OSError of the file system (disk full,
    permission denied, name too long) becomes a :class:`WriteError` naming ``path``.
    A process killed outright leaves only a hidden ``.NAME.*.part`` file, never a
    half-written file under the final name.
    """
    final = Path(path)
    check_target(final, sources)
    tmp = temporary_name(final)
    with _removed_on_failure(tmp, final, remove_quietly):
        yield tmp
        os.replace(tmp, final)


@contextmanager
def _removed_on_failure(tmp: Path, final: Path, remove: Callable[[Path], None]) -> Iterator[None]:
    """Remove ``tmp`` when the block fails; a file-system OSError becomes a WriteError
    naming ``final`` (the readers report theirs as LazyImsError, which pass as they are)."""
    try:
        yield
    except BaseException as exc:
        remove(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, LazyImsError):
            raise write_error(exc, final, tmp) from None
        raise


def remove_quietly(tmp: Path) -> None:
    """Remove a temporary file if it is there; a failure to do so is not the user's error."""
    try:
        tmp.unlink(missing_ok=True)
    except OSError:
        pass


@contextmanager
def atomic_folder(
    path: str | os.PathLike,
    sources: Iterable[str] = (),
    *,
    replaceable: Callable[[Path], bool],
    kind: str = "folder",
) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it takes the place of ``path``.

    An existing folder at ``path`` is replaced (only once the new one is whole) when
    ``replaceable(path)`` says it is one of ``kind`` (a zarr store); anything else in
    the way is never replaced. On failure the temporary folder is removed and
    ``path`` is left as it was (an OSError of the file system becomes a WriteError
    naming ``path``).
    """
    final = Path(path).absolute()
    check_not_a_source(final, sources)
    if not final.parent.is_dir():
        raise WriteError("the folder to write into does not exist", final)
    check_name_length(final)
    if final.exists() and not (final.is_dir() and replaceable(final)):
        raise WriteError(f"something that is not a {kind} is in the way; remove it first", final)
    tmp = temporary_name(final)
    with _removed_on_failure(tmp, final, _remove_folder):
        yield tmp
        _swap_in(tmp, final, replaceable)


def _swap_in(
    tmp: Path, final: Path, replaceable: Callable[[Path], bool], attempts: int = 50
) -> None:
    """Put the folder ``tmp`` in the place of ``final``, moving what is there aside first.

    Other writers of the same target may do the same at the same moment: whatever
    folder is at ``final`` when ``tmp`` cannot take its place is moved aside again
    (when it is one ``replaceable`` accepts), so the last writer to finish wins and
    every folder moved aside is removed. On failure the latest folder moved aside is
    put back, so a store is never left hidden under a temporary name.
    """
    aside: list[Path] = []
    try:
        for _ in range(attempts):
            try:
                os.replace(tmp, final)  # succeeds only when nothing (or an empty folder) is there
                break
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
            if not (final.is_dir() and replaceable(final)):
                raise WriteError(
                    "something that is not a store took the place of the target", final
                )
            old = temporary_name(final, "old")
            try:
                os.replace(final, old)
            except FileNotFoundError:  # another writer moved it first: try again
                continue
            aside.append(old)
        else:
            raise WriteError(f"other writers kept replacing the target ({attempts} tries)", final)
    except BaseException:
        if aside and not os.path.lexists(final):
            try:
                os.replace(aside.pop(), final)
            except OSError:
                pass
        for old in aside:
            shutil.rmtree(old, ignore_errors=True)
        raise
    for old in aside:
        shutil.rmtree(old, ignore_errors=True)


def _remove_folder(tmp: Path, attempts: int = 20) -> None:
    """Remove a failed write's temporary folder.

    After one block fails, blocks already running on other threads or workers may
    still create files in it for a moment: remove it until it stays gone.
    """
    for _ in range(attempts):
        shutil.rmtree(tmp, ignore_errors=True)
        time.sleep(0.05)
        if not os.path.lexists(tmp):
            return


# -- paths ---------------------------------------------------------------------------
def absolute(path: str | os.PathLike) -> str:
    """``path`` made absolute as the operating system resolves it.

    Unlike :func:`os.path.abspath`, a ``..`` after a symlink goes to the parent of
    the link's target, as ``open`` does (``a/link/../b`` is not ``a/b``); the last
    parts after any ``..`` keep their names (a symlinked file stays named by its link).
    A leading ``~`` is a plain name, never the home folder.
    """
    p = os.fspath(path)
    if isinstance(p, bytes):
        p = os.fsdecode(p)
    if not os.path.isabs(p):
        p = os.path.join(os.getcwd(), p)
    parts = p.split(os.sep)
    if os.pardir in parts:
        k = len(parts) - parts[::-1].index(os.pardir)
        head = os.path.realpath(os.sep.join(parts[:k]) or os.sep)
        p = os.path.join(head, *parts[k:])
    return os.path.normpath(p)


# -- reading: a file is what it was when the series was opened -------------------------
def file_stamp(path: str | os.PathLike) -> tuple[int, int, int]:
    """(inode, size, mtime in ns) of ``path``, taken at open and checked at every read."""
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def check_stamp(path: str | os.PathLike, stamp: tuple) -> None:
    """Raise when ``path`` was replaced or changed since ``stamp`` was taken at open.

    A file replaced or rewritten after open could give other frames, another shape
    or another dtype than the series says; a read gives an error instead. One
    ``os.stat`` per chunk read: nothing per pixel.
    """
    if not stamp:
        return
    from .errors import FileContentError, MissingFileError

    try:
        now = file_stamp(path)
    except FileNotFoundError:
        raise MissingFileError("the file is gone since the series was opened", path) from None
    except OSError as exc:
        raise FileContentError(f"cannot read the file ({exc.strerror})", path) from None
    if now != tuple(stamp):
        raise FileContentError(
            "the file was replaced or changed since the series was opened; open it again", path
        )


def check_opened(handle: Any, stamp: tuple, path: str | os.PathLike) -> None:
    """Raise unless the file actually opened is the one stamped at open.

    ``handle`` is a file descriptor, a file object or an open ``h5py.File``. A name
    checked and then opened can name another file in between (replaced by a rename);
    the ``fstat`` of the open handle tells what is really read.
    """
    if not stamp:
        return
    from .errors import FileContentError

    fd = handle
    if not isinstance(fd, int):
        vfd = getattr(getattr(handle, "id", None), "get_vfd_handle", None)
        fd = vfd() if vfd is not None else handle.fileno()
    st = os.fstat(fd)
    if (st.st_ino, st.st_size, st.st_mtime_ns) != tuple(stamp):
        raise FileContentError(
            "the file was replaced or changed since the series was opened; open it again", path
        )


def check_regular_file(path: str | os.PathLike) -> None:
    """Refuse anything but a regular file (after symlinks): a FIFO would block forever,
    a device could be endless. A missing file is a MissingFileError."""
    import stat

    from .errors import FileContentError, MissingFileError

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise MissingFileError("no such file", path) from None
    except OSError as exc:
        raise FileContentError(f"cannot read the file ({exc.strerror})", path) from None
    if not stat.S_ISREG(mode):
        if stat.S_ISDIR(mode):
            raise FileContentError(
                "a folder, where this format reads a file (zarr stores are the folders "
                "lazyims reads)",
                path,
            )
        kind = "not a regular file (a FIFO, device or socket)"
        raise FileContentError(f"{kind}: lazyims reads only regular files", path)


def is_regular_file(path: str | os.PathLike) -> bool:
    """True for a regular file (after symlinks), without opening it (for sniffing)."""
    import stat

    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


@contextmanager
def reading(reader: object) -> Iterator[None]:
    """Report a bare OSError raised while ``reader`` reads (permission denied, I/O error)
    as a FileContentError naming the reader's file; lazyims' own errors pass through."""
    from .errors import FileContentError

    try:
        yield
    except LazyImsError:
        raise
    except OSError as exc:
        files = getattr(reader, "files", lambda: ())()
        where = exc.filename or (files[0] if files else None)
        reason = _WRITE_ERRNOS.get(exc.errno or -1) or exc.strerror or str(exc)
        raise FileContentError(f"cannot read: {reason}", where) from None
