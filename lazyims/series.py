"""The ImageSeries type: a lazy stack of detector frames and its metadata."""

from __future__ import annotations

import numbers
import operator
import os
from collections.abc import Mapping
from typing import Any

import dask
import dask.array as da
import dask.local
import numpy as np

from . import _metadata
from ._arraylike import ArrayLike
from ._files import absolute
from ._lazyframes import LazyFrames
from .errors import FrameIndexError, LazyImsError

#: Size of the dense chunks :meth:`ImageSeries.dense` cuts sparse chunks into.
_DENSE_CHUNK_BYTES = 32 * 2**20


def is_sparse_array(array: Any) -> bool:
    """True when ``array`` (or a dask array's chunks) is a pydata/sparse array."""
    meta = getattr(array, "_meta", array)
    return type(meta).__module__.split(".")[0] == "sparse"


def todense(block: Any) -> np.ndarray:
    """``block`` as a numpy array: a pydata/sparse array expanded, anything else as is.

    The one helper lazyims uses wherever a block or result may be sparse."""
    return block.todense() if is_sparse_array(block) else np.asarray(block)


def _tosparse(block: Any) -> Any:
    import sparse

    return block if is_sparse_array(block) else sparse.COO.from_numpy(np.asarray(block))


def as_chunks(array: da.Array, sparse: bool | None) -> da.Array:
    """``array`` with dense numpy chunks (``sparse=False``), ``sparse.COO`` chunks
    (``sparse=True``) or its chunks as they are (``None``); lazy.

    The one place where lazyims turns sparse chunks dense for users (and back).
    """
    if sparse is None or is_sparse_array(array) == bool(sparse):
        return array
    if sparse:
        import sparse as sparse_module

        meta = sparse_module.COO.from_numpy(np.zeros((0,) * array.ndim, dtype=array.dtype))
        return array.map_blocks(_tosparse, dtype=array.dtype, meta=meta)
    if array.ndim == 3:
        array = _dense_sized(array)
    meta = np.empty((0,) * array.ndim, dtype=array.dtype)
    return array.map_blocks(todense, dtype=array.dtype, meta=meta)


