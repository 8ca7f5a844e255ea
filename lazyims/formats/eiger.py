"""The ``eiger`` format: DECTRIS master/data HDF5 files (NeXus), as the Eiger's file writer makes them.

Layout: ``NAME_master.h5`` holds the detector's description under
``/entry/instrument`` and, in ``/entry/data``, links ``data_000001``,
``data_000002``, ... to the data files ``NAME_data_000001.h5``, ... whose dataset
``/entry/data/data`` holds their frames (nframes, rows, cols), one HDF5 chunk per
frame, compressed with the bitshuffle/LZ4 filter (hdf5plugin's 32008; LZ4 alone,
32004, in older files).

Frames are read as raw chunks (``read_direct_chunk``: HDF5's lock is held only for
reading the bytes) and decoded afterwards with DECTRIS' decoder, the GIL released,
so frames decode in parallel, as the gzip fast path of :mod:`._h5chunks` does.
Datasets chunked or filtered otherwise are read through h5py (and hdf5plugin).

The detector's scalar settings (``count_time``, ``frame_time``, pixel sizes, beam
centre, ``incident_wavelength``, ...) are the metadata; the pixel mask, a full frame
of flags, is read on demand by :func:`pixel_mask`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .._files import absolute
from ..errors import FileContentError, MissingFileError
from ..series import ImageSeries
from ._eiger_codecs import decode_dense
from ._h5 import missing_filters, open_h5
from ._h5chunks import read_fast
from ._limits import check_declared_size, check_metadata_size
from ._registry import Format, register
from .base import FrameReader, check_frames_per_chunk, series_from_reader

DATA_GROUP = "/entry/data"
DETECTOR = "/entry/instrument/detector"
MASK = DETECTOR + "/detectorSpecific/pixel_mask"
_LINK_NAME = re.compile(r"data_\d{6}$")

_BITSHUFFLE = 32008
_LZ4 = 32004
#: bitshuffle filter's compression code (5th filter value) -> the decoder's name
_BITSHUFFLE_CODECS = {2: "bslz4", 3: "bszstd"}
#: Datasets larger than this many values stay out of the metadata (masks, flat fields).
_MAX_METADATA_VALUES = 4096


# -- reading frames ------------------------------------------------------------------
@dataclass(frozen=True)
class EigerFrames(FrameReader):
    """Reads frames of the data files of a master file.

    ``data_files[k]`` (its dataset ``datasets[k]``) holds ``counts[k]`` frames.
    """

    master: str
    data_files: tuple[str, ...]
    datasets: tuple[str, ...]
    counts: tuple[int, ...]
    dtype: str
    frame_shape: tuple[int, int]

    def read(self, start: int, stop: int, rows: slice, cols: slice) -> np.ndarray:
        pieces = []
        first = 0
        for path, dataset, count in zip(self.data_files, self.datasets, self.counts):
            lo, hi = max(start, first), min(stop, first + count)
            if lo < hi:
                pieces.append(self._read_file(path, dataset, lo - first, hi - first, rows, cols))
            first += count
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def _read_file(self, path, dataset, lo, hi, rows, cols) -> np.ndarray:
        with open_h5(path) as f:
            dset = f.get(dataset)
            if not isinstance(dset, h5py.Dataset):
                raise FileContentError(f"no dataset {dataset!r}", path)
            codec = raw_chunk_codec(dset)
            if codec is None:  # not one chunk per frame of a known filter: h5py decodes
                selection = (slice(lo, hi), rows, cols)
                try:
                    frames = read_fast(dset, selection)
                    return dset[selection] if frames is None else frames
                except (OSError, RuntimeError, ValueError) as exc:
                    raise FileContentError(
                        f"cannot read frames {lo}:{hi} of {dataset!r} ({exc})", path
                    ) from None
            chunks = [_raw_chunk(dset, i, path) for i in range(lo, hi)]
            elem_size = dset.dtype.itemsize
        # The file is closed; decode outside HDF5, in parallel with other tasks.
        frames = [
            decode_dense(
                raw, None if mask else codec, np.dtype(self.dtype), self.frame_shape,
                elem_size, path, f"frame {lo + k} of {dataset}",
            )[rows, cols]
            for k, (mask, raw) in enumerate(chunks)
        ]  # fmt: skip
        # One frame (the usual chunk) is returned as decoded: no copy of 36-72 MB
        # (read-only, as HEXRD's Eiger frames are).
        return frames[0][np.newaxis] if len(frames) == 1 else np.stack(frames)

    def files(self) -> tuple[str, ...]:
        return (self.master, *self.data_files)


def raw_chunk_codec(dset: h5py.Dataset) -> str | None:
    """The decoder of ``dset``'s raw chunks when it is chunked one frame per chunk with
    bitshuffle/LZ4, bitshuffle/zstd or LZ4 alone; else None (h5py must read it)."""
    if dset.ndim != 3 or dset.chunks != (1, *dset.shape[1:]) or dset.dtype.kind not in "iuf":
        return None
    plist = dset.id.get_create_plist()
    if plist.get_nfilters() != 1:
        return None
    code, _flags, values, _name = plist.get_filter(0)
    if code == _LZ4:
        return "lz4"
    if code == _BITSHUFFLE and len(values) > 4:
        return _BITSHUFFLE_CODECS.get(values[4])
    return None


def _raw_chunk(dset: h5py.Dataset, index: int, path: str) -> tuple[int, bytes]:
    try:
        return dset.id.read_direct_chunk((index, 0, 0))
    except (KeyError, OSError, RuntimeError, ValueError) as exc:
        raise FileContentError(
            f"frame {index} of {dset.name}: the chunk cannot be read ({exc})", path
        ) from None


# -- opening -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Part:
    file: str
    dataset: str
    nframes: int
    frame_shape: tuple[int, int]
    dtype: np.dtype


def _data_parts(f: h5py.File, master: str) -> list[_Part]:
    """The master's ``data_NNNNNN`` entries in order, each checked and described."""
    group = f.get(DATA_GROUP)
    if not isinstance(group, h5py.Group):
        raise FileContentError(f"no group {DATA_GROUP!r} (not a DECTRIS master file?)", master)
    names = sorted(n for n in group if _LINK_NAME.match(n))
    if not names:
        raise FileContentError(
            f"{DATA_GROUP!r} holds no data_000001, data_000002, ... entries", master
        )
    parts = []
    folder = Path(master).parent
    for name in names:
        link = group.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            target = Path(link.filename)
            target = target if target.is_absolute() else folder / target
            target_path = absolute(target)
            if not target.exists():
                raise MissingFileError(
                    f"no such file, linked from {Path(master).name} as {DATA_GROUP}/{name}",
                    target_path,
                )
            parts.append(_describe(target_path, link.path))
        else:
            parts.append(_describe(master, f"{DATA_GROUP}/{name}", f))
    return parts


