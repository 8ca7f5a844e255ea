"""The ``zarr`` format: frames in a zarr v3 store that xarray reads as a dataset.

Layout (lazyims' own; HEXRD has no zarr format), the one ``xarray.open_zarr`` reads
back as a Dataset: a store (a folder ``scan.zarr``) whose root is a group holding

- ``frames``: the array of shape (nframes, rows, cols), dimension names ``frame``,
  ``row``, ``col``, chunked ``(1, rows, cols)`` by default (the data variable);
- ``frame`` (0, 1, ...) and, when the series has omega, ``omega_start``,
  ``omega_stop`` and ``omega_middle`` (degrees), 1-D along ``frame`` (coordinates,
  named in the ``coordinates`` attribute of ``frames``);
- the other metadata as the group's attributes, as JSON: numpy arrays are stored
  as lists and their dtypes noted under the reserved attribute ``lazyims``, so
  they come back as numpy arrays of the same dtype.

Reading also takes the first layout lazyims wrote (a root array of frames with the
metadata, omega included, as its attributes), stores xarray wrote (a group with one
2-D or 3-D data variable and its coordinates) and any other zarr array of frames.

Writing is parallel and safe on dask.distributed: the array is created first,
then every dask block, aligned to whole zarr chunks (or shards), is written by
the worker that computed it, which opens the store by its path. No two blocks
share a zarr chunk, so no two workers write the same object.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
import numpy as np

from .. import _progress
from .._checks import check_not_empty
from .._files import absolute, atomic_folder, check_stamp, file_stamp
from .._streaming import stream_blocks
from ..errors import FileContentError, MetadataError, OptionError
from ..series import ImageSeries, todense
from ._registry import Format, register
from .base import FrameReader, frames_per_chunk_for, series_from_reader

#: The attribute where lazyims notes which metadata were numpy arrays.
RESERVED_KEY = "lazyims"
DIMENSION_NAMES = ("frame", "row", "col")


# -- metadata <-> JSON attributes ---------------------------------------------
def metadata_to_attributes(metadata: Mapping[str, Any], where: Any = None) -> dict[str, Any]:
    """The metadata as JSON-able zarr attributes (numpy arrays as lists, dtypes noted).

    ``where`` (the store being written) is named in the errors.
    """
    attrs: dict[str, Any] = {}
    arrays: dict[str, str] = {}
    scalars: dict[str, str] = {}
    for key, value in metadata.items():
        if key == RESERVED_KEY:
            raise MetadataError(
                f"metadata may not be called {RESERVED_KEY!r} in a zarr store", where
            )
        if isinstance(value, (np.ndarray, np.generic)):
            array = np.asarray(value)
            if array.dtype.kind == "S":
                array = np.char.decode(array, "utf-8")
            if array.dtype.kind not in "biufU":
                raise MetadataError(
                    f"metadata {key!r} of dtype {array.dtype} cannot be stored as a zarr attribute",
                    where,
                )
            (scalars if isinstance(value, np.generic) else arrays)[key] = array.dtype.str
            value = array.tolist()
        elif isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise MetadataError(
                f"metadata {key!r} of type {type(value).__name__} cannot be stored as JSON", where
            ) from None
        attrs[key] = value
    attrs[RESERVED_KEY] = {"version": 1, "arrays": arrays, "scalars": scalars}
    return attrs


def attributes_to_metadata(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata from zarr attributes, numpy arrays restored where lazyims noted them."""
    metadata = {k: v for k, v in attrs.items() if k != RESERVED_KEY}
    notes = attrs.get(RESERVED_KEY)
    if not isinstance(notes, Mapping):
        return metadata
    for kind in ("arrays", "scalars"):
        for key, dtype in dict(notes.get(kind) or {}).items():
            if key in metadata:
                value = np.asarray(metadata[key], dtype=dtype)
                metadata[key] = value[()] if kind == "scalars" else value
    return metadata


