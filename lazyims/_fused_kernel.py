"""The compiled kernel of :mod:`lazyims._fused`: flip, crop, threshold and collect in one
pass over a frame (numba, which ``sparse`` installs). Compiled on first use per dtype
and cached on disk by numba."""

from __future__ import annotations

import numba


@numba.njit(nogil=True, cache=True)
def kept_pixels_of_frame(image, m, rows, cols, thr, out_r, out_c, out_v):
    """Output pixel (i, j) is ``image[a, b]`` with ``a = m[0] i + m[1] j + m[2]`` and
    ``b = m[3] i + m[4] j + m[5]`` (flips, transposes and crops); it is kept when
    ``> thr[0]``. Writes row, column and value of the kept pixels, in row-major order,
    to ``out_*``; returns how many. One pass, no copy of the flipped frame."""
    n = 0
    t = thr[0]
    m0, m1, m2, m3, m4, m5 = m[0], m[1], m[2], m[3], m[4], m[5]
    for i in range(rows):
        a0 = m0 * i + m2
        b0 = m3 * i + m5
        for j in range(cols):
            v = image[a0 + m1 * j, b0 + m4 * j]
            if v > t:
                out_r[n] = i
                out_c[n] = j
                out_v[n] = v
                n += 1
    return n
