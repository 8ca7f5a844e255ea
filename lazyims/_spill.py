"""Percentiles of a whole scan out of core: every frame decoded once, rows spilled to files.

A per-pixel median needs every frame of a pixel at once, but frames come whole. In
one pass over the frames, each task scatters the rows of its frames into one spill
file per band of rows (``os.pwrite`` at the frame's offset: tasks never wait for one
another); then each band's file is read back and its percentile taken. Time is
linear in frames, memory is one band per thread (``SPILL_BAND_BYTES``), whatever the
scan's length.

The spill folder (``lazyims-spill-<host>-<pid>-<id>`` in ``tmpdir``) is removed when
the result is computed, when the result array is dropped or the interpreter exits
(also after an error), and folders left by a killed process are removed by the next
spilled percentile that looks in the same ``tmpdir`` from the same machine. On a
dask.distributed cluster ``tmpdir`` must be a folder every worker sees (a shared file
system): workers write and read the band files there. A folder of another machine's
process is never taken for a leftover: its process cannot be seen from here.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import shutil
import socket
import tempfile
import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from .errors import ProcessingError, WriteError

#: Bytes of one band of rows across all frames (a band task holds this and a copy).
SPILL_BAND_BYTES = 64 * 2**20
PREFIX = "lazyims-spill-"


def _host() -> str:
    """This machine's name as it goes into spill folder names (no separators)."""
    name = socket.gethostname() or "host"
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def remove_leftovers(folder: str | os.PathLike) -> None:
    """Remove spill folders in ``folder`` of this machine whose process is gone (a killed
    run's). Folders of other machines (a shared ``tmpdir``) are left alone."""
    try:
        entries = list(Path(folder).glob(f"{PREFIX}*"))
    except OSError:
        return
    host = _host()
    for entry in entries:
        parts = entry.name[len(PREFIX) :].rsplit("-", 2)
        if len(parts) != 3 or parts[0] != host:
            continue
        try:
            pid = int(parts[1])
        except ValueError:
            continue
        if pid == os.getpid() or _alive(pid):
            continue
        shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def spilled_percentile(
    frames: da.Array, pct: float, tmpdir: str | os.PathLike | None, percentile_of: Any
) -> da.Array:
    """The ``pct`` percentile over axis 0 of ``frames`` (n, rows, cols), float32, lazily.

    ``percentile_of(array, pct)`` takes one band (n, band_rows, cols) and gives its
    (band_rows, cols) float32 percentile.
    """
    folder = Path(tmpdir if tmpdir is not None else tempfile.gettempdir()).resolve()
    remove_leftovers(folder)
    spill = folder / f"{PREFIX}{_host()}-{os.getpid()}-{uuid.uuid4().hex}"
    n, rows, cols = frames.shape
    dtype = np.dtype(frames.dtype)
    frames = frames.rechunk({1: -1, 2: -1})
    row_bytes = max(1, n * cols * dtype.itemsize)
    band_rows = int(np.clip(SPILL_BAND_BYTES // row_bytes, 1, rows))
    bands = [(r0, min(rows, r0 + band_rows)) for r0 in range(0, rows, band_rows)]
    token = tokenize(frames, pct, str(spill))
    name = f"lazyims-spilled-percentile-{token}"
    starts = np.cumsum((0,) + frames.chunks[0][:-1])
    # Each run of the graph spills into a folder of its own, made by a task: dask may run
    # a copy of this graph under other keys in the same compute (an array and a delayed
    # function of it, say), and two copies writing and deleting one set of band files
    # would read each other's half-written bands.
    run = (f"{name}-folder",)
    dsk: dict = {run: (_run_folder, str(spill))}
    writes = []
    for i, start in enumerate(starts):
        key = (f"{name}-spill", i)
        dsk[key] = (_spill_chunk, (frames.name, i, 0, 0), int(start), run, bands, n)
        writes.append(key)
    barrier = (f"{name}-spilled",)
    dsk[barrier] = (_all_spilled, writes)
    for b, (r0, r1) in enumerate(bands):
        dsk[(name, b, 0)] = (
            _band_percentile,
            barrier,
            b,
            (n, r1 - r0, cols),
            dtype.str,
            pct,
            percentile_of,
            len(bands),
        )
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[frames])
    chunks = (tuple(r1 - r0 for r0, r1 in bands), (cols,))
    result = da.Array(graph, name, chunks, meta=np.empty((0, 0), np.float32))
    weakref.finalize(result, shutil.rmtree, str(spill), ignore_errors=True)
    return result


def _band_file(spill: str, band: int) -> str:
    return os.path.join(spill, f"band{band:05d}.bin")


def _run_folder(spill: str) -> str:
    """A new folder inside ``spill`` for one run of a spilled percentile's graph."""
    folder = os.path.join(spill, f"run-{uuid.uuid4().hex}")
    os.makedirs(folder, exist_ok=True)
    return folder


def _spill_chunk(block: Any, first: int, spill: str, bands: list, n: int) -> str:
    """Write the rows of each band of frames ``first:first + len(block)`` to the band files
    in the run's folder ``spill``; gives that folder."""
    block = np.asarray(block.todense() if hasattr(block, "todense") else block)
    os.makedirs(spill, exist_ok=True)
    for b, (r0, r1) in enumerate(bands):
        # A frame's rows r0:r1 are one run of memory, and the frames' runs follow one
        # another in the band file: written as they lie, without a copy, where possible.
        parts = [block[k, r0:r1] for k in range(len(block))]
        if not (
            _PWRITEV and len(parts) <= _MOST_PARTS and all(p.flags.c_contiguous for p in parts)
        ):
            parts = [np.ascontiguousarray(block[:, r0:r1])]
        frame_bytes = (r1 - r0) * block.shape[2] * block.dtype.itemsize
        path = _band_file(spill, b)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                _write_all(fd, [memoryview(p).cast("B") for p in parts], first * frame_bytes)
            finally:
                os.close(fd)
        except OSError as exc:  # a full disk, a folder gone...: say which spill file
            raise WriteError(
                f"cannot write a spill file of the out-of-core median/percentile "
                f"({exc.strerror or exc}); give tmpdir= a folder with room for the frames",
                path,
            ) from None
    return spill


_PWRITEV = hasattr(os, "pwritev")
_MOST_PARTS = 64  # well below IOV_MAX (1024 on Linux)


def _write_all(fd: int, buffers: list[memoryview], offset: int) -> None:
    """Write ``buffers`` one after another at ``offset``, all of them (a short write, which
    would leave a hole read back as zeros, is continued; no progress is an error)."""
    while buffers:
        if _PWRITEV and len(buffers) > 1:
            written = os.pwritev(fd, buffers, offset)
        else:
            written = os.pwrite(fd, buffers[0], offset)
        if written <= 0:
            raise OSError(f"a spill file took no bytes at offset {offset}")
        offset += written
        while buffers and written >= len(buffers[0]):
            written -= len(buffers[0])
            buffers = buffers[1:]
        if buffers and written:
            buffers = [buffers[0][written:], *buffers[1:]]


def _all_spilled(folders: list[str]) -> str:
    """The run's folder, once every chunk is spilled into it."""
    if len(set(folders)) != 1:  # a lost folder task made again after some chunks were written
        raise ProcessingError(
            "the out-of-core median/percentile lost its spill folder while it ran "
            "(a worker died); compute it again"
        )
    return folders[0]


def _band_percentile(
    spill: str,
    band: int,
    shape: tuple[int, int, int],
    dtype: str,
    pct: float,
    percentile_of: Any,
    nbands: int,
) -> np.ndarray:
    """Read one band's file back (then delete it) and take its percentile."""
    path = _band_file(spill, band)
    count = int(np.prod(shape))
    with _mapped(path, count * np.dtype(dtype).itemsize) as buffer:
        if buffer is None:
            values = np.fromfile(path, dtype=np.dtype(dtype), count=count)
        else:
            values = np.frombuffer(buffer, dtype=np.dtype(dtype), count=count)
        os.remove(path)  # a mapped file's pages stay until it is unmapped
        try:
            if not any(os.scandir(spill)):
                shutil.rmtree(spill, ignore_errors=True)
                os.rmdir(os.path.dirname(spill))  # the spill folder, when no other run uses it
        except OSError:  # another band's task removed it first, or another run is in it
            pass
        result = percentile_of(values.reshape(shape), pct)
        del values
    return result


@contextlib.contextmanager
def _mapped(path: str, nbytes: int) -> Iterator[mmap.mmap | None]:
    """The file mapped read-only, its pages mapped at once (no copy out of the page
    cache, which np.fromfile makes: 0.2 CPU-s per GB); None where it cannot be."""
    flags = getattr(mmap, "MAP_SHARED", None)
    if flags is None or nbytes == 0:
        yield None
        return
    flags |= getattr(mmap, "MAP_POPULATE", 0)
    try:
        with open(path, "rb") as file:
            buffer = mmap.mmap(file.fileno(), nbytes, flags=flags, prot=mmap.PROT_READ)
    except (OSError, ValueError):
        yield None
        return
    try:
        yield buffer
    finally:
        try:
            buffer.close()
        except BufferError:  # an array still looks at it: unmapped when that is gone
            pass
