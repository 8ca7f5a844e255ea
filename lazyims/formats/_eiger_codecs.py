"""Decoding the compressed frames of DECTRIS Eiger detectors.

An Eiger frame is stored as one compressed blob:

- ``bslz4``: bitshuffle + LZ4, framed as the bitshuffle HDF5 filter frames it: a
  12-byte header (uncompressed size, uint64 big-endian; block size in bytes, uint32
  big-endian), then each block as its compressed size (uint32 big-endian) and LZ4 data;
  when the element count is not a multiple of 8, its last ``count % 8`` elements follow
  unshuffled and uncompressed. The raw chunks of DECTRIS master/data files are exactly
  such blobs.
- ``bszstd`` (DECTRIS master/data files only): the same with zstd blocks.
- ``lz4``: LZ4 in the HDF5 LZ4 filter's framing (same header and block layout; a block
  whose compressed size equals its size is stored as it is).
- ``csrnpz``: the uncompressed size (uint64 big-endian) then a scipy sparse CSR matrix
  as written by ``scipy.sparse.save_npz``.
- no compression: the frame's bytes.

``lz4``, ``bslz4`` and ``bszstd`` are decoded with ``imagecodecs`` (binary wheels on every platform):
its HDF5-LZ4 decoder undoes the block framing in C, then its bitshuffle decoder
unshuffles the bits. Both release the GIL and run in the calling thread (they start no
thread pool of their own, and take no thread count), so frames decode in parallel on
dask's threads only, and a one-thread run really is one.

Speed: the LZ4 output of ``bslz4`` goes into a scratch buffer that each thread keeps
(up to :data:`SCRATCH_KEEP` bytes), so only the frame itself is a fresh allocation.
imagecodecs' bit unshuffling is slower than DECTRIS' own decoder (``dectris-compression``,
which HEXRD uses; it has no wheels and needs a C++20 compiler): when that package is
installed (``pip install "lazyims[dectris]"``), it decodes instead, with the same
result and no threads of its own either. benchmarks/eiger.md compares them.
"""

from __future__ import annotations

import io
import struct
import threading
import zipfile
from typing import Any

import imagecodecs
import numpy as np

from ..errors import FileContentError

try:  # DECTRIS' own decoder, when installed (the ``dectris`` extra): faster, same bytes
    from dectris.compression import decompress as _dectris_decompress
except ImportError:
    _dectris_decompress = None

#: Compression names as Eiger stream files write them; ``None`` means none.
COMPRESSIONS = ("bslz4", "lz4", "csrnpz", None)

#: A thread keeps its ``bslz4`` scratch buffer for the next frame when it is at most
#: this many bytes (larger frames get a fresh one each time).
SCRATCH_KEEP = 128 * 2**20

_HEADER = struct.Struct(">QI")
_BLOCK_SIZE = struct.Struct(">I")
_DECODE_ERRORS = (RuntimeError, ValueError, TypeError, OverflowError, MemoryError, SystemError)
_local = threading.local()


class _Damaged(Exception):
    """A blob that does not decode; the caller names the file and the frame."""


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
        raw = decompress(blob, compression, elem_size, path, where, nbytes)
    if len(raw) != nbytes:
        raise FileContentError(
            f"{where}: the blob holds {len(raw)} bytes, but a {shape[0]}x{shape[1]} {dtype} "
            f"frame is {nbytes} bytes (truncated or damaged)",
            path,
        )
    frame = np.frombuffer(raw, dtype=dtype).reshape(shape)
    frame.flags.writeable = False
    return frame


def decompress(
    blob: bytes,
    compression: str,
    elem_size: int,
    path: str | None,
    where: str,
    expected: int | None = None,
) -> np.ndarray:
    """``lz4``, ``bslz4`` or ``bszstd`` bytes decompressed, as a uint8 array (the GIL is released).

    ``expected`` is the frame's size in bytes: a blob whose header declares another size
    is refused before anything is allocated.
    """
    try:
        if compression not in ("lz4", "bslz4", "bszstd"):
            raise _Damaged(f"unknown compression {compression!r}")
        if _dectris_decompress is not None:
            _header(blob, expected)  # the declared size, checked before anything is allocated
            return np.frombuffer(
                _dectris_decompress(blob, compression, elem_size=elem_size), np.uint8
            )
        if compression == "lz4":
            return _lz4(blob, expected)
        return _bitshuffled(blob, elem_size, expected, zstd=compression == "bszstd")
    except _Damaged as exc:
        problem = str(exc)
    except _DECODE_ERRORS as exc:
        problem = f"{type(exc).__name__}: {exc}"
    raise FileContentError(
        f"{where}: cannot decompress the {compression} blob (elem_size {elem_size}): "
        f"truncated or damaged ({problem})",
        path,
    )