# -- reading --------------------------------------------------------------------
@dataclass(frozen=True)
class ZarrFrames(FrameReader):
    """Reads frames of the array at ``array_path`` in the zarr store ``store``.

    ``store`` is a folder path, or a picklable zarr store object.
    """

    store: Any
    array_path: str = ""
    two_d: bool = False
    #: (inode, size, mtime) of the array's metadata file, (shape, dtype) at open
    stamp: tuple = ()
    layout: tuple = ()
    #: The store records that every chunk was written (lazyims wrote it): a chunk
    #: missing is then an error, not zarr's fill value.
    complete: bool = False

    def read(self, start: int, stop: int, rows: slice, cols: slice) -> np.ndarray:
        import zarr

        if self.stamp:
            check_stamp(_metadata_file(self.store, self.array_path), self.stamp)
        try:
            array = zarr.open_array(self.store, path=self.array_path, mode="r")
        except Exception as exc:  # noqa: BLE001 - zarr raises many types
            raise FileContentError(
                f"the zarr array is gone or damaged ({type(exc).__name__}: {exc})", self._name()
            ) from None
        if self.layout and (tuple(array.shape), np.dtype(array.dtype).str) != self.layout:
            raise FileContentError(
                "the zarr array changed shape or dtype since the series was opened", self._name()
            )
        if self.complete and not self.two_d:
            check_chunks_present(array, (slice(start, stop), rows, cols), self._name())
        try:
            frames = array[rows, cols][np.newaxis] if self.two_d else array[start:stop, rows, cols]
        except Exception as exc:  # noqa: BLE001 - zarr and codecs raise many types
            raise FileContentError(
                f"cannot read frames {start}:{stop} ({type(exc).__name__}: {exc})", self._name()
            ) from None
        if self.stamp:  # zarr opens by name: a store swapped in meanwhile is caught here
            check_stamp(_metadata_file(self.store, self.array_path), self.stamp)
        return frames

    def files(self) -> tuple[str, ...]:
        return (self.store,) if isinstance(self.store, str) else ()

    def _name(self) -> str:
        return self.store if isinstance(self.store, str) else repr(self.store)


#: The frames' array in the group a store's root is (lazyims' layout).
FRAMES = "frames"
#: xarray's attributes of a variable, which are not metadata.
_XARRAY_KEYS = ("coordinates", "_FillValue", "_ARRAY_DIMENSIONS")


def _metadata_file(store: str, array_path: str) -> str:
    """The file holding the array's metadata (zarr v3 ``zarr.json``, v2 ``.zarray``)."""
    folder = os.path.join(store, *[p for p in array_path.split("/") if p])
    v3 = os.path.join(folder, "zarr.json")
    return v3 if os.path.exists(v3) else os.path.join(folder, ".zarray")


def _find_array(group: Any, name: str) -> str:
    """The array of frames in ``group``: ``frames``, else its one 2-D or 3-D array."""
    arrays = dict(group.arrays())
    if FRAMES in arrays and arrays[FRAMES].ndim == 3:
        return FRAMES
    if len(arrays) == 1:
        return next(iter(arrays))
    images = [path for path, array in arrays.items() if array.ndim in (2, 3)]
    if len(images) == 1:
        return images[0]
    if not arrays:
        raise FileContentError("the zarr group holds no array", name)
    raise FileContentError(
        f"the zarr group holds several arrays ({', '.join(sorted(arrays))}); choose one with path=",
        name,
    )


def _group_metadata(group: Any, array: Any, nframes: int) -> dict[str, Any]:
    """Metadata of a group layout: the group's and the array's attributes, and omega
    from the ``omega_start`` and ``omega_stop`` coordinates."""
    attrs = {k: v for k, v in array.attrs.asdict().items() if k not in _XARRAY_KEYS}
    attrs.update(group.attrs.asdict())
    metadata = attributes_to_metadata(attrs)
    coords = dict(group.arrays())
    start, stop = coords.get("omega_start"), coords.get("omega_stop")
    if (
        "omega" not in metadata
        and start is not None
        and stop is not None
        and start.shape == stop.shape == (nframes,)
    ):
        metadata["omega"] = np.column_stack([start[:], stop[:]])
    return metadata


