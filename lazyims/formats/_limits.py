"""Limits on what a file's header may declare, checked at open before anything is allocated.

A damaged or hostile header can declare 10^12 frames or 10^6 x 10^6 pixels in a file
of a few bytes (HDF5 and zarr store unwritten chunks as nothing). lazyims would then
build a task graph of billions of chunks, or allocate terabytes for one frame. The
caps are far above any detector: the largest panels are ~16 million pixels and scans
a few tens of thousands of frames.
"""

from __future__ import annotations

from typing import Any

from ..errors import FileContentError

#: The most frames a series opened from a file may have.
MAX_FRAMES = 10_000_000
#: The most pixels one frame may have (16384 x 16384).
MAX_FRAME_PIXELS = 2**28
#: The most bytes one metadata value read from a file may have (omega of 10^7 frames
#: is 160 MB); an HDF5 dataset of a few bytes on disk may declare terabytes.
MAX_METADATA_BYTES = 2**28
#: The most bytes one stored frame (a compressed blob) may have: the largest frame of
#: float64 pixels, with room for a codec's overhead.
MAX_FRAME_BYTES = 8 * MAX_FRAME_PIXELS + 2**20


def check_declared_size(nframes: int, frame_shape: tuple[int, int], where: Any) -> None:
    """Refuse a header declaring more frames or larger frames than the caps."""
    rows, cols = (int(n) for n in frame_shape)
    if nframes > MAX_FRAMES:
        raise FileContentError(
            f"the header declares {nframes} frames, more than lazyims opens ({MAX_FRAMES}); "
            "the file is damaged or not what it seems",
            where,
        )
    if rows * cols > MAX_FRAME_PIXELS:
        raise FileContentError(
            f"the header declares frames of {rows}x{cols} pixels, more than lazyims opens "
            f"({MAX_FRAME_PIXELS} pixels); the file is damaged or not what it seems",
            where,
        )


def check_metadata_size(
    shape: tuple[int, ...], itemsize: int, where: Any, what: str, limit: int = MAX_METADATA_BYTES
) -> None:
    """Refuse a value read from a file (metadata by default) declaring more than ``limit``
    bytes, before it is read."""
    nbytes = int(itemsize)
    for n in shape:
        nbytes *= int(n)
    if nbytes > limit:
        raise FileContentError(
            f"{what} declares {' x '.join(map(str, shape))} values ({nbytes} bytes), more "
            f"than lazyims reads there ({limit} bytes); the file is damaged "
            "or not what it seems",
            where,
        )
