"""The bare exceptions bad input used to raise are lazyims errors of their kind, naming the file."""

from __future__ import annotations

import errno
import os

import h5py
import numpy as np
import pytest

import lazyims
from lazyims.errors import FileContentError, MetadataError, OmegaError, ProcessingError
from lazyims.formats import hdf5 as hdf5_format
from lazyims.formats import raw_image

pytestmark = pytest.mark.filterwarnings("ignore:.*keep more than 10%:UserWarning")


def _denied(path):
    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))


def test_permission_denied_at_open_names_the_file(tmp_path, monkeypatch):
    path = tmp_path / "scan.h5"
    lazyims.open(np.ones((2, 4, 4), np.uint16)).write(path, "hdf5")
    monkeypatch.setattr(hdf5_format, "open_h5", _denied)
    with pytest.raises(FileContentError, match="scan.h5: cannot read: Permission denied"):
        lazyims.open(path)


def test_permission_denied_at_compute_names_the_file(tmp_path, monkeypatch):
    (tmp_path / "x.bin").write_bytes(np.ones((2, 4, 4), "<u2").tobytes())
    (tmp_path / "x.yml").write_text(
        "filename: x.bin\nshape: 4 4\nskip: 0\nscalar: {type: i, bytes: 2, signed: false, endian: little}\n"
    )
    ims = lazyims.open(tmp_path / "x.yml")
    # the reader opens the file once per read (and checks what it opened)
    monkeypatch.setattr(raw_image, "open", lambda path, *a, **kw: _denied(path), raising=False)
    with pytest.raises(FileContentError, match="x.bin: cannot read: permission denied"):
        ims.compute()


@pytest.mark.parametrize("data", [np.array([["ab"] * 4] * 4 * 2), np.zeros((2, 4, 4), "S3")])
def test_text_datasets_are_refused_at_open(tmp_path, data):
    path = tmp_path / "text.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("imageseries/images", data=data.reshape(2, 4, 4).astype("S3"))
    with pytest.raises(FileContentError, match="text.h5: .*not pixel numbers"):
        lazyims.open(path)


def test_text_zarr_array_is_refused_at_open(tmp_path):
    import zarr

    zarr.create_array(tmp_path / "t.zarr", shape=(2, 4, 4), dtype=str)
    with pytest.raises(FileContentError, match="t.zarr: .*not pixel numbers"):
        lazyims.open(tmp_path / "t.zarr")


def test_an_npz_named_where_an_npy_is_expected(tmp_path):
    np.savez(tmp_path / "om.npz", a=np.zeros(3))
    lazyims.open(np.ones((2, 4, 4), np.uint16)).to_framecache(tmp_path / "c.npz", 0)
    (tmp_path / "m.yml").write_text(
        "data: {file: c.npz, dtype: uint16, nframes: 2, shape: [4, 4]}\n"
        "meta: {omega: '! load-numpy-array om.npz'}\n"
    )
    with pytest.raises(MetadataError, match="om.npz.*not a .npy array"):
        lazyims.open(tmp_path / "m.yml")


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_omega_is_an_omega_error(bad):
    omega = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, bad]])
    ims = lazyims.open(np.ones((3, 4, 4), np.uint16)).with_metadata(omega=omega)
    for use in (ims.omega_wedges, lambda: ims.omega_to_frame(0.5)):
        with pytest.raises(OmegaError, match="infinite"):
            use()
    with pytest.raises(OmegaError, match="finite"):
        lazyims.omega.OmegaWedges(3).addwedge(0, np.inf, 3)


def test_bool_frames(tmp_path):
    ims = lazyims.open(np.array([[[True, False]], [[True, True]], [[False, False]]]))
    with pytest.raises(ProcessingError, match="bool"):
        ims.dark(np.zeros((1, 2), bool))
    np.testing.assert_array_equal(ims.percentile(50).compute(), [[1.0, 0.0]])
    np.testing.assert_array_equal(ims.median().compute(), [[1.0, 0.0]])
