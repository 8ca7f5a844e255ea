"""The ``raw-image`` format: a YAML describing a headerless binary file of frames.

```yaml
filename: scan.ge      # relative to the YAML's folder, then the working folder
shape: 2048 2048       # rows cols
skip: 8192             # bytes before frame 0
scalar: {type: i, bytes: 2, signed: false, endian: little}
```

Every key is required (as in HEXRD; ``bytes`` and ``signed`` only for integers),
and an unknown key is an error naming the closest known one: a misspelled ``signed`` or ``endian`` never falls back to a
default that changes the values read.

Frame k starts at byte ``skip + k * frame_bytes``; the file must hold a whole
number of frames after the skipped bytes.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np

from .._files import absolute, check_opened, check_regular_file, check_stamp, file_stamp
from .._yaml import check_keys, load_yaml, resolve_relative, yaml_keys
from ..errors import FileContentError, MissingFileError, OptionError
from ..series import ImageSeries
from ._registry import Format, register
from .base import FrameReader, check_frames_per_chunk, series_from_reader

#: scalar ``type`` -> numpy kind: i integer, f float32, d float64, b bool (HEXRD's codes).
_FIXED_TYPES = {"f": np.dtype("f4"), "d": np.dtype("f8"), "b": np.dtype("?")}
#: The keys of the YAML and of its ``scalar:`` block, required as HEXRD requires them
#: (``bytes`` and ``signed`` only for integers: HEXRD ignores them for f, d and b): a
#: misspelled key is an error, never a default that changes the values read.
YAML_KEYS = ("filename", "shape", "skip", "scalar")
SCALAR_KEYS = ("type", "bytes", "signed", "endian")


def scalar_dtype(scalar: object, where: object) -> np.dtype:
    """The numpy type of a ``scalar:`` block (``type``, ``bytes``, ``signed``, ``endian``)."""
    if not isinstance(scalar, dict):
        raise OptionError("'scalar' must be a mapping with type, bytes, signed, endian", where)
    required = SCALAR_KEYS if scalar.get("type") == "i" else ("type", "endian")
    check_keys(scalar, SCALAR_KEYS, where, "the raw-image YAML's scalar", required=required)
    kind = scalar["type"]
    nbytes = scalar.get("bytes")
    signed = scalar.get("signed", False)
    endian = scalar["endian"]
    if endian not in ("little", "big"):
        raise OptionError(f"scalar endian must be 'little' or 'big', not {endian!r}", where)
    if not isinstance(signed, bool):
        raise OptionError(f"scalar signed must be true or false, not {signed!r}", where)
    order = "<" if endian == "little" else ">"
    if kind == "i":
        if isinstance(nbytes, bool) or nbytes not in (1, 2, 4, 8):
            raise OptionError(
                f"scalar bytes must be 1, 2, 4 or 8 for integers, not {nbytes!r}", where
            )
        return np.dtype(f"{order}{'i' if signed else 'u'}{nbytes}")
    if kind in _FIXED_TYPES:
        dtype = _FIXED_TYPES[kind]
        if nbytes is not None and nbytes != dtype.itemsize:
            # HEXRD ignores 'bytes' here; a mismatch means the YAML does not describe the file
            raise OptionError(
                f"scalar type {kind!r} is {dtype.itemsize} byte(s), but bytes is {nbytes!r}", where
            )
        return dtype.newbyteorder(order)
    raise OptionError(f"scalar type must be i, f, d or b, not {kind!r}", where)


def _shape(value: object, where: object) -> tuple[int, int]:
    words = value.split() if isinstance(value, str) else value
    try:
        rows, cols = (int(w) for w in words)
        if isinstance(value, list) and not all(isinstance(w, int) for w in value):
            raise TypeError
    except (TypeError, ValueError, OverflowError):
        raise OptionError(f"shape must be 'rows cols', not {value!r}", where) from None
    if rows < 1 or cols < 1:
        raise OptionError(f"shape must be positive, not {value!r}", where)
    return rows, cols


@dataclass(frozen=True)
class RawFrames(FrameReader):
    """Frames of ``dtype`` and ``frame_shape`` at ``skip + k * frame_bytes`` in ``path``."""

    path: str
    skip: int
    frame_shape: tuple[int, int]
    dtype: str
    stamp: tuple = ()  # (inode, size, mtime) at open

    def read(self, start: int, stop: int, rows: slice, cols: slice) -> np.ndarray:
        dtype = np.dtype(self.dtype)
        nrows, ncols = self.frame_shape
        frame_bytes = nrows * ncols * dtype.itemsize
        shape = (stop - start, rows.stop - rows.start, cols.stop - cols.start)
        out = np.empty(shape, dtype.newbyteorder("="))  # frames in the machine's byte order
        row_bytes = ncols * dtype.itemsize
        count = (rows.stop - rows.start) * ncols
        check_stamp(self.path, self.stamp)
        try:
            fh = open(self.path, "rb")
        except FileNotFoundError:
            raise MissingFileError("the raw data file is gone", self.path) from None
        with fh:
            check_opened(fh, self.stamp, self.path)  # the file opened, not just its name
            for k in range(start, stop):
                fh.seek(self.skip + k * frame_bytes + rows.start * row_bytes)
                data = np.fromfile(fh, dtype=dtype, count=count)
                if data.size != count:
                    raise FileContentError(f"frame {k} is cut short (file truncated?)", self.path)
                out[k - start] = data.reshape(-1, ncols)[:, cols]
        return out

    def files(self) -> tuple[str, ...]:
        return (self.path,)


def open_raw_image(
    source: str | os.PathLike | io.TextIOBase, frames_per_chunk: int = 1
) -> ImageSeries:
    """Open a ``raw-image`` YAML (a path, or its text as ``io.StringIO``) lazily.

    Parameters
    ----------
    source
        The YAML file, or its text as ``io.StringIO(text)`` (a ``str`` is always a path).
    frames_per_chunk
        Frames per dask chunk (one by default, like image-files).
    """
    doc, folder = load_yaml(source)
    where = os.fspath(source) if folder is not None else None
    check_keys(doc, YAML_KEYS, where, "the raw-image YAML", required=YAML_KEYS)
    if not isinstance(doc["filename"], str):
        raise OptionError(f"filename must be text, not {doc['filename']!r}", where)
    skip = doc["skip"]
    if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
        raise OptionError(f"skip must be a whole number of bytes >= 0, not {skip!r}", where)
    frames_per_chunk = check_frames_per_chunk(frames_per_chunk, where)
    shape = _shape(doc["shape"], where)
    dtype = scalar_dtype(doc["scalar"], where)
    path = resolve_relative(doc["filename"], folder)
    if path.exists():
        check_regular_file(path)
    if not path.is_file():
        raise MissingFileError(
            f"the raw data file named in {where or 'the YAML'} does not exist", path
        )
    size = path.stat().st_size
    frame_bytes = shape[0] * shape[1] * dtype.itemsize
    nframes, rest = divmod(size - skip, frame_bytes)
    if size < skip or rest:
        raise FileContentError(
            f"size {size} is not skip={skip} plus whole frames of {frame_bytes} bytes "
            f"({shape[0]}x{shape[1]} {dtype}): check skip, shape and scalar",
            path,
        )
    if nframes == 0:
        raise FileContentError("the file holds no frame after the skipped bytes", path)
    reader = RawFrames(absolute(path), skip, shape, dtype.str, file_stamp(path))
    return series_from_reader(
        reader,
        nframes=int(nframes),
        frame_shape=shape,
        dtype=dtype.newbyteorder("="),
        frames_per_chunk=frames_per_chunk,
        format="raw-image",
        source=where or reader.path,
        files=(where, reader.path) if where is not None else (reader.path,),
    )


register(
    Format(
        name="raw-image",
        open=open_raw_image,
        extensions=(".yml", ".yaml"),
        guess_can_open=lambda p: {"filename", "scalar"} <= yaml_keys(p),
        accepts=lambda obj: (
            isinstance(obj, io.StringIO) and {"filename", "scalar"} <= yaml_keys(obj)
        ),
        description="a YAML describing a binary file of frames after a fixed header",
    )
)
