"""The histogram's bins: one per value for integers of at most 16 bits, else 100 per decade
on a symmetric log scale."""

from __future__ import annotations

import math

import numpy as np

#: Width of the histogram's bins on the sign(v) * log10(1 + |v|) scale (data that are not
#: integers of at most 16 bits): 100 bins per decade.
LOG_BIN_WIDTH = 0.01


# -- the histogram's bins --------------------------------------------------------------
def exact_histogram(dtype: np.dtype) -> bool:
    """Whether values of ``dtype`` get one bin per value (booleans, integers <= 16 bits)."""
    return dtype.kind == "b" or (dtype.kind in "iu" and dtype.itemsize <= 2)


def _histogram_size(dtype: np.dtype) -> tuple[int, int]:
    """(number of bins, index of the bin of 0)."""
    if exact_histogram(dtype):
        if dtype.kind == "b":
            return 2, 0
        size = 2 ** (8 * dtype.itemsize)
        return size, (size // 2 if dtype.kind == "i" else 0)
    top = np.finfo(dtype).max if dtype.kind == "f" else np.iinfo(dtype).max
    half = int(math.ceil(math.log10(1.0 + float(top)) / LOG_BIN_WIDTH)) + 1
    return 2 * half + 1, half


def histogram_edges(dtype: np.dtype) -> np.ndarray:
    """The left edges of the histogram's bins (the value itself for exact histograms);
    the bin of ``v`` for binned data holds ``edge[k] <= v < edge[k + 1]`` (towards 0
    for negative values)."""
    size, zero = _histogram_size(dtype)
    if exact_histogram(dtype):
        return np.arange(size, dtype=np.float64) - zero
    k = np.arange(size, dtype=np.float64) - zero
    with np.errstate(over="ignore"):
        edges = np.sign(k) * (10.0 ** (np.abs(k) * LOG_BIN_WIDTH) - 1.0)
    top = np.finfo(np.float64).max  # the last bins (infinities go there) start finite
    return np.clip(edges, -top, top)


def _bin_index(values: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, int]:
    """Bin numbers of ``values`` (NaN left out) and how many NaN there were."""
    size, zero = _histogram_size(dtype)
    if exact_histogram(dtype):
        if dtype.kind == "b":
            return values.view(np.uint8), 0
        if dtype.kind == "i":  # flipping the sign bit orders signed values as unsigned
            unsigned = np.dtype(f"u{dtype.itemsize}")
            return values.view(unsigned) ^ unsigned.type(zero), 0
        return values, 0
    values = values.astype(np.float64, copy=False)
    finite = ~np.isnan(values)
    nan = int(values.size - np.count_nonzero(finite))
    if nan:
        values = values[finite]
    scaled = np.log10(1.0 + np.abs(values)) / LOG_BIN_WIDTH
    index = np.minimum(np.floor(scaled), zero).astype(np.intp)
    return np.where(values < 0, zero - index, zero + index), nan


def _histogram(values: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, int]:
    size, _ = _histogram_size(dtype)
    index, nan = _bin_index(values.ravel(), dtype)
    # bincount counts intp: casting first is faster than leaving it to bincount
    return np.bincount(index.astype(np.intp, copy=False), minlength=size).astype(np.int64), nan