def open_zarr(
    source: Any,
    path: str | None = None,
    frames_per_chunk: int | None = None,
) -> ImageSeries:
    """Open a zarr array (v3, or v2) of frames lazily.

    Parameters
    ----------
    source
        The store: a folder (``scan.zarr``), an fsspec URL (with ``format="zarr"``)
        or a zarr store object.
    path
        The array inside the store, when its root is a group; found automatically
        when the group holds one array.
    frames_per_chunk
        Frames per dask chunk; by default a whole number of the zarr chunk's (or
        shard's) frames making chunks of about 32 MiB, so that every dask chunk
        reads whole zarr chunks.
    """
    import zarr
    from zarr.errors import NodeNotFoundError

    store = source
    if isinstance(source, (str, os.PathLike)) and not _is_url(os.fspath(source)):
        store = absolute(source)
    name = store if isinstance(store, str) else repr(store)
    try:
        node = zarr.open(store, path=path or "", mode="r")
    except (NodeNotFoundError, FileNotFoundError, KeyError):
        raise FileContentError(
            f"no zarr array or group {'at ' + repr(path) if path else 'here'}", name
        ) from None
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise FileContentError(f"not a readable zarr store ({exc})", name) from None
    array_path = path or ""
    group = None
    if isinstance(node, zarr.Group):
        group = node
        array_path = "/".join(p for p in (array_path, _find_array(node, name)) if p)
        node = zarr.open_array(store, path=array_path, mode="r")
    if np.dtype(node.dtype).kind not in "biuf":
        raise FileContentError(
            f"the zarr array holds {node.dtype} values (text or records?), not pixel numbers", name
        )
    if node.ndim not in (2, 3):
        raise FileContentError(
            f"the zarr array is {node.ndim}-D; frames must be 3-D (or 2-D for one frame)", name
        )
    two_d = node.ndim == 2
    nframes = 1 if two_d else node.shape[0]
    if nframes == 0:
        raise FileContentError("the zarr array has no frames", name)
    frame_shape = tuple(node.shape[-2:])
    dtype = np.dtype(node.dtype)
    unit = 1 if two_d else (node.shards or node.chunks)[0]
    if frames_per_chunk is None:
        frames_per_chunk = frames_per_chunk_for(frame_shape, dtype, unit)
    if group is None:
        metadata = attributes_to_metadata(node.attrs.asdict())
    else:
        metadata = _group_metadata(group, node, nframes)
    stamp = ()
    if isinstance(store, str) and not _is_url(store):
        try:
            stamp = file_stamp(_metadata_file(store, array_path))
        except OSError:
            stamp = ()
    layout = (tuple(node.shape), dtype.str)
    complete = group is not None and _written_chunks(group, node, array_path) is not None
    return series_from_reader(
        ZarrFrames(store, array_path, two_d, stamp, layout, complete),
        nframes=nframes,
        frame_shape=frame_shape,
        dtype=dtype,
        frames_per_chunk=frames_per_chunk,
        metadata=metadata,
        format="zarr",
        source=name + (f":{array_path}" if array_path else ""),
    )


#: The key, in lazyims' notes of a group, of the count of chunks written per array.
WRITTEN_CHUNKS = "written_chunks"
#: zarr's configuration when lazyims writes frames: chunks of fill values are stored
#: too (zarr leaves them out by default), so that a chunk missing is damage. The
#: configuration is not stored: every opening of the array for writing sets it.
WRITE_EVERY_CHUNK = {"write_empty_chunks": True}


