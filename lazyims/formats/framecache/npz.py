"""The npz style of frame-cache: one zip file, one member per array.

Members (each a ``.npy`` file, deflate-compressed, as ``numpy.savez_compressed``
writes them): ``shape`` (int64, 2), ``nframes`` (0-d int64), ``dtype`` (0-d bytes,
e.g. b'float32'), then ``{i}_row`` and ``{i}_col`` (uint16) and ``{i}_data`` (the
series' dtype) for every frame i; any other member is metadata.

Reading opens only the members of the frames asked for; writing appends members
to the zip file as blocks of frames arrive, so neither holds the whole scan.
"""

from __future__ import annotations

import functools
import io
import os
import re
import struct
import time
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import sparse

try:  # libdeflate: inflates large members about twice as fast as zlib
    import deflate as _libdeflate

    _DEFLATE_ERRORS: tuple[type[Exception], ...] = (_libdeflate.DeflateError,)
except ImportError:  # pragma: no cover - a dependency, but keep reading without it
    _libdeflate = None
    _DEFLATE_ERRORS = ()

from ..._checks import check_not_empty
from ..._files import atomic_output, check_opened, check_regular_file, check_stamp, file_stamp
from ..._npy import check_npy_bytes
from ..._streaming import stream_blocks
from ...errors import FileContentError, MissingFileError
from ...series import ImageSeries
from ..base import FrameReader
from ._common import (
    FRAME_MEMBER,
    HEADER_KEYS,
    DensityWarningCounter,
    StoredPixelsReader,
    check_frame_shape,
    check_metadata,
    check_series_dtype,
    check_threshold,
    framecache_series,
    kept_pixels,
    metadata_value,
    parse_dtype,
    parse_nframes,
    parse_shape,
    split_frames,
)


