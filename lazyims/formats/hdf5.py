"""The ``hdf5`` format: frames in one HDF5 dataset, metadata in its group's attributes.

Layout (HEXRD's): group ``path`` holds dataset ``dataname`` (default ``images``) of
shape (nframes, rows, cols), chunked (1, chunk_rows, cols); the group's attributes
are the metadata, text stored as bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from .._checks import check_not_empty
from .._files import absolute, atomic_output, check_opened, check_stamp, file_stamp, is_regular_file
from .._streaming import stream_blocks
from ..errors import FileContentError, MetadataError, OptionError
from ..series import ImageSeries, todense
from ._h5 import (
    check_written_chunks,
    create_h5,
    missing_filters,
    note_written_chunks,
    open_h5,
)
from ._h5chunks import read_fast
from ._h5links import dataset_path, explain_missing_link, linked_files, virtual_sources
from ._registry import Format, register
from .base import FrameReader, frames_per_chunk_for, series_from_reader


@dataclass(frozen=True)
class HDF5Frames(FrameReader):
    """Reads frames of dataset ``dataset`` in HDF5 file ``path``."""

    path: str
    dataset: str
    two_d: bool = False
    #: (inode, size, mtime) of the file and (shape, dtype) of the dataset at open
    stamp: tuple = ()
    layout: tuple = ()
    #: other files the dataset reads (external link target, virtual dataset sources)
    linked: tuple = ()

    def read(self, start: int, stop: int, rows: slice, cols: slice) -> np.ndarray:
        # The file is opened per read (per dask chunk): that costs ~0.1 ms, against
        # tens of ms to decode a frame, so no cache of open files is kept.
        check_stamp(self.path, self.stamp)
        with open_h5(self.path) as f:
            check_opened(f, self.stamp, self.path)  # the file opened, not just its name
            try:
                dset = f.get(self.dataset)
            except KeyError:
                dset = None
            if not isinstance(dset, h5py.Dataset):
                explain_missing_link(f, self.dataset, self.path)
            if isinstance(dset, h5py.Dataset) and dset.is_virtual:
                virtual_sources(dset)  # a source gone since open: an error, not fill values
            if not isinstance(dset, h5py.Dataset) or (
                self.layout and (dset.shape, dset.dtype.str) != self.layout
            ):
                raise FileContentError(
                    f"dataset {self.dataset!r} changed since the series was opened", self.path
                )
            selection = (rows, cols) if self.two_d else (slice(start, stop), rows, cols)
            try:
                # gzip/shuffle chunks decode outside HDF5's lock, in parallel; else h5py reads.
                frames = read_fast(dset, selection)
                if frames is None:
                    frames = dset[selection]
                return frames[np.newaxis] if self.two_d else frames
            except (OSError, RuntimeError) as exc:
                raise FileContentError(
                    f"cannot read frames {start}:{stop} of {self.dataset!r} ({exc})", self.path
                ) from None

    def files(self) -> tuple[str, ...]:
        return (self.path, *(p for p in self.linked if p != self.path))


def _find_group(f: h5py.File, dataname: str) -> str:
    """The one group holding a dataset ``dataname``, when the user named none.

    Links are visited, so a dataset reached through an external link is found; one
    dataset reached by several links (hard or soft) counts once.
    """
    found: list[str] = []
    datasets: set[Any] = set()

    def visit(name: str, link: Any) -> None:
        if name.rsplit("/", 1)[-1] != dataname:
            return
        try:
            obj = f.get(name)  # follows soft and external links
        except KeyError:
            obj = None
        if obj is None:
            broken.append(name)  # raising inside visititems_links upsets h5py
        if isinstance(obj, h5py.Dataset) and obj.id not in datasets:
            datasets.add(obj.id)
            found.append(name.rpartition("/")[0] or "/")

    broken: list[str] = []
    f.visititems_links(visit)
    if len(found) == 1:
        return found[0]
    for name in broken:
        explain_missing_link(f, name, f.filename)
    if not found:
        raise FileContentError(f"no dataset named {dataname!r} in any group", f.filename)
    raise FileContentError(
        f"several groups hold a dataset {dataname!r} ({', '.join(found)}); choose one with path=",
        f.filename,
    )


def open_hdf5(
    source: str | os.PathLike,
    path: str | None = None,
    dataname: str = "images",
    frames_per_chunk: int | None = None,
) -> ImageSeries:
    """Open an HDF5 image series lazily.

    Parameters
    ----------
    source
        The HDF5 file.
    path
        The group holding the frames (HEXRD's ``path``); found automatically when
        only one group holds a dataset ``dataname``.
    dataname
        The dataset's name inside the group.
    frames_per_chunk
        Frames per dask chunk; by default a whole number of the file's chunk frames
        making chunks of about 32 MiB.
    """
    fname = absolute(source)  # workers may run in another folder
    stamp = file_stamp(fname) if os.path.isfile(fname) else ()
    with open_h5(fname) as f:
        group_path = path if path is not None else _find_group(f, dataname)
        try:
            group = f.get(group_path)
            dset = group.get(dataname) if isinstance(group, h5py.Group) else None
        except KeyError:
            group = dset = None
        if not isinstance(dset, h5py.Dataset):
            explain_missing_link(f, dataset_path(group_path, dataname), fname)
        if not isinstance(group, h5py.Group):
            raise FileContentError(f"no group {group_path!r} in the file", fname)
        if not isinstance(dset, h5py.Dataset):
            raise FileContentError(f"no dataset {dataname!r} in group {group_path!r}", fname)
        linked = linked_files(dset)  # a missing external or virtual source is an error
        if dset.ndim not in (2, 3):
            raise FileContentError(
                f"dataset {dset.name!r} is {dset.ndim}-D; frames must be 3-D (or 2-D for one frame)",
                fname,
            )
        if dset.dtype.kind not in "biuf":
            raise FileContentError(
                f"dataset {dset.name!r} holds {dset.dtype} values (text or records?), "
                "not pixel numbers",
                fname,
            )
        missing = missing_filters(dset)
        if missing:
            raise FileContentError(
                f"dataset {dset.name!r} needs compression filters that are not available: "
                f"{', '.join(missing)}",
                fname,
            )
        check_written_chunks(dset, fname)
        two_d = dset.ndim == 2
        nframes = 1 if two_d else dset.shape[0]
        frame_shape = tuple(dset.shape[-2:])
        chunk_frames = dset.chunks[0] if (dset.chunks and not two_d) else 1
        dtype = dset.dtype
        metadata = dict(group.attrs)
        dataset_name = dataset_path(group_path, dataname)  # as named in this file
        layout = (dset.shape, dset.dtype.str)
    if nframes == 0:
        raise FileContentError(f"dataset {dataset_name!r} has no frames", fname)
    if frames_per_chunk is None:
        frames_per_chunk = frames_per_chunk_for(frame_shape, dtype, chunk_frames)
    return series_from_reader(
        HDF5Frames(fname, dataset_name, two_d, stamp, layout, linked),
        nframes=nframes,
        frame_shape=frame_shape,
        dtype=dtype,
        frames_per_chunk=frames_per_chunk,
        metadata=metadata,
        format="hdf5",
        source=f"{fname}:{dataset_name}",
    )


def attribute_value(key: str, value: Any, path: Any = None) -> Any:
    """``value`` as HDF5 can store it as an attribute; text becomes bytes (HEXRD's way).

    ``path`` is the file being written, named in the error.
    """
    if "\0" in key:  # HDF5 would silently cut the name at the NUL
        raise MetadataError(f"metadata name {key!r} has a NUL, which HDF5 names cannot hold", path)
    if isinstance(value, str):
        return np.bytes_(value.encode("utf-8"))
    if value is None or isinstance(value, dict):
        raise MetadataError(
            f"metadata {key!r} = {value!r} cannot be stored as an HDF5 attribute", path
        )
    array = np.asarray(value)
    if array.dtype.kind == "U":
        return np.char.encode(array, "utf-8")
    if array.dtype.kind not in "biufcS":
        raise MetadataError(
            f"metadata {key!r} of type {type(value).__name__} cannot be stored as an HDF5 attribute",
            path,
        )
    return value


def write_hdf5(
    series: ImageSeries,
    fname: str | os.PathLike,
    *,
    path: str = "imageseries",
    dataname: str = "images",
    shuffle: bool = True,
    gzip: int = 1,
    chunk_rows: int = 0,
    compression: Any = None,
    checksum: bool = True,
) -> None:
    """Write ``series`` to a new HDF5 file in HEXRD's layout, chunk by chunk.

    Parameters
    ----------
    series
        The series to write.
    fname
        The file to create (an existing file is replaced only once the new one is whole).
    path
        The group to put the dataset in.
    dataname
        The dataset's name.
    shuffle
        Apply the shuffle filter (kept even when ``gzip`` is 0, as HEXRD does).
    gzip
        gzip level 0 (off) to 9.
    chunk_rows
        Rows per HDF5 chunk; 0, negative or more than the rows mean whole frames.
    compression
        An h5py filter mapping (such as ``hdf5plugin.Blosc(cname="zstd")``) used
        instead of gzip and shuffle.
    checksum
        Make every chunk carry a checksum, so damaged chunks are an error when read:
        gzip chunks carry zlib's own (adler32); otherwise (``gzip=0``, other
        ``compression``) HDF5's fletcher32 filter is added.
    """
    layout = dataset_layout(series, fname, shuffle, gzip, chunk_rows, compression, checksum)
    attrs = {k: attribute_value(k, v, fname) for k, v in series.metadata.items()}
    with atomic_output(fname, series.files) as tmp, create_h5(tmp) as (f, guard):
        write_dataset(series, f.require_group(path), dataname, layout, attrs, guard.check)


def dataset_layout(
    series: ImageSeries,
    where: Any,
    shuffle: bool = True,
    gzip: int = 1,
    chunk_rows: int = 0,
    compression: Any = None,
    checksum: bool = True,
) -> dict[str, Any]:
    """The ``create_dataset`` keywords (chunks and filters) of :func:`write_hdf5`'s options,
    checked; ``where`` (the file) is named in the errors."""
    check_not_empty(series, where)
    if not isinstance(gzip, (int, np.integer)) or isinstance(gzip, bool) or not 0 <= gzip <= 9:
        raise OptionError(f"gzip must be an integer from 0 to 9, not {gzip!r}", where)
    if not isinstance(chunk_rows, (int, np.integer)):
        raise OptionError(f"chunk_rows must be an integer, not {chunk_rows!r}", where)
    rows, cols = series.frame_shape
    if chunk_rows < 1 or chunk_rows > rows:
        chunk_rows = rows
    if compression is not None:
        layout = dict(compression)
    else:
        layout = {"shuffle": bool(shuffle)}
        if gzip > 0:
            layout.update(compression="gzip", compression_opts=int(gzip))
    if checksum and layout.get("compression") != "gzip":
        layout["fletcher32"] = True
    layout["chunks"] = (1, int(chunk_rows), cols)
    return layout


def write_dataset(
    series: ImageSeries,
    group: h5py.Group,
    dataname: str,
    layout: dict[str, Any],
    attrs: dict[str, Any],
    check: Any = None,
) -> None:
    """Create dataset ``dataname`` in ``group`` and fill it block by block, in frame order;
    ``attrs`` go to the group. ``check()``, when given, runs before each block (to stop
    at the first failed write)."""
    dset = group.create_dataset(dataname, shape=series.shape, dtype=series.dtype, **layout)
    for key, value in attrs.items():
        group.attrs[key] = value

    def write_block(start: int, block: Any) -> None:
        if check is not None:
            check()
        dset[start : start + block.shape[0]] = todense(block)

    stream_blocks(series.to_dask(sparse=None), write_block)
    note_written_chunks(dset)


register(
    Format(
        name="hdf5",
        open=open_hdf5,
        write=write_hdf5,
        extensions=(".h5", ".hdf5", ".hdf", ".nxs"),
        guess_can_open=lambda p: is_regular_file(p) and h5py.is_hdf5(p),
        write_extensions=(".h5", ".hdf5"),
        description="frames in one HDF5 dataset, metadata in the group's attributes (HEXRD's)",
    )
)