def _grid_size(shape: tuple[int, ...], unit: tuple[int, ...]) -> int:
    """How many stored objects (chunks, or shards) an array of ``shape`` has."""
    return int(np.prod([-(-n // u) for n, u in zip(shape, unit)]))


def _written_chunks(group: Any, array: Any, array_path: str) -> int | None:
    """The count of chunks lazyims noted it wrote for ``array`` of ``group``, or None
    (another writer, or a store lazyims wrote before it noted them)."""
    notes = group.attrs.asdict().get(RESERVED_KEY)
    written = notes.get(WRITTEN_CHUNKS) if isinstance(notes, Mapping) else None
    count = written.get(array_path.rsplit("/", 1)[-1]) if isinstance(written, Mapping) else None
    if not isinstance(count, int) or array.ndim != 3:
        return None
    return count if count == _grid_size(array.shape, array.shards or array.chunks) else None


def check_chunks_present(array: Any, selection: tuple[slice, ...], name: str) -> None:
    """A FileContentError when a stored object (chunk, or shard) under ``selection`` of a
    store lazyims wrote whole is missing, which zarr would read as its fill value."""
    unit = array.shards or array.chunks
    ranges = [
        range(s.start // u, max(s.start, s.stop - 1) // u + 1) for s, u in zip(selection, unit)
    ]
    keys = [array.metadata.encode_chunk_key(c) for c in itertools.product(*ranges)]
    store_path = array.store_path
    folder = getattr(store_path.store, "root", None)
    if folder is not None:  # a local store: one stat per chunk
        base = os.path.join(os.fspath(folder), *[p for p in store_path.path.split("/") if p])
        missing = [k for k in keys if not os.path.exists(os.path.join(base, *k.split("/")))]
    else:
        from zarr.core.sync import sync

        async def exist() -> list[bool]:
            return await asyncio.gather(*((store_path / k).exists() for k in keys))

        found = sync(exist())
        missing = [k for k, ok in zip(keys, found) if not ok]
    if missing:
        raise FileContentError(
            f"chunk {missing[0]!r} of the frames is missing ({len(missing)} of the {len(keys)} "
            "read): the store lazyims wrote held every chunk; it was damaged or copied in part",
            name,
        )


# -- writing ----------------------------------------------------------------------
def _write_block(block: Any, store: Any, start: int) -> int:
    """Write frames ``start:start+len(block)``; runs on a worker, opens the store itself."""
    import zarr

    array = zarr.open_array(store, path=FRAMES, mode="r+").with_config(WRITE_EVERY_CHUNK)
    array[start : start + block.shape[0]] = todense(block)
    return int(block.shape[0])


def _block_tasks(data: Any, store: Any) -> list:
    starts = np.cumsum((0,) + data.chunks[0][:-1])
    blocks = data.to_delayed().ravel().tolist()
    write = dask.delayed(_write_block, pure=False)
    return [write(b, store, int(s)) for b, s in zip(blocks, starts)]


def _is_zarr_folder(path: Path) -> bool:
    return any((path / name).is_file() for name in ("zarr.json", ".zarray", ".zgroup"))


def _check_chunking(name: str, value: Any, shape: tuple[int, ...], path: Any) -> tuple[int, ...]:
    """A chunk or shard shape of positive integers, each capped at the array's length."""
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 3
        or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in value)
    ):
        raise OptionError(
            f"{name} must be 3 positive integers (frames, rows, cols), not {value!r}", path
        )
    return tuple(min(int(v), n) for v, n in zip(value, shape))


def write_zarr(
    series: ImageSeries,
    store: Any,
    *,
    chunks: tuple[int, int, int] | None = None,
    shards: tuple[int, int, int] | None = None,
    compressors: Any = "auto",
    checksum: bool = True,
) -> None:
    """Write ``series`` as a zarr v3 store, block by block, in parallel.

    The store is a group that :func:`xarray.open_zarr` reads as a Dataset: the
    array ``frames``, the coordinates ``frame`` and ``omega_start``/``omega_stop``/
    ``omega_middle``, and the other metadata as attributes (see the module doc).

    Parameters
    ----------
    series
        The series to write (sparse series are written dense).
    store
        A folder path (``scan.zarr``), an fsspec URL (``s3://bucket/scan.zarr``,
        needs fsspec and its file system package) or a zarr store object. A
        folder appears under its name only once complete; an existing zarr store
        there is replaced then and left intact if writing fails. URLs and store
        objects are written in place.
    chunks
        The zarr chunk shape (frames, rows, cols); default one whole frame per chunk.
    shards
        The shard shape (frames, rows, cols), a whole multiple of ``chunks``, to
        put many chunks in one stored object; default no sharding.
    compressors
        zarr's ``compressors`` (default zarr's: zstd).
    checksum
        Add a crc32c checksum to every chunk of the frames (zarr's ``crc32c``
        codec, after the compressors), so damaged chunks are an error when read.

    Notes
    -----
    Each dask block written spans whole zarr chunks (whole shards when sharded)
    and whole frames, so blocks never share a stored object and workers write
    without locks. With a path, the blocks are written by the dask workers (on
    dask.distributed, the workers must see the same file system); with a store
    object, the blocks are computed and written from this process.
    """
    import zarr

    shape = series.shape
    is_path = isinstance(store, (str, os.PathLike))
    name = os.fspath(store) if is_path else repr(store)
    check_not_empty(series, name)
    chunks = _check_chunking("chunks", chunks or (1, *shape[1:]), shape, name)
    if shards is not None:
        shards = _check_chunking("shards", shards, shape, name)
        if any(s % c for s, c in zip(shards, chunks)):
            raise OptionError(f"shards {shards} must be whole multiples of chunks {chunks}", name)
    metadata = series.metadata
    omega = _omega_coordinates(metadata, series.nframes, name)
    if omega:
        del metadata["omega"]
    attrs = metadata_to_attributes(metadata, name)
    # Every stored object (shard, else chunk) is written, all-fill ones too, and their
    # count noted: readers then tell a missing chunk from one of zeros.
    attrs[RESERVED_KEY][WRITTEN_CHUNKS] = {FRAMES: _grid_size(shape, shards or chunks)}
    # Blocks span whole frames and a whole number of write units (shard, else chunk).
    unit = (shards or chunks)[0]
    per_block = frames_per_chunk_for(series.frame_shape, series.dtype, unit)
    data = series.dense().data.rechunk((per_block, -1, -1))
    if checksum:
        compressors = _with_checksum(compressors)

    def create(target: Any) -> None:
        try:
            group = zarr.create_group(target, attributes=attrs, zarr_format=3, overwrite=True)
            coordinates = {"frame": np.arange(series.nframes), **omega}
            for coord, values in coordinates.items():
                group.create_array(coord, data=values, dimension_names=("frame",))
            group.create_array(
                FRAMES,
                shape=shape,
                dtype=series.dtype,
                chunks=chunks,
                shards=shards,
                compressors=compressors,
                attributes={"coordinates": " ".join(omega)} if omega else {},
                dimension_names=DIMENSION_NAMES,
                config=WRITE_EVERY_CHUNK,
            )
        except (TypeError, ValueError) as exc:
            raise OptionError(f"zarr cannot create this array: {exc}", name) from None
        _consolidate(target)

    if is_path and _is_url(os.fspath(store)):
        # a remote store (s3://, gs://, ...): written in place by the workers, by URL
        create(store)
        _progress.compute(*_block_tasks(data, store))
        return
    if not is_path:
        create(store)
        array = zarr.open_array(store, path=FRAMES, mode="r+").with_config(WRITE_EVERY_CHUNK)

        def consume(start: int, block: Any) -> None:
            array[start : start + block.shape[0]] = todense(block)

        stream_blocks(data, consume)
        return
    with atomic_folder(store, series.files, replaceable=_is_zarr_folder, kind="zarr store") as tmp:
        create(str(tmp))
        _progress.compute(*_block_tasks(data, str(tmp)))


def _consolidate(target: Any) -> None:
    """Gather the store's metadata in its root ``zarr.json``, so that ``xarray.open_zarr``
    opens it at once and without a warning. Call it after the last metadata change."""
    import zarr

    with warnings.catch_warnings():
        # zarr notes that consolidated metadata is not in the v3 spec; xarray reads it
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(target)


def _omega_coordinates(metadata: Mapping[str, Any], nframes: int, where: Any) -> dict:
    """``omega_start``, ``omega_stop`` and ``omega_middle`` from the metadata's omega, or {}."""
    if "omega" not in metadata:
        return {}
    omega = np.asarray(metadata["omega"])  # its dtype is kept: the coordinates have it
    if omega.dtype.kind not in "iuf" or omega.shape != (nframes, 2):
        raise MetadataError(
            f"metadata 'omega' must be (nframes, 2) = ({nframes}, 2) [start, stop] angles, "
            f"got {omega.dtype} of shape {omega.shape}",
            where,
        )
    return {
        "omega_start": omega[:, 0],
        "omega_stop": omega[:, 1],
        "omega_middle": omega.mean(axis=1),
    }


def _with_checksum(compressors: Any) -> list:
    """``compressors`` (zarr's default zstd for "auto") followed by a crc32c checksum."""
    from zarr.codecs import Crc32cCodec, ZstdCodec

    if isinstance(compressors, str) and compressors == "auto":
        compressors = [ZstdCodec(level=0)]
    elif compressors is None:
        compressors = []
    elif not isinstance(compressors, (list, tuple)):
        compressors = [compressors]
    if any(isinstance(c, Crc32cCodec) for c in compressors):
        return list(compressors)
    return [*compressors, Crc32cCodec()]


def _is_url(name: str) -> bool:
    """True for an fsspec URL such as ``s3://bucket/scan.zarr`` (not a local path)."""
    return "://" in name and not name.startswith("file://")


def _sniff(path: Path) -> bool:
    return path.is_dir() and _is_zarr_folder(path)


def _is_store(obj: Any) -> bool:
    try:
        from zarr.abc.store import Store
    except ImportError:  # pragma: no cover - zarr is a dependency
        return False
    return isinstance(obj, Store)


register(
    Format(
        name="zarr",
        open=open_zarr,
        write=write_zarr,
        extensions=(".zarr",),
        guess_can_open=_sniff,
        write_extensions=(".zarr",),
        accepts=_is_store,
        description="a zarr v3 store (folder *.zarr), metadata in its attributes",
    )
)
