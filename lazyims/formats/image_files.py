"""The ``image-files`` format: a YAML file listing detector image files.

The YAML names a folder and file names or glob patterns; every file holds one or
more frames (GE, TIFF, EDF, CBF and whatever else fabio reads). Both dialects in
use are accepted: HEXRD's (``options:`` and ``meta:``) and the older documented one
(``empty-frames``, ``max-total-frames``, ``max-file-frames``, ``dtype`` at the top
level and ``metadata:``).

Opening reads headers only: GE frame counts come from the file size, TIFF and EDF
shapes and types from their headers. Every frame is one dask chunk, and reading a
chunk reads that frame alone (GE frames straight at their byte offset).
"""

from __future__ import annotations

import bisect
import glob
import io
import os
import re
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._files import absolute, check_opened, check_stamp, file_stamp
from .._yaml import (
    check_keys,
    check_unknown_triggers,
    load_yaml,
    resolve_relative,
    yaml_keys,
    yaml_metadata,
)
from ..errors import FileContentError, LazyImsError, MetadataError, MissingFileError, OptionError
from ..series import ImageSeries
from ._limits import check_declared_size
from ._registry import Format, register
from .base import FrameReader, series_from_reader

#: GE detector files: an 8192-byte header, then raw little-endian frames.
GE_HEADER_BYTES = 8192
#: .gel files (TIFF) hold square-root-encoded values: value = (~x)**2 * GEL_SCALE.
GEL_SCALE = 2.9452155399372724e-07

_OPTION_NAMES = ("empty-frames", "max-file-frames", "max-total-frames", "dtype")
_TOP_LEVEL = {"image-files", "options", "meta", "metadata", *_OPTION_NAMES}
#: The keys of the ``image-files:`` block (``files`` required, ``directory`` defaults to
#: the YAML's folder).
_BLOCK_KEYS = ("directory", "files")


# --------------------------------------------------------------------------- file kinds


