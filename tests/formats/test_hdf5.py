"""The hdf5 format: HEXRD's golden file, HEXRD's layout on write, round trips, bad files."""

from __future__ import annotations

import dask
import h5py
import hdf5plugin
import numpy as np
import pytest

import lazyims
from lazyims import FileContentError, MetadataError, OptionError, WriteError
from tests.conftest import synthetic_frames


def test_golden_scan_opens_with_hexrds_frames_and_metadata(golden, expected):
    ims = lazyims.open(golden("scan.h5"), path="imageseries")
    assert ims.format == "hdf5"
    assert ims.shape == (12, 48, 64) and ims.dtype == np.uint16
    np.testing.assert_array_equal(ims.compute(), expected["frames"])
    np.testing.assert_array_equal(ims.metadata["omega"], expected["omega"])
    assert ims.metadata["panel"] == "ff1"


def test_group_is_found_when_not_named(golden, expected):
    ims = lazyims.open(golden("scan.h5"))
    np.testing.assert_array_equal(ims[5].compute(), expected["frames"][5])


def test_chunks_are_whole_multiples_of_the_file_chunks(tmp_path):
    path = tmp_path / "c.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("g/images", data=np.zeros((10, 8, 8), np.uint16), chunks=(2, 4, 8))
    ims = lazyims.open(path, path="g")
    assert all(c % 2 == 0 for c in ims.chunks[0])
    assert lazyims.open(path, path="g", frames_per_chunk=3).chunks[0] == (3, 3, 3, 1)


def test_write_has_hexrds_layout(tmp_path):
    frames = synthetic_frames(nframes=5, rows=20, cols=16)
    omega = np.column_stack([np.arange(5.0), np.arange(5.0) + 1])
    ims = lazyims.open(
        frames, metadata={"omega": omega, "panel": "ff2", "names": np.array(["a", "bc"])}
    )
    out = tmp_path / "out.h5"
    lazyims.write(ims, out, "hdf5", path="imageseries", chunk_rows=8, gzip=4, shuffle=True)
    with h5py.File(out, "r") as f:
        dset = f["imageseries/images"]
        assert dset.shape == (5, 20, 16) and dset.dtype == np.uint16
        assert dset.chunks == (1, 8, 16)
        assert dset.compression == "gzip" and dset.compression_opts == 4 and dset.shuffle
        attrs = f["imageseries"].attrs
        assert attrs["panel"] == b"ff2"  # text is stored as bytes, as HEXRD does
        assert attrs["names"].dtype.kind == "S"
        np.testing.assert_array_equal(attrs["omega"], omega)
        np.testing.assert_array_equal(dset[...], frames)
    back = lazyims.open(out, path="imageseries")
    np.testing.assert_array_equal(back.compute(), frames)
    assert back.metadata["panel"] == "ff2"
    assert list(back.metadata["names"]) == ["a", "bc"]


@pytest.mark.parametrize(
    "options, chunks, gzip, shuffle",
    [
        ({}, (1, 20, 16), 1, True),  # HEXRD's defaults: whole frames, gzip 1, shuffle
        ({"gzip": 0}, (1, 20, 16), None, True),  # shuffle kept without gzip
        ({"chunk_rows": 0}, (1, 20, 16), 1, True),
        ({"chunk_rows": 99}, (1, 20, 16), 1, True),
        ({"chunk_rows": 5, "shuffle": False}, (1, 5, 16), 1, False),
    ],
)
def test_write_options_mean_what_hexrd_means(tmp_path, options, chunks, gzip, shuffle):
    frames = synthetic_frames(nframes=3, rows=20, cols=16)
    out = tmp_path / "o.h5"
    lazyims.write(lazyims.open(frames), out, "hdf5", **options)
    with h5py.File(out, "r") as f:
        dset = f["imageseries/images"]
        assert dset.chunks == chunks
        assert dset.compression_opts == gzip
        assert dset.shuffle == shuffle
    np.testing.assert_array_equal(lazyims.open(out).compute(), frames)


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.float32, np.float64])
def test_round_trip_dtypes_and_explicit_compression(tmp_path, dtype):
    frames = synthetic_frames(nframes=4, dtype=dtype)
    out = tmp_path / "z.h5"
    lazyims.write(
        lazyims.open(frames, frames_per_chunk=1),
        out,
        "hdf5",
        compression=hdf5plugin.Blosc(cname="zstd"),
    )
    back = lazyims.open(out)
    assert back.dtype == dtype
    np.testing.assert_array_equal(back.compute(), frames)


def test_two_d_dataset_is_one_frame(tmp_path):
    path = tmp_path / "one.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("g/images", data=np.arange(12, dtype=np.uint16).reshape(3, 4))
    ims = lazyims.open(path, path="g")
    assert ims.shape == (1, 3, 4)
    np.testing.assert_array_equal(ims[0].compute(), np.arange(12).reshape(3, 4))


