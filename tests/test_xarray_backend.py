"""xarray's side: the ``lazyims`` engine, and zarr stores that both read."""

from __future__ import annotations

import warnings

import dask
import dask.array
import numpy as np
import pytest
import zarr

import lazyims
from tests.conftest import synthetic_frames

xr = pytest.importorskip("xarray")


def no_compute():
    def refuse(*args, **kwargs):
        raise AssertionError("something was computed")

    return dask.config.set(scheduler=refuse)


def omega_of(n: int) -> np.ndarray:
    return np.column_stack([np.arange(n) * 0.25, np.arange(1, n + 1) * 0.25])


def test_the_engine_is_registered_through_the_entry_point():
    assert "lazyims" in xr.backends.list_engines()


def test_open_dataset_is_lazy_with_omega_coordinates(golden, expected):
    path = golden("scan.h5")
    with no_compute():
        ds = xr.open_dataset(path, engine="lazyims", path="imageseries")
        frame = ds["frames"].isel(frame=3)
    assert ds["frames"].dims == ("frame", "row", "col")
    assert ds["frames"].shape == expected["frames"].shape
    np.testing.assert_array_equal(ds["omega_start"].values, expected["omega"][:, 0])
    np.testing.assert_array_equal(ds["omega_stop"].values, expected["omega"][:, 1])
    np.testing.assert_allclose(ds["omega_middle"].values, expected["omega"].mean(axis=1))
    assert ds["panel"].item() == "ff1" and ds.attrs["panel"] == "ff1"
    np.testing.assert_array_equal(frame.values, expected["frames"][3])
    chunked = xr.open_dataset(path, engine="lazyims", chunks={})
    assert isinstance(chunked["frames"].data, dask.array.Array)
    np.testing.assert_array_equal(chunked["frames"].max("frame"), expected["frames"].max(axis=0))


def test_a_frame_cache_opens_without_naming_the_engine(golden, expected):
    ds = xr.open_dataset(golden("fc.npz"))
    np.testing.assert_array_equal(ds["frames"].values, expected["framecache_dense"])
    assert type(ds["frames"].values) is np.ndarray
    assert "frames" not in xr.open_dataset(golden("fc.fch5"), drop_variables="frames")


def test_open_mfdataset_stacks_panels(tmp_path):
    paths, wanted = [], []
    for k, panel in enumerate(("ff1", "ff2")):
        frames = synthetic_frames(5, 16, 20, seed=k)
        series = lazyims.open(frames).with_metadata(omega=omega_of(5), panel=panel)
        paths.append(tmp_path / f"{panel}.h5")
        series.write(paths[-1], "hdf5", path="imageseries")
        wanted.append(frames)
    # xarray compares the small omega coordinates of the files; the frames stay lazy
    ds = xr.open_mfdataset(paths, engine="lazyims", combine="nested", concat_dim="panel")
    assert isinstance(ds["frames"].data, dask.array.Array)
    assert ds["frames"].data.npartitions == 2 * lazyims.open(paths[0]).data.npartitions
    assert ds["frames"].dims == ("panel", "frame", "row", "col")
    assert ds["panel"].values.tolist() == ["ff1", "ff2"]
    np.testing.assert_array_equal(ds["frames"].values, np.stack(wanted))
    np.testing.assert_array_equal(ds["omega_start"].values, omega_of(5)[:, 0])


def test_to_zarr_is_a_dataset_for_xarray(tmp_path):
    frames = synthetic_frames(4, 8, 10)
    series = lazyims.open(frames).with_metadata(
        omega=omega_of(4), panel="ff2", ids=np.arange(3, dtype=np.int16)
    )
    series.to_zarr(tmp_path / "s.zarr")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "consolidated metadata" fallback warning
        ds = xr.open_zarr(tmp_path / "s.zarr")
    assert list(ds.data_vars) == ["frames"]
    assert ds["frames"].dims == ("frame", "row", "col")
    assert ds["frames"].dtype == frames.dtype
    np.testing.assert_array_equal(ds["frames"].values, frames)  # zeros are not masked
    assert set(ds.coords) == {"frame", "omega_start", "omega_stop", "omega_middle"}
    np.testing.assert_array_equal(ds["omega_stop"].values, omega_of(4)[:, 1])
    assert ds.attrs["panel"] == "ff2" and ds.attrs["ids"] == [0, 1, 2]
    back = lazyims.open(tmp_path / "s.zarr")
    np.testing.assert_array_equal(back.compute(), frames)
    np.testing.assert_array_equal(back.metadata["omega"], omega_of(4))
    assert back.metadata["ids"].dtype == np.int16 and back.metadata["panel"] == "ff2"


def test_lazyims_reads_stores_xarray_wrote(tmp_path):
    frames = synthetic_frames(4, 8, 10)
    series = lazyims.open(frames).with_metadata(omega=omega_of(4), panel="ff1")
    series.to_xarray().to_dataset().to_zarr(tmp_path / "x.zarr")
    back = lazyims.open(tmp_path / "x.zarr")
    np.testing.assert_array_equal(back.compute(), frames)
    np.testing.assert_array_equal(back.metadata["omega"], omega_of(4))
    assert back.metadata["panel"] == "ff1"
    np.testing.assert_array_equal(back[1:3].metadata["omega"], omega_of(4)[1:3])
    # a data variable of another name, written by xarray from scratch
    ds = xr.Dataset(
        {"img": (("t", "y", "x"), frames)}, coords={"t": np.arange(4)}, attrs={"beam": 71.7}
    )
    ds.to_zarr(tmp_path / "other.zarr")
    other = lazyims.open(tmp_path / "other.zarr")
    np.testing.assert_array_equal(other.compute(), frames)
    assert other.metadata["beam"] == 71.7


def test_lazyims_reads_its_first_layout(tmp_path):
    # what lazyims wrote before: one root array, the metadata (omega too) as its attributes
    frames = synthetic_frames(3, 6, 7)
    zarr.create_array(
        tmp_path / "old.zarr",
        data=frames,
        chunks=(1, 6, 7),
        dimension_names=("frame", "row", "col"),
        attributes={
            "omega": omega_of(3).tolist(),
            "panel": "ff1",
            "lazyims": {"version": 1, "arrays": {"omega": "<f8"}, "scalars": {}},
        },
    )
    back = lazyims.open(tmp_path / "old.zarr")
    np.testing.assert_array_equal(back.compute(), frames)
    np.testing.assert_array_equal(back.metadata["omega"], omega_of(3))
    assert back.metadata["panel"] == "ff1"