def file_kind(path: str) -> str:
    """How a file's frames are read: ``ge``, ``tiff``, ``edf`` or ``fabio`` (anything else)."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if re.fullmatch(r"ge\d*", ext):
        return "ge"
    if ext in ("tif", "tiff", "gel"):
        return "tiff"
    if ext == "edf":
        return "edf"
    return "fabio"


def is_gel(path: str) -> bool:
    """True for .gel files, whose values are decoded after reading."""
    return path.lower().endswith(".gel")


@dataclass(frozen=True)
class FileInfo:
    """What a file's header says: frame count, frame shape, pixel types, image type.

    ``file_dtype`` is the type stored in the file, ``dtype`` the type of a frame as
    read (float64 for decoded .gel files, else the same).
    """

    nframes: int
    shape: tuple[int, int]
    file_dtype: np.dtype
    image_type: str
    header_bytes: int = 0  # GE only: where frame 0 starts
    dtype: np.dtype | None = None

    def __post_init__(self):
        if self.dtype is None:
            object.__setattr__(self, "dtype", self.file_dtype)


def _ge_header(path: str) -> tuple[int, tuple[int, int], np.dtype]:
    """Header size, frame shape and pixel type of a GE file, from its 8192-byte header.

    Files whose header was blanked with zeros (APS, since ~2018) or replaced by an
    EDF header are 2048 x 2048 uint16 after 8192 bytes, as fabio assumes.
    """
    with open(path, "rb") as f:
        head = f.read(30)
    if len(head) < 30:
        raise FileContentError("too short for a GE file (no 8192-byte header)", path)
    image_format = head[:10]
    if image_format == b"\0" * 10 or image_format.lstrip().startswith(b"{"):
        return GE_HEADER_BYTES, (2048, 2048), np.dtype("<u2")
    std_size, _, user_size, _, rows, cols, depth = struct.unpack("<LHLHHHH", head[12:30])
    if depth not in (8, 16, 32) or rows == 0 or cols == 0 or std_size == 0:
        raise FileContentError(
            f"GE header not understood (rows {rows}, columns {cols}, bits {depth}, "
            f"header size {std_size})",
            path,
        )
    return std_size + user_size, (rows, cols), np.dtype(f"<u{depth // 8}")


def _probe_ge(path: str) -> FileInfo:
    header, shape, dtype = _ge_header(path)
    frame_bytes = shape[0] * shape[1] * dtype.itemsize
    size = os.path.getsize(path)
    nframes, rest = divmod(size - header, frame_bytes)
    if size < header or rest:
        raise FileContentError(
            f"size {size} is not a {header}-byte header plus whole {shape[0]}x{shape[1]} "
            f"{dtype.name} frames ({frame_bytes} bytes each): truncated?",
            path,
        )
    return FileInfo(nframes, shape, dtype, "GE", header)


def _tiff_dtype(info: dict[str, Any], path: str) -> np.dtype:
    bits = info.get("nBits")
    if not isinstance(bits, int) or bits not in (8, 16, 32, 64):
        raise FileContentError(
            f"TIFF with {bits!r} bits per pixel: only single-channel images", path
        )
    # No SampleFormat tag (as Pillow writes baseline TIFFs): fabio's TiffIO says 4
    # ("undefined") and reads unsigned integers, as the TIFF standard's default is.
    kind = {1: "u", 2: "i", 3: "f", 4: "u"}.get(info.get("sampleFormat") or 1)
    if kind is None or (kind == "f" and bits < 32):
        raise FileContentError(
            f"TIFF sample format {info.get('sampleFormat')!r} not supported", path
        )
    return np.dtype(f"{kind}{bits // 8}")


#: The most images (IFDs) lazyims follows in one TIFF file.
MAX_TIFF_IMAGES = 1_000_000


def check_tiff_chain(path: str) -> None:
    """Walk the chain of image directories (IFDs) of a classic TIFF before fabio does.

    A damaged or hostile file whose chain loops (or points outside the file) would
    make fabio's reader loop forever; here each directory is visited once, in
    bounded steps, and a loop is an error. BigTIFF and other files are left to fabio.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8 or head[:2] not in (b"II", b"MM"):
            return
        order = "<" if head[:2] == b"II" else ">"
        if struct.unpack(order + "H", head[2:4])[0] != 42:
            return  # BigTIFF (43) or not a TIFF: fabio decides
        offset = struct.unpack(order + "I", head[4:8])[0]
        seen: set[int] = set()
        while offset:
            if offset in seen:
                raise FileContentError(
                    f"the TIFF's chain of images loops (image directory at byte {offset} "
                    "is reached twice): the file is damaged",
                    path,
                )
            if offset + 2 > size or len(seen) >= MAX_TIFF_IMAGES:
                raise FileContentError(
                    f"the TIFF's image directory at byte {offset} lies outside the file "
                    f"({size} bytes) or there are too many images: the file is damaged",
                    path,
                )
            seen.add(offset)
            fh.seek(offset)
            (count,) = struct.unpack(order + "H", fh.read(2))
            fh.seek(offset + 2 + 12 * count)
            link = fh.read(4)
            if len(link) < 4:
                raise FileContentError(
                    f"the TIFF's image directory at byte {offset} is cut short", path
                )
            offset = struct.unpack(order + "I", link)[0]


def _probe_tiff(path: str) -> FileInfo:
    from fabio.TiffIO import TiffIO

    check_tiff_chain(path)
    try:
        tiff = TiffIO(path)
        try:
            nframes = tiff.getNumberOfImages()
            pages = [tiff.getInfo(i) for i in range(nframes)]
        finally:
            tiff.close()
    except Exception as exc:  # TiffIO raises many kinds on a damaged header
        raise FileContentError(f"cannot read the TIFF header: {exc}", path) from None
    if not nframes:
        return FileInfo(0, (0, 0), np.dtype("u2"), "tiff")
    _check_tiff_pages(pages, os.path.getsize(path), path)
    info = pages[0]
    return FileInfo(
        nframes, (int(info["nRows"]), int(info["nColumns"])), _tiff_dtype(info, path), "tiff"
    )


