"""Checking a ``.npy`` header against the bytes that follow it, before numpy allocates.

``numpy.load`` allocates the array its header declares before reading it: a header of a
few bytes declaring 10^12 values asks for terabytes. Here the header is read with
numpy's own header readers and the bytes it declares are checked against the bytes
really there (a ``.npy`` file's size, or an npz member's size), so such a file is a
lazyims error naming it and nothing is allocated.
"""

from __future__ import annotations

import io
import math
import os
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy_format

from .errors import FileContentError, LazyImsError


def npy_header(
    fh: IO[bytes],
    available: int,
    where: Any,
    what: str,
    error: type[LazyImsError] = FileContentError,
) -> np.dtype:
    """Read the ``.npy`` header at ``fh``'s position and check the array it declares.

    Parameters
    ----------
    fh
        A binary stream at the start of a ``.npy`` array.
    available
        The bytes from that position to the end of the array's storage (the file's or
        the member's size).
    where
        The file named in the errors.
    what
        What the array is, for the errors (``"member 'omega'"``, ``"metadata 'omega'"``).
    error
        The error raised (a MetadataError for metadata files).

    Returns
    -------
    numpy.dtype
        The declared dtype; ``fh`` is left after the header.

    Raises
    ------
    FileContentError (or ``error``)
        The header is not a ``.npy`` header, declares objects (pickle), or declares
        more bytes than follow it.
    """
    start = fh.tell()
    try:
        version = npy_format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = npy_format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except (ValueError, EOFError, OSError, SyntaxError) as exc:
        raise error(f"{what} is not a .npy array ({exc})", where) from None
    if dtype.hasobject:
        raise error(f"{what} holds Python objects (a pickle), which lazyims does not load", where)
    declared = math.prod(int(n) for n in shape) * dtype.itemsize
    body = available - (fh.tell() - start)
    if declared > body:
        raise error(
            f"{what}: its .npy header declares a {' x '.join(map(str, shape)) or 'scalar'} "
            f"{dtype} array ({declared} bytes) but only {max(body, 0)} bytes follow: "
            "the file is damaged or not what it seems",
            where,
        )
    return dtype


def check_npy_bytes(body: bytes | memoryview, where: Any, what: str) -> None:
    """Check the ``.npy`` array in ``body`` (an npz member's bytes) declares no more
    bytes than it holds."""
    npy_header(io.BytesIO(body), len(body), where, what)


def load_npy_file(
    path: str | os.PathLike,
    where: Any,
    what: str,
    error: type[LazyImsError] = FileContentError,
) -> Any:
    """``numpy.load(path, allow_pickle=False)`` of a ``.npy`` file whose header was
    checked against the file's size first (see :func:`npy_header`).

    A file that is no ``.npy`` (an npz archive, say) is left to ``numpy.load``.
    """
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if fh.read(6) == b"\x93NUMPY":
            fh.seek(0)
            npy_header(fh, size, where, what, error)
    return np.load(path, allow_pickle=False)
