"""Decoding one stored Eiger frame (HEXRD's ``load.eiger``), with lazyims' decoders."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ...errors import FileContentError
from ...formats._eiger_codecs import COMPRESSIONS, decode_csrnpz, decode_dense

_KEYS = ("compression_type", "dtype", "shape", "data", "elem_size")


def decompress_frame(d: Mapping[str, Any]) -> np.ndarray:
    """The frame of one stored Eiger blob, given as the datasets of its group.

    Parameters
    ----------
    d
        ``compression_type`` (``bslz4``, ``lz4``, ``csrnpz``, or None for none),
        ``dtype``, ``shape``, ``elem_size`` (bytes per pixel) and ``data`` (the
        blob, bytes or ``numpy.void``), as an Eiger stream file stores them.

    Returns
    -------
    numpy.ndarray
        The frame: read-only for the dense compressions (as HEXRD's), a new array
        for ``csrnpz``.

    Raises
    ------
    lazyims.FileContentError
        (also a ``ValueError``) for an unknown compression type, a missing key, or a
        blob that does not decode to the frame.
    """
    missing = [key for key in _KEYS if key not in d]
    if missing:
        raise FileContentError(f"the frame has no {', '.join(missing)}")
    compression = d["compression_type"]
    if isinstance(compression, (bytes, np.bytes_)):
        compression = compression.decode("utf-8", errors="replace")
    if isinstance(compression, str) and compression.strip().lower() in ("", "none"):
        compression = None
    if compression not in COMPRESSIONS:
        raise FileContentError(
            f"Unsupported compression type: {compression}; known: bslz4, lz4, csrnpz, None"
        )
    try:
        dtype = np.dtype(d["dtype"] if not isinstance(d["dtype"], bytes) else d["dtype"].decode())
        shape = tuple(int(n) for n in np.asarray(d["shape"]).ravel())
        elem_size = int(d["elem_size"])
    except (TypeError, ValueError) as exc:
        raise FileContentError(
            f"the frame's dtype, shape or elem_size is not valid: {exc}"
        ) from None
    blob = d["data"].tobytes() if isinstance(d["data"], np.void) else bytes(d["data"])
    if compression == "csrnpz":
        row, col, value = decode_csrnpz(blob, shape, None, "the csrnpz frame")
        frame = np.zeros(shape, value.dtype)
        frame[row, col] = value
        return frame
    return decode_dense(blob, compression, dtype, shape, elem_size, None, "the frame")


__all__ = ["decompress_frame"]