def _check_tiff_pages(pages: list[dict[str, Any]], size: int, path: str) -> None:
    """Every page of a multi-page TIFF has page 0's size and pixel type, and its pixel
    strips lie inside the file (a cut-short file is an error, not a frame of zeros)."""
    keys = ("nRows", "nColumns", "nBits", "sampleFormat")
    first = tuple(pages[0].get(k) for k in keys)
    for i, info in enumerate(pages):
        this = tuple(info.get(k) for k in keys)
        if this != first:
            raise FileContentError(
                f"the pages of this TIFF differ: page {i} is {this[0]}x{this[1]} of "
                f"{this[2]} bits (format {this[3]}), page 0 is {first[0]}x{first[1]} of "
                f"{first[2]} bits (format {first[3]}); lazyims reads pages of one size and type",
                path,
            )
        offsets, counts = info.get("stripOffsets") or [], info.get("stripByteCounts") or []
        end = max((int(o) + int(c) for o, c in zip(offsets, counts)), default=0)
        if end > size:
            raise FileContentError(
                f"the file is cut short: the pixels of page {i} end at byte {end}, "
                f"the file has {size} bytes",
                path,
            )


def _open_fabio(path: str) -> Any:
    import fabio

    try:
        return fabio.open(path)
    except Exception as exc:
        raise FileContentError(f"fabio cannot open the file: {exc}", path) from None


def _probe_fabio(path: str) -> FileInfo:
    # EDF is opened by fabio from its headers alone; other formats may read frame 0.
    img = _open_fabio(path)
    try:
        _check_frames(img, path)
        shape = tuple(int(n) for n in img.shape)
        if len(shape) != 2:
            raise FileContentError(f"frames are {len(shape)}-D, not 2-D images", path)
        return FileInfo(int(img.nframes), shape, np.dtype(img.dtype), type(img).__name__)
    finally:
        img.close()


def _check_frames(img: Any, path: str) -> None:
    """The frames of a multi-frame EDF all have frame 0's shape and type, and none is cut
    short (fabio would pad it with zeros). fabio reads each frame's header at open."""
    frames = getattr(img, "_frames", None)
    if not isinstance(frames, list) or not frames:
        return
    first = (tuple(frames[0].shape), getattr(frames[0], "_dtype", None))
    for i, frame in enumerate(frames):
        if getattr(frame, "incomplete_data", False):
            raise FileContentError(
                f"the file is cut short: frame {i} is incomplete (truncated or damaged "
                "compressed data)",
                path,
            )
        this = (tuple(frame.shape), getattr(frame, "_dtype", None))
        if this != first:
            raise FileContentError(
                f"the frames of this file differ: frame {i} is {this[0]} of {this[1]}, "
                f"frame 0 is {first[0]} of {first[1]}; lazyims reads frames of one size and type",
                path,
            )


def probe(path: str) -> FileInfo:
    """Read one file's header (never its pixels, for GE, TIFF and EDF)."""
    kind = file_kind(path)
    info = {"ge": _probe_ge, "tiff": _probe_tiff}.get(kind, _probe_fabio)(path)
    check_declared_size(info.nframes, info.shape, path)  # names the image file, not the YAML
    if is_gel(path):
        info = replace(info, image_type="gel", dtype=np.dtype("float64"))
    return info


# --------------------------------------------------------------------------- reading frames


