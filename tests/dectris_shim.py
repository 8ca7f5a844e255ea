"""A stand-in ``dectris.compression`` for HEXRD's Eiger readers, built on imagecodecs.

HEXRD's own Eiger loaders (and its tests' ``importorskip``) import
``dectris.compression``, which has no wheels. Where it is not installed, :func:`install`
registers this module's :func:`decompress` under that name, so HEXRD's reference code
can still read the test files. It is written apart from lazyims' decoder (one LZ4 call
per block, then the bit unshuffle), so a test comparing the two still compares two
implementations.
"""

from __future__ import annotations

import importlib.util
import struct
import sys
import types

import imagecodecs


def decompress(data: bytes, compression: str, elem_size: int | None = None) -> bytes:
    """``lz4`` or ``bslz4`` bytes (HDF5 filter framing) decompressed, as DECTRIS' does."""
    data, elem_size = bytes(data), int(elem_size or 1)
    total, block_bytes = struct.unpack_from(">QI", data)
    if compression == "lz4":
        return bytes(imagecodecs.lz4h5_decode(data))
    if compression != "bslz4":
        raise ValueError(f"unknown compression {compression!r}")
    tail = (total // elem_size) % 8 * elem_size
    body, out, position = total - tail, bytearray(), 12
    while len(out) < body:
        (length,) = struct.unpack_from(">I", data, position)
        size = min(block_bytes, body - len(out))
        out += imagecodecs.lz4_decode(data[position + 4 : position + 4 + length], out=size)
        position += 4 + length
    unshuffled = imagecodecs.bitshuffle_decode(
        bytes(out), itemsize=elem_size, blocksize=block_bytes // elem_size
    )
    return bytes(unshuffled) + data[position : position + tail]


def install() -> bool:
    """Register the stand-in as ``dectris.compression`` unless the real one is installed.

    Returns True when the stand-in was registered.
    """
    # lazyims looks for DECTRIS' decoder once, at import: it decides before the stand-in
    # exists, so it decodes with imagecodecs (as users without the extra do), not with this.
    import lazyims.formats._eiger_codecs  # noqa: F401

    if "dectris.compression" in sys.modules:
        return False
    try:
        if importlib.util.find_spec("dectris.compression") is not None:
            return False
    except ImportError:
        pass
    package = types.ModuleType("dectris")
    package.__path__ = []
    module = types.ModuleType("dectris.compression")
    module.decompress = decompress
    package.compression = module
    sys.modules["dectris"] = package
    sys.modules["dectris.compression"] = module
    return True
