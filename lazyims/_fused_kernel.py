"""The compiled kernels of :mod:`lazyims._fused`: dark, flip, crop and threshold in one
pass over a frame (numba, which ``sparse`` installs). Compiled on first use per dtype
and cached on disk by numba.

Output pixel (i, j) is input pixel (a, b) with ``a = m[0] i + m[1] j + m[2]`` and
``b = m[3] i + m[4] j + m[5]`` (flips, transposes and crops). Its value is computed as
numpy computes the step-by-step graph: the frame's value cast to the output dtype,
then, with a dark, ``max(value, dark) - dark`` in the output dtype (NaN propagates,
integers wrap). Every value is stored in an array of the output dtype and read back
before it is compared, so rounding and wrapping are numpy's, not those of numba's
wider scalar types. A dark of shape (0, 0) means no dark.
"""

from __future__ import annotations

import numba


@numba.njit(nogil=True, cache=True)
def _value(image, dark, has_dark, a, b, out, k):
    """Store input pixel (a, b) after the dark in ``out[k]`` (output dtype); return it."""
    out[k] = image[a, b]
    if has_dark:
        v = out[k]
        d = dark[a, b]
        if v < d:  # np.maximum: NaN in either stays NaN (v < NaN and NaN < d are False)
            v = d
        out[k] = v - d
    return out[k]


@numba.njit(nogil=True, cache=True)
def kept_pixels_of_frame(image, dark, m, rows, cols, thr, out_r, out_c, out_v):
    """Write row, column and value of the output pixels ``> thr[0]``, in row-major
    order, to ``out_*``; return how many. One pass, no copy of the frame."""
    n = 0
    t = thr[0]
    has_dark = dark.shape[0] > 0
    m0, m1, m2, m3, m4, m5 = m[0], m[1], m[2], m[3], m[4], m[5]
    for i in range(rows):
        a0 = m0 * i + m2
        b0 = m3 * i + m5
        for j in range(cols):
            if _value(image, dark, has_dark, a0 + m1 * j, b0 + m4 * j, out_v, n) > t:
                out_r[n] = i
                out_c[n] = j
                n += 1
    return n


@numba.njit(nogil=True, cache=True)
def thresholded_frame(image, dark, m, rows, cols, thr, out):
    """Write the output frame to ``out`` (2-D, C-contiguous, output dtype), values
    ``<= thr[0]`` set to 0 (NaN is kept, as ``np.where(x <= t, 0, x)`` keeps it)."""
    t = thr[0]
    has_dark = dark.shape[0] > 0
    flat = out.reshape(-1)
    m0, m1, m2, m3, m4, m5 = m[0], m[1], m[2], m[3], m[4], m[5]
    for i in range(rows):
        a0 = m0 * i + m2
        b0 = m3 * i + m5
        for j in range(cols):
            k = i * cols + j
            if _value(image, dark, has_dark, a0 + m1 * j, b0 + m4 * j, flat, k) <= t:
                flat[k] = 0