def _header(blob: bytes, expected: int | None) -> tuple[int, int]:
    """(uncompressed size, block size) from a blob's 12-byte header, checked."""
    if len(blob) < _HEADER.size:
        raise _Damaged(f"{len(blob)} bytes, shorter than the 12-byte header")
    total, block_bytes = _HEADER.unpack_from(blob)
    if expected is not None and total != expected:
        raise _Damaged(f"its header declares {total} bytes, the frame is {expected}")
    if block_bytes == 0 and total:
        raise _Damaged("its header declares blocks of 0 bytes")
    return total, block_bytes


def _lz4(blob: bytes, expected: int | None) -> np.ndarray:
    total, _ = _header(blob, expected)
    out = np.empty(total, np.uint8)
    if total:
        _check_length(imagecodecs.lz4h5_decode(blob, out=out), total)
    return out


def _check_length(decoded: Any, total: int) -> None:
    """The HDF5-LZ4 framing decoder fills what the blocks hold and says how much: less
    than the header declares (blocks of zeros, say) is damage, not a frame to return."""
    if len(decoded) != total:
        raise _Damaged(f"its blocks hold {len(decoded)} bytes, its header declares {total}")


def _bitshuffled(blob: bytes, itemsize: int, expected: int | None, zstd: bool) -> np.ndarray:
    total, block_bytes = _header(blob, expected)
    if itemsize <= 0 or total % itemsize or block_bytes % (8 * itemsize):
        raise _Damaged(
            f"{total} bytes in blocks of {block_bytes} is not a whole number of "
            f"{itemsize}-byte elements in blocks of a multiple of 8 of them"
        )
    tail = (total // itemsize) % 8 * itemsize  # left unshuffled after the blocks
    body = total - tail
    end, stored_raw = _walk_blocks(blob, body, block_bytes)
    if end + tail > len(blob):
        raise _Damaged(f"the blocks end at byte {end + tail}, the blob has {len(blob)}")
    shuffled = _scratch(body)
    if zstd:
        _decode_blocks(blob, body, block_bytes, shuffled, imagecodecs.zstd_decode)
    elif stored_raw:
        # A block whose LZ4 data is exactly as long as the block: the HDF5-LZ4 framing
        # would take it as stored uncompressed, which bitshuffle never does.
        _decode_blocks(blob, body, block_bytes, shuffled, imagecodecs.lz4_decode)
    elif body:
        # (without the tail, the blocks are in the HDF5-LZ4 framing exactly)
        framed = blob if not tail else _HEADER.pack(body, block_bytes) + blob[12:end]
        _check_length(imagecodecs.lz4h5_decode(framed, out=shuffled), body)
    out = np.empty(total, np.uint8)
    if body:
        # (a memoryview: given a numpy array, imagecodecs takes the element size from its
        # dtype, not from ``itemsize``)
        imagecodecs.bitshuffle_decode(
            memoryview(shuffled),
            itemsize=itemsize,
            blocksize=block_bytes // itemsize,
            out=out[:body],
        )
    if tail:
        out[body:] = np.frombuffer(blob, np.uint8, tail, end)
    return out


def _walk_blocks(blob: bytes, body: int, block_bytes: int) -> tuple[int, bool]:
    """Where the LZ4 blocks of ``body`` bytes end, and whether one is as long as its data."""
    position, stored_raw, size = _HEADER.size, False, block_bytes
    unpack = _BLOCK_SIZE.unpack_from
    for start in range(0, body, block_bytes):
        if body - start < block_bytes:
            size = body - start
        if position + 4 > len(blob):
            raise _Damaged(f"the blob ends at byte {len(blob)}, inside its block list")
        (length,) = unpack(blob, position)
        stored_raw = stored_raw or length == size
        position += 4 + length
    return position, stored_raw


def _decode_blocks(blob: bytes, body: int, block_bytes: int, out: np.ndarray, decode: Any) -> None:
    """Each block on its own (zstd blocks; LZ4 blocks the HDF5-LZ4 framing misreads)."""
    position = _HEADER.size
    for start in range(0, body, block_bytes):
        stop = min(start + block_bytes, body)
        (length,) = _BLOCK_SIZE.unpack_from(blob, position)
        position += 4
        decoded = decode(blob[position : position + length], out=out[start:stop])
        if len(decoded) != stop - start:
            raise _Damaged(f"a block decodes to {len(decoded)} bytes, not {stop - start}")
        position += length


def _scratch(nbytes: int) -> np.ndarray:
    """A uint8 buffer of ``nbytes``, kept by the calling thread for the next frame."""
    buffer = getattr(_local, "scratch", None)
    if buffer is None or buffer.size < nbytes:
        buffer = np.empty(nbytes, np.uint8)
        if nbytes <= SCRATCH_KEEP:
            _local.scratch = buffer
    return buffer[:nbytes]


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