def _read_file_frame(
    path: str,
    kind: str,
    index: int,
    header_bytes: int,
    shape: tuple[int, int],
    file_dtype: np.dtype,
    rows: slice,
    stamp: tuple = (),
) -> np.ndarray:
    """Frame ``index`` of one file, rows ``rows`` only where the format allows it.

    The file is opened once and the identity of the open handle is checked against
    ``stamp`` (taken at open), so a file renamed over ``path`` in between is never read.
    """
    with open(path, "rb") as fh:
        check_opened(fh, stamp, path)
        if kind == "ge":
            row_bytes = shape[1] * file_dtype.itemsize
            fh.seek(header_bytes + index * shape[0] * row_bytes + rows.start * row_bytes)
            count = (rows.stop - rows.start) * shape[1]
            data = np.fromfile(fh, dtype=file_dtype, count=count)
            if data.size != count:
                raise FileContentError(f"frame {index} is cut short (file truncated?)", path)
            return data.reshape(-1, shape[1])
        if kind == "tiff":
            from fabio.TiffIO import TiffIO

            data = TiffIO(fh).getData(index)  # reads from the handle checked above
        else:
            img = _open_fabio(path)  # fabio opens by name (it decompresses .gz, .bz2)
            try:
                frame = img.getframe(index) if index else img
                data = frame.data
                if getattr(frame, "incomplete_data", False):  # fabio padded it with zeros
                    raise FileContentError(
                        f"the file is cut short: frame {index} is incomplete", path
                    )
            finally:
                img.close()
            check_opened(fh, stamp, path)
            if stamp and file_stamp(path) != tuple(stamp):  # the name still names the file
                raise FileContentError(
                    "the file was replaced or changed since the series was opened; open it again",
                    path,
                )
    return np.asarray(data)[rows]


def _cast(frame: np.ndarray, dtype: np.dtype, path: str, index: int) -> np.ndarray:
    """``frame`` as ``dtype``, an error when a value does not fit."""
    if frame.dtype == dtype:
        return frame
    if dtype.kind in "iu" and frame.size:
        info = np.iinfo(dtype)
        if frame.dtype.kind == "f" and not np.isfinite(frame).all():
            raise FileContentError(
                f"frame {index} has NaN or infinite values, cannot cast to {dtype}", path
            )
        low, high = frame.min(), frame.max()
        if low < info.min or high > info.max:
            raise FileContentError(
                f"frame {index} has values {low}..{high} that do not fit in {dtype} "
                f"({info.min}..{info.max})",
                path,
            )
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked just below
        out = frame.astype(dtype)
    if dtype.kind == "f" and frame.dtype.kind in "iuf" and frame.size:
        if np.isinf(out).sum() != (np.isinf(frame).sum() if frame.dtype.kind == "f" else 0):
            raise FileContentError(f"frame {index} has values too large for {dtype}", path)
    return out


@dataclass(frozen=True)
class ImageFileFrames(FrameReader):
    """Frames spread over image files, as plain data.

    File ``i`` gives series frames ``starts[i]`` to ``starts[i+1]``; its first
    ``empty_frames`` frames are skipped.
    """

    paths: tuple[str, ...]
    starts: tuple[int, ...]
    empty_frames: int
    kind: str
    header_bytes: int
    frame_shape: tuple[int, int]
    file_dtype: str
    dtype: str
    stamps: tuple = ()  # (inode, size, mtime) of every file at open

    def read(self, start: int, stop: int, rows: slice, cols: slice) -> np.ndarray:
        out = np.empty((stop - start, rows.stop - rows.start, cols.stop - cols.start), self.dtype)
        for k in range(start, stop):
            i = bisect.bisect_right(self.starts, k) - 1
            path = self.paths[i]
            index = self.empty_frames + k - self.starts[i]
            if not os.path.isfile(path):
                raise MissingFileError("the image file is gone", path)
            if self.stamps:
                check_stamp(path, self.stamps[i])
            try:
                frame = _read_file_frame(
                    path,
                    self.kind,
                    index,
                    self.header_bytes,
                    self.frame_shape,
                    np.dtype(self.file_dtype),
                    rows,
                    self.stamps[i] if self.stamps else (),
                )
            except LazyImsError:
                raise
            except FileNotFoundError:
                raise MissingFileError("the image file is gone", path) from None
            except Exception as exc:  # fabio and numpy raise many kinds on damaged files
                raise FileContentError(f"cannot read frame {index}: {exc}", path) from None
            if frame.shape[-1] != self.frame_shape[1] or frame.ndim != 2:
                raise FileContentError(
                    f"frame {index} has shape {frame.shape}, not {self.frame_shape}", path
                )
            frame = frame[:, cols]
            if is_gel(path):
                frame = np.invert(frame).astype(np.float64) ** 2 * GEL_SCALE
            out[k - start] = _cast(frame, np.dtype(self.dtype), path, index)
        return out

    def files(self) -> tuple[str, ...]:
        return self.paths


