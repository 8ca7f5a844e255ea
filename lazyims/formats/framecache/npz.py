"""The npz style of frame-cache: one zip file, one member per array.

Members (each a ``.npy`` file, deflate-compressed, as ``numpy.savez_compressed``
writes them): ``shape`` (int64, 2), ``nframes`` (0-d int64), ``dtype`` (0-d bytes,
e.g. b'float32'), then ``{i}_row`` and ``{i}_col`` (uint16) and ``{i}_data`` (the
series' dtype) for every frame i; any other member is metadata.

Reading opens only the members of the frames asked for; writing appends members
to the zip file as blocks of frames arrive, so neither holds the whole scan.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import sparse

from ..._files import atomic_output
from ..._streaming import stream_blocks
from ...errors import FileContentError, MissingFileError
from ...series import ImageSeries
from .._frames import FrameReader, FrameSource
from ._common import (
    FRAME_MEMBER,
    HEADER_KEYS,
    DensityWarningCounter,
    check_frame_shape,
    check_frames_per_chunk,
    check_metadata,
    check_series_dtype,
    check_threshold,
    default_frames_per_chunk,
    frames_to_coo,
    metadata_value,
    parse_dtype,
    parse_nframes,
    parse_shape,
    split_frames,
    thresholded,
)

# Errors a damaged or truncated zip member raises while being read.
_ZIP_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError)


def _open_zip(path: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise MissingFileError("no such file", path) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileContentError(
            f"not a readable npz (zip) file, perhaps truncated ({exc})", path
        ) from None


def _member_names(zf: zipfile.ZipFile) -> dict[str, str]:
    """Array name -> zip member name (``.npy`` suffix dropped, as numpy.load does)."""
    names = {}
    for member in zf.namelist():
        names[member[:-4] if member.endswith(".npy") else member] = member
    return names


def _read_member(zf: zipfile.ZipFile, member: str, path: str) -> np.ndarray:
    """One array member, read with numpy's .npy reader (never unpickling)."""
    try:
        with zf.open(member) as fh:
            return np.lib.format.read_array(fh, allow_pickle=False)
    except _ZIP_READ_ERRORS as exc:
        raise FileContentError(f"cannot read member {member!r} ({exc})", path) from None


@dataclass(frozen=True)
class NpzFrames(FrameReader):
    """Reads frames of an npz frame-cache, opening only their ``{i}_*`` members."""

    path: str
    frame_shape: tuple[int, int]
    dtype: str

    def read(self, start: int, stop: int, rows: slice, cols: slice) -> sparse.COO:
        with _open_zip(self.path) as zf:
            members = _member_names(zf)
            frames = []
            for i in range(start, stop):
                parts = []
                for part in ("row", "col", "data"):
                    name = f"{i}_{part}"
                    if name not in members:
                        raise FileContentError(f"frame {i} has no member {name!r}", self.path)
                    parts.append(_read_member(zf, members[name], self.path))
                frames.append(tuple(parts))
        return frames_to_coo(
            frames, self.frame_shape, np.dtype(self.dtype), rows, cols, self.path, start
        )

    def files(self) -> tuple[str, ...]:
        return (self.path,)


def check_frame_members(members: dict[str, str], nframes: int, path: str) -> None:
    """Every frame 0..nframes-1 has its three members (checked from the zip's directory)."""
    for i in range(nframes):
        for part in ("row", "col", "data"):
            if f"{i}_{part}" not in members:
                raise FileContentError(
                    f"the cache has {nframes} frames but no member '{i}_{part}'", path
                )


def open_npz(fname: str, frames_per_chunk: int | None = None) -> ImageSeries:
    """Open an npz frame-cache: reads the zip directory, header and metadata only."""
    with _open_zip(fname) as zf:
        members = _member_names(zf)
        missing = [k for k in HEADER_KEYS if k not in members]
        if missing:
            raise FileContentError(
                f"not a frame-cache: no {', '.join(missing)} member(s) in the npz", fname
            )
        header = {k: _read_member(zf, members[k], fname) for k in HEADER_KEYS}
        metadata = {
            key: metadata_value(_read_member(zf, member, fname))
            for key, member in members.items()
            if key not in HEADER_KEYS and not FRAME_MEMBER.match(key)
        }
    shape = parse_shape(header["shape"], fname)
    nframes = parse_nframes(header["nframes"], fname)
    dtype = parse_dtype(header["dtype"], fname)
    check_frame_members(members, nframes, fname)
    return series_from_npz(fname, shape, nframes, dtype, metadata, frames_per_chunk, "npz")