def _describe(path: str, dataset: str, f: h5py.File | None = None) -> _Part:
    if f is None:
        with open_h5(path) as g:
            return _describe(path, dataset, g)
    dset = f.get(dataset)
    if not isinstance(dset, h5py.Dataset):
        raise FileContentError(f"no dataset {dataset!r} (a data file holds its frames there)", path)
    if dset.ndim != 3 or dset.dtype.kind not in "iuf":
        raise FileContentError(
            f"dataset {dataset!r} is {dset.ndim}-D {dset.dtype}; frames are 3-D numbers", path
        )
    missing = missing_filters(dset)
    if missing:
        raise FileContentError(
            f"dataset {dataset!r} needs compression filters that are not available: "
            f"{', '.join(missing)}",
            path,
        )
    return _Part(path, dset.name, dset.shape[0], tuple(dset.shape[1:]), dset.dtype)


def _detector_metadata(f: h5py.File, nframes: int) -> dict[str, Any]:
    """The detector's and beam's settings by their names (``count_time``, ``frame_time``,
    ...) and, from the goniometer, ``omega`` as HEXRD keeps it: (nframes, 2) [start, stop]."""
    found: dict[str, h5py.Dataset] = {}

    def visit(name: str, obj: Any) -> None:
        key = name.rsplit("/", 1)[-1]
        small = isinstance(obj, h5py.Dataset) and obj.ndim <= 1 and obj.size <= _MAX_METADATA_VALUES
        if small and key not in found:  # masks, flat fields and tables stay out
            found[key] = obj

    for group_path in (DETECTOR, "/entry/instrument/beam"):
        group = f.get(group_path)
        if isinstance(group, h5py.Group):
            group.visititems(visit)
    values = {k: v for k, v in ((k, _value(d)) for k, d in found.items()) if v is not None}
    omega = _omega(f.get("/entry/sample/goniometer"), nframes)
    if omega is not None:
        values["omega"] = omega
    return values


def _value(dset: h5py.Dataset) -> Any:
    check_metadata_size(dset.shape or (), dset.dtype.itemsize, dset.file.filename, dset.name)
    try:
        return read_metadata_value(dset[()])
    except (OSError, RuntimeError, ValueError, TypeError):
        return None  # a setting that cannot be read is not worth refusing the frames for


