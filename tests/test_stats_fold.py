"""max and min fold the chunks' partial results (no concatenation): same values as numpy."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

import lazyims


@pytest.mark.parametrize("frames_per_chunk", [1, 2, 5, 40])
@pytest.mark.parametrize("dtype", [np.uint16, np.int8, np.float32])
def test_max_and_min_equal_numpys(frames_per_chunk, dtype):
    frames = np.random.default_rng(3).integers(-50, 3000, (40, 6, 7)).astype(dtype)
    ims = lazyims.open(frames, frames_per_chunk=frames_per_chunk)
    for stat, expected in ((ims.max, frames.max(0)), (ims.min, frames.min(0))):
        result = stat().compute()
        assert result.dtype == frames.dtype
        np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(ims.max(nframes=7).compute(), frames[:7].max(0))


def test_chunks_over_rows_and_columns_and_nan():
    frames = np.random.default_rng(4).random((9, 6, 8))
    frames[4, 2, 3] = np.nan
    ims = lazyims.open(da.from_array(frames, chunks=(2, 4, 3)))
    np.testing.assert_array_equal(ims.max().compute(), np.max(frames, 0))
    np.testing.assert_array_equal(ims.min().compute(), np.min(frames, 0))


def test_the_result_of_one_frame_is_a_copy():
    frames = np.ones((1, 3, 3), np.uint8)
    result = lazyims.open(frames).max().compute()
    result[0, 0] = 7
    assert frames[0, 0, 0] == 1
