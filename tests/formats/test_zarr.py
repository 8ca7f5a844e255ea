"""The zarr format: round trips, chunk alignment, parallel writes, safe replacement."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import zarr

import lazyims
from lazyims.formats import zarr as zarr_format
from tests.conftest import synthetic_frames


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.float32, np.float64, np.uint8])
def test_round_trip_dtypes(tmp_path, dtype):
    frames = synthetic_frames(nframes=5, dtype=dtype)
    series = lazyims.open(frames, frames_per_chunk=2)
    series.to_zarr(tmp_path / "s.zarr")
    back = lazyims.open(tmp_path / "s.zarr")
    assert back.format == "zarr"
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back.compute(), frames)


def test_golden_hdf5_to_zarr_keeps_frames_and_metadata(golden, expected, tmp_path):
    series = lazyims.open(golden("scan.h5"), path="imageseries")
    lazyims.write(series, tmp_path / "scan.zarr", "zarr")
    back = lazyims.open(tmp_path / "scan.zarr")
    np.testing.assert_array_equal(back.compute(), expected["frames"])
    assert isinstance(back.metadata["omega"], np.ndarray)
    assert back.metadata["omega"].dtype == np.asarray(series.metadata["omega"]).dtype
    np.testing.assert_array_equal(back.metadata["omega"], expected["omega"])
    assert back.metadata["panel"] == "ff1"
    # omega still follows the frames after a round trip
    np.testing.assert_array_equal(back[2:5].metadata["omega"], expected["omega"][2:5])


def test_metadata_types_round_trip(tmp_path):
    metadata = {
        "omega": np.linspace(0, 6, 6, dtype=np.float32).reshape(3, 2),
        "ids": np.array([1, 2, 3], dtype=np.int16),
        "names": np.array(["ff1", "ff2"]),
        "gain": np.float32(1.5),
        "count": 7,
        "label": "scan 12",
        "raw": b"bytes text",
        "nested": {"a": [1, 2], "b": None},
    }
    lazyims.open(np.zeros((3, 4, 5), np.uint16), metadata=metadata).to_zarr(tmp_path / "m.zarr")
    back = lazyims.open(tmp_path / "m.zarr").metadata
    assert set(back) == set(metadata)
    for key in ("omega", "ids", "names"):
        assert isinstance(back[key], np.ndarray) and back[key].dtype == metadata[key].dtype
        np.testing.assert_array_equal(back[key], metadata[key])
    assert back["gain"] == np.float32(1.5) and back["gain"].dtype == np.float32
    assert back["count"] == 7 and back["label"] == "scan 12" and back["raw"] == "bytes text"
    assert back["nested"] == {"a": [1, 2], "b": None}


@pytest.mark.parametrize(
    "metadata",
    [
        {"c": np.array([1 + 2j])},
        {"o": object()},
        {"lazyims": 1},
        {"t": np.array(["2024-01-01"], "M8[s]")},
    ],
)
def test_metadata_that_json_cannot_hold_is_refused(tmp_path, metadata):
    series = lazyims.open(np.zeros((2, 3, 3), np.uint8), metadata=metadata)
    with pytest.raises(lazyims.MetadataError):
        series.to_zarr(tmp_path / "bad.zarr")
    assert not list(tmp_path.iterdir())


def _record_writes(monkeypatch):
    written = []
    original = zarr_format._write_block

    def record(block, store, start):
        written.append((start, block.shape[0]))
        return original(block, store, start)

    monkeypatch.setattr(zarr_format, "_write_block", record)
    return written


@pytest.mark.parametrize(
    ("chunks", "shards", "unit"), [((2, 8, 32), None, 2), ((1, 12, 32), (3, 24, 32), 3)]
)
def test_blocks_written_align_with_zarr_chunks(tmp_path, monkeypatch, chunks, shards, unit):
    frames = synthetic_frames(nframes=11, rows=24, cols=32)
    # dask chunks of 4 frames do not match the zarr chunks: the writer must realign them
    series = lazyims.open(frames, frames_per_chunk=4)
    written = _record_writes(monkeypatch)
    series.to_zarr(tmp_path / "c.zarr", chunks=chunks, shards=shards)
    assert written and all(start % unit == 0 for start, _ in written)
    assert sorted(written)[-1][0] + sorted(written)[-1][1] == 11
    array = zarr.open_array(tmp_path / "c.zarr", path="frames", mode="r")
    assert array.chunks == chunks and array.shards == shards
    assert array.metadata.dimension_names == ("frame", "row", "col")
    back = lazyims.open(tmp_path / "c.zarr")
    # dask chunks read whole zarr chunks (or shards)
    assert all(n % unit == 0 for n in back.chunks[0][:-1])
    np.testing.assert_array_equal(back.compute(), frames)
    assert lazyims.open(tmp_path / "c.zarr", frames_per_chunk=5).chunks[0] == (5, 5, 1)


def test_parallel_write_and_read_on_local_cluster(cluster_client, golden, expected, tmp_path):
    source = lazyims.open(golden("scan.h5"), path="imageseries", frames_per_chunk=5)
    with dask.config.set(scheduler=cluster_client):
        source.to_zarr(tmp_path / "c.zarr", chunks=(2, 48, 64), shards=(4, 48, 64))
    back = lazyims.open(tmp_path / "c.zarr")
    result = cluster_client.compute(back.data.max(axis=0)).result()
    np.testing.assert_array_equal(result, expected["frames"].max(axis=0))
    np.testing.assert_array_equal(back.compute(), expected["frames"])


def test_sparse_series_is_written_dense(tmp_path):
    sparse = pytest.importorskip("sparse")
    frames = synthetic_frames(nframes=4)
    frames[frames < 100] = 0
    series = lazyims.open(da.from_array(frames, chunks=(2, -1, -1))).map_blocks(
        sparse.COO.from_numpy
    )
    assert series.is_sparse
    series.to_zarr(tmp_path / "s.zarr")
    back = lazyims.open(tmp_path / "s.zarr")
    assert not back.is_sparse
    np.testing.assert_array_equal(back.compute(), frames)


def _failing_frame(i):
    if i == 3:
        raise lazyims.ProcessingError("frame 3 is broken")
    return np.full((4, 5), i, np.uint16)


def test_failed_write_keeps_the_existing_store(tmp_path):
    target = tmp_path / "keep.zarr"
    lazyims.open(np.ones((2, 4, 5), np.uint16)).to_zarr(target)
    failing = lazyims.open(_failing_frame, nframes=5)
    with pytest.raises(lazyims.ProcessingError):
        failing.to_zarr(target)
    np.testing.assert_array_equal(lazyims.open(target).compute(), np.ones((2, 4, 5)))
    assert [p.name for p in tmp_path.iterdir()] == ["keep.zarr"]
    # a successful write replaces it
    lazyims.open(np.zeros((3, 4, 5), np.uint16)).to_zarr(target)
    assert lazyims.open(target).nframes == 3
    assert [p.name for p in tmp_path.iterdir()] == ["keep.zarr"]


def test_refuses_to_replace_what_is_not_a_zarr_store_or_its_own_source(tmp_path):
    folder = tmp_path / "data.zarr"
    folder.mkdir()
    (folder / "precious.txt").write_text("keep me")
    series = lazyims.open(np.ones((2, 4, 5), np.uint16))
    with pytest.raises(lazyims.WriteError, match="not a zarr store"):
        series.to_zarr(folder)
    assert (folder / "precious.txt").read_text() == "keep me"
    series.to_zarr(tmp_path / "s.zarr")
    with pytest.raises(lazyims.WriteError, match="reads from"):
        lazyims.open(tmp_path / "s.zarr").to_zarr(tmp_path / "s.zarr")
    with pytest.raises(lazyims.WriteError, match="does not exist"):
        series.to_zarr(tmp_path / "no" / "s.zarr")


def test_store_object_and_sniffing_a_folder_without_extension(tmp_path):
    frames = synthetic_frames(nframes=3)
    store = zarr.storage.MemoryStore()
    lazyims.open(frames, metadata={"panel": "ff2"}).to_zarr(store)
    back = lazyims.open(store)
    assert back.metadata["panel"] == "ff2"
    np.testing.assert_array_equal(back.compute(), frames)
    lazyims.open(frames).to_zarr(tmp_path / "plainname")
    np.testing.assert_array_equal(lazyims.open(tmp_path / "plainname").compute(), frames)


def test_groups_two_d_arrays_and_foreign_v2_stores(tmp_path):
    group = zarr.open_group(tmp_path / "g.zarr", mode="w")
    group.create_array("a", data=np.ones((2, 3, 4), np.uint8))
    np.testing.assert_array_equal(lazyims.open(tmp_path / "g.zarr").compute(), np.ones((2, 3, 4)))
    group.create_array("b", data=np.zeros((3, 4), np.float32))
    with pytest.raises(lazyims.FileContentError, match="choose one with path="):
        lazyims.open(tmp_path / "g.zarr")
    two_d = lazyims.open(tmp_path / "g.zarr", path="b")
    assert two_d.shape == (1, 3, 4)
    v2 = zarr.create_array(tmp_path / "v2.zarr", data=np.arange(24).reshape(2, 3, 4), zarr_format=2)
    v2.attrs["omega"] = [[0, 1], [1, 2]]
    back = lazyims.open(tmp_path / "v2.zarr")
    np.testing.assert_array_equal(back.compute(), np.arange(24).reshape(2, 3, 4))
    assert back[1:].metadata["omega"].tolist() == [[1, 2]]


def test_bad_inputs(tmp_path):
    series = lazyims.open(np.ones((4, 6, 8), np.uint16))
    with pytest.raises(lazyims.OptionError, match="3 positive integers"):
        series.to_zarr(tmp_path / "a.zarr", chunks=(1, 6))
    with pytest.raises(lazyims.OptionError, match="whole multiples"):
        series.to_zarr(tmp_path / "a.zarr", chunks=(2, 6, 8), shards=(3, 6, 8))
    with pytest.raises(lazyims.OptionError, match="takes"):
        series.to_zarr(tmp_path / "a.zarr", gzip=3)
    with pytest.raises(lazyims.WriteError, match="no frames"):
        series[4:].to_zarr(tmp_path / "a.zarr")
    assert not list(tmp_path.iterdir())
    with pytest.raises(lazyims.MissingFileError):
        lazyims.open(tmp_path / "missing.zarr")
    zarr.create_array(tmp_path / "4d.zarr", data=np.ones((1, 2, 3, 4)))
    with pytest.raises(lazyims.FileContentError, match="4-D"):
        lazyims.open(tmp_path / "4d.zarr")
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(lazyims.FileContentError):
        lazyims.open(tmp_path / "empty.zarr", format="zarr")
    with pytest.raises(lazyims.FileContentError, match="no zarr array"):
        lazyims.open(tmp_path / "4d.zarr", path="nothing")
    series.to_zarr(tmp_path / "ok.zarr")
    with pytest.raises(lazyims.OptionError, match="frames_per_chunk"):
        lazyims.open(tmp_path / "ok.zarr", frames_per_chunk=0)


def test_fsspec_url_store_is_written_by_the_tasks_and_read_back(monkeypatch):
    pytest.importorskip("fsspec")
    frames = synthetic_frames(nframes=5)
    written = _record_writes(monkeypatch)
    url = "memory://lazyims-test/scan.zarr"
    lazyims.open(frames, metadata={"panel": "ff1"}).to_zarr(url, chunks=(2, 24, 32))
    assert written and all(start % 2 == 0 for start, _ in written)
    back = lazyims.open(url, format="zarr")
    assert back.metadata == {"panel": "ff1"}
    np.testing.assert_array_equal(back.compute(), frames)
