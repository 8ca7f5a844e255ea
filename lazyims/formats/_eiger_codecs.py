"""Decoding the compressed frames of DECTRIS Eiger detectors.

An Eiger frame is stored as one compressed blob:

- ``bslz4``: bitshuffle + LZ4, framed as the bitshuffle HDF5 filter frames it: a
  12-byte header (uncompressed size, uint64 big-endian; block size in bytes, uint32
  big-endian), then each block as its compressed size (uint32 big-endian) and LZ4 data.
  The raw chunks of DECTRIS master/data files are exactly such blobs.
- ``lz4``: LZ4 in the HDF5 LZ4 filter's framing (same header and block layout).
- ``csrnpz``: the uncompressed size (uint64 big-endian) then a scipy sparse CSR matrix
  as written by ``scipy.sparse.save_npz``.
- no compression: the frame's bytes.

``lz4`` and ``bslz4`` are decoded by ``dectris-compression``, DECTRIS' own decoder
(the one HEXRD uses). It releases the GIL and runs no thread pool of its own, so
frames decode in parallel on dask's threads, and a one-thread run really is one.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np

from ..errors import FileContentError

try:
    from dectris.compression import decompress as _dectris_decompress
except ImportError:  # pragma: no cover - a dependency; the error below says what to install
    _dectris_decompress = None

#: Compression names as Eiger stream files write them; ``None`` means none.
COMPRESSIONS = ("bslz4", "lz4", "csrnpz", None)


def compression_name(value: Any, path: str, where: str) -> str | None:
    """The compression named by a file's ``compression_type`` value (None for none)."""
    if isinstance(value, (bytes, np.bytes_)):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return compression_name(value[()], path, where)
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    if isinstance(value, str) and value in COMPRESSIONS:
        return value
    raise FileContentError(
        f"{where}: unknown compression_type {value!r} (known: bslz4, lz4, csrnpz, none)", path
    )


def decode_dense(
    blob: bytes,
    compression: str | None,
    dtype: np.dtype,
    shape: tuple[int, int],
    elem_size: int,
    path: str,
    where: str,
) -> np.ndarray:
    """A dense frame from a ``bslz4``/``lz4``/uncompressed blob (read-only, as HEXRD's)."""
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if compression is None:
        raw = blob
    else:
        if compression == "bslz4" and elem_size != dtype.itemsize:
            raise FileContentError(
                f"{where}: elem_size {elem_size} does not match the {dtype} frames "
                f"({dtype.itemsize} bytes per pixel)",
                path,
            )
        raw = decompress(blob, compression, elem_size, path, where)
    if len(raw) != nbytes:
        raise FileContentError(
            f"{where}: the blob holds {len(raw)} bytes, but a {shape[0]}x{shape[1]} {dtype} "
            f"frame is {nbytes} bytes (truncated or damaged)",
            path,
        )
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def decompress(blob: bytes, compression: str, elem_size: int, path: str, where: str) -> bytes:
    """``lz4`` or ``bslz4`` bytes decompressed (the GIL is released while decoding)."""
    if _dectris_decompress is None:  # pragma: no cover
        raise FileContentError(
            f"{where}: {compression} frames need the dectris-compression package "
            "(pip install dectris-compression)",
            path,
        )
    try:
        return _dectris_decompress(blob, compression, elem_size=elem_size)
    except (RuntimeError, ValueError, SystemError, OverflowError) as exc:
        raise FileContentError(
            f"{where}: cannot decompress the {compression} blob (elem_size {elem_size}): "
            f"truncated or damaged ({exc})",
            path,
        ) from None


def decode_csrnpz(
    blob: bytes, shape: tuple[int, int], path: str, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, col, value) of the stored pixels of a ``csrnpz`` blob."""
    from scipy.sparse import load_npz

    try:
        matrix = load_npz(io.BytesIO(bytes(blob[8:])))
        coo = matrix.tocoo()
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        # (numpy calls any non-zip bytes "pickled data": not helpful here)
        raise FileContentError(
            f"{where}: cannot read the csrnpz blob: not a scipy sparse matrix in npz form", path
        ) from None
    if tuple(coo.shape) != tuple(shape):
        raise FileContentError(
            f"{where}: the csrnpz matrix is {coo.shape[0]}x{coo.shape[1]}, "
            f"but the frame is {shape[0]}x{shape[1]}",
            path,
        )
    return np.asarray(coo.row), np.asarray(coo.col), np.asarray(coo.data)
