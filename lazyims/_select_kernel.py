"""Order statistics of each pixel's values without sorting them (numba).

For integer frames as they lie (frame-major: ``values[frame, pixel]``, no transposing
copy), :func:`select_pair` finds, for every pixel, its ``k``-th and ``k + 1``-th
smallest values exactly, by bisection over the values: a pixel's ``k``-th smallest
value is the least ``x`` with more than ``k`` of its values ``<= x``. Each step counts
the values at or below the middle of the pixel's remaining range, for a block of
pixels at once (the inner loop runs along a frame's pixels: plain compares and adds
that the compiler vectorises), so a pixel whose values span ``2**b`` levels takes
``b`` steps, plus one for its min and max and one for the next value.

Compiled on first use per dtype and cached on disk by numba. Values are compared in
their own dtype; the middle of a range is computed in int64 without overflow, so
every integer dtype but uint64 goes in as it is (the caller maps uint64 onto int64,
keeping the order).
"""

from __future__ import annotations

import numba
import numpy as np

#: Bytes of values (across all frames) in one block of pixels: the block is counted
#: over once per bisection step, so it should stay in the CPU's cache.
BLOCK_BYTES = 128 * 2**10


@numba.njit(nogil=True, cache=True)
def select_pair(values, k, want_next, top, lows, nexts, counts, middles, highs):
    """``lows[p]`` = the ``k``-th smallest (from 0) of ``values[:, p]``, and ``nexts[p]``
    the ``k + 1``-th (when ``want_next``; else left alone).

    ``counts`` (unsigned, able to hold the number of frames), ``middles`` and ``highs``
    (the values' dtype) are work arrays of one block's width; ``top`` is the dtype's
    largest value.
    """
    n, pixels = values.shape
    width = counts.shape[0]
    block = np.empty((n, width), values.dtype)
    for p0 in range(0, pixels, width):
        p1 = min(pixels, p0 + width)
        w = p1 - p0
        # The block's values, copied together: the passes over them then read one run of
        # memory, not a short run per frame a band apart (slow from hundreds of frames).
        for f in range(n):
            row = values[f, p0:p1]
            dest = block[f]
            for j in range(w):
                dest[j] = row[j]
        block_lows = lows[p0:p1]
        _min_max(block, 0, w, block_lows, highs[:w])
        _bisect(block, 0, w, k, block_lows, highs[:w], middles[:w], counts[:w])
        if want_next:
            _next_value(block, 0, w, k, top, block_lows, nexts[p0:p1], counts[:w])


# Inner loops run over 1-D slices of one frame (the compiler vectorises those, not
# loops indexing the 2-D array).


@numba.njit(nogil=True, cache=True, inline="always")
def _min_max(values, p0, p1, lows, highs):
    first = values[0, p0:p1]
    for j in range(lows.shape[0]):
        lows[j] = first[j]
        highs[j] = first[j]
    for f in range(1, values.shape[0]):
        row = values[f, p0:p1]
        for j in range(lows.shape[0]):
            lows[j] = min(lows[j], row[j])
            highs[j] = max(highs[j], row[j])


@numba.njit(nogil=True, cache=True, inline="always")
def _bisect(values, p0, p1, k, lows, highs, middles, counts):
    """Narrow each pixel's [low, high] to its ``k``-th smallest value (left in ``lows``)."""
    w = lows.shape[0]
    while True:
        still = False
        for j in range(w):
            lo = np.int64(lows[j])
            hi = np.int64(highs[j])
            still |= lo < hi
            # the floor of (lo + hi) / 2 without overflow, also for int64
            middles[j] = (lo >> 1) + (hi >> 1) + (lo & hi & 1)
            counts[j] = 0
        if not still:
            return
        for f in range(values.shape[0]):
            row = values[f, p0:p1]
            for j in range(w):
                counts[j] += row[j] <= middles[j]
        for j in range(w):
            if counts[j] > k:
                highs[j] = middles[j]
            elif lows[j] < highs[j]:
                lows[j] = np.int64(middles[j]) + 1


@numba.njit(nogil=True, cache=True, inline="always")
def _next_value(values, p0, p1, k, top, lows, nexts, counts):
    """The ``k + 1``-th smallest: the ``k``-th again if more than ``k + 1`` values are at
    or below it, else the least value above it (there is one: ``k + 1`` < frames)."""
    w = lows.shape[0]
    for j in range(w):
        counts[j] = 0
        nexts[j] = top
    for f in range(values.shape[0]):
        row = values[f, p0:p1]
        for j in range(w):
            below = row[j] <= lows[j]
            counts[j] += below
            nexts[j] = min(nexts[j], top if below else row[j])
    for j in range(w):
        if counts[j] > k + 1:
            nexts[j] = lows[j]


def block_width(nframes: int, pixels: int, itemsize: int) -> int:
    """Pixels counted together: about :data:`BLOCK_BYTES` of values, a multiple of 64
    (whole vector registers), at least 64 and at most ``pixels``."""
    width = BLOCK_BYTES // max(1, nframes * itemsize)
    return int(max(1, min(pixels, max(64, width // 64 * 64))))


def count_dtype(nframes: int) -> np.dtype:
    """The narrowest unsigned dtype that counts ``nframes`` values (narrow counts keep
    the counting loop's vectors wide)."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if nframes <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.uint64)
