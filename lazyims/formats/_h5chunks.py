"""Fast reads of gzip/shuffle HDF5 datasets: raw chunks decoded outside HDF5's lock.

HDF5 (and h5py over it) holds one global lock while it reads *and* decompresses,
so threads reading a gzip dataset through ``dset[...]`` take turns, and HDF5's
zlib is slow. For datasets whose only filters are shuffle and/or deflate (what
HEXRD writes), this module reads each chunk's stored bytes with
``read_direct_chunk`` (the lock is held only for that raw read), inflates them with
libdeflate (the ``deflate`` package, which releases the GIL) and undoes the shuffle
with numpy, so several threads decode at the same time.

Anything else (other filters, unallocated chunks, contiguous datasets, odd dtypes)
is left to h5py: :func:`read_fast` returns None, or reads that chunk through h5py.
A stored chunk that does not decode to exactly its size (or fails zlib's adler32
check) raises :class:`DamagedChunk`: never a fallback that fills it.
"""

from __future__ import annotations

import ctypes
import itertools
import sys
import threading

import h5py
import numpy as np

try:
    import deflate as _libdeflate
except ImportError:  # pragma: no cover - the fast path is optional
    _libdeflate = None


def _load_libdeflate_c():
    """libdeflate's C functions inside the ``deflate`` package's extension, or None.

    Calling them through ctypes lets each thread inflate into one reused buffer:
    the package's ``zlib_decompress`` allocates a new buffer per chunk, and on
    dask.distributed workers (whose nanny sets ``MALLOC_TRIM_THRESHOLD_``) every such
    8 MiB allocation page-faults afresh, 16 ms per frame instead of 12 (measured).
    ctypes releases the GIL during the call.

    The extension's file is found through ``deflate._deflate``, a private name of the
    package: when it is missing (another release of ``deflate``) or the library lacks a
    function, this returns None and :func:`_inflate` uses the package's documented
    ``zlib_decompress`` instead (both paths are tested).
    """
    if _libdeflate is None:
        return None
    try:
        lib = ctypes.CDLL(_libdeflate._deflate.__file__)
        lib.libdeflate_alloc_decompressor.restype = ctypes.c_void_p
        lib.libdeflate_alloc_decompressor.argtypes = []
        lib.libdeflate_free_decompressor.restype = None
        lib.libdeflate_free_decompressor.argtypes = [ctypes.c_void_p]
        lib.libdeflate_zlib_decompress.restype = ctypes.c_int
        lib.libdeflate_zlib_decompress.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.POINTER(ctypes.c_size_t),
        ]
    except (OSError, AttributeError):
        return None
    return lib


_C = _load_libdeflate_c()


class _Decompressor:
    """One thread's libdeflate decompressor and output buffer, freed with the thread."""

    def __init__(self) -> None:
        self.handle = _C.libdeflate_alloc_decompressor()
        if not self.handle:
            raise MemoryError("libdeflate could not allocate a decompressor")
        self.buffer = np.empty(0, np.uint8)

    def inflate(self, raw: bytes, nbytes: int) -> np.ndarray | None:
        """The inflated bytes, a view of this thread's buffer (valid until its next call)."""
        if self.buffer.size < nbytes:
            self.buffer = np.empty(nbytes, np.uint8)
        actual = ctypes.c_size_t()
        status = _C.libdeflate_zlib_decompress(
            self.handle, raw, len(raw), self.buffer.ctypes.data, nbytes, ctypes.byref(actual)
        )
        if status != 0 or actual.value != nbytes:
            return None
        return self.buffer[:nbytes]

    def __del__(self) -> None:
        if _C is not None and getattr(self, "handle", None):
            _C.libdeflate_free_decompressor(self.handle)


_THREAD = threading.local()


def _inflate(raw: bytes, nbytes: int):
    """Inflate a zlib stream of ``nbytes`` bytes; None when it is damaged.

    With libdeflate's C API the result is a view of a per-thread buffer: use (copy)
    it before this thread inflates again.
    """
    if _C is None:
        try:
            return _libdeflate.zlib_decompress(raw, nbytes)
        except (_libdeflate.DeflateError, ValueError):
            return None
    decompressor = getattr(_THREAD, "decompressor", None)
    if decompressor is None:
        decompressor = _THREAD.decompressor = _Decompressor()
    return decompressor.inflate(bytes(raw), nbytes)


class DamagedChunk(RuntimeError):
    """A stored chunk that does not decode to exactly the chunk's size.

    Raised, never filled in: HDF5 itself would hand back such a chunk padded with
    zeros or garbage.
    """


_SHUFFLE = h5py.h5z.FILTER_SHUFFLE
_DEFLATE = h5py.h5z.FILTER_DEFLATE


def decodable_filters(dset: h5py.Dataset) -> tuple[int, ...] | None:
    """The dataset's filter ids, in pipeline order, when this module decodes them all; else None."""
    if _libdeflate is None or dset.chunks is None:
        return None
    if dset.dtype.kind not in "iuf" or dset.dtype.hasobject:
        return None
    plist = dset.id.get_create_plist()
    filters = tuple(plist.get_filter(i)[0] for i in range(plist.get_nfilters()))
    if not filters or any(code not in (_SHUFFLE, _DEFLATE) for code in filters):
        # No filter: h5py's own read is a plain copy and already fast.
        return None
    return filters