# --------------------------------------------------------------------------- the YAML


def _count_option(options: dict[str, Any], name: str, where: Any) -> int:
    value = options.get(name, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise OptionError(f"{name} must be a whole number >= 0, not {value!r}", where)
    return int(value)


def _options(doc: dict[str, Any], where: Any) -> dict[str, Any]:
    """The options of either dialect: an ``options:`` block, or keys at the top level."""
    check_keys(doc, _TOP_LEVEL, where, "the image-files YAML", required=("image-files",))
    block = doc.get("options") or {}
    if not isinstance(block, dict):
        raise OptionError(f"options must be a mapping, not {type(block).__name__}", where)
    check_keys(block, _OPTION_NAMES, where, "the image-files YAML's options")
    options = {}
    for name in _OPTION_NAMES:
        if name in block and name in doc and block[name] != doc[name]:
            raise OptionError(f"{name} is given twice with different values", where)
        if name in block:
            options[name] = block[name]
        elif name in doc:
            options[name] = doc[name]
    return options


def _dtype_option(value: Any, where: Any) -> np.dtype | None:
    if value is None:
        return None
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise OptionError(f"dtype {value!r} is not a numpy type name", where) from None
    if dtype.kind not in "biuf":
        raise OptionError(f"dtype {value!r} is not a numeric type", where)
    return dtype


def _patterns(block: dict[str, Any], where: Any) -> list[str]:
    files = block.get("files")
    if isinstance(files, str):
        patterns = files.split()
    elif isinstance(files, list) and all(isinstance(p, str) for p in files):
        patterns = [word for p in files for word in p.split()]
    else:
        raise OptionError(
            "image-files needs 'files': space-separated names or glob patterns, or a list of them",
            where,
        )
    if not patterns:
        raise OptionError("image-files 'files' is empty", where)
    return patterns


def find_files(block: Any, folder: Path | None, where: Any) -> list[str]:
    """The image files of an ``image-files`` block: all matches of its patterns, sorted."""
    if not isinstance(block, dict):
        raise FileContentError("no 'image-files:' mapping with 'directory' and 'files'", where)
    check_keys(block, _BLOCK_KEYS, where, "the image-files YAML's image-files block")
    directory = block.get("directory", ".")
    if directory is None:
        directory = "."
    if not isinstance(directory, str):
        raise OptionError(f"image-files 'directory' must be text, not {directory!r}", where)
    base = resolve_relative(directory, folder)
    if not base.is_dir():
        raise MissingFileError(f"the image-files directory {directory!r} does not exist", base)
    found: set[str] = set()
    for pattern in _patterns(block, where):
        matches = glob.glob(os.path.join(glob.escape(str(base)), pattern))
        matches = [m for m in matches if os.path.isfile(m)]
        if not matches:
            raise MissingFileError(f"no file matches {pattern!r} in {str(base)!r}", where)
        found.update(matches)
    return sorted(found)


def _layout(paths: list[str], empty: int, max_file: int, max_total: int, where: Any):
    """Probe every file; check they agree; return (first info, per-file frame counts)."""
    first: FileInfo | None = None
    counts: list[int] = []
    total = 0
    for path in paths:
        info = probe(path)
        if first is None:
            first = info
        else:
            for what in ("shape", "dtype", "image_type"):
                if getattr(info, what) != getattr(first, what):
                    raise FileContentError(
                        f"{what.replace('_', ' ')} {getattr(info, what)} differs from "
                        f"{getattr(first, what)} of {paths[0]}",
                        path,
                    )
            if info.header_bytes != first.header_bytes:
                raise FileContentError(
                    f"GE header of {info.header_bytes} bytes differs from {first.header_bytes} "
                    f"of {paths[0]}",
                    path,
                )
        if info.nframes <= empty:
            raise FileContentError(
                f"the file has {info.nframes} frame(s), not more than empty-frames={empty}", path
            )
        n = info.nframes - empty
        if max_file:
            n = min(n, max_file)
        if max_total:
            n = min(n, max_total - total)
        counts.append(n)
        total += n
        if max_total and total >= max_total:
            break
    return first, counts


def open_image_files(
    source: str | os.PathLike | io.TextIOBase, unknown_triggers: str = "error"
) -> ImageSeries:
    """Open an ``image-files`` YAML (a path, or its text as ``io.StringIO``) lazily, one
    chunk per frame.

    Parameters
    ----------
    source
        The YAML file, or its text as ``io.StringIO(text)`` (a ``str`` is always a
        path). ``directory`` is relative to the YAML's folder,
        then to the working folder (for YAML text: the working folder).
    unknown_triggers
        A metadata value ``"! command ..."`` other than ``! load-numpy-array``:
        ``"error"`` (a MetadataError) or ``"drop"`` (the key is left out with a
        warning, as HEXRD does).

    Returns
    -------
    ImageSeries
        Frames of all files in sorted order, ``empty-frames`` skipped at the start
        of every file, with the metadata of ``meta:`` (or ``metadata:``).
    """
    check_unknown_triggers(
        unknown_triggers, source if isinstance(source, str | os.PathLike) else None
    )
    doc, folder = load_yaml(source)
    where = os.fspath(source) if folder is not None else None
    if "image-files" not in doc:
        raise FileContentError("no 'image-files:' block: not an image-files YAML", where)
    if "meta" in doc and "metadata" in doc:
        raise MetadataError("both 'meta' and 'metadata' given; use one", where)
    options = _options(doc, where)
    empty = _count_option(options, "empty-frames", where)
    max_file = _count_option(options, "max-file-frames", where)
    max_total = _count_option(options, "max-total-frames", where)
    dtype = _dtype_option(options.get("dtype"), where)
    paths = find_files(doc["image-files"], folder, where)
    described: list[str] = [where] if where is not None else []
    metadata = yaml_metadata(
        doc.get("meta", doc.get("metadata")), folder, where, described, unknown_triggers
    )

    kinds = {file_kind(p) for p in paths}
    if len(kinds) > 1:
        raise FileContentError(
            f"files of different image types ({', '.join(sorted(kinds))}) in one series", where
        )
    info, counts = _layout(paths, empty, max_file, max_total, where)
    paths = paths[: len(counts)]
    starts = tuple(int(s) for s in np.concatenate([[0], np.cumsum(counts)[:-1]]))
    nframes = int(sum(counts))
    out_dtype = (dtype if dtype is not None else info.dtype).newbyteorder("=")
    reader = ImageFileFrames(
        paths=tuple(absolute(p) for p in paths),
        starts=starts,
        empty_frames=empty,
        kind=kinds.pop(),
        header_bytes=info.header_bytes,
        frame_shape=info.shape,
        file_dtype=info.file_dtype.str,
        dtype=out_dtype.str,
        stamps=tuple(file_stamp(p) for p in paths),
    )
    return series_from_reader(
        reader,
        nframes=nframes,
        frame_shape=info.shape,
        dtype=out_dtype,
        frames_per_chunk=1,
        metadata=metadata,
        format="image-files",
        source=where or "<yaml text>",
        files=(*described, *reader.paths),
    )


register(
    Format(
        name="image-files",
        open=open_image_files,
        extensions=(".yml", ".yaml"),
        guess_can_open=lambda p: "image-files" in yaml_keys(p),
        accepts=lambda obj: isinstance(obj, io.StringIO) and "image-files" in yaml_keys(obj),
        description="a YAML listing detector image files (GE, TIFF, EDF, CBF... via fabio)",
    )
)
