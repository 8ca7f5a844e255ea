"""The yml style of frame-cache (older, still in the wild): a YAML file beside an npz.

::

    data:
      file: scan_cache.npz      # relative to the YAML's folder; holds only {i}_* members
      dtype: float32
      nframes: 1440
      shape: [3888, 3072]
    meta:
      panel: ff1
      omega: '! load-numpy-array scan-omega.npy'

Metadata values ``'! load-numpy-array NAME.npy'`` load a .npy file, found relative
to the YAML's folder first, then the working directory (HEXRD uses the working
directory only). The older form ``key: ++np.array`` takes its value from the
sibling key ``key-array``.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..._files import atomic_output
from ..._yaml import load_yaml, resolve_relative, yaml_metadata
from ...errors import FileContentError, MetadataError
from ...series import ImageSeries
from ._common import check_metadata, parse_dtype, parse_nframes, parse_shape
from .npz import (
    check_frame_members,
    check_writable,
    series_from_npz,
    write_cache_npz,
    zip_index,
)

LOAD_NUMPY = "! load-numpy-array"


def open_yml(fname: str, frames_per_chunk: int | None = None) -> ImageSeries:
    """Open a yml frame-cache: reads the YAML, the npz's directory and the .npy metadata."""
    doc, folder = load_yaml(fname)
    data = doc.get("data")
    if not isinstance(data, dict):
        raise FileContentError("not a frame-cache YAML: no 'data' mapping", fname)
    missing = [k for k in ("file", "dtype", "nframes", "shape") if k not in data]
    if missing:
        raise FileContentError(f"'data' has no {', '.join(missing)}", fname)
    cache = os.fspath(resolve_relative(str(data["file"]), folder))
    shape = parse_shape(data["shape"], fname)
    nframes = parse_nframes(data["nframes"], fname)
    dtype = parse_dtype(data["dtype"], fname)
    npys: list[str] = []
    metadata = yaml_metadata(doc.get("meta"), folder, fname, npys)
    check_frame_members(zip_index(cache), nframes, cache)
    return series_from_npz(
        cache,
        shape,
        nframes,
        dtype,
        metadata,
        frames_per_chunk,
        "yml",
        source=fname,
        files=(fname, cache, *npys),
    )


def _inline(value: np.ndarray) -> Any:
    """A 0-d text or number as a plain YAML value, or None when it goes to a .npy file."""
    if value.ndim != 0:
        return None
    if value.dtype.kind == "U":
        return str(value)
    if value.dtype.kind in "biuf":
        return value.item()
    return None


def npy_beside(final: Path, key: str) -> Path:
    """``NAME-KEY.npy`` beside the YAML ``final``; a key that would name a file elsewhere
    (path separators of any system, control characters) is an error."""
    if any(c in key for c in "/\\") or any(ord(c) < 32 for c in key):
        raise MetadataError(
            f"metadata name {key!r} cannot be part of a .npy file name "
            "(it has a path separator or a control character)",
            final,
        )
    npy = final.with_name(f"{final.stem}-{key}.npy")
    if npy.parent != final.parent:  # never write outside the folder the user named
        raise MetadataError(f"metadata name {key!r} names a file outside {final.parent}", final)
    return npy


def write_yml(series: ImageSeries, fname: str, threshold: Any) -> None:
    """Write ``series`` as a yml frame-cache: ``NAME.yml``, ``NAME_cache.npz``, ``NAME-KEY.npy``.

    The YAML appears last, once the cache and the .npy files are whole.
    """
    check_writable(series, threshold, fname)
    metadata = check_metadata(series.metadata, fname, reserved=False)
    final = Path(fname)
    cache = final.with_name(f"{final.stem}_cache.npz")
    meta: dict[str, Any] = {}
    arrays: dict[Path, np.ndarray] = {}
    for key, value in metadata.items():
        inline = _inline(value)
        if inline is not None:
            meta[key] = inline
        else:
            npy = npy_beside(final, key)
            arrays[npy] = value
            meta[key] = f"{LOAD_NUMPY} {npy.name}"
    doc = {
        "data": {
            "file": cache.name,
            "dtype": str(series.dtype),
            "nframes": int(series.nframes),
            "shape": [int(n) for n in series.frame_shape],
        },
        "meta": meta,
    }
    with ExitStack() as stack:
        # Entered first, so replaced last: the YAML appears only when all else is in place.
        yml_tmp = stack.enter_context(atomic_output(final, series.files))
        npy_tmps = {p: stack.enter_context(atomic_output(p, series.files)) for p in arrays}
        cache_tmp = stack.enter_context(atomic_output(cache, series.files))
        write_cache_npz(series, cache_tmp, threshold, fname, header={})
        for npy, value in arrays.items():
            with open(npy_tmps[npy], "wb") as fh:
                np.lib.format.write_array(fh, value, allow_pickle=False)
        yml_tmp.write_text(yaml.safe_dump(doc, sort_keys=False))
