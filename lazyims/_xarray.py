"""A series as an :class:`xarray.DataArray` (xarray is an optional extra)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _metadata
from .errors import LazyImsError, MetadataError


def _import_xarray() -> Any:
    try:
        import xarray as xr
    except ImportError:
        raise LazyImsError(
            "to_xarray needs the xarray package: pip install 'lazyims[xarray]'"
        ) from None
    return xr


def to_dataset(series: Any, panel: str | None = None, data: Any = None) -> Any:
    """The series as a lazy Dataset: the data variable ``frames`` (see :func:`to_xarray`),
    omega coordinates, ``panel`` as a scalar coordinate when given, metadata as attributes.
    ``data`` replaces the frames' dask array (the engine's lazily indexed array).
    """
    array = to_xarray(series, data)
    dataset = array.to_dataset(name="frames")
    dataset["frames"].attrs = {}
    dataset.attrs = dict(array.attrs)
    if panel is not None:
        dataset = dataset.assign_coords(panel=panel)
    return dataset


def to_xarray(series: Any, data: Any = None) -> Any:
    """The series as a lazy DataArray: dims (frame, row, col), omega as coordinates.

    The frames stay a dask array (dense chunks). ``omega`` (nframes, 2) becomes the
    coordinates ``omega_start``, ``omega_stop`` and ``omega_middle`` along
    ``frame``; the other metadata become ``attrs``.
    """
    xr = _import_xarray()
    metadata = series.metadata
    # checks omega's length
    _metadata.per_frame_keys(metadata, series.nframes, series.source if series.files else None)
    coords: dict[str, Any] = {"frame": np.arange(series.nframes)}
    omega = metadata.pop("omega", None)
    if omega is not None:
        omega = np.asarray(omega, dtype=float)
        if omega.ndim != 2 or omega.shape[1] != 2:
            raise MetadataError(
                "metadata 'omega' must be (nframes, 2) [start, stop] angles, "
                f"got shape {omega.shape}"
            )
        coords["omega_start"] = ("frame", omega[:, 0])
        coords["omega_stop"] = ("frame", omega[:, 1])
        coords["omega_middle"] = ("frame", omega.mean(axis=1))
    return xr.DataArray(
        series.dense().data if data is None else data,
        dims=("frame", "row", "col"),
        coords=coords,
        attrs=metadata,
        name="frames",
    )
