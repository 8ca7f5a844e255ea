"""The ``lazyims`` engine of xarray: ``xr.open_dataset(path, engine="lazyims")``.

Registered through the ``xarray.backends`` entry point in pyproject.toml, so xarray
finds it once lazyims is installed. The dataset is lazy: its ``frames`` variable is a
lazily indexed backend array (:mod:`lazyims._xarray_array`), read only where it is
indexed or computed; its ``preferred_chunks`` are lazyims' chunks, so ``chunks={}``
gives dask chunks of whole frames as lazyims makes them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from xarray.backends import BackendEntrypoint

#: File names that only lazyims' formats use, so xarray may try this engine on them
#: when no engine is named (HDF5 and zarr files are left to xarray's own engines).
_OWN_SUFFIXES = (".npz", ".fch5", ".yml", ".yaml")


class LazyimsBackendEntrypoint(BackendEntrypoint):
    """Open any image series lazyims reads as an :class:`xarray.Dataset`.

    The dataset has the data variable ``frames`` (dims ``frame``, ``row``, ``col``),
    the coordinates ``frame``, ``omega_start``, ``omega_stop`` and ``omega_middle``
    (when the series has omega) and ``panel`` (a scalar: the metadata ``panel``, else
    the file's name), and the other metadata as attributes. Keyword arguments are
    ``format=`` and the format's options of :func:`lazyims.open` (``path=``, ...).

    Examples
    --------
    >>> ds = xr.open_dataset("scan.h5", engine="lazyims")  # doctest: +SKIP
    >>> panels = xr.open_mfdataset(["ff1.h5", "ff2.h5"], engine="lazyims",
    ...                            combine="nested", concat_dim="panel")  # doctest: +SKIP
    """

    description = "HEXRD image series (hdf5, frame-cache, image-files, raw-image, zarr) via lazyims"
    url = "https://github.com/HEXRD/hexrd"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "format")

    def open_dataset(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        format: str | None = None,  # noqa: A002 - lazyims.open's name
        **options: Any,
    ) -> Any:
        from xarray import Variable
        from xarray.core import indexing

        from ._xarray import to_dataset
        from ._xarray_array import SeriesBackendArray
        from .api import open as open_series

        series = open_series(filename_or_obj, format=format, **options)
        frames = Variable(
            ("frame", "row", "col"), indexing.LazilyIndexedArray(SeriesBackendArray(series))
        )
        dataset = to_dataset(series, panel=_panel_name(series, filename_or_obj), data=frames)
        dataset.variables["frames"].encoding = {"preferred_chunks": _preferred_chunks(series)}
        if drop_variables is not None:
            names = [drop_variables] if isinstance(drop_variables, str) else list(drop_variables)
            dataset = dataset.drop_vars(names, errors="ignore")
        return dataset

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        if not isinstance(filename_or_obj, (str, os.PathLike)):
            return False
        return Path(filename_or_obj).suffix.lower() in _OWN_SUFFIXES


def _preferred_chunks(series: Any) -> dict[str, int]:
    """lazyims' chunks as xarray's ``preferred_chunks``: frames per chunk, whole frames.

    Under dask xarray makes every chunk a numpy array, so sparse chunks (a frame-cache's,
    of many frames) are cut as lazyims cuts them when it makes them dense.
    """
    from .series import _DENSE_CHUNK_BYTES

    frames = max(series.chunks[0], default=1)
    if series.is_sparse:
        frame_bytes = max(1, series.shape[1] * series.shape[2] * series.dtype.itemsize)
        frames = max(1, min(frames, _DENSE_CHUNK_BYTES // frame_bytes))
    return {"frame": frames, "row": series.shape[1], "col": series.shape[2]}


def _panel_name(series: Any, source: Any) -> str:
    panel = series.metadata.get("panel")
    if isinstance(panel, str) and panel:
        return panel
    if isinstance(source, (str, os.PathLike)):
        return Path(source).stem
    return "frames"
