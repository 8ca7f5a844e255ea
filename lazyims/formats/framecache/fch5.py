"""The fch5 style of frame-cache: HDF5, all frames' pixels in two long datasets.

Layout (in the root of the file, or in the group ``path``), with root attribute
``HEXRD_FRAMECACHE_VERSION = 1``: ``shape`` (int64, 2), ``nframes`` (int64),
``dtype`` (variable-length ASCII text), ``data`` (m, 1) values, ``indices`` (m, 2)
uint16 [row, col], ``frame_ids`` (2 nframes,) uint64 where frame i is
``data[frame_ids[2i]:frame_ids[2i+1]]``, and a ``metadata`` group with one dataset
per key (nested dicts as subgroups). The big datasets are Blosc zstd compressed
(level 5, byte shuffle), which needs ``hdf5plugin``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import h5py
import hdf5plugin
import numpy as np
import sparse

from ..._files import atomic_output, check_opened, check_stamp, file_stamp
from ..._streaming import stream_blocks
from ...errors import FileContentError, OptionError
from ...series import ImageSeries
from .._h5 import (
    check_written_chunks,
    create_h5,
    h5_file,
    missing_filters,
    note_written_chunks,
    open_h5,
)
from .._limits import check_metadata_size
from ..base import FrameReader
from ._common import (
    DensityWarningCounter,
    StoredPixelsReader,
    check_metadata,
    framecache_series,
    kept_pixels,
    metadata_value,
    parse_dtype,
    parse_nframes,
    parse_shape,
    split_frames,
)
from .npz import check_writable

VERSION_ATTR = "HEXRD_FRAMECACHE_VERSION"
VERSION = 1
_DATASETS = ("shape", "nframes", "dtype", "data", "indices", "frame_ids")
# Entries per HDF5 chunk of data/indices when writing (256 KiB of float32 values).
_CHUNK_ENTRIES = 65536


def compression() -> hdf5plugin.Blosc:
    """HEXRD's compression: Blosc with zstd, level 5, byte shuffle."""
    return hdf5plugin.Blosc(cname="zstd", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE)


def is_fch5(path: str | os.PathLike, group: str = "/") -> bool:
    """True when ``path`` is an HDF5 file whose ``group`` carries the frame-cache version."""
    try:
        if not h5py.is_hdf5(path):
            return False
        with h5_file(path) as f:
            obj = f.get(group)
            return obj is not None and VERSION_ATTR in obj.attrs
    except (OSError, ValueError):
        return False


@dataclass(frozen=True)
class Fch5Frames(StoredPixelsReader, FrameReader):
    """Reads frames of an fch5 frame-cache: only the ``frame_ids`` slices of its frames."""

    path: str
    group: str
    frame_shape: tuple[int, int]
    dtype: str
    stamp: tuple = ()  # (inode, size, mtime) at open

    def read_stored(self, start: int, stop: int) -> list[tuple[np.ndarray, ...]]:
        """(row, col, data) of frames ``start:stop`` as stored."""
        check_stamp(self.path, self.stamp)
        with open_h5(self.path) as f:
            check_opened(f, self.stamp, self.path)  # the file opened, not just its name
            g = f[self.group]
            try:
                ids = g["frame_ids"][2 * start : 2 * stop].astype(np.int64).reshape(-1, 2)
                return self._frames(g, ids)
            except (OSError, RuntimeError, ValueError, KeyError) as exc:
                raise FileContentError(
                    f"cannot read frames {start}:{stop} of the frame-cache ({exc})", self.path
                ) from None

    def stored_bytes(self, nframes: int) -> np.ndarray:
        """The bytes of each of the first ``nframes`` frames' indices and values."""
        with open_h5(self.path) as f:
            g = f[self.group]
            ids = g["frame_ids"][: 2 * nframes].astype(np.int64).reshape(-1, 2)
            per_pixel = 4 + g["data"].dtype.itemsize
        return np.maximum(ids[:, 1] - ids[:, 0], 0) * per_pixel

    def _frames(self, g: h5py.Group, ids: np.ndarray) -> list[tuple]:
        lo, hi = ids[:, 0], ids[:, 1]
        if (hi < lo).any() or lo.min(initial=0) < 0 or hi.max(initial=0) > g["data"].shape[0]:
            raise ValueError("frame_ids point outside the data")
        if (hi - lo).max(initial=0) > self.frame_shape[0] * self.frame_shape[1]:
            # more pixels than a frame has: never read a declared span of any length
            raise ValueError("frame_ids give a frame more pixels than it has")
        if (lo[1:] == hi[:-1]).all():
            # Frames stored one after the other (as lazyims writes them): one read.
            a, b = int(lo[0]), int(hi[-1])
            data = g["data"][a:b, 0]
            indices = g["indices"][a:b]
            spans = [(int(x) - a, int(y) - a) for x, y in zip(lo, hi)]
        else:
            data = indices = None
            spans = [(int(x), int(y)) for x, y in zip(lo, hi)]
        frames = []
        for x, y in spans:
            d = data[x:y] if data is not None else g["data"][x:y, 0]
            ix = indices[x:y] if indices is not None else g["indices"][x:y]
            frames.append((ix[:, 0], ix[:, 1], d))
        return frames

    def files(self) -> tuple[str, ...]:
        return (self.path,)


