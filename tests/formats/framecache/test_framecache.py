"""The frame-cache format: golden HEXRD caches, round trips, HEXRD's layouts, partial reads."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import dask
import dask.array as da
import h5py
import hdf5plugin  # noqa: F401 - the golden fch5 is Blosc compressed
import numpy as np
import pytest
import sparse
import yaml

import lazyims
from lazyims.formats.framecache import npz as npz_style
from lazyims.formats.framecache import open_framecache
from tests.conftest import synthetic_frames

GOLDEN = {
    "npz": ("fc.npz",),
    "fch5": ("fc.fch5",),
    "yml": ("fc_yml.yml", "fc_yml_cache.npz", "fc_yml-omega.npy", "fc_yml-panel.npy"),
}
DTYPES = [np.uint16, np.int32, np.float32, np.float64]
SUFFIX = {"npz": ".npz", "fch5": ".fch5", "yml": ".yml"}


def kept(frames: np.ndarray, threshold: float) -> np.ndarray:
    """What a frame-cache keeps: values strictly above the threshold, NaN never."""
    with np.errstate(invalid="ignore"):
        return np.where(frames > threshold, frames, 0).astype(frames.dtype)


def series_of(frames: np.ndarray, chunk: int = 2, **metadata) -> lazyims.ImageSeries:
    return lazyims.open(da.from_array(frames, chunks=(chunk, -1, -1))).with_metadata(**metadata)


# -- golden caches written by HEXRD -------------------------------------------------
@pytest.mark.parametrize("style", GOLDEN)
def test_golden_cache_reads_as_hexrd_did(style, golden, expected):
    ims = lazyims.open(golden(*GOLDEN[style]))
    assert ims.format == "frame-cache"
    assert ims.is_sparse
    assert ims.shape == expected["framecache_dense"].shape
    assert ims.dtype == np.float32
    dense = ims.compute()
    assert isinstance(dense, np.ndarray)
    np.testing.assert_array_equal(dense, expected["framecache_dense"])
    np.testing.assert_array_equal(ims.metadata["omega"], expected["omega"])
    assert ims.metadata["panel"] == "ff1"
    block = ims.to_dask(sparse=True).blocks[0].compute()
    assert isinstance(block, sparse.COO) and block.fill_value == 0
    np.testing.assert_array_equal(ims[3].compute(), expected["framecache_dense"][3])
    np.testing.assert_array_equal(ims.dense().data.blocks[0].compute(), dense[: ims.chunks[0][0]])


def test_fch5_named_h5_opens_as_framecache(tmp_path, expected):
    shutil.copy(Path(__file__).parents[2] / "data" / "fc.fch5", tmp_path / "fc.h5")
    ims = lazyims.open(tmp_path / "fc.h5")
    assert ims.format == "frame-cache" and ims.is_sparse
    np.testing.assert_array_equal(ims.compute(), expected["framecache_dense"])


def test_open_reads_no_frame(golden, monkeypatch):
    path = golden("fc.npz")
    read = []
    original = npz_style._member_array

    def counting(member, raw, path):
        read.append(member.name)
        return original(member, raw, path)

    monkeypatch.setattr(npz_style, "_member_array", counting)
    lazyims.open(path)
    assert sorted(read) == ["dtype.npy", "nframes.npy", "omega.npy", "panel.npy", "shape.npy"]


# -- round trips --------------------------------------------------------------------
@pytest.mark.parametrize("style", ["npz", "fch5", "yml"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip(style, dtype, tmp_path):
    frames = synthetic_frames(nframes=7, dtype=dtype, seed=3)
    if np.dtype(dtype).kind == "f":
        frames[1, 2, 3] = np.nan  # never kept
        frames[2, 4, 5] = np.inf  # kept: inf > threshold
    if np.dtype(dtype).kind == "i":
        frames[3] -= 60  # negative values, some below and some above the threshold
    omega = np.linspace(0, 7, 15)[:14].reshape(7, 2)
    ims = series_of(frames, omega=omega, panel="ff2", distance=np.float64(750.5), binning=2)
    path = tmp_path / f"cache{SUFFIX[style]}"
    ims.to_framecache(path, threshold=45, style=style)
    back = lazyims.open(path)
    assert back.is_sparse and back.dtype == dtype and back.shape == frames.shape
    np.testing.assert_array_equal(back.compute(), kept(frames, 45))
    np.testing.assert_array_equal(back.metadata["omega"], omega)
    assert back.metadata["panel"] == "ff2"
    assert back.metadata["distance"] == 750.5 and back.metadata["binning"] == 2
    # writing a frame-cache series again thresholds its sparse chunks without densifying
    again = tmp_path / f"again{SUFFIX[style]}"
    back.to_framecache(again, threshold=100)
    np.testing.assert_array_equal(lazyims.open(again).compute(), kept(frames, 100))


def test_round_trip_from_hdf5_series(tmp_path):
    frames = synthetic_frames(nframes=9, rows=20, cols=30, dtype=np.uint16, seed=5)
    lazyims.write(series_of(frames, chunk=9, panel="ff1"), tmp_path / "scan.h5", "hdf5")
    raw = lazyims.open(tmp_path / "scan.h5", path="imageseries")
    for style in ("npz", "fch5", "yml"):
        path = tmp_path / f"fc{SUFFIX[style]}"
        lazyims.write(raw, path, "frame-cache", threshold=60)
        back = lazyims.open(path, format="frame-cache")
        np.testing.assert_array_equal(back.compute(), kept(frames, 60))
        assert back.metadata == {"panel": "ff1"}


def test_style_from_file_name_and_explicit(tmp_path):
    ims = series_of(synthetic_frames(nframes=2))
    ims.to_framecache(tmp_path / "a.h5", 50)
    assert h5py.is_hdf5(tmp_path / "a.h5")
    ims.to_framecache(tmp_path / "b.cache", 50, style="fch5")
    assert lazyims.open(tmp_path / "b.cache").format == "frame-cache"
    ims.to_framecache(tmp_path / "c.anything", 50)
    assert zipfile.is_zipfile(tmp_path / "c.anything")
    np.testing.assert_array_equal(
        lazyims.open(tmp_path / "c.anything", format="frame-cache").compute(),
        kept(ims.compute(), 50),
    )


def test_fch5_inside_a_group_of_a_larger_file(tmp_path):
    frames = synthetic_frames(nframes=4)
    path = tmp_path / "big.h5"
    series_of(frames).to_framecache(path, 40, group="panels/ff1")
    with h5py.File(path, "a") as f:
        f["other/thing"] = np.arange(3)
    ims = lazyims.open(path, path="panels/ff1")
    assert ims.source.endswith(":/panels/ff1")
    np.testing.assert_array_equal(ims.compute(), kept(frames, 40))
    # the one group holding a frame-cache is found without path=
    np.testing.assert_array_equal(lazyims.open(path).compute(), kept(frames, 40))


def test_fch5_nested_metadata_round_trip(tmp_path):
    ims = series_of(synthetic_frames(nframes=2), detector={"name": "dexela", "gain": 2.5})
    ims.to_framecache(tmp_path / "n.fch5", 50)
    meta = lazyims.open(tmp_path / "n.fch5").metadata
    assert meta["detector"] == {"name": "dexela", "gain": 2.5}


def test_sparse_input_stays_sparse_while_written(tmp_path, golden, expected):
    ims = lazyims.open(golden("fc.npz"))
    ims.to_framecache(tmp_path / "higher.fch5", threshold=200)
    np.testing.assert_array_equal(
        lazyims.open(tmp_path / "higher.fch5").compute(), kept(expected["framecache_dense"], 200)
    )


def test_warns_when_frames_keep_more_than_a_tenth(tmp_path):
    frames = synthetic_frames(nframes=3)
    with pytest.warns(UserWarning, match="more than 10%"):
        series_of(frames).to_framecache(tmp_path / "dense.npz", threshold=0)
    np.testing.assert_array_equal(lazyims.open(tmp_path / "dense.npz").compute(), frames)


# -- the files lazyims writes have HEXRD's layout --------------------------------------
def test_npz_layout_is_hexrds(tmp_path):
    frames = synthetic_frames(nframes=3, dtype=np.float32)
    frames[1] = 0  # a frame with no pixel kept still has its three members
    omega = np.arange(6.0).reshape(3, 2)
    series_of(frames, omega=omega, panel="ff1").to_framecache(tmp_path / "fc.npz", 45)
    with zipfile.ZipFile(tmp_path / "fc.npz") as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
    with np.load(tmp_path / "fc.npz", allow_pickle=False) as npz:
        frame_keys = {f"{i}_{p}" for i in range(3) for p in ("row", "col", "data")}
        assert set(npz.files) == frame_keys | {"shape", "nframes", "dtype", "omega", "panel"}
        assert npz["shape"].dtype == np.int64 and npz["shape"].tolist() == [24, 32]
        assert (
            npz["nframes"].dtype == np.int64 and npz["nframes"].shape == () and npz["nframes"] == 3
        )
        assert npz["dtype"].shape == () and npz["dtype"][()] == b"float32"
        assert npz["panel"][()] == "ff1"
        np.testing.assert_array_equal(npz["omega"], omega)
        for i in range(3):
            row, col, data = npz[f"{i}_row"], npz[f"{i}_col"], npz[f"{i}_data"]
            assert row.dtype == col.dtype == np.uint16 and data.dtype == np.float32
            dense = np.zeros((24, 32), np.float32)
            dense[row, col] = data
            np.testing.assert_array_equal(dense, kept(frames[i], 45))
        assert npz["1_row"].size == 0


def test_fch5_layout_is_hexrds(tmp_path):
    frames = synthetic_frames(nframes=3, dtype=np.uint16)
    series_of(frames, omega=np.zeros((3, 2)), panel="ff1").to_framecache(tmp_path / "fc.fch5", 45)
    with h5py.File(tmp_path / "fc.fch5", "r") as f:
        assert f.attrs["HEXRD_FRAMECACHE_VERSION"] == 1
        assert f["shape"].dtype == np.int64 and f["shape"][()].tolist() == [24, 32]
        assert f["nframes"][()] == 3
        assert f["dtype"][()] == b"uint16"
        assert f["data"].dtype == np.uint16 and f["data"].shape[1] == 1
        assert f["indices"].dtype == np.uint16 and f["indices"].shape[1] == 2
        assert f["frame_ids"].dtype == np.uint64 and f["frame_ids"].shape == (6,)
        for name in ("data", "indices", "frame_ids"):
            code, _, values, _ = f[name].id.get_create_plist().get_filter(0)
            assert code == 32001 and values[4:] == (5, 1, 5)  # Blosc: clevel 5, shuffle, zstd
        assert f["metadata/panel"][()] == b"ff1"
        ids = f["frame_ids"][()]
        for i in range(3):
            a, b = ids[2 * i], ids[2 * i + 1]
            dense = np.zeros((24, 32), np.uint16)
            rc = f["indices"][a:b]
            dense[rc[:, 0], rc[:, 1]] = f["data"][a:b, 0]
            np.testing.assert_array_equal(dense, kept(frames[i], 45))


def test_yml_layout_is_hexrds(tmp_path):
    frames = synthetic_frames(nframes=2, dtype=np.int32)
    omega = np.arange(4.0).reshape(2, 2)
    series_of(frames, omega=omega, panel="ff1").to_framecache(tmp_path / "fc.yml", 45)
    doc = yaml.safe_load((tmp_path / "fc.yml").read_text())
    assert doc["data"] == {
        "file": "fc_cache.npz",
        "dtype": "int32",
        "nframes": 2,
        "shape": [24, 32],
    }
    assert doc["meta"] == {"omega": "! load-numpy-array fc-omega.npy", "panel": "ff1"}
    np.testing.assert_array_equal(np.load(tmp_path / "fc-omega.npy"), omega)
    with np.load(tmp_path / "fc_cache.npz") as npz:
        assert sorted(npz.files) == sorted(
            f"{i}_{p}" for i in range(2) for p in ("row", "col", "data")
        )


def test_yml_found_from_another_working_folder_and_old_array_form(tmp_path, golden, monkeypatch):
    path = golden(*GOLDEN["yml"])
    doc = yaml.safe_load(path.read_text())
    doc["meta"]["gains"] = "++np.array"
    doc["meta"]["gains-array"] = [1.0, 2.0]
    path.write_text(yaml.safe_dump(doc))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    meta = lazyims.open(path).metadata
    np.testing.assert_array_equal(meta["gains"], [1.0, 2.0])
    assert "gains-array" not in meta and meta["panel"] == "ff1"


# -- reading a frame reads that frame alone ---------------------------------------------
def test_npz_chunk_reads_only_its_frames_members(tmp_path, monkeypatch):
    frames = synthetic_frames(nframes=40)
    series_of(frames).to_framecache(tmp_path / "many.npz", 45)
    ims = lazyims.open(tmp_path / "many.npz", frames_per_chunk=4)
    read = []
    original = npz_style._member_array

    def counting(member, raw, path):
        read.append(member.name)
        return original(member, raw, path)

    monkeypatch.setattr(npz_style, "_member_array", counting)
    with dask.config.set(scheduler="sync"):
        np.testing.assert_array_equal(ims[21].compute(), kept(frames[21], 45))
    # one frame reads its own members only, not its chunk's
    assert sorted(read) == sorted(f"21_{p}.npy" for p in ("row", "col", "data"))
    read.clear()
    with dask.config.set(scheduler="sync"):
        np.testing.assert_array_equal(ims[20:24].compute(), kept(frames[20:24], 45))
    assert sorted(read) == sorted(
        f"{i}_{p}.npy" for i in range(20, 24) for p in ("row", "col", "data")
    )


def test_npz_damaged_member_bytes(tmp_path):
    frames = synthetic_frames(nframes=3)
    path = tmp_path / "damaged.npz"
    series_of(frames).to_framecache(path, 45)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("1_data.npy")
    data = bytearray(path.read_bytes())
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[middle] ^= 0xFF
    path.write_bytes(bytes(data))
    ims = lazyims.open(path, frames_per_chunk=1)
    np.testing.assert_array_equal(ims[0].compute(), kept(frames[0], 45))
    with pytest.raises(lazyims.FileContentError, match="1_data") as err:
        ims[1].compute()
    assert "damaged.npz" in str(err.value)


def test_npz_replaced_file_is_read_anew(tmp_path):
    path = tmp_path / "c.npz"
    first, second = synthetic_frames(nframes=3, seed=1), synthetic_frames(nframes=3, seed=2)
    series_of(first).to_framecache(path, 45)
    np.testing.assert_array_equal(lazyims.open(path).compute(), kept(first, 45))
    series_of(second).to_framecache(path, 45)
    np.testing.assert_array_equal(lazyims.open(path).compute(), kept(second, 45))


def test_npz_one_frame_reads_despite_other_frames_corrupt(tmp_path):
    frames = synthetic_frames(nframes=6)
    series_of(frames).to_framecache(tmp_path / "ok.npz", 45)
    # copy the cache, replacing frame 4's data member by garbage
    with (
        zipfile.ZipFile(tmp_path / "ok.npz") as src,
        zipfile.ZipFile(tmp_path / "bad.npz", "w") as dst,
    ):
        for info in src.infolist():
            body = b"garbage" if info.filename == "4_data.npy" else src.read(info)
            dst.writestr(info.filename, body)
    ims = lazyims.open(tmp_path / "bad.npz", frames_per_chunk=1)
    np.testing.assert_array_equal(ims[0].compute(), kept(frames[0], 45))
    np.testing.assert_array_equal(ims[5].compute(), kept(frames[5], 45))
    with pytest.raises(lazyims.FileContentError, match="4_data") as err:
        ims[4].compute()
    assert "bad.npz" in str(err.value)


def test_fch5_one_frame_reads_only_its_frame_ids(tmp_path):
    frames = synthetic_frames(nframes=6)
    series_of(frames).to_framecache(tmp_path / "c.fch5", 45)
    with h5py.File(tmp_path / "c.fch5", "a") as f:
        ids = f["frame_ids"][()]
        ids[8:10] = [10**9, 10**9 + 5]  # frame 4 points far outside the data
        f["frame_ids"][...] = ids
    ims = open_framecache(tmp_path / "c.fch5", frames_per_chunk=1)
    np.testing.assert_array_equal(ims[3].compute(), kept(frames[3], 45))
    with pytest.raises(lazyims.FileContentError, match="c.fch5"):
        ims[4].compute()


def test_fch5_frames_in_any_order(tmp_path, golden, expected):
    # HEXRD's golden fch5 stores frame 1 before frame 0; a chunk of frames 0..1 reads both
    ims = lazyims.open(golden("fc.fch5"), frames_per_chunk=2)
    np.testing.assert_array_equal(ims.compute(), expected["framecache_dense"])


def test_region_reads_a_rectangle(golden, expected):
    ims = lazyims.open(golden("fc.npz"))
    part = ims[:, 4:40, 8:60].to_dask(sparse=True).compute()
    np.testing.assert_array_equal(part.todense(), expected["framecache_dense"][:, 4:40, 8:60])


def test_writer_gets_blocks_computed_in_frame_order(tmp_path, monkeypatch):
    # Blocks reaching the writer out of order would wait in memory; computed in frame
    # order, none waits (the whole scan once waited for a first block computed last).
    from lazyims import _streaming

    arrivals = []
    original = _streaming._OrderedSink.put

    def put(self, start, block):
        arrivals.append(start)
        original(self, start, block)

    monkeypatch.setattr(_streaming._OrderedSink, "put", put)
    frames = synthetic_frames(nframes=60)
    series_of(frames, chunk=2).to_framecache(tmp_path / "order.fch5", 60)
    assert arrivals == sorted(arrivals) and len(arrivals) == 30
    np.testing.assert_array_equal(lazyims.open(tmp_path / "order.fch5").compute(), kept(frames, 60))


def test_old_npz_with_dtype_as_text(tmp_path, golden, expected):
    with np.load(golden("fc.npz")) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["dtype"] = np.array("float32")  # older HEXRD wrote the dtype as str
    np.savez_compressed(tmp_path / "old.npz", **arrays)
    ims = lazyims.open(tmp_path / "old.npz")
    assert ims.dtype == np.float32
    np.testing.assert_array_equal(ims.compute(), expected["framecache_dense"])


def test_negative_threshold_on_sparse_series_keeps_the_zeros(tmp_path, golden, expected):
    ims = lazyims.open(golden("fc.npz"))
    with pytest.warns(UserWarning, match="more than 10%"):
        ims.to_framecache(tmp_path / "all.npz", threshold=-1)
    with np.load(tmp_path / "all.npz") as npz:
        assert npz["0_data"].size == 48 * 64  # every pixel, zeros included
    np.testing.assert_array_equal(
        lazyims.open(tmp_path / "all.npz").compute(), expected["framecache_dense"]
    )


def _h5_layout(group: h5py.Group) -> dict:
    layout = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            string = h5py.check_string_dtype(obj.dtype)
            kind = ("str", string.encoding) if string else obj.dtype.str
            filters = obj.id.get_create_plist()
            ids = [filters.get_filter(i)[0] for i in range(filters.get_nfilters())]
            layout[name] = (kind, obj.ndim, obj.shape[1:], ids)

    group.visititems(visit)
    return layout


def test_written_caches_match_hexrds_golden_files(tmp_path, golden, expected):
    # Write the golden cache again (everything it stores is above 20): the members, their
    # dtypes and the fch5 datasets, string types and filters are those HEXRD wrote.
    ims = lazyims.open(golden("fc.npz"))
    ims.to_framecache(tmp_path / "again.npz", threshold=20)
    ims.to_framecache(tmp_path / "again.fch5", threshold=20, checksum=False)
    ims.to_framecache(tmp_path / "summed.fch5", threshold=20)  # default: fletcher32 added
    with h5py.File(tmp_path / "summed.fch5") as f:
        assert _h5_layout(f)["data"][-1] == [32001, h5py.h5z.FILTER_FLETCHER32]
    with np.load(golden("fc.npz")) as theirs, np.load(tmp_path / "again.npz") as ours:
        assert sorted(theirs.files) == sorted(ours.files)
        for key in theirs.files:
            assert theirs[key].dtype == ours[key].dtype, key
            np.testing.assert_array_equal(theirs[key], ours[key], err_msg=key)
    with h5py.File(golden("fc.fch5")) as theirs, h5py.File(tmp_path / "again.fch5") as ours:
        assert dict(theirs.attrs) == dict(ours.attrs)
        assert _h5_layout(theirs) == _h5_layout(ours)
        assert theirs["shape"][()].tolist() == ours["shape"][()].tolist()
        assert theirs["dtype"][()] == ours["dtype"][()]


def test_unsorted_and_repeated_pixels_are_summed(tmp_path):
    # Neither HEXRD nor lazyims writes these, but HEXRD's sparse matrices sum repeats.
    arrays = {
        "shape": np.array([10, 10]),
        "nframes": np.array(2),
        "dtype": np.array(b"float32"),
        "0_row": np.array([3, 0, 3, 1], np.uint16),
        "0_col": np.array([4, 2, 4, 0], np.uint16),
        "0_data": np.array([1.5, 2.0, 2.5, 7.0], np.float32),
        "1_row": np.zeros(0, np.uint16),
        "1_col": np.zeros(0, np.uint16),
        "1_data": np.zeros(0, np.float32),
    }
    np.savez_compressed(tmp_path / "odd.npz", **arrays)
    expected = np.zeros((2, 10, 10), np.float32)
    expected[0, 3, 4], expected[0, 0, 2], expected[0, 1, 0] = 4.0, 2.0, 7.0
    ims = lazyims.open(tmp_path / "odd.npz")
    np.testing.assert_array_equal(ims.compute(), expected)
    ims.to_framecache(tmp_path / "clean.npz", threshold=0)
    with np.load(tmp_path / "clean.npz") as npz:
        assert npz["0_row"].tolist() == [0, 1, 3] and npz["0_col"].tolist() == [2, 0, 4]
        assert npz["0_data"].tolist() == [2.0, 7.0, 4.0]


def test_a_slow_writer_does_not_make_computed_blocks_pile_up(tmp_path, monkeypatch):
    import threading
    import time

    from lazyims import _streaming

    lock = threading.Lock()
    counts = {"computed": 0, "written": 0, "most_waiting": 0}

    def produce(block):
        with lock:
            counts["computed"] += block.shape[0] > 0
            waiting = counts["computed"] - counts["written"]
            counts["most_waiting"] = max(counts["most_waiting"], waiting)
        return block

    original = _streaming._OrderedSink.put

    def slow_put(self, start, block):
        time.sleep(0.003)  # a writer slower than the computation
        original(self, start, block)
        with lock:
            counts["written"] += 1

    monkeypatch.setattr(_streaming._OrderedSink, "put", slow_put)
    frames = synthetic_frames(nframes=80)
    ims = series_of(frames, chunk=1).map_blocks(produce, dtype=frames.dtype)
    with dask.config.set(num_workers=2):
        ims.to_framecache(tmp_path / "slow.npz", 60)
    assert counts["computed"] == counts["written"] == 80
    assert counts["most_waiting"] <= 2 + 3  # threads + 1 ahead, and the block being written
    np.testing.assert_array_equal(lazyims.open(tmp_path / "slow.npz").compute(), kept(frames, 60))


def _zipfile_members(path):
    with zipfile.ZipFile(path) as zf:
        return [
            npz_style.MemberLocation(
                i.filename, i.header_offset, i.compress_size, i.file_size, i.compress_type, i.CRC
            )
            for i in zf.infolist()
        ]


def test_central_directory_reader_agrees_with_zipfile(tmp_path, golden):
    written = tmp_path / "w.npz"
    series_of(synthetic_frames(nframes=5)).to_framecache(written, 45)
    unicode = tmp_path / "u.zip"
    with zipfile.ZipFile(unicode, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ω_data.npy", b"x" * 100)
        with zf.open("big.npy", "w", force_zip64=True) as member:
            member.write(b"y" * 1000)
    for path in (written, golden("fc.npz"), unicode):
        assert npz_style._read_central_directory(str(path)) == _zipfile_members(path)


def test_unusual_zips_are_left_to_zipfile(tmp_path, golden):
    src = golden("fc.npz")
    commented = tmp_path / "commented.npz"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(commented, "w") as zout:
        zout.comment = b"a comment"
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
    prefixed = tmp_path / "prefixed.npz"
    prefixed.write_bytes(b"#!junk\n" + src.read_bytes())
    cut = tmp_path / "cut.npz"
    cut.write_bytes(src.read_bytes()[:-10])
    for path in (commented, prefixed, cut):
        assert npz_style._read_central_directory(str(path)) is None
    # zipfile still reads the first two; the third is a lazyims error naming the file
    for path in (commented, prefixed):
        np.testing.assert_array_equal(lazyims.open(path).compute(), lazyims.open(src).compute())
    with pytest.raises(lazyims.FileContentError, match="cut.npz"):
        lazyims.open(cut)


@pytest.mark.parametrize("style", ["npz", "fch5", "yml"])
@pytest.mark.parametrize("dtype", [">u2", ">f4", ">i4"])
def test_big_endian_frames_are_stored_little_endian(tmp_path, style, dtype):
    # HEXRD reads values through scipy.sparse, which refuses big-endian ones: the file
    # holds the same values little-endian, in every member.
    frames = (np.arange(3 * 4 * 5).reshape(3, 4, 5) % 9).astype(dtype)
    path = tmp_path / f"be.{style}"
    lazyims.open(frames).to_framecache(path, threshold=4, style=style)
    back = lazyims.open(path)
    assert back.dtype == np.dtype(dtype).newbyteorder("<")
    np.testing.assert_array_equal(back.compute(), np.where(frames > 4, frames, 0))
    if style == "npz":
        with np.load(path) as z:
            assert z["0_data"].dtype.byteorder in "<=|"
            assert np.dtype(z["dtype"].item().decode()) == back.dtype


def test_yml_metadata_text_that_looks_like_a_command_reads_back_as_itself(tmp_path):
    # Inline, "! hello world" would read back as an unknown trigger and "++np.array" as
    # a request for a sibling array: such text goes to a .npy file like arrays do.
    meta = {"note": "! hello world", "b": "++np.array", "c": "plain", "d": "!word"}
    frames = np.arange(2 * 4 * 5, dtype=np.uint16).reshape(2, 4, 5)
    path = tmp_path / "t.yml"
    lazyims.open(frames, metadata=meta).to_framecache(path, threshold=30, style="yml")
    assert lazyims.open(path).metadata == meta
    assert "c: plain" in path.read_text() and "load-numpy-array t-note.npy" in path.read_text()
