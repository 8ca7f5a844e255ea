"""Hand-offs: series.to_xarray() and the HEXRD imageseries adapter."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import lazyims
from lazyims.hexrd import HexrdAdapter
from tests.conftest import synthetic_frames


@pytest.fixture
def scan(golden):
    return lazyims.open(golden("scan.h5"), path="imageseries", frames_per_chunk=5)


def test_to_xarray_dims_omega_coordinates_and_attrs(scan, expected):
    array = scan.to_xarray()
    assert array.dims == ("frame", "row", "col")
    assert array.shape == (12, 48, 64)
    omega = expected["omega"]
    np.testing.assert_array_equal(array["omega_start"], omega[:, 0])
    np.testing.assert_array_equal(array["omega_stop"], omega[:, 1])
    np.testing.assert_allclose(array["omega_middle"], omega.mean(axis=1))
    assert array.attrs == {"panel": "ff1"}
    # lazy until asked, then the frames themselves
    assert array.chunks[0] == (5, 5, 2)
    np.testing.assert_array_equal(array.sel(frame=3).values, expected["frames"][3])
    # select frames by angle, the reason for the coordinates
    wedge = array.where(array.omega_start >= 60, drop=True)
    assert wedge.sizes["frame"] == 6


def test_to_xarray_without_omega_and_with_bad_omega():
    frames = synthetic_frames(nframes=3)
    array = lazyims.open(frames, metadata={"gain": 2}).to_xarray()
    assert set(array.coords) == {"frame"} and array.attrs == {"gain": 2}
    np.testing.assert_array_equal(array.values, frames)
    bad = lazyims.open(frames, metadata={"omega": np.zeros(3)})
    with pytest.raises(lazyims.MetadataError, match="omega"):
        bad.to_xarray()
    with pytest.raises(lazyims.MetadataError, match="omega"):
        lazyims.open(frames, metadata={"omega": np.zeros((2, 2))}).to_xarray()


def test_to_xarray_without_xarray_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(lazyims.LazyImsError, match=r"pip install 'lazyims\[xarray\]'"):
        lazyims.open(np.zeros((2, 3, 3))).to_xarray()


def test_hexrd_adapter_interface(scan, expected):
    ims = scan.to_hexrd()
    assert isinstance(ims, HexrdAdapter)
    assert len(ims) == 12
    assert ims.shape == (48, 64) and ims.dtype == np.uint16
    assert ims.metadata["panel"] == "ff1"
    np.testing.assert_array_equal(ims.omega, expected["omega"])
    for i in (0, 4, 5, 11, np.int64(7), -1):
        frame = ims[i]
        assert isinstance(frame, np.ndarray)
        np.testing.assert_array_equal(frame, expected["frames"][i])
    np.testing.assert_array_equal(np.stack(list(ims)), expected["frames"])
    np.testing.assert_array_equal(
        ims.get_region(3, ((4, 40), (8, 60))), expected["frames"][3][4:40, 8:60]
    )
    # frames handed out are copies: changing one does not change the next read
    ims[2][:] = 0
    np.testing.assert_array_equal(ims[2], expected["frames"][2])


def test_hexrd_adapter_of_a_processed_sparse_series(expected):
    sparse = pytest.importorskip("sparse")
    frames = expected["frames"].astype(np.float32)
    series = lazyims.open(frames, frames_per_chunk=4)[::-1].map_blocks(sparse.COO.from_numpy)
    ims = series.to_hexrd()
    np.testing.assert_array_equal(ims[0], frames[-1])
    assert ims.dtype == np.float32


def test_hexrd_adapter_bad_inputs():
    ims = lazyims.open(np.zeros((3, 4, 4), np.uint8)).to_hexrd()
    assert not hasattr(ims, "omega")
    with pytest.raises(lazyims.OmegaError):
        ims.omega  # noqa: B018
    with pytest.raises(lazyims.FrameIndexError):
        ims[3]
    with pytest.raises(lazyims.FrameIndexError):
        ims[1:2]
    with pytest.raises(lazyims.FrameIndexError, match="region"):
        ims.get_region(0, (1, 2))
    with pytest.raises(TypeError):
        HexrdAdapter(np.zeros((2, 2, 2)))
