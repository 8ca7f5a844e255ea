"""napari's reader: drag a scan into napari and page through it lazily.

The plugin is declared in ``lazyims/napari.yaml`` (an npe2 manifest, found through
the ``napari.manifest`` entry point). napari is an optional extra
(``pip install 'lazyims[napari]'``); this module itself does not import napari.

The layer's data is the series as a dask array with one frame per chunk and dense
numpy chunks, so each step of napari's frame slider reads and decodes one frame.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import formats
from .api import open as open_series
from .errors import LazyImsError

#: File names the reader is offered (napari.yaml lists the same patterns).
SUFFIXES = (".h5", ".hdf5", ".nxs", ".npz", ".fch5", ".yml", ".yaml", ".zarr")

LayerData = tuple[Any, dict[str, Any], str]


def get_reader(path: str | list[str]) -> Callable[[Any], list[LayerData]] | None:
    """napari's ``get_reader`` hook: :func:`read` when lazyims can open ``path``, else None.

    Only the file's name and header are looked at (as :func:`lazyims.open` does).
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not paths:
        return None
    for p in paths:
        if Path(p).suffix.lower() not in SUFFIXES:
            return None
        try:
            formats.detect(os.fspath(p))
        except (LazyImsError, OSError):
            return None  # not a series lazyims reads: let another reader try
    return read


def read(path: str | list[str]) -> list[LayerData]:
    """One image layer per file: the frames (lazy, one per chunk) and the metadata."""
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    return [layer_data(p) for p in paths]


def layer_data(path: str | os.PathLike) -> LayerData:
    """napari's layer data of one file: (dask array, layer options, ``"image"``)."""
    series = open_for_viewing(path)
    metadata = series.metadata
    panel = metadata.get("panel")
    name = Path(path).stem + (f" ({panel})" if isinstance(panel, str) and panel else "")
    options = {
        "name": name,
        "metadata": {"lazyims": metadata, "source": series.source, "format": series.format},
    }
    return series.data, options, "image"


def open_for_viewing(path: str | os.PathLike) -> Any:
    """The series of ``path`` with one frame per dask chunk where the format allows it."""
    fmt = formats.detect(os.fspath(path))
    if "frames_per_chunk" in inspect.signature(fmt.open).parameters:
        return open_series(path, format=fmt.name, frames_per_chunk=1)
    return open_series(path, format=fmt.name)
