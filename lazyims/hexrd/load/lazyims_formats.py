"""Adapters of formats lazyims reads and HEXRD does not: ``zarr`` and ``eiger``.

With them, ``open(fname, "zarr")`` and ``open(fname, "eiger")`` work as HEXRD's other
formats do, so a HEXRD configuration file can name them (``image_series: format:``)
once :func:`lazyims.hexrd.install` is in effect.
"""

from __future__ import annotations

import os
from typing import Any

from ... import api
from . import LazyAdapter


class ZarrImageSeriesAdapter(LazyAdapter):
    """Frames of a zarr store as lazyims writes it (or xarray): ``open("scan.zarr", "zarr")``.

    Options are :func:`lazyims.open`'s for ``zarr``.
    """

    format = "zarr"

    def __init__(self, fname: str | os.PathLike, **kwargs: Any):
        self._set_series(api.open(os.fspath(fname), "zarr", **kwargs))


class EigerImageSeriesAdapter(LazyAdapter):
    """Frames of DECTRIS Eiger master/data files: ``open("scan_master.h5", "eiger")``.

    The metadata hold the detector's settings and, from the goniometer, ``omega``.
    Options are :func:`lazyims.open`'s for ``eiger`` (``frames_per_chunk``).
    """

    format = "eiger"

    def __init__(self, fname: str | os.PathLike, **kwargs: Any):
        self._set_series(api.open(os.fspath(fname), "eiger", **kwargs))