def test_region_read(golden, expected):
    ims = lazyims.open(golden("scan.h5"), frames_per_chunk=5)
    part = ims[:, 4:40, 8:60]
    np.testing.assert_array_equal(part.compute(), expected["frames"][:, 4:40, 8:60])


def test_distributed_max_equals_numpy(golden, expected, cluster_client):
    ims = lazyims.open(golden("scan.h5"), frames_per_chunk=2)
    result = cluster_client.compute(ims.data.max(axis=0)).result()
    np.testing.assert_array_equal(result, expected["frames"].max(axis=0))
    frames = cluster_client.compute(ims).result()
    np.testing.assert_array_equal(frames, expected["frames"])


def test_distributed_write(golden, expected, tmp_path, cluster_client):
    ims = lazyims.open(golden("scan.h5"), frames_per_chunk=3)
    out = tmp_path / "copy.h5"
    with dask.config.set(scheduler=cluster_client):
        ims.write(out, "hdf5", chunk_rows=16)
    np.testing.assert_array_equal(lazyims.open(out).compute(), expected["frames"])


# -- bad input --------------------------------------------------------------------


def test_missing_group_and_dataset_are_named(golden):
    path = golden("scan.h5")
    with pytest.raises(FileContentError, match="no group 'nope'") as err:
        lazyims.open(path, path="nope")
    assert "scan.h5" in str(err.value)
    with pytest.raises(FileContentError, match="no dataset 'frames'"):
        lazyims.open(path, path="imageseries", dataname="frames")


def test_wrong_ndim_is_an_error(tmp_path):
    path = tmp_path / "4d.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("g/images", data=np.zeros((2, 2, 2, 2)))
    with pytest.raises(FileContentError, match="4-D"):
        lazyims.open(path, path="g")


def test_empty_dataset_is_an_error(tmp_path):
    path = tmp_path / "empty.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("g/images", shape=(0, 4, 4), dtype=np.uint16)
    with pytest.raises(FileContentError, match="no frames"):
        lazyims.open(path, path="g")


def test_unavailable_filter_is_named(tmp_path, monkeypatch):
    path = tmp_path / "blosc.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("g/images", data=np.zeros((2, 4, 4)), **hdf5plugin.Blosc())
    monkeypatch.setattr(h5py.h5z, "filter_avail", lambda code: code != 32001)
    with pytest.raises(FileContentError, match="not available.*32001"):
        lazyims.open(path, path="g")


def test_not_hdf5_and_truncated_files(tmp_path, golden):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(FileContentError, match="junk.h5"):
        lazyims.open(junk, format="hdf5")
    src = golden("scan.h5").read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(src[: len(src) // 2])
    with pytest.raises(FileContentError, match="cut.h5"):
        lazyims.open(cut, format="hdf5").compute()


def test_bad_write_options(tmp_path):
    ims = lazyims.open(np.zeros((2, 4, 4), np.uint16))
    with pytest.raises(OptionError, match="gzip"):
        lazyims.write(ims, tmp_path / "a.h5", "hdf5", gzip=10)
    with pytest.raises(OptionError, match="chunk_rows"):
        lazyims.write(ims, tmp_path / "a.h5", "hdf5", chunk_rows="all")
    with pytest.raises(MetadataError, match="bad"):
        lazyims.write(ims.with_metadata(bad=None), tmp_path / "a.h5", "hdf5")
    assert not list(tmp_path.iterdir())


def test_failed_write_keeps_the_existing_file(tmp_path):
    out = tmp_path / "keep.h5"
    out.write_bytes(b"precious")

    def explode(block):
        raise RuntimeError("detector on fire")

    ims = lazyims.open(np.ones((4, 4, 4), np.uint16), frames_per_chunk=1).map_blocks(
        explode, dtype=np.uint16
    )
    with pytest.raises(RuntimeError, match="fire"):
        lazyims.write(ims, out, "hdf5")
    assert out.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.h5"]


def test_overwriting_the_source_is_refused(golden):
    path = golden("scan.h5")
    ims = lazyims.open(path)
    with pytest.raises(WriteError, match="reads from"):
        lazyims.write(ims, path, "hdf5")


def test_one_frame_reads_that_frame_alone(golden, expected, monkeypatch):
    from lazyims.formats.hdf5 import HDF5Frames

    ims = lazyims.open(golden("scan.h5"), frames_per_chunk=4)
    calls = []
    original = HDF5Frames.read

    def spy(self, start, stop, rows, cols):
        calls.append((start, stop))
        return original(self, start, stop, rows, cols)

    monkeypatch.setattr(HDF5Frames, "read", spy)
    with dask.config.set(scheduler="sync"):
        np.testing.assert_array_equal(ims[6].compute(), expected["frames"][6])
        np.testing.assert_array_equal(ims[-1, 2:5].compute(), expected["frames"][-1, 2:5])
    assert calls == [(6, 7), (11, 12)]
