"""The ``eiger-stream-v1`` and ``eiger-stream-v2`` formats: Eiger frames saved from the stream.

Layout (HEXRD's): an HDF5 file with a group ``/data`` holding one group per frame,
named ``0``, ``1``, ... Each frame's blob group holds the datasets
``compression_type`` (``bslz4``, ``lz4``, ``csrnpz`` or none), ``data`` (the blob,
opaque bytes), ``dtype`` (numpy's type string such as ``<u4``), ``shape`` (rows,
cols) and ``elem_size`` (bytes per pixel). In v1 the frame group is the blob group;
in v2 it holds two, ``threshold_1`` and ``threshold_2`` (the detector's two energy
thresholds). The group ``/metadata`` holds the metadata (nested groups are dicts).

v2's ``threshold_setting`` chooses what a frame is: ``threshold_1``,
``threshold_2``, or ``man_diff`` = ``threshold_1 - multiplier * threshold_2`` in
float64, as in HEXRD.

Each frame is one dask chunk. A chunk's blobs are read with the file's lock held
only for those small reads; decompressing runs afterwards, outside HDF5 and with
the GIL released, so frames decode in parallel. ``csrnpz`` frames give a series of
sparse chunks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from .._files import absolute
from ..errors import FileContentError, OptionError
from ..series import ImageSeries
from ._eiger_codecs import compression_name, decode_csrnpz, decode_dense
from ._h5 import open_h5
from ._limits import MAX_FRAME_BYTES, MAX_METADATA_BYTES, check_metadata_size
from ._registry import Format, register
from .base import FrameReader, check_frames_per_chunk, series_from_reader
from .framecache._common import frames_to_coo

THRESHOLD_SETTINGS = ("threshold_1", "threshold_2", "man_diff")


# -- one blob group ------------------------------------------------------------------
@dataclass(frozen=True)
class Blob:
    """One stored frame (one threshold of it in v2): its compressed bytes and description."""

    compression: str | None
    dtype: np.dtype
    shape: tuple[int, int]
    elem_size: int
    data: bytes


def _field(group: h5py.Group, name: str, path: str, where: str) -> Any:
    obj = group.get(name)
    if not isinstance(obj, h5py.Dataset):
        raise FileContentError(f"{where} has no dataset {name!r}", path)
    limit = MAX_FRAME_BYTES if name == "data" else MAX_METADATA_BYTES
    check_metadata_size(obj.shape or (), obj.dtype.itemsize, path, f"{where}: {name!r}", limit)
    try:
        return obj[()]
    except (OSError, RuntimeError, ValueError, TypeError) as exc:
        raise FileContentError(f"{where}: cannot read {name!r} ({exc})", path) from None


def _text(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", errors="replace")
    return value


def read_description(group: h5py.Group, path: str, where: str) -> Blob:
    """A blob group's compression, dtype, shape and elem_size, without its data."""
    return _describe(group, path, where, with_data=False)


def read_blob(group: h5py.Group, path: str, where: str) -> Blob:
    """A blob group, its compressed bytes included."""
    return _describe(group, path, where, with_data=True)


def _describe(group: h5py.Group, path: str, where: str, with_data: bool) -> Blob:
    if "compression_type" in group:
        compression = compression_name(_field(group, "compression_type", path, where), path, where)
    else:
        raise FileContentError(f"{where} has no dataset 'compression_type'", path)
    try:
        dtype = np.dtype(_text(_field(group, "dtype", path, where)))
    except TypeError:
        raise FileContentError(f"{where}: 'dtype' does not name a numpy dtype", path) from None
    if dtype.kind not in "biuf" or dtype.hasobject:
        raise FileContentError(f"{where}: frames of dtype {dtype} are not images", path)
    shape = np.asarray(_field(group, "shape", path, where))
    if shape.shape != (2,) or shape.dtype.kind not in "iu" or (shape < 1).any():
        raise FileContentError(f"{where}: 'shape' must be two positive integers, not {shape}", path)
    if "elem_size" in group:
        elem_size = np.asarray(_field(group, "elem_size", path, where)).reshape(-1)
        if elem_size.shape != (1,) or elem_size.dtype.kind not in "iu" or elem_size[0] < 1:
            raise FileContentError(f"{where}: 'elem_size' must be a positive integer", path)
        elem_size = int(elem_size[0])
    else:
        elem_size = dtype.itemsize
    data = b""
    if with_data:
        value = _field(group, "data", path, where)
        data = value.tobytes() if isinstance(value, (np.void, np.ndarray)) else bytes(value)
    return Blob(compression, dtype, (int(shape[0]), int(shape[1])), elem_size, data)