def series_from_npz(
    fname: str,
    shape: tuple[int, int],
    nframes: int,
    dtype: np.dtype,
    metadata: dict[str, Any],
    frames_per_chunk: int | None,
    style: str,
    source: str | None = None,
    files: tuple[str, ...] = (),
) -> ImageSeries:
    """The lazy series of the frames stored in npz ``fname`` (npz and yml styles)."""
    if frames_per_chunk is None:
        frames_per_chunk = default_frames_per_chunk(shape, dtype)
    check_frames_per_chunk(frames_per_chunk, fname)
    reader = NpzFrames(path=fname, frame_shape=shape, dtype=dtype.str)
    fpc = int(frames_per_chunk)
    origin = FrameSource(reader, nframes, shape, dtype, fpc, sparse=True, name=f"fc-{style}")
    return ImageSeries(
        None,
        metadata,
        format="frame-cache",
        source=source or fname,
        files=files or (fname,),
        origin=origin,
    )


class NpzWriter:
    """Appends arrays to a zip file as ``.npy`` members, like ``numpy.savez_compressed``."""

    # Members larger than this are written with zip64 headers (needed past 4 GiB; the
    # size is not known before a member is written, so decide from the array's size).
    _ZIP64_ABOVE = 2**30

    def __init__(self, path: str | os.PathLike):
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)

    def add(self, name: str, array: np.ndarray) -> None:
        array = np.asanyarray(array)
        force_zip64 = array.nbytes > self._ZIP64_ABOVE
        with self._zip.open(f"{name}.npy", "w", force_zip64=force_zip64) as fh:
            np.lib.format.write_array(fh, array, allow_pickle=False)

    def add_frames(self, first: int, block: sparse.COO, density: DensityWarningCounter) -> None:
        for k, (row, col, data) in enumerate(split_frames(block)):
            i = first + k
            density.check(i, data.size)
            self.add(f"{i}_row", row)
            self.add(f"{i}_col", col)
            self.add(f"{i}_data", data)

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> NpzWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def header_arrays(series: ImageSeries) -> dict[str, np.ndarray]:
    """The header members, with HEXRD's dtypes."""
    return {
        "shape": np.array(series.frame_shape, dtype=np.int64),
        "nframes": np.array(series.nframes, dtype=np.int64),
        "dtype": np.array(str(series.dtype).encode()),
    }


def write_cache_npz(
    series: ImageSeries, tmp: str | os.PathLike, threshold: Any, path: str, *, header: dict
) -> None:
    """Threshold ``series`` chunk by chunk and append its frames to a new npz at ``tmp``."""
    density = DensityWarningCounter(series.frame_shape, path)
    with NpzWriter(tmp) as writer:
        for key, value in header.items():
            writer.add(key, value)
        stream_blocks(
            thresholded(series.data, threshold),
            lambda first, block: writer.add_frames(first, block, density),
        )
    density.warn()


def check_writable(series: ImageSeries, threshold: Any, path: str) -> None:
    """What every style checks before writing anything."""
    check_threshold(threshold, path)
    check_series_dtype(series.dtype, path)
    check_frame_shape(series.frame_shape, path)


def write_npz(series: ImageSeries, fname: str, threshold: Any) -> None:
    """Write ``series`` as an npz frame-cache (see the module doc)."""
    check_writable(series, threshold, fname)
    metadata = check_metadata(series.metadata, fname, reserved=True)
    with atomic_output(fname, series.files) as tmp:
        write_cache_npz(series, tmp, threshold, fname, header={**header_arrays(series), **metadata})
