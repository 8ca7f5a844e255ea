"""The ``eiger-stream-v1`` adapter (HEXRD's ``load.eiger_stream_v1``) on lazyims' reader."""

from __future__ import annotations

import os
from typing import Any

import h5py

from ... import api
from . import LazyAdapter


def _name(fname: Any) -> str:
    """A file name, also of an open ``h5py.File`` (read again by its name, so it pickles)."""
    return fname.filename if isinstance(fname, h5py.Group) else os.fspath(fname)


class EigerStreamV1ImageSeriesAdapter(LazyAdapter):
    """Eiger stream v1 frames: ``open(fname, "eiger-stream-v1")``."""

    format = "eiger-stream-v1"

    def __init__(self, fname: Any, **kwargs: Any):
        self._set_series(api.open(_name(fname), "eiger-stream-v1"))