# -- reading frames ------------------------------------------------------------------
@dataclass(frozen=True)
class StreamFrames(FrameReader):
    """Reads frames of an Eiger stream file.

    ``groups`` names the blob groups of a frame that are read: ``("",)`` for v1 (the
    frame group itself), one threshold, or both for ``man_diff``, whose frame is
    ``first - multiplier * second``.
    """

    path: str
    groups: tuple[str, ...]
    dtype: str
    frame_shape: tuple[int, int]
    sparse: bool = False
    multiplier: float = 1.0

    def read(self, start: int, stop: int, rows: slice, cols: slice) -> Any:
        # Read every blob first (HDF5's lock is held only for these small reads),
        # then close the file and decode.
        with open_h5(self.path) as f:
            data = _data_group(f, self.path)
            blobs = [[self._blob(data, i, g) for g in self.groups] for i in range(start, stop)]
        if self.sparse:
            return self._sparse_block(blobs, start, rows, cols)
        frames = [
            self._frame(frame_blobs, start + k)[rows, cols] for k, frame_blobs in enumerate(blobs)
        ]
        # One frame (the usual chunk) is returned as decoded: no copy of 36-72 MB
        # (read-only, as HEXRD's Eiger frames are).
        return frames[0][np.newaxis] if len(frames) == 1 else np.stack(frames)

    def _frame(self, blobs: list[Blob], index: int) -> np.ndarray:
        frames = [self._dense(b, index) for b in blobs]
        if len(frames) == 2:  # man_diff, exactly as HEXRD computes it
            return frames[0] - self.multiplier * frames[1]
        if frames[0].dtype != np.dtype(self.dtype):
            raise FileContentError(
                f"frame {index} is {frames[0].dtype}, frame 0 is {np.dtype(self.dtype)}", self.path
            )
        return frames[0]

    def _blob(self, data: h5py.Group, index: int, group: str) -> Blob:
        name = f"{index}/{group}" if group else str(index)
        where = f"frame {index}" + (f" ({group})" if group else "")
        obj = data.get(name)
        if not isinstance(obj, h5py.Group):
            raise FileContentError(f"{where}: no group /data/{name}", self.path)
        blob = read_blob(obj, self.path, where)
        if blob.shape != tuple(self.frame_shape):
            raise FileContentError(
                f"{where} is {blob.shape[0]}x{blob.shape[1]}, "
                f"frame 0 is {self.frame_shape[0]}x{self.frame_shape[1]}",
                self.path,
            )
        return blob

    def _dense(self, blob: Blob, index: int) -> np.ndarray:
        where = f"frame {index}"
        if blob.compression == "csrnpz":
            row, col, value = decode_csrnpz(blob.data, blob.shape, self.path, where)
            frame = np.zeros(blob.shape, blob.dtype)
            frame[row, col] = value
            return frame
        return decode_dense(
            blob.data, blob.compression, blob.dtype, blob.shape, blob.elem_size, self.path, where
        )

    def _triplet(self, blob: Blob, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if blob.compression == "csrnpz":
            return decode_csrnpz(blob.data, blob.shape, self.path, f"frame {index}")
        frame = self._dense(blob, index)
        row, col = np.nonzero(frame)
        return row, col, frame[row, col]

    def _sparse_block(self, blobs: list[list[Blob]], start: int, rows: slice, cols: slice):
        per_group = []
        for g in range(len(self.groups)):
            triplets = [self._triplet(frame[g], start + k) for k, frame in enumerate(blobs)]
            dtype = np.result_type(*(b[g].dtype for b in blobs))
            per_group.append(
                frames_to_coo(triplets, self.frame_shape, dtype, rows, cols, self.path, start)
            )
        if len(per_group) == 2:
            return (per_group[0] - self.multiplier * per_group[1]).astype(self.dtype)
        return per_group[0].astype(self.dtype, copy=False)

    def files(self) -> tuple[str, ...]:
        return (self.path,)


# -- opening -------------------------------------------------------------------------
def _data_group(f: h5py.File, path: str) -> h5py.Group:
    data = f.get("data")
    if not isinstance(data, h5py.Group):
        raise FileContentError(
            "no group '/data' (an Eiger stream file keeps its frames there)", path
        )
    return data


def _frame_count(data: h5py.Group, path: str) -> int:
    """The number of frames: /data must hold groups named 0 .. n-1."""
    names = list(data.keys())
    if not names:
        raise FileContentError("'/data' holds no frames", path)
    try:
        numbers = sorted(int(name) for name in names)
    except ValueError:
        odd = next(n for n in names if not n.isdigit())
        raise FileContentError(
            f"'/data' holds {odd!r}; frames are groups named 0, 1, 2, ...", path
        ) from None
    if numbers != list(range(len(numbers))):
        missing = sorted(set(range(len(numbers))) - set(numbers))[:5]
        raise FileContentError(
            f"'/data' holds {len(numbers)} frames but not frame(s) {missing}", path
        )
    return len(numbers)


def read_metadata(group: h5py.Group, path: str) -> dict[str, Any]:
    """``/metadata`` as a dict, as HEXRD unwraps it: nested groups are dicts, text is str,
    one-element 1-D arrays are scalars."""
    out: dict[str, Any] = {}
    for key, obj in group.items():
        if isinstance(obj, h5py.Group):
            out[key] = read_metadata(obj, path)
            continue
        if not isinstance(obj, h5py.Dataset):
            continue
        check_metadata_size(obj.shape or (), obj.dtype.itemsize, path, f"metadata {obj.name!r}")
        try:
            value = obj[()]
        except (OSError, RuntimeError, ValueError, TypeError) as exc:
            raise FileContentError(f"cannot read metadata {obj.name!r} ({exc})", path) from None
        value = _text(value)
        if isinstance(value, np.ndarray):
            if value.dtype.kind == "S":
                value = np.char.decode(value, "utf-8", errors="replace")
            elif value.dtype.kind == "O":
                value = np.array([_text(v) for v in value.reshape(-1)]).reshape(value.shape)
            if value.ndim == 1 and len(value) == 1:
                value = _text(value[0])
        out[key] = value
    return out


def _open_stream(
    source: str | os.PathLike,
    version: int,
    groups: tuple[str, ...],
    multiplier: float,
    frames_per_chunk: int,
) -> ImageSeries:
    fname = absolute(source)
    frames_per_chunk = check_frames_per_chunk(frames_per_chunk, fname)
    with open_h5(fname) as f:
        data = _data_group(f, fname)
        nframes = _frame_count(data, fname)
        first = []
        for g in groups:
            where = "frame 0" + (f" ({g})" if g else "")
            obj = data.get(f"0/{g}" if g else "0")
            if not isinstance(obj, h5py.Group):
                v1_layout = g and "compression_type" in data.get("0", {})
                raise FileContentError(
                    f"{where}: no group /data/0{'/' + g if g else ''}"
                    + (" (this is an eiger-stream-v1 file)" if v1_layout else ""),
                    fname,
                )
            first.append(read_description(obj, fname, where))
        meta = f.get("metadata")
        metadata = read_metadata(meta, fname) if isinstance(meta, h5py.Group) else {}
    frame_shape = first[0].shape
    if any(b.shape != frame_shape for b in first):
        raise FileContentError("frame 0's threshold_1 and threshold_2 differ in shape", fname)
    dtype = np.dtype(np.float64) if len(groups) == 2 else first[0].dtype
    sparse = all(b.compression == "csrnpz" for b in first)
    reader = StreamFrames(
        path=fname,
        groups=groups,
        dtype=dtype.str,
        frame_shape=frame_shape,
        sparse=sparse,
        multiplier=float(multiplier),
    )
    return series_from_reader(
        reader,
        nframes=nframes,
        frame_shape=frame_shape,
        dtype=dtype,
        frames_per_chunk=frames_per_chunk,
        metadata=metadata,
        format=f"eiger-stream-v{version}",
        sparse=sparse,
    )


def open_eiger_stream_v1(source: str | os.PathLike, frames_per_chunk: int = 1) -> ImageSeries:
    """Open an Eiger stream v1 file lazily: one compressed blob per frame.

    Parameters
    ----------
    source
        The HDF5 file (frames in ``/data/0``, ``/data/1``, ...).
    frames_per_chunk
        Frames per dask chunk (default 1: each frame decodes as its own task).
    """
    return _open_stream(source, 1, ("",), 1.0, frames_per_chunk)


def open_eiger_stream_v2(
    source: str | os.PathLike,
    threshold_setting: str = "threshold_1",
    multiplier: float = 1,
    frames_per_chunk: int = 1,
) -> ImageSeries:
    """Open an Eiger stream v2 file lazily: two thresholds per frame.

    Parameters
    ----------
    source
        The HDF5 file (frames in ``/data/0/threshold_1``, ``/data/0/threshold_2``, ...).
    threshold_setting
        ``threshold_1``, ``threshold_2`` or ``man_diff``
        (``threshold_1 - multiplier * threshold_2``, float64).
    multiplier
        The multiplier of ``man_diff`` (converted to float, as HEXRD does).
    frames_per_chunk
        Frames per dask chunk (default 1).
    """
    fname = os.fspath(source)
    if threshold_setting not in THRESHOLD_SETTINGS:
        raise OptionError(
            f"threshold_setting must be one of {', '.join(THRESHOLD_SETTINGS)}, "
            f"not {threshold_setting!r}",
            fname,
        )
    try:
        multiplier = float(multiplier)
    except (TypeError, ValueError):
        raise OptionError(f"multiplier must be a number, not {multiplier!r}", fname) from None
    groups = (
        ("threshold_1", "threshold_2") if threshold_setting == "man_diff" else (threshold_setting,)
    )
    return _open_stream(source, 2, groups, multiplier, frames_per_chunk)


# -- telling the formats apart ---------------------------------------------------------
def stream_version(path: str | os.PathLike) -> int | None:
    """1 or 2 when ``path`` is an Eiger stream file of that version, else None."""
    try:
        if not h5py.is_hdf5(path):
            return None
        with h5py.File(path, "r", locking=False) as f:
            first = f.get("data/0")
            if not isinstance(first, h5py.Group):
                return None
            if "threshold_1" in first or "threshold_2" in first:
                return 2
            if "data" in first and "compression_type" in first:
                return 1
    except (OSError, ValueError, KeyError):
        return None
    return None


_H5 = (".h5", ".hdf5", ".hdf", ".nxs")

for _version, _open in ((1, open_eiger_stream_v1), (2, open_eiger_stream_v2)):
    register(
        Format(
            name=f"eiger-stream-v{_version}",
            open=_open,
            extensions=_H5,
            guess_can_open=lambda p, v=_version: stream_version(p) == v,
            refines=("hdf5",),
            description=f"an Eiger stream v{_version} HDF5 file (one compressed blob per frame)",
        )
    )
del _version, _open