def _dense_sized(frames: da.Array) -> da.Array:
    """Sparse frame chunks hold many frames: cut them to dense chunks of the usual size."""
    frame_bytes = max(1, int(np.prod(frames.shape[1:])) * frames.dtype.itemsize)
    per_chunk = max(1, _DENSE_CHUNK_BYTES // frame_bytes)
    if max(frames.chunks[0], default=0) > per_chunk:
        frames = frames.rechunk({0: per_chunk})
    return frames


def _finalize_dense(results: Any, finalize: Any, args: tuple) -> np.ndarray:
    # compute() of a series always gives numpy, even when the chunks are sparse.
    return todense(finalize(results, *args))


def _absolute_paths(files: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(absolute(f) for f in files))


class _OneFrame(da.Array):
    """``series[i]`` of a series read from files: a 2-D dask array whose plain
    ``compute()`` reads the frame straight through the format's reader (no task
    graph, no scheduler). Any other use is dask's."""

    _read_now: Any = None

    def compute(self, **kwargs: Any) -> Any:
        if self._read_now is not None and not kwargs:
            return self._read_now()
        return super().compute(**kwargs)


class ImageSeries(ArrayLike):
    """A lazy series of detector frames, shape (nframes, rows, cols), with metadata.

    An ImageSeries wraps a chunked :class:`dask.array.Array` and a metadata dict.
    It is immutable: every operation returns a new series. Per-frame metadata
    (``omega``) follows the frames when the series is indexed.

    A series opened from files holds the format's reader and the frames, rows and
    columns it shows (a lazy selection): indexing, :meth:`rectangle`,
    :meth:`frames`, :meth:`omega_range` and the row bands of :meth:`median`
    narrow that selection, so only what is asked for is read; :attr:`data` is
    built from it when needed. Processing (:meth:`dark`, :meth:`flip`...) gives a
    series of dask operations on that data.

    Parameters
    ----------
    data
        A 3-D dask array (or anything :func:`dask.array.asarray` takes).
    metadata
        The series' metadata; text values stored as bytes are decoded to str.
    format
        Name of the format the series was read from, for display.
    source
        Where the series was read from (a path, possibly with a dataset), for display.
    files
        Every file (or zarr folder) the series was opened from: descriptions
        (YAML), data files, caches, metadata arrays. Kept as absolute paths;
        writers refuse a target that is, contains or lies inside any of them.

    Notes
    -----
    A series is array-like (see :mod:`lazyims._arraylike`): ``ims + 1`` and
    ``np.sqrt(ims)`` give lazy series, ``np.max(ims, axis=0)`` a lazy dask array,
    ``da.asarray(ims)`` the frames. What users touch is dense numpy: :attr:`data`
    has numpy chunks and ``compute()`` gives a numpy array, also for a frame-cache,
    whose sparse chunks stay available through ``to_dask(sparse=True)``.

    Examples
    --------
    >>> import lazyims, numpy as np
    >>> ims = lazyims.open(np.zeros((4, 8, 8), np.uint16))
    >>> len(ims), ims.frame_shape, ims.dtype
    (4, (8, 8), dtype('uint16'))
    >>> float(np.sqrt(ims + 1).compute().max())
    1.0
    """

    __slots__ = ("_data", "_lazy", "_metadata", "_format", "_source", "_files")

    def __init__(
        self,
        data: Any,
        metadata: Mapping[str, Any] | None = None,
        *,
        format: str | None = None,
        source: str | None = None,
        files: tuple[str, ...] = (),
    ):
        data = data if isinstance(data, da.Array) else da.asarray(data)
        if data.ndim != 3:
            raise LazyImsError(
                f"an image series is 3-D (frames, rows, cols); got {data.ndim}-D data"
            )
        self._data: da.Array | None = data
        self._lazy: LazyFrames | None = None
        self._metadata = _metadata.normalize(metadata)
        self._format = format
        self._source = source
        self._files = _absolute_paths(files)

    @classmethod
    def _from_lazy(
        cls,
        lazy: LazyFrames,
        metadata: Mapping[str, Any] | None,
        *,
        format: str | None,
        source: str | None,
        files: tuple[str, ...],
    ) -> ImageSeries:
        """A series of what ``lazy`` selects; its dask array is built when first needed."""
        series = cls.__new__(cls)
        series._data = None
        series._lazy = lazy
        series._metadata = _metadata.normalize(metadata)
        series._format = format
        series._source = source
        series._files = _absolute_paths(files)
        return series

    # -- what it is ---------------------------------------------------------
    @property
    def data(self) -> da.Array:
        """The frames as a dask array of shape (nframes, rows, cols), with numpy chunks.

        A frame-cache's sparse chunks are made dense chunk by chunk when computed,
        so ``np.asarray(ims.data[5])`` is a numpy frame; ``to_dask(sparse=True)``
        keeps them sparse.
        """
        return self.to_dask(sparse=False)

    def to_dask(self, sparse: bool | None = False) -> da.Array:
        """The frames as a dask array of shape (nframes, rows, cols).

        Parameters
        ----------
        sparse
            False (default): numpy chunks. True: ``sparse.COO`` chunks (a
            frame-cache's own chunks; dense chunks are converted). None: the chunks
            as they are stored (sparse for a frame-cache, numpy otherwise).
        """
        return as_chunks(self._stored_data(), sparse)

    def _stored_data(self) -> da.Array:
        """The dask array as stored (maybe with sparse chunks): what operations build on.

        A series opened from files builds it from its lazy selection, once."""
        if self._data is None:
            self._data = self._lazy.to_dask()
        return self._data

    @property
    def metadata(self) -> dict[str, Any]:
        """The metadata dict (a copy: changing it does not change the series)."""
        return dict(self._metadata)

    @property
    def format(self) -> str | None:
        """The name of the format the series was read from."""
        return self._format

    @property
    def source(self) -> str | None:
        """Where the series was read from."""
        return self._source

    @property
    def files(self) -> tuple[str, ...]:
        """Every file (or folder) this series was opened from, as absolute paths.

        The YAML description comes first when there is one, then the data files
        and the metadata arrays it names. Writers refuse to write over, into or
        around any of them.
        """
        return self._files

    @property
    def shape(self) -> tuple[int, int, int]:
        """(nframes, rows, cols), as dask's shape."""
        return self._data.shape if self._lazy is None else self._lazy.shape

    @property
    def frame_shape(self) -> tuple[int, int]:
        """(rows, cols) of one frame (HEXRD's ``shape``)."""
        return self.shape[1:]

    @property
    def nframes(self) -> int:
        """The number of frames."""
        return self.shape[0]

    @property
    def dtype(self) -> np.dtype:
        """The frames' dtype."""
        return self._data.dtype if self._lazy is None else self._lazy.dtype

    @property
    def chunks(self) -> tuple[tuple[int, ...], ...]:
        """The dask chunks along (frames, rows, cols)."""
        return self._data.chunks if self._lazy is None else self._lazy.chunks()

    @property
    def is_sparse(self) -> bool:
        """True when the chunks are pydata/sparse arrays (frame-caches)."""
        return is_sparse_array(self._data) if self._lazy is None else self._lazy.sparse

    @property
    def _reads_files(self) -> bool:
        """True when the frames are exactly what the format's reader gives (unprocessed)."""
        return self._lazy is not None

    def __len__(self) -> int:
        return self.nframes

    # -- building new series ------------------------------------------------
    def _replace(self, data: da.Array | None = None, metadata: Mapping | None = None):
        """A new series with other data and/or metadata, keeping the rest.

        New data is no longer the reader's: the lazy selection is dropped.
        """
        metadata = self._metadata if metadata is None else metadata
        if data is None and self._lazy is not None:
            return ImageSeries._from_lazy(
                self._lazy, metadata, format=self._format, source=self._source, files=self._files
            )
        return ImageSeries(
            self._stored_data() if data is None else data,
            metadata,
            format=self._format,
            source=self._source,
            files=self._files,
        )

    def with_metadata(self, **updates: Any) -> ImageSeries:
        """A new series whose metadata has ``updates`` added or replaced."""
        return self._replace(metadata={**self._metadata, **updates})

    def map_blocks(self, func, *args, **kwargs) -> ImageSeries:
        """Apply ``func`` to every chunk, as :func:`dask.array.map_blocks`.

        The result must stay 3-D with one entry per frame; the metadata is kept.
        """
        result = self._stored_data().map_blocks(func, *args, **kwargs)
        if result.ndim != 3:
            raise LazyImsError(
                f"map_blocks must keep the series 3-D; {func!r} gives {result.ndim}-D chunks"
            )
        return self._replace(data=result)

    def dense(self) -> ImageSeries:
        """The same series with dense numpy chunks (sparse chunks are expanded)."""
        if not self.is_sparse:
            return self
        meta = np.empty((0, 0, 0), dtype=self.dtype)
        data = _dense_sized(self._stored_data())
        return self._replace(data=data.map_blocks(todense, dtype=self.dtype, meta=meta))

    # -- indexing -----------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        frame_key, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        region = self._region(rest) if self._lazy is not None else None
        if isinstance(frame_key, numbers.Integral) and not isinstance(frame_key, bool):
            i = self._frame_number(frame_key)
            if region is None:
                return self.dense()._stored_data()[(i, *rest)]
            # Read this frame alone (and only its region), not its whole chunk.
            one = self._lazy.narrowed(np.array([i]), *region)
            frame = self._replace_lazy(one, self._metadata).dense()._stored_data()[0]
            frame = _OneFrame(frame.dask, frame.name, frame.chunks, meta=frame._meta)
            frame._read_now = lambda: todense(one.read_frame(0))
            return frame
        selection = self._frame_selection(frame_key)
        metadata = _metadata.select_frames(
            self._metadata, self.nframes, selection, self._source if self._files else None
        )
        if region is not None:
            return self._replace_lazy(self._lazy.narrowed(selection, *region), metadata)
        data = self._stored_data()[(selection, *rest)]
        if data.ndim != 3:
            raise FrameIndexError(
                "index rows and columns with slices to keep a series; "
                f"{key!r} gives a {data.ndim}-D result"
            )
        return self._replace(data=data, metadata=metadata)

    def _replace_lazy(self, lazy: LazyFrames, metadata: Mapping) -> ImageSeries:
        return ImageSeries._from_lazy(
            lazy, metadata, format=self._format, source=self._source, files=self._files
        )

    def _region(self, rest: tuple) -> tuple[slice, slice] | None:
        """Row and column keys as two non-empty step-1 slices with explicit bounds, or
        None when they are anything else (then dask slices the data)."""
        if len(rest) > 2 or not all(isinstance(k, slice) for k in rest):
            return None
        region = []
        for k, size in zip(rest + (slice(None),) * (2 - len(rest)), self.frame_shape):
            start, stop, step = k.indices(size)
            if step != 1 or stop <= start:
                return None
            region.append(slice(start, stop))
        return region[0], region[1]

    def _frame_number(self, key: Any) -> int:
        i = operator.index(key)
        if not -self.nframes <= i < self.nframes:
            raise FrameIndexError(f"frame {i} is out of range for {self.nframes} frames")
        return i % self.nframes

    def read_frame(
        self, i: int, rows: slice | None = None, cols: slice | None = None
    ) -> np.ndarray:
        """Frame ``i`` (or its window ``rows`` x ``cols``) as a dense numpy array, now.

        A series read from files (not processed) reads it straight through the
        format's reader: no task graph, no scheduler, only those rows and columns
        where the format allows it. A processed series computes the window with
        dask's synchronous scheduler in this thread.

        Parameters
        ----------
        i
            The frame (negative counts from the end).
        rows, cols
            Slices of the frame (default: all of it).

        Examples
        --------
        >>> import lazyims, numpy as np
        >>> ims = lazyims.open(np.arange(32, dtype=np.uint16).reshape(2, 4, 4))
        >>> ims.read_frame(1, rows=slice(0, 2), cols=slice(1, 3))
        array([[17, 18],
               [21, 22]], dtype=uint16)
        """
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise FrameIndexError(f"read_frame takes a frame number, not {i!r}")
        i = self._frame_number(i)
        for name, k in (("rows", rows), ("cols", cols)):
            if k is not None and not isinstance(k, slice):
                raise FrameIndexError(f"read_frame's {name} must be a slice, not {k!r}")
        rows = slice(None) if rows is None else rows
        cols = slice(None) if cols is None else cols
        if self._lazy is None:
            window = self.data[i, rows, cols]
            (result,) = dask.compute(window, scheduler=dask.local.get_sync)
            return todense(result)
        ranges = [range(*k.indices(n)) for k, n in zip((rows, cols), self.frame_shape)]
        if not all(ranges):
            return np.zeros([len(r) for r in ranges], dtype=self.dtype)
        box = [slice(min(r), max(r) + 1) for r in ranges]
        frame = todense(self._lazy.read_frame(i, *box))
        if all(r.step == 1 for r in ranges):
            return frame
        picks = [np.asarray(r) - b.start for r, b in zip(ranges, box)]
        return frame[np.ix_(*picks)]

    def _frame_selection(self, key: Any) -> slice | np.ndarray:
        if isinstance(key, slice):
            return key
        try:
            sel = np.asarray(key)
        except Exception as exc:  # noqa: BLE001 - anything numpy cannot read as an index
            raise FrameIndexError(f"cannot index frames with {key!r}") from exc
        if sel.dtype == bool:
            if sel.shape != (self.nframes,):
                raise FrameIndexError(
                    f"a boolean frame mask needs {self.nframes} entries, got shape {sel.shape}"
                )
            return np.flatnonzero(sel)
        if sel.ndim != 1 or (sel.size and sel.dtype.kind not in "iu"):
            raise FrameIndexError(f"frames are selected by integers, got {key!r}")
        sel = sel.astype(np.intp)
        bad = (sel < -self.nframes) | (sel >= self.nframes)
        if bad.any():
            raise FrameIndexError(
                f"frames {sel[bad].tolist()} are out of range for {self.nframes} frames"
            )
        return np.where(sel < 0, sel + self.nframes, sel)

    def __iter__(self):
        for i in range(self.nframes):
            yield self[i]

    # -- computing ----------------------------------------------------------
    def compute(self, **kwargs: Any) -> np.ndarray:
        """Compute the frames into one numpy array (dense, even for frame-caches)."""
        (result,) = dask.compute(self, **kwargs)
        return result

    def persist(self, **kwargs: Any) -> ImageSeries:
        """Compute the frames into memory (or the cluster's) and keep them as a series."""
        (result,) = dask.persist(self, **kwargs)
        return result

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = self.compute()
        return array if dtype is None else array.astype(dtype)

    # dask's collection protocol, so dask.compute and Client.compute take a series
    def __dask_graph__(self):
        return self._stored_data().__dask_graph__()

    def __dask_keys__(self):
        return self._stored_data().__dask_keys__()

    def __dask_layers__(self):
        return self._stored_data().__dask_layers__()

    def __dask_tokenize__(self):
        return ("lazyims.ImageSeries", self._stored_data().name)

    __dask_optimize__ = staticmethod(da.Array.__dask_optimize__)
    __dask_scheduler__ = staticmethod(da.Array.__dask_scheduler__)

    def __dask_postcompute__(self):
        finalize, args = self._stored_data().__dask_postcompute__()
        return _finalize_dense, (finalize, args)

    def __dask_postpersist__(self):
        rebuild, args = self._stored_data().__dask_postpersist__()
        return self._rebuild_persisted, (rebuild, args)

    def _rebuild_persisted(self, dsk, rebuild, args, rename=None) -> ImageSeries:
        return self._replace(data=rebuild(dsk, *args, rename=rename))

    # -- display ------------------------------------------------------------
    def __repr__(self) -> str:
        chunks = "x".join(str(c[0]) if c else "0" for c in self.chunks)
        kind = ", sparse" if self.is_sparse else ""
        lines = [
            f"<lazyims.ImageSeries {self.nframes} frames of {self.frame_shape[0]}x"
            f"{self.frame_shape[1]} {self.dtype}{kind}",
            f"  format: {self._format or '-'}, source: {self._source or '-'}",
            f"  chunks: {chunks} ({int(np.prod([len(c) for c in self.chunks]))} chunks)",
            f"  metadata: {sorted(self._metadata) or '-'}>",
        ]
        return "\n".join(lines)

    # -- writing --------------------------------------------------------------
    def write(self, fname: str | os.PathLike, format: str | None = None, /, **options: Any) -> None:
        """Write the series to ``fname`` in ``format`` (by default from the name's extension);
        see :func:`lazyims.write`."""
        from .api import write

        write(self, fname, format, **options)

    # -- processing (lazyims.processing) ----------------------------------------
    def dark(self, image: Any) -> ImageSeries:
        """Subtract a dark image, clipping at 0; see :func:`lazyims.processing.dark`."""
        from . import processing

        return processing.dark(self, image)

    def flip(self, code: str) -> ImageSeries:
        """Flip/rotate every frame with a HEXRD code; see :func:`lazyims.processing.flip`."""
        from . import processing

        return processing.flip(self, code)

    def rectangle(self, rect: Any) -> ImageSeries:
        """Keep rows/columns ``((r0, r1), (c0, c1))``; see :func:`lazyims.processing.rectangle`."""
        from . import processing

        return processing.rectangle(self, rect)

    def add(self, value: Any) -> ImageSeries:
        """Add ``value`` to every frame; see :func:`lazyims.processing.add`."""
        from . import processing

        return processing.add(self, value)

    def gauss_laplace(self, sigma: Any) -> ImageSeries:
        """Laplacian of Gaussian of every frame; see :func:`lazyims.processing.gauss_laplace`."""
        from . import processing

        return processing.gauss_laplace(self, sigma)

    def add_row(self, index: int) -> ImageSeries:
        """Insert a zero row before ``index``; see :func:`lazyims.processing.add_row`."""
        from . import processing

        return processing.add_row(self, index)

    def add_column(self, index: int) -> ImageSeries:
        """Insert a zero column before ``index``; see :func:`lazyims.processing.add_column`."""
        from . import processing

        return processing.add_column(self, index)

    def threshold(self, t: float) -> ImageSeries:
        """Set values ``<= t`` to 0; see :func:`lazyims.processing.threshold`."""
        from . import processing

        return processing.threshold(self, t)

    def frames(self, selection: Any) -> ImageSeries:
        """Keep the frames ``selection`` with their omega; see :func:`lazyims.processing.frames`."""
        from . import processing

        return processing.frames(self, selection)

    def process(self, oplist: Any, frame_list: Any = None) -> ImageSeries:
        """Apply HEXRD's ``(key, data)`` operation list; see :func:`lazyims.processing.process`."""
        from . import processing

        return processing.process(self, oplist, frame_list)

    # -- statistics (lazyims.stats) ---------------------------------------------
    def max(self, nframes: int = 0, *, sparse: bool = False) -> da.Array:
        """Lazy per-pixel maximum over frames; see :func:`lazyims.stats.max`."""
        from . import stats

        return stats.max(self, nframes, sparse=sparse)

    def min(self, nframes: int = 0, *, sparse: bool = False) -> da.Array:
        """Lazy per-pixel minimum over frames; see :func:`lazyims.stats.min`."""
        from . import stats

        return stats.min(self, nframes, sparse=sparse)

    def sum(self, nframes: int = 0, *, sparse: bool = False) -> da.Array:
        """Lazy per-pixel float64 sum over frames; see :func:`lazyims.stats.sum`."""
        from . import stats

        return stats.sum(self, nframes, sparse=sparse)

    def average(self, nframes: int = 0, *, sparse: bool = False) -> da.Array:
        """Lazy per-pixel float32 mean over frames; see :func:`lazyims.stats.average`."""
        from . import stats

        return stats.average(self, nframes, sparse=sparse)

    def median(
        self, nframes: int = 0, *, band_bytes: int | None = None, tmpdir: Any = None
    ) -> da.Array:
        """Lazy out-of-core float32 median over frames; see :func:`lazyims.stats.median`."""
        from . import stats

        return stats.median(self, nframes, band_bytes=band_bytes, tmpdir=tmpdir)

    def percentile(
        self, pct: float, nframes: int = 0, *, band_bytes: int | None = None, tmpdir: Any = None
    ) -> da.Array:
        """Lazy out-of-core float32 percentile; see :func:`lazyims.stats.percentile`."""
        from . import stats

        return stats.percentile(self, pct, nframes, band_bytes=band_bytes, tmpdir=tmpdir)

    # -- omega (lazyims.omega) ------------------------------------------------------
    def omega_wedges(self) -> Any:
        """The series' omega wedges (an OmegaWedges); see :func:`lazyims.omega.wedges`."""
        from . import omega

        return omega.wedges(self)

    def omega_to_frame(self, om: float) -> tuple[int, int]:
        """(frame, wedge) holding angle ``om``; see :func:`lazyims.omega.omega_to_frame`."""
        from . import omega

        return omega.omega_to_frame(self, om)

    def omegarange_to_frames(self, omin: float, omax: float) -> list[int]:
        """Frames from ``omin`` to ``omax``; see :func:`lazyims.omega.omegarange_to_frames`."""
        from . import omega

        return omega.omegarange_to_frames(self, omin, omax)

    def omega_range(self, omin: float, omax: float) -> ImageSeries:
        """The frames from ``omin`` to ``omax``, lazily; see :func:`lazyims.omega.omega_range`."""
        from . import omega

        return omega.omega_range(self, omin, omax)

    # -- zarr, xarray and HEXRD hand-off --------------------------------------
    def to_zarr(self, store: Any, **options: Any) -> None:
        """Write the series as a zarr v3 array; see :func:`lazyims.formats.zarr.write_zarr`.

        ``store`` is a folder path (``scan.zarr``) or a zarr store object; options
        are ``chunks``, ``shards`` and ``compressors``.
        """
        from .api import write

        write(self, store, "zarr", **options)

    def to_xarray(self) -> Any:
        """The series as a lazy :class:`xarray.DataArray` with dims (frame, row, col).

        ``omega`` becomes the coordinates ``omega_start``, ``omega_stop`` and
        ``omega_middle`` along ``frame``; other metadata go to ``attrs``. Needs
        the optional ``xarray`` package (``pip install lazyims[xarray]``).
        """
        from ._xarray import to_xarray

        return to_xarray(self)

    def to_hexrd(self) -> Any:
        """The series behind HEXRD's imageseries interface (:class:`lazyims.hexrd.HexrdAdapter`)."""
        from .hexrd import HexrdAdapter

        return HexrdAdapter(self)

    # -- frame-cache (lazyims.formats.framecache) ------------------------------
    def to_framecache(
        self,
        path: str | os.PathLike,
        threshold: float,
        style: str | None = None,
        **options: Any,
    ) -> None:
        """Write the series as a sparse frame-cache, keeping pixels ``> threshold``.

        Parameters
        ----------
        path
            The file to create.
        threshold
            Pixels strictly greater than this are kept (NaN never).
        style
            ``"npz"``, ``"fch5"`` or ``"yml"``; by default from the file name
            (``.fch5``/``.h5``/``.hdf5``: fch5, ``.yml``/``.yaml``: yml), else npz.
        **options
            Further options of the style, e.g. ``path=`` (the group) for fch5:
            pass it as ``group=`` here, since ``path`` names the file.

        Examples
        --------
        >>> ims.to_framecache("scan-fc.npz", threshold=20)  # doctest: +SKIP
        """
        from .api import write

        if "group" in options:
            options["path"] = options.pop("group")
        write(self, path, "frame-cache", threshold=threshold, style=style, **options)
