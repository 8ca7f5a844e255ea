"""The ``frame-cache`` format: sparse frames, in HEXRD's npz, fch5 or yml style.

Reading gives a series whose dask chunks are ``sparse.COO`` blocks of a few frames,
each read straight from the file's members of those frames. Writing thresholds
the series chunk by chunk in the dask graph and appends the sparse frames to the
file in frame order (see :mod:`._common`).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..._files import absolute, check_regular_file, is_regular_file
from ..._yaml import check_unknown_triggers, yaml_keys
from ...errors import OptionError
from ...series import ImageSeries
from .._registry import Format, register
from .fch5 import is_fch5, open_fch5, write_fch5
from .npz import open_npz, write_npz
from .yml import open_yml, write_yml

STYLES = ("npz", "fch5", "yml")
_SUFFIX_STYLE = {".npz": "npz", ".fch5": "fch5", ".h5": "fch5", ".hdf5": "fch5",
                 ".yml": "yml", ".yaml": "yml"}  # fmt: skip


def _check_style(style: Any, fname: str) -> None:
    if style not in STYLES:
        raise OptionError(f"style must be one of {', '.join(STYLES)}, not {style!r}", fname)


def _style_of_file(fname: str) -> str:
    """The style of an existing frame-cache: by its content, or its name for npz."""
    if Path(fname).suffix.lower() == ".npz" or zipfile.is_zipfile(fname):
        return "npz"
    if h5py.is_hdf5(fname):
        return "fch5"
    return "yml"


def open_framecache(
    source: str | os.PathLike,
    style: str | None = None,
    path: str | None = None,
    frames_per_chunk: int | None = None,
    unknown_triggers: str = "error",
) -> ImageSeries:
    """Open a frame-cache lazily, with sparse chunks; reads headers and metadata only.

    Parameters
    ----------
    source
        The npz, fch5 (HDF5) or YAML file.
    style
        ``npz``, ``fch5`` or ``yml``; found from the file's content when not given.
    path
        fch5 only: the group holding the frame-cache inside a larger HDF5 file.
    frames_per_chunk
        Frames per dask chunk; by default chunks of about 8 MiB of stored pixels
        (sparse frames are small, so a chunk holds many), at most 256 MiB when dense.
    unknown_triggers
        yml only: a metadata value ``"! command ..."`` other than
        ``! load-numpy-array``: ``"error"`` (a MetadataError) or ``"drop"`` (the key
        is left out with a warning, as HEXRD does). npz and fch5 have no triggers.

    Returns
    -------
    ImageSeries
        A series with ``sparse.COO`` chunks (fill value 0); ``compute()`` gives
        dense numpy and ``.dense()`` dense chunks.
    """
    fname = absolute(source)  # workers may run in another folder
    check_regular_file(fname)
    check_unknown_triggers(unknown_triggers, fname)
    style = _style_of_file(fname) if style is None else style
    _check_style(style, fname)
    if path is not None and style != "fch5":
        raise OptionError(f"path= names a group of an fch5 frame-cache, not of a {style}", fname)
    if style == "npz":
        return open_npz(fname, frames_per_chunk)
    if style == "fch5":
        return open_fch5(fname, path, frames_per_chunk)
    return open_yml(fname, frames_per_chunk, unknown_triggers)


def write_framecache(
    series: ImageSeries,
    fname: str | os.PathLike,
    threshold: float,
    style: str | None = None,
    path: str | None = None,
    checksum: bool = True,
) -> None:
    """Write ``series`` as a frame-cache, keeping pixels strictly greater than ``threshold``.

    The thresholding runs chunk by chunk in the dask graph (on the workers of a
    distributed cluster); the sparse frames are written in frame order as chunks
    finish, so memory holds a few chunks, never the scan. Metadata is checked
    before anything is written and the file appears only when complete.

    Parameters
    ----------
    series
        What to write.
    fname
        The file to create.
    threshold
        Keep pixels ``> threshold`` (NaN pixels are never kept).
    style
        ``npz`` (one zip file, HEXRD's default), ``fch5`` (HDF5, Blosc zstd) or
        ``yml`` (a YAML, ``NAME_cache.npz`` and ``NAME-KEY.npy`` for array
        metadata). By default from the name: ``.fch5``/``.h5``/``.hdf5`` give fch5,
        ``.yml``/``.yaml`` give yml, anything else npz.
    path
        fch5 only: the group to write the frame-cache into.
    checksum
        fch5 only: a fletcher32 checksum on every HDF5 chunk, so damaged chunks are
        an error when read (npz and yml always carry the zip format's CRC-32).
    """
    fname = os.fspath(fname)
    if style is None:
        style = _SUFFIX_STYLE.get(Path(fname).suffix.lower(), "npz")
    _check_style(style, fname)
    if path is not None and style != "fch5":
        raise OptionError(f"path= names a group of an fch5 frame-cache, not of a {style}", fname)
    series = little_endian(series)
    if style == "npz":
        write_npz(series, fname, threshold)
    elif style == "fch5":
        write_fch5(series, fname, threshold, path, checksum)
    else:
        write_yml(series, fname, threshold)


def little_endian(series: ImageSeries) -> ImageSeries:
    """``series`` with its values in little-endian byte order (the same values).

    HEXRD reads frame-caches through ``scipy.sparse``, which refuses big-endian values,
    so big-endian frames are stored little-endian: files HEXRD reads.
    """
    dtype = np.dtype(series.dtype)
    little = dtype.newbyteorder("<")
    if little == dtype:
        return series
    return series._replace(data=series.to_dask(sparse=None).astype(little))


def _sniff(path: Path) -> bool:
    suffix = path.suffix.lower()
    if not is_regular_file(path):
        return False
    if suffix in (".npz", ".fch5"):
        return True  # only frame-caches use these names; a damaged one gets a clear error
    if suffix in (".yml", ".yaml"):
        return "data" in yaml_keys(path)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                return "nframes.npy" in zf.namelist()
        except (zipfile.BadZipFile, OSError):
            return False
    return is_fch5(path)


register(
    Format(
        name="frame-cache",
        open=open_framecache,
        write=write_framecache,
        extensions=tuple(_SUFFIX_STYLE),
        guess_can_open=_sniff,
        refines=("hdf5",),  # an fch5 frame-cache named .h5 is an HDF5 file too
        write_extensions=(".npz", ".fch5", ".yml", ".yaml"),
        description="sparse thresholded frames: HEXRD's npz, fch5 (HDF5) and yml styles",
    )
)

__all__ = ["open_framecache", "write_framecache"]