def _open_zip(path: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise MissingFileError("no such file", path) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileContentError(
            f"not a readable npz (zip) file, perhaps truncated ({exc})", path
        ) from None


class MemberLocation(NamedTuple):
    """Where one member's bytes lie in a zip file (from the zip's central directory)."""

    name: str
    header_offset: int
    compress_size: int
    file_size: int
    compress_type: int
    crc: int


@functools.lru_cache(maxsize=16)
def _zip_index(path: str, size: int, mtime_ns: int) -> dict[str, MemberLocation]:
    """Array name -> member location, parsed once per process and file version.

    Parsing the central directory of a 1440-frame cache (4320 members) takes longer
    than reading a frame, so chunks look their members up here instead.
    """
    members = _read_central_directory(path)
    if members is None:  # zip64, a comment, data before the zip...: Python's zipfile
        with _open_zip(path) as zf:
            members = [
                MemberLocation(
                    i.filename,
                    i.header_offset,
                    i.compress_size,
                    i.file_size,
                    i.compress_type,
                    i.CRC,
                )
                for i in zf.infolist()
            ]
    _check_member_sizes(members, path, size)
    return {(m.name[:-4] if m.name.endswith(".npy") else m.name): m for m in members}


#: The most bytes deflate can inflate one byte to (its limit is 1032:1), with room for
#: a member's smallest stream.
_MAX_DEFLATE_RATIO = 1032


def _check_member_sizes(members: list[MemberLocation], path: str, size: int) -> None:
    """The sizes the zip's directory declares for its members fit the file: each member's
    compressed bytes lie inside it, and its uncompressed size is one deflate (or storing)
    can give. Reading then never asks for more memory than the file can really hold.
    (Checked with numpy: a real cache has thousands of members.)"""
    if not members:
        return
    columns = list(zip(*members))
    offsets, packed, sizes, kinds = (np.array(c, dtype=np.int64) for c in columns[1:5])
    stored = kinds == zipfile.ZIP_STORED
    inflatable = np.where(stored, packed, packed * _MAX_DEFLATE_RATIO + 64)
    bad = np.flatnonzero((offsets + 30 + packed > size) | (sizes > inflatable))
    if bad.size:
        m = members[int(bad[0])]
        raise FileContentError(
            f"member {m.name!r} declares {m.compress_size} compressed and {m.file_size} "
            f"uncompressed bytes at byte {m.header_offset}, more than the file "
            f"({size} bytes) can hold: the file is damaged or not what it seems",
            path,
        )


_END_RECORD = struct.Struct("<4s4H2LH")  # end of central directory record
_DIRECTORY_ENTRY = struct.Struct("<4s6H3L5H2L")  # central directory file header
_UTF8_NAME = 0x800


def _read_central_directory(path: str) -> list[MemberLocation] | None:
    """The members of a plain zip file, read straight from its central directory.

    Python's zipfile builds a ZipInfo object per member: ~20 ms for the 3000
    members of a 1000-frame cache, longer than reading a frame. This reads the
    same fields in a few ms. It returns None for anything but the plain layout
    numpy and lazyims write (zip64 records, an archive comment, bytes before the
    archive, multiple disks), which zipfile then reads.
    """
    try:
        with open(path, "rb") as fh:
            record = _end_record(fh)
            if record is None:
                return None
            size = fh.tell()
            sig, disk, cd_disk, n_here, n_total, cd_size, cd_offset, comment = record
            if (
                sig != b"PK\x05\x06"
                or comment
                or disk
                or cd_disk
                or n_here != n_total
                or 0xFFFF in (n_here, n_total)
                or 0xFFFFFFFF in (cd_size, cd_offset)
                or cd_offset + cd_size != size - _END_RECORD.size
            ):
                return None
            fh.seek(cd_offset)
            directory = fh.read(cd_size)
    except OSError:
        return None
    members = []
    pos = 0
    unpack = _DIRECTORY_ENTRY.unpack_from
    for _ in range(n_total):
        if pos + _DIRECTORY_ENTRY.size > len(directory):
            return None
        (sig, _made, _needed, flags, method, _time, _date, crc, csize, usize,
         name_len, extra_len, comment_len, _disk, _iattr, _eattr, offset) = unpack(directory, pos)  # fmt: skip
        if sig != b"PK\x01\x02" or 0xFFFFFFFF in (csize, usize, offset):
            return None
        start = pos + _DIRECTORY_ENTRY.size
        raw_name = directory[start : start + name_len]
        try:
            name = raw_name.decode("ascii")  # numpy's names; the same in both encodings
        except UnicodeDecodeError:
            name = raw_name.decode("utf-8" if flags & _UTF8_NAME else "cp437")
        members.append(MemberLocation(name, offset, csize, usize, method, crc))
        pos = start + name_len + extra_len + comment_len
    return members if pos == len(directory) else None


def zip_index(path: str) -> dict[str, MemberLocation]:
    check_regular_file(path)  # opening a FIFO would block
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise MissingFileError("no such file", path) from None
    return _zip_index(path, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _member_ends(path: str, size: int, mtime_ns: int) -> dict[int, int]:
    """Header offset of each member -> where its bytes end (the next member's header, or
    the central directory), so the members of several frames can be read in one go."""
    index = _zip_index(path, size, mtime_ns)
    offsets = sorted({m.header_offset for m in index.values()})
    directory = _directory_offset(path)
    ends = offsets[1:] + [directory if directory is not None else size]
    return dict(zip(offsets, ends))


def _end_record(fh: Any) -> tuple | None:
    """The fields of the end-of-central-directory record at the end of an open zip file
    (read to its end), or None when the file is too short to hold one."""
    size = fh.seek(0, os.SEEK_END)
    if size < _END_RECORD.size:
        return None
    fh.seek(size - _END_RECORD.size)
    return _END_RECORD.unpack(fh.read(_END_RECORD.size))


def _directory_offset(path: str) -> int | None:
    try:
        with open(path, "rb") as fh:
            record = _end_record(fh)
    except OSError:
        return None
    if record is None or record[0] != b"PK\x05\x06" or record[6] == 0xFFFFFFFF:
        return None
    return record[6]


def _member_bytes(buffer: bytes | memoryview, pos: int, member: MemberLocation, path: str):
    """The compressed bytes of ``member`` whose local header starts at ``buffer[pos]``."""
    header = buffer[pos : pos + 30]
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise FileContentError(f"member {member.name!r}: bad local header", path)
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    start = pos + 30 + name_length + extra_length
    raw = buffer[start : start + member.compress_size]
    if len(raw) != member.compress_size:
        raise FileContentError(f"member {member.name!r} is truncated", path)
    return raw


#: Members at least this large are inflated by libdeflate (faster, but with a fixed cost
#: per call that makes zlib faster for the tiny members of very sparse frames).
_LIBDEFLATE_FROM = 16 * 2**10


def _inflate(raw: Any, member: MemberLocation, path: str) -> bytes:
    """The uncompressed bytes of a stored or deflated member, CRC checked."""
    try:
        if member.compress_type == zipfile.ZIP_STORED:
            body = bytes(raw)
        elif member.compress_type == zipfile.ZIP_DEFLATED:
            if _libdeflate is not None and member.file_size >= _LIBDEFLATE_FROM:
                body = _libdeflate.deflate_decompress(raw, member.file_size)
            else:
                # never more than the declared size (+1 to see a member longer than it)
                body = zlib.decompressobj(-15).decompress(raw, member.file_size + 1)
        else:
            raise FileContentError(
                f"member {member.name!r} uses zip compression {member.compress_type}, "
                "not deflate or stored",
                path,
            )
    except (zlib.error, ValueError, *_DEFLATE_ERRORS) as exc:
        raise FileContentError(f"member {member.name!r} is damaged ({exc})", path) from None
    if len(body) != member.file_size or zlib.crc32(body) != member.crc:
        raise FileContentError(f"member {member.name!r} is damaged or truncated (bad CRC)", path)
    return body


# numpy's header of a 1-D C-order array, as ``numpy.save`` writes it
_NPY_1D = re.compile(
    rb"\{'descr': '([<>|=]?[biuf]\d{1,2})', 'fortran_order': False, 'shape': \((\d+),\), \}"
)
_NPY_DTYPES: dict[bytes, np.dtype] = {}


def _npy_array(body: bytes, member: MemberLocation, path: str) -> np.ndarray:
    """The array of a ``.npy`` member's bytes.

    1-D arrays of plain numbers (every frame member) are read by matching numpy's
    header text directly; numpy's own reader (which parses the header with ``ast``,
    ~10x slower than the rest of reading a small member) reads anything else.
    """
    if body[:6] == b"\x93NUMPY" and body[6:7] in (b"\x01", b"\x02", b"\x03"):
        if body[6] == 1:
            start, length = 10, int.from_bytes(body[8:10], "little")
        else:
            start, length = 12, int.from_bytes(body[8:12], "little")
        found = _NPY_1D.match(body, start, start + length)
        if found:
            dtype = _NPY_DTYPES.get(found[1])
            if dtype is None:
                dtype = _NPY_DTYPES.setdefault(found[1], np.dtype(found[1].decode()))
            count, offset = int(found[2]), start + length
            if len(body) - offset == count * dtype.itemsize:
                return np.frombuffer(body, dtype, count, offset)
    what = f"member {getattr(member, 'name', '?')!r}"
    check_npy_bytes(body, path, what)  # before numpy allocates
    try:
        return np.lib.format.read_array(io.BytesIO(body), allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise FileContentError(
            f"member {member.name!r} is not a .npy array ({exc})", path
        ) from None


def _member_array(member: MemberLocation, raw: Any, path: str) -> np.ndarray:
    """A member's array from its compressed bytes (every member read goes through here)."""
    return _npy_array(_inflate(raw, member, path), member, path)


def _read_located(fh: Any, member: MemberLocation, path: str) -> np.ndarray:
    """Read one member at its offset in the open file ``fh``."""
    fh.seek(member.header_offset)
    head = fh.read(30)
    if len(head) == 30 and head[:4] == b"PK\x03\x04":
        name_length, extra_length = struct.unpack_from("<HH", head, 26)
        head += fh.read(name_length + extra_length + member.compress_size)
    return _member_array(member, _member_bytes(head, 0, member, path), path)


def read_members(path: str, members: list[MemberLocation], stamp: tuple = ()) -> list[np.ndarray]:
    """The arrays of ``members`` of the npz ``path``.

    Members lying one after another (the frames of a chunk, as HEXRD and lazyims write
    them) are read with one read of the file; scattered ones one by one.
    """
    if not members:
        return []
    st = os.stat(path)
    ends = _member_ends(path, st.st_size, st.st_mtime_ns)
    first = min(m.header_offset for m in members)
    last = max(ends.get(m.header_offset, st.st_size) for m in members)
    wanted = sum(ends.get(m.header_offset, st.st_size) - m.header_offset for m in members)
    with open(path, "rb") as fh:
        check_opened(fh, stamp, path)  # the file opened is the one stamped at open
        if last - first > 2 * wanted + 2**16:
            return [_read_located(fh, m, path) for m in members]
        fh.seek(first)
        buffer = memoryview(fh.read(last - first))
    return [
        _member_array(m, _member_bytes(buffer, m.header_offset - first, m, path), path)
        for m in members
    ]


_PARTS = ("row", "col", "data")


@dataclass(frozen=True)
class NpzFrames(StoredPixelsReader, FrameReader):
    """Reads frames of an npz frame-cache, reading only their ``{i}_*`` members."""

    path: str
    frame_shape: tuple[int, int]
    dtype: str
    stamp: tuple = ()  # (inode, size, mtime) at open

    def read_stored(self, start: int, stop: int) -> list[tuple[np.ndarray, ...]]:
        """(row, col, data) of frames ``start:stop`` as stored."""
        check_stamp(self.path, self.stamp)
        index = zip_index(self.path)
        members = []
        for i in range(start, stop):
            for part in _PARTS:
                member = index.get(f"{i}_{part}")
                if member is None:
                    raise FileContentError(f"frame {i} has no member '{i}_{part}'", self.path)
                members.append(member)
        arrays = read_members(self.path, members, self.stamp)
        return [tuple(arrays[k : k + 3]) for k in range(0, len(arrays), 3)]

    def stored_bytes(self, nframes: int) -> np.ndarray:
        """The uncompressed bytes of each of the first ``nframes`` frames' members."""
        return frame_member_bytes(zip_index(self.path), nframes)

    def files(self) -> tuple[str, ...]:
        return (self.path,)


def frame_member_bytes(index: Mapping[str, MemberLocation], nframes: int) -> np.ndarray:
    """Bytes of each frame's three members (0 for missing ones; opening checks those)."""
    sizes = np.zeros(nframes, dtype=np.int64)
    for i in range(nframes):
        for part in _PARTS:
            member = index.get(f"{i}_{part}")
            sizes[i] += member.file_size if member is not None else 0
    return sizes


def check_frame_members(members: Mapping[str, Any], nframes: int, path: str) -> None:
    """Every frame 0..nframes-1 has its three members (checked from the zip's directory)."""
    if 3 * nframes > len(members):  # before looping over a declared count
        raise FileContentError(
            f"the header says {nframes} frames but the zip holds {len(members)} members "
            f"(3 per frame)",
            path,
        )
    for i in range(nframes):
        for part in ("row", "col", "data"):
            if f"{i}_{part}" not in members:
                raise FileContentError(
                    f"the cache has {nframes} frames but no member '{i}_{part}'", path
                )


def open_npz(fname: str, frames_per_chunk: int | None = None) -> ImageSeries:
    """Open an npz frame-cache: reads the zip directory, header and metadata only."""
    members = zip_index(fname)  # also kept for the chunks read in this process
    missing = [k for k in HEADER_KEYS if k not in members]
    if missing:
        hint = (
            " (the npz of a yml frame-cache opens through its .yml)" if "0_row" in members else ""
        )
        raise FileContentError(
            f"not a frame-cache: no {', '.join(missing)} member(s) in the npz{hint}", fname
        )
    with open(fname, "rb") as fh:
        header = {k: _read_located(fh, members[k], fname) for k in HEADER_KEYS}
        metadata = {
            key: metadata_value(_read_located(fh, member, fname))
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
    reader = NpzFrames(fname, shape, dtype.str, file_stamp(fname))
    return framecache_series(
        reader, nframes, shape, dtype, frames_per_chunk, metadata, source or fname, files or None
    )


#: Compression level of npz members (numpy's ``savez_compressed`` uses zlib's default, 6).
_DEFLATE_LEVEL = 6


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
        if _libdeflate is not None and not force_zip64:
            self._add_deflated(f"{name}.npy", array)
            return
        with self._zip.open(f"{name}.npy", "w", force_zip64=force_zip64) as fh:
            np.lib.format.write_array(fh, array, allow_pickle=False)

    def _add_deflated(self, filename: str, array: np.ndarray) -> None:
        """One member compressed by libdeflate (4x faster than zlib at the same level, the
        same deflate format), written after the last with zipfile's own header and
        directory entry, as ``zipfile.ZipFile.writestr`` would write it."""
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, array, allow_pickle=False)
        body = buffer.getbuffer()
        packed = _libdeflate.deflate_compress(body, _DEFLATE_LEVEL)
        zf = self._zip
        info = zipfile.ZipInfo(filename, date_time=time.localtime(time.time())[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        info.file_size = len(body)
        info.compress_size = len(packed)
        info.CRC = zlib.crc32(body)
        info.header_offset = zf.fp.tell()
        zf.fp.write(info.FileHeader(False))
        zf.fp.write(packed)
        zf.filelist.append(info)
        zf.NameToInfo[filename] = info
        zf.start_dir = zf.fp.tell()
        zf._didModify = True

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
    density = DensityWarningCounter(series.frame_shape, path, series, threshold)
    with NpzWriter(tmp) as writer:
        for key, value in header.items():
            writer.add(key, value)
        stream_blocks(
            kept_pixels(series, threshold),
            lambda first, block: writer.add_frames(first, block, density),
        )
    density.warn()


def check_writable(series: ImageSeries, threshold: Any, path: str) -> None:
    """What every style checks before writing anything."""
    check_not_empty(series, path)
    check_threshold(threshold, path)
    check_series_dtype(series.dtype, path)
    check_frame_shape(series.frame_shape, path)


def write_npz(series: ImageSeries, fname: str, threshold: Any) -> None:
    """Write ``series`` as an npz frame-cache (see the module doc)."""
    check_writable(series, threshold, fname)
    metadata = check_metadata(series.metadata, fname, reserved=True)
    with atomic_output(fname, series.files) as tmp:
        write_cache_npz(series, tmp, threshold, fname, header={**header_arrays(series), **metadata})