def _read_metadata(group: h5py.Group) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, obj in group.items():
        if isinstance(obj, h5py.Group):
            out[key] = _read_metadata(obj)
        else:
            check_metadata_size(
                obj.shape or (), obj.dtype.itemsize, group.file.filename, f"metadata {obj.name!r}"
            )
            out[key] = metadata_value(obj[()])
    return out


def _find_cache_group(f: h5py.File) -> str:
    """The root when it holds the frame-cache, else the one group marked as one."""
    if "frame_ids" in f:
        return "/"
    found: list[str] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Group) and VERSION_ATTR in obj.attrs:
            found.append(obj.name)

    f.visititems(visit)
    if len(found) > 1:
        raise FileContentError(
            f"several groups hold a frame-cache ({', '.join(found)}); choose one with path=",
            f.filename,
        )
    return found[0] if found else "/"


def open_fch5(
    fname: str, path: str | None = None, frames_per_chunk: int | None = None
) -> ImageSeries:
    """Open an fch5 frame-cache (in group ``path``, default the root): header and metadata only."""
    stamp = file_stamp(fname)
    with open_h5(fname) as f:
        group_name = path or _find_cache_group(f)
        g = f.get(group_name)
        if not isinstance(g, h5py.Group):
            raise FileContentError(f"no group {group_name!r} in the file", fname)
        # The version is on the group; a group inside a larger file may rely on the root's.
        version = g.attrs.get(VERSION_ATTR, f.attrs.get(VERSION_ATTR))
        if version is None:
            raise FileContentError(
                f"group {group_name!r} is not a frame-cache (no {VERSION_ATTR} attribute)", fname
            )
        if np.ndim(version) != 0 or int(version) != VERSION:
            raise FileContentError(
                f"frame-cache version {version!r} is not supported (only {VERSION})", fname
            )
        missing = [name for name in _DATASETS if not isinstance(g.get(name), h5py.Dataset)]
        if missing:
            raise FileContentError(
                f"the frame-cache in {group_name!r} has no dataset(s) {', '.join(missing)}", fname
            )
        for name in ("data", "indices", "frame_ids"):
            check_written_chunks(g[name], fname)
            lacking = missing_filters(g[name])
            if lacking:
                raise FileContentError(
                    f"dataset {name!r} needs compression filters that are not available: "
                    f"{', '.join(lacking)}",
                    fname,
                )
        shape = parse_shape(g["shape"][()], fname)
        nframes = parse_nframes(g["nframes"][()], fname)
        dtype = parse_dtype(g["dtype"][()], fname)
        if g["frame_ids"].shape != (2 * nframes,):
            raise FileContentError(
                f"frame_ids has shape {g['frame_ids'].shape}, expected ({2 * nframes},)", fname
            )
        if g["indices"].ndim != 2 or g["indices"].shape[1] != 2:
            raise FileContentError(f"indices has shape {g['indices'].shape}, not (m, 2)", fname)
        if g["data"].ndim != 2 or g["data"].shape[0] != g["indices"].shape[0]:
            raise FileContentError(
                f"data {g['data'].shape} and indices {g['indices'].shape} do not match", fname
            )
        meta = g.get("metadata")
        metadata = _read_metadata(meta) if isinstance(meta, h5py.Group) else {}
        group_name = g.name
    reader = Fch5Frames(fname, group_name, shape, dtype.str, stamp)
    source = fname if group_name == "/" else f"{fname}:{group_name}"
    return framecache_series(reader, nframes, shape, dtype, frames_per_chunk, metadata, source)


