"""lazyims.open and lazyims.write: format names, detection and options."""

from __future__ import annotations

import numpy as np
import pytest

import lazyims
from lazyims import FormatError, MissingFileError, OptionError


def test_unknown_format_lists_the_known_ones(tmp_path):
    with pytest.raises(FormatError) as err:
        lazyims.open(tmp_path / "x.h5", format="tiff-stack")
    assert "hdf5" in str(err.value) and "array" in str(err.value)


def test_unknown_option_is_named(golden):
    with pytest.raises(OptionError, match="colour"):
        lazyims.open(golden("scan.h5"), colour="red")


def test_missing_file(tmp_path):
    with pytest.raises(MissingFileError) as err:
        lazyims.open(tmp_path / "absent.h5")
    assert "absent.h5" in str(err.value)


def test_undetectable_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(FormatError, match="notes.txt"):
        lazyims.open(path)


def test_hdf5_detected_from_content_without_extension(golden, tmp_path, expected):
    src = golden("scan.h5")
    renamed = tmp_path / "scan.data"
    src.rename(renamed)
    ims = lazyims.open(renamed)
    assert ims.format == "hdf5"
    np.testing.assert_array_equal(ims.compute(), expected["frames"])


def test_write_of_read_only_format_is_an_error(tmp_path):
    with pytest.raises(FormatError, match="read but not written"):
        lazyims.write(lazyims.open(np.zeros((2, 3, 3))), tmp_path / "x", "function")


def test_array_and_function_formats():
    frames = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    one = lazyims.open(frames[0])
    assert one.shape == (1, 3, 4)
    fn = lazyims.open(_frame, format="function", nframes=5)
    assert fn.shape == (5, 3, 4) and fn.dtype == np.int64
    np.testing.assert_array_equal(fn[4].compute(), np.full((3, 4), 4))
    with pytest.raises(OptionError):
        lazyims.open(np.zeros((2, 2, 2, 2)))
    with pytest.raises(OptionError):
        lazyims.open(_frame, format="function", nframes=0)


def _frame(i: int) -> np.ndarray:
    return np.full((3, 4), i, dtype=np.int64)


def test_available_formats_include_the_basics():
    assert {"hdf5", "array", "function"} <= set(lazyims.available_formats())
