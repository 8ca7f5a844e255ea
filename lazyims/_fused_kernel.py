"""The compiled kernels of :mod:`lazyims._fused`: dark, flip, crop and threshold in one
pass over a frame (numba, which ``sparse`` installs). Compiled on first use per dtype
and cached on disk by numba.

Output pixel (i, j) is input pixel (a, b) with ``a = m[0] i + m[1] j + m[2]`` and
``b = m[3] i + m[4] j + m[5]`` (flips, transposes and crops). Its value is computed as
numpy computes the step-by-step graph: the frame's value cast to the output dtype,
then, with a dark, ``max(value, dark) - dark`` in the output dtype (NaN propagates,
integers wrap). Every value is stored in an array of the output dtype before it is
compared, so rounding and wrapping are numpy's, not those of numba's wider scalars.
A dark of shape (0, 0) means no dark.

Without a transpose (``m[1] == 0``) an output row is a span of one input row, read
forwards or backwards: its values are first computed into a row buffer by simple
loops over contiguous slices (which the compiler vectorises), then scanned. With a
transpose each pixel is computed on its own.
"""

from __future__ import annotations

import numba


@numba.njit(nogil=True, cache=True)
def _row_values(image, dark, has_dark, a, lo, count, buf):
    """``buf[q]``: input pixel (a, lo + q) after the dark, for q < count, output dtype."""
    src = image[a, lo : lo + count]
    for q in range(count):
        buf[q] = src[q]
    if has_dark:
        drow = dark[a, lo : lo + count]
        for q in range(count):
            v = buf[q]
            d = drow[q]
            # np.maximum: NaN in either stays NaN (v < NaN and NaN < d are False)
            buf[q] = (d if v < d else v) - d


@numba.njit(nogil=True, cache=True)
def _pixel_value(image, dark, has_dark, a, b, buf):
    """Input pixel (a, b) after the dark, through ``buf[0]`` (output dtype)."""
    buf[0] = image[a, b]
    if has_dark:
        v = buf[0]
        d = dark[a, b]
        buf[0] = (d if v < d else v) - d
    return buf[0]


@numba.njit(nogil=True, cache=True)
def kept_pixels_of_frame(image, dark, m, rows, cols, thr, out_r, out_c, out_v, buf):
    """Write row, column and value of the output pixels ``> thr[0]``, in row-major
    order, to ``out_*``; return how many. ``buf`` holds at least ``cols`` values of
    the output dtype."""
    n = 0
    t = thr[0]
    has_dark = dark.shape[0] > 0
    m0, m1, m2, m3, m4, m5 = m[0], m[1], m[2], m[3], m[4], m[5]
    for i in range(rows):
        a0 = m0 * i + m2
        b0 = m3 * i + m5
        if m1 == 0:  # output row i is input row a0, columns b0, b0 + m4, ...
            lo = min(b0, b0 + m4 * (cols - 1))
            _row_values(image, dark, has_dark, a0, lo, cols, buf)
            first = n
            for q in range(cols):
                v = buf[q]
                if v > t:
                    out_r[n] = i
                    out_c[n] = q if m4 == 1 else cols - 1 - q
                    out_v[n] = v
                    n += 1
            if m4 != 1:  # found right to left: put this row's pixels in column order
                out_c[first:n] = out_c[first:n][::-1].copy()
                out_v[first:n] = out_v[first:n][::-1].copy()
        else:
            for j in range(cols):
                v = _pixel_value(image, dark, has_dark, a0 + m1 * j, b0 + m4 * j, buf)
                if v > t:
                    out_r[n] = i
                    out_c[n] = j
                    out_v[n] = v
                    n += 1
    return n


@numba.njit(nogil=True, cache=True)
def thresholded_frame(image, dark, m, rows, cols, thr, out, buf):
    """Write the output frame to ``out`` (2-D, output dtype), values ``<= thr[0]`` set
    to 0 (NaN is kept, as ``np.where(x <= t, 0, x)`` keeps it). ``buf`` holds at least
    ``cols`` values of the output dtype."""
    t = thr[0]
    has_dark = dark.shape[0] > 0
    m0, m1, m2, m3, m4, m5 = m[0], m[1], m[2], m[3], m[4], m[5]
    for i in range(rows):
        a0 = m0 * i + m2
        b0 = m3 * i + m5
        if m1 == 0:
            lo = min(b0, b0 + m4 * (cols - 1))
            _row_values(image, dark, has_dark, a0, lo, cols, buf)
            for q in range(cols):
                v = buf[q]
                j = q if m4 == 1 else cols - 1 - q
                if v <= t:
                    out[i, j] = 0
                else:
                    out[i, j] = v
        else:
            for j in range(cols):
                v = _pixel_value(image, dark, has_dark, a0 + m1 * j, b0 + m4 * j, buf)
                if v <= t:
                    out[i, j] = 0
                else:
                    out[i, j] = v