def _write_metadata(group: h5py.Group, metadata: dict[str, Any]) -> None:
    for key, value in metadata.items():
        if isinstance(value, dict):
            _write_metadata(group.create_group(key), value)
        elif value.dtype.kind == "U":
            text = h5py.string_dtype("utf-8")
            group.create_dataset(key, data=value.astype(object), dtype=text)
        else:
            group.create_dataset(key, data=value)


class Fch5Writer:
    """Appends frames to the resizable data/indices datasets of a new fch5 group."""

    def __init__(
        self,
        group: h5py.Group,
        series: ImageSeries,
        density: DensityWarningCounter,
        checksum: bool = True,
    ):
        group.file.attrs[VERSION_ATTR] = VERSION
        if group.name != "/":
            group.attrs[VERSION_ATTR] = VERSION
        group.create_dataset("shape", data=np.array(series.frame_shape, dtype=np.int64))
        group.create_dataset("nframes", data=np.int64(series.nframes))
        group.create_dataset("dtype", data=str(series.dtype), dtype=h5py.string_dtype("ascii"))
        filters = dict(compression())
        if checksum:  # Blosc has no checksum of its own: HDF5's fletcher32 per chunk
            filters["fletcher32"] = True
        self._data = group.create_dataset(
            "data",
            shape=(0, 1),
            maxshape=(None, 1),
            dtype=series.dtype,
            chunks=(_CHUNK_ENTRIES, 1),
            **filters,
        )
        self._indices = group.create_dataset(
            "indices",
            shape=(0, 2),
            maxshape=(None, 2),
            dtype=np.uint16,
            chunks=(_CHUNK_ENTRIES, 2),
            **filters,
        )
        self._frame_ids = group.create_dataset(
            "frame_ids",
            shape=(2 * series.nframes,),
            dtype=np.uint64,
            chunks=(min(2 * series.nframes, _CHUNK_ENTRIES),),
            **filters,
        )
        self._density = density

    def add_frames(self, first: int, block: sparse.COO) -> None:
        rows, cols, data, ids = [], [], [], []
        end = self._data.shape[0]
        for k, (row, col, values) in enumerate(split_frames(block)):
            self._density.check(first + k, values.size)
            ids.extend((end, end + values.size))
            end += values.size
            rows.append(row)
            cols.append(col)
            data.append(values)
        start = self._data.shape[0]
        if end > start:
            self._data.resize((end, 1))
            self._data[start:end, 0] = np.concatenate(data)
            self._indices.resize((end, 2))
            self._indices[start:end] = np.stack([np.concatenate(rows), np.concatenate(cols)], 1)
        self._frame_ids[2 * first : 2 * first + len(ids)] = np.array(ids, dtype=np.uint64)

    def finish(self) -> None:
        """Note how many chunks each dataset holds (after the last frames)."""
        for dataset in (self._data, self._indices, self._frame_ids):
            note_written_chunks(dataset)


def write_fch5(
    series: ImageSeries,
    fname: str,
    threshold: Any,
    path: str | None = None,
    checksum: bool = True,
) -> None:
    """Write ``series`` as an fch5 frame-cache (in group ``path`` of a new file)."""
    check_writable(series, threshold, fname)
    metadata = check_metadata(series.metadata, fname, reserved=False, nested=True)
    if path is not None and (not isinstance(path, str) or not path.strip("/")):
        raise OptionError(f"path must name a group, not {path!r}", fname)
    density = DensityWarningCounter(series.frame_shape, fname, series, threshold)
    with atomic_output(fname, series.files) as tmp, create_h5(tmp) as (f, guard):
        group = f.require_group(path) if path else f
        writer = Fch5Writer(group, series, density, checksum)
        _write_metadata(group.create_group("metadata"), metadata)

        def add_frames(first: int, block: Any) -> None:
            guard.check()  # stop at the first failed write (disk full...)
            writer.add_frames(first, block)

        stream_blocks(kept_pixels(series, threshold), add_frames)
        writer.finish()
    density.warn()