def _omega(goniometer: Any, nframes: int) -> np.ndarray | None:
    """[start, stop] per frame from the goniometer's ``omega`` and ``omega_end`` (or
    ``omega_range_average`` / ``omega_increment``), when they describe every frame."""
    if not isinstance(goniometer, h5py.Group):
        return None
    values = {
        k: np.asarray(_value(goniometer[k]), dtype=float)
        for k in ("omega", "omega_end", "omega_range_average", "omega_increment")
        if isinstance(goniometer.get(k), h5py.Dataset) and _value(goniometer[k]) is not None
    }
    start = values.get("omega")
    if start is None or start.shape != (nframes,):
        return None
    if values.get("omega_end", np.empty(0)).shape == (nframes,):
        stop = values["omega_end"]
    else:
        step = values.get("omega_range_average", values.get("omega_increment"))
        if step is None or step.ndim != 0:
            return None
        stop = start + step
    return np.stack([start, stop], axis=1)


def read_metadata_value(value: Any) -> Any:
    """Text as str, 0-d and one-element arrays as scalars."""
    if isinstance(value, np.ndarray) and value.size == 1 and value.ndim <= 1:
        value = value.reshape(-1)[0]
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.dtype.kind == "S":
        return np.char.decode(value, "utf-8", errors="replace")
    return value


def open_eiger(source: str | os.PathLike, frames_per_chunk: int = 1) -> ImageSeries:
    """Open a DECTRIS master file (``*_master.h5``) and its data files lazily.

    Parameters
    ----------
    source
        The master file; its data files are found through its links, relative to
        its folder.
    frames_per_chunk
        Frames per dask chunk (default 1: each frame decodes as its own task).
    """
    master = absolute(source)
    frames_per_chunk = check_frames_per_chunk(frames_per_chunk, master)
    with open_h5(master) as f:
        parts = _data_parts(f, master)
        metadata = _detector_metadata(f, sum(p.nframes for p in parts))
    first = parts[0]
    for part in parts[1:]:
        if part.frame_shape != first.frame_shape or part.dtype != first.dtype:
            raise FileContentError(
                f"{part.dataset} holds {part.frame_shape[0]}x{part.frame_shape[1]} {part.dtype} "
                f"frames, {Path(first.file).name} {first.frame_shape[0]}x{first.frame_shape[1]} "
                f"{first.dtype}",
                part.file,
            )
    nframes = sum(p.nframes for p in parts)
    if nframes == 0:
        raise FileContentError("the data files hold no frames", master)
    reader = EigerFrames(
        master=master,
        data_files=tuple(p.file for p in parts),
        datasets=tuple(p.dataset for p in parts),
        counts=tuple(p.nframes for p in parts),
        dtype=first.dtype.str,
        frame_shape=first.frame_shape,
    )
    return series_from_reader(
        reader,
        nframes=nframes,
        frame_shape=first.frame_shape,
        dtype=first.dtype,
        frames_per_chunk=frames_per_chunk,
        metadata=metadata,
        format="eiger",
        source=master,
        files=tuple(dict.fromkeys((master, *reader.data_files))),
    )


def pixel_mask(source: str | os.PathLike) -> np.ndarray | None:
    """The detector's pixel mask from a master file, or None when it has none.

    Non-zero pixels are flagged by the detector: 1 gap, 2 dead, 4 under-responding,
    8 noisy, ... (DECTRIS' bits). ``frames * (pixel_mask(master) == 0)`` zeroes them.

    Parameters
    ----------
    source
        The master file (``*_master.h5``).
    """
    master = absolute(source)
    with open_h5(master) as f:
        dset = f.get(MASK)
        if dset is None:
            return None
        if not isinstance(dset, h5py.Dataset) or dset.ndim != 2:
            raise FileContentError(f"{MASK!r} is not a 2-D dataset", master)
        check_declared_size(1, dset.shape, master)
        try:
            return dset[()]
        except (OSError, RuntimeError, ValueError) as exc:
            raise FileContentError(f"cannot read {MASK!r} ({exc})", master) from None


def is_master(path: str | os.PathLike) -> bool:
    """True when ``path`` is an HDF5 file with ``/entry/data/data_000001``-like entries."""
    try:
        if not h5py.is_hdf5(path):
            return False
        with h5py.File(path, "r", locking=False) as f:
            group = f.get(DATA_GROUP)
            return isinstance(group, h5py.Group) and any(_LINK_NAME.match(n) for n in group)
    except (OSError, ValueError, KeyError):
        return False


register(
    Format(
        name="eiger",
        open=open_eiger,
        extensions=(".h5", ".hdf5", ".nxs"),
        guess_can_open=is_master,
        refines=("hdf5",),
        description="DECTRIS Eiger master file (*_master.h5) linking its data files",
    )
)

__all__ = ["open_eiger", "pixel_mask"]