def read_fast(dset: h5py.Dataset, selection: tuple[slice, ...]) -> np.ndarray | None:
    """``dset[selection]`` decoded chunk by chunk outside HDF5's lock, or None when unsupported.

    ``selection`` holds one slice per dimension with explicit, in-range ``start`` and
    ``stop`` and step 1.
    """
    filters = decodable_filters(dset)
    if filters is None:
        return None
    dtype = dset.dtype
    chunk_shape = dset.chunks
    out = np.empty(tuple(s.stop - s.start for s in selection), dtype=dtype)
    if out.size == 0:
        return out
    # Chunk grid coordinates overlapping the selection, per dimension.
    ranges = [
        range(s.start // c * c, s.stop, c) for s, c in zip(selection, chunk_shape, strict=True)
    ]
    for origin in itertools.product(*ranges):
        # This chunk & the selection: where it goes in `out`, where it is in the chunk.
        dst, src = [], []
        for o, c, s in zip(origin, chunk_shape, selection, strict=True):
            lo, hi = max(o, s.start), min(o + c, s.stop)
            dst.append(slice(lo - s.start, hi - s.start))
            src.append(slice(lo - o, hi - o))
        whole = all(r.start == 0 and r.stop == c for r, c in zip(src, chunk_shape, strict=True))
        target = out[tuple(dst)]
        if whole and target.flags.c_contiguous:
            # The chunk lies inside the selection: decode straight into the output.
            done = _read_chunk(dset, origin, filters, target)
        else:
            chunk = _read_chunk(dset, origin, filters)
            done = chunk is not None
            if done:
                target[...] = chunk[tuple(src)]
        if not done:  # not stored (fill value) or not decodable: let HDF5 read that part
            part = tuple(slice(o + r.start, o + r.stop) for o, r in zip(origin, src, strict=True))
            target[...] = dset[part]
    return out


def _read_chunk(dset: h5py.Dataset, origin: tuple[int, ...], filters: tuple[int, ...], dest=None):
    """One whole chunk, decoded (into ``dest`` when given, then True); None when not stored."""
    try:
        mask, raw = dset.id.read_direct_chunk(origin)  # HDF5's lock is held only here
    except (KeyError, OSError, RuntimeError, ValueError):
        return None  # chunk never written: HDF5 gives the fill value
    dtype = dset.dtype
    nbytes = int(np.prod(dset.chunks)) * dtype.itemsize
    data = raw
    # Undo the filters in reverse pipeline order, skipping those the mask says were not applied.
    steps = [filters[i] for i in reversed(range(len(filters))) if not mask & (1 << i)]
    for n, code in enumerate(steps):
        last = n == len(steps) - 1
        if code == _DEFLATE:
            data = _inflate(data, nbytes)
            if data is None:
                raise DamagedChunk(f"the chunk at {origin} does not inflate to {nbytes} bytes")
        else:
            data = unshuffle(data, dtype.itemsize, dest if last else None)
    if len(data) != nbytes:
        raise DamagedChunk(f"the chunk at {origin} holds {len(data)} bytes, not {nbytes}")
    if dest is None:
        chunk = np.frombuffer(data, dtype=dtype).reshape(dset.chunks)
        # Inflated last, the bytes may be this thread's reused buffer: copy them.
        return chunk.copy() if steps and steps[-1] == _DEFLATE else chunk
    if not (steps and steps[-1] == _SHUFFLE):  # not yet written into dest
        dest.reshape(-1).view(np.uint8)[:] = np.frombuffer(data, dtype=np.uint8)
    return True


def unshuffle(data, itemsize: int, dest: np.ndarray | None = None) -> np.ndarray:
    """Undo HDF5's shuffle filter: byte planes (all first bytes, all second bytes...) back to items.

    Writes into ``dest`` (a C-contiguous array of ``len(data)`` bytes) when given.
    One strided copy per byte plane is several times faster than a transpose copy;
    2-byte items (uint16 detectors) are faster still as ``high << 8 | low``.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    out = np.empty(buffer.size, np.uint8) if dest is None else dest.reshape(-1).view(np.uint8)
    if itemsize == 1:
        out[:] = buffer
        return out
    count = buffer.size // itemsize
    planes = buffer[: count * itemsize].reshape(itemsize, count)
    if itemsize == 2 and sys.byteorder == "little":
        # Byte 0 of each item in memory is the low byte of a native uint16.
        words = out[: 2 * count].view(np.uint16)
        np.left_shift(planes[1], 8, out=words, dtype=np.uint16)
        np.bitwise_or(words, planes[0], out=words)
    else:
        items = out[: count * itemsize].reshape(count, itemsize)
        for k in range(itemsize):
            items[:, k] = planes[k]
    out[count * itemsize :] = buffer[count * itemsize :]  # HDF5 leaves trailing bytes unshuffled
    return out
