"""Metadata helpers shared by the formats and the series type.

Metadata is a plain dict. Values that describe every frame (``omega``, shape
(nframes, 2)) travel with the frames when a series is sliced.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import MetadataError

#: Metadata keys whose first axis runs over the frames.
PER_FRAME_KEYS = ("omega",)


def decode_value(value: Any) -> Any:
    """Return ``value`` with bytes turned into str (HDF5 and npz store text as bytes)."""
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.dtype.kind == "S":
        return np.char.decode(value, "utf-8", errors="replace")
    return value


def normalize(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Copy ``metadata`` into a new dict with text decoded."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise MetadataError(f"metadata must be a mapping, not {type(metadata).__name__}")
    return {str(k): decode_value(v) for k, v in metadata.items()}


def per_frame_keys(
    metadata: Mapping[str, Any], nframes: int, where: str | None = None
) -> list[str]:
    """Names of the per-frame metadata arrays, checked against ``nframes``.

    ``where`` (the series' source file) is named in the error.
    """
    keys = []
    for key in PER_FRAME_KEYS:
        if key not in metadata:
            continue
        value = np.asarray(metadata[key])
        if value.ndim == 0 or value.shape[0] != nframes:
            raise MetadataError(
                f"metadata {key!r} has shape {value.shape}, but the series has {nframes} frames",
                where,
            )
        keys.append(key)
    return keys


def select_frames(
    metadata: Mapping[str, Any], nframes: int, index: Any, where: str | None = None
) -> dict[str, Any]:
    """Metadata of the frames ``index`` selects: per-frame arrays are indexed too."""
    out = dict(metadata)
    for key in per_frame_keys(metadata, nframes, where):
        out[key] = np.asarray(metadata[key])[index]
    return out
