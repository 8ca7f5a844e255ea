"""lazyims.hexrd: HEXRD's spellings, objects that behave as HEXRD's, fast window reads."""

from __future__ import annotations

import multiprocessing
import pickle
import warnings

import h5py
import numpy as np
import pytest

import lazyims
from lazyims import hexrd as imageseries
from lazyims.hexrd import process, stats
from lazyims.hexrd._access import FrameCache, SparseFrame, split_block
from lazyims.hexrd.load.metadata import yamlmeta
from lazyims.hexrd.omega import OmegaImageSeries, OmegaSeriesError, OmegaWedges

RNG = np.random.default_rng(12)
FRAMES = RNG.poisson(1, size=(6, 20, 24)).astype(np.uint16)
OMEGA = np.column_stack([np.arange(6) * 2.0, np.arange(1, 7) * 2.0])


@pytest.fixture
def h5(tmp_path):
    path = tmp_path / "scan.h5"
    lazyims.write(lazyims.open(FRAMES, metadata={"omega": OMEGA}), path, "hdf5", path="imgs")
    return path


@pytest.fixture
def npz(tmp_path):
    path = tmp_path / "scan-fc.npz"
    lazyims.open(FRAMES, metadata={"omega": OMEGA}).to_framecache(path, threshold=3)
    return path


def _thresholded(frames, t):
    return np.where(frames > t, frames, 0)


# -- opening with HEXRD's spellings ---------------------------------------------------------
def test_open_array_and_function_spellings():
    meta = {"panel": "ff1"}
    ims = imageseries.open(None, "array", data=FRAMES, meta=meta)
    assert len(ims) == 6 and ims.shape == (20, 24) and ims.dtype == np.uint16
    assert ims.metadata is meta  # HEXRD keeps the dict handed in
    np.testing.assert_array_equal(ims[2], FRAMES[2])
    assert ims[1, 2, 3] == FRAMES[1, 2, 3]

    fun = imageseries.open(None, "function", func=lambda i: FRAMES[i] * 2, num_frames=6)
    assert len(fun) == 6 and fun.shape == (20, 24)
    np.testing.assert_array_equal(fun[5], FRAMES[5] * 2)
    with pytest.raises(TypeError, match="Only int keys"):
        fun[0, 1]


def test_open_files_with_hexrd_options_and_without_format(h5, npz):
    ims = imageseries.open(h5, "hdf5", path="imgs")
    np.testing.assert_array_equal(np.stack(list(ims)), FRAMES)
    fc = imageseries.open(npz, "frame-cache", style="npz", max_workers=2)
    np.testing.assert_array_equal(np.stack(list(fc)), _thresholded(FRAMES, 3))
    np.testing.assert_array_equal(fc.metadata["omega"], OMEGA)
    auto = imageseries.open(npz)  # format found as lazyims.open finds it
    np.testing.assert_array_equal(auto[3], fc[3])


def test_errors_are_lazyims_errors_and_hexrds_builtin_classes(h5, tmp_path):
    cases = [
        (KeyError, lambda: imageseries.open(h5, "hdf5")),
        (KeyError, lambda: imageseries.open(None, "array")),
        (KeyError, lambda: imageseries.open(None, "function", func=np.zeros)),
        (KeyError, lambda: imageseries.open(h5, "no-such-format")),
        (TypeError, lambda: imageseries.open(h5, "frame-cache", style="bad")),
        (RuntimeError, lambda: imageseries.open(None, "array", data=np.zeros((2, 2, 2, 2)))),
        (KeyError, lambda: imageseries.write(imageseries.open(h5, "hdf5", path="imgs"), tmp_path / "x.h5", "hdf5")),
        (TypeError, lambda: imageseries.write(imageseries.open(h5, "hdf5", path="imgs"), tmp_path / "x", "frame-cache", threshold=0, style="bad")),
        (NotImplementedError, lambda: imageseries.open(h5, "hdf5", path="imgs").set_option("x", 1)),
    ]  # fmt: skip
    for builtin, call in cases:
        with pytest.raises(builtin) as info:
            call()
        assert isinstance(info.value, lazyims.LazyImsError)
        assert "'" not in str(info.value)[:1]  # a KeyError's message is not quoted
    bad = tmp_path / "bad.fch5"
    with h5py.File(bad, "w") as f:
        f.attrs["HEXRD_FRAMECACHE_VERSION"] = 99
    with pytest.raises(NotImplementedError) as info:
        imageseries.open(bad, "frame-cache", style="fch5")
    assert isinstance(info.value, lazyims.FileContentError)


# -- frames, windows and the cache ------------------------------------------------------------
@pytest.mark.parametrize("kind", ["hdf5", "npz"])
def test_tuple_indexing_and_regions_equal_numpy(kind, h5, npz):
    ims = imageseries.open(h5, "hdf5", path="imgs") if kind == "hdf5" else imageseries.open(npz)
    expected = FRAMES if kind == "hdf5" else _thresholded(FRAMES, 3)
    rows, cols = np.meshgrid(np.arange(3, 9), np.arange(10, 14), indexing="ij")
    keys = [
        (1, 2, 3),
        (4, rows, cols),  # pull_spots' fancy indexing
        (2, slice(5, 15)),
        (3, slice(None, None, -3), slice(2, 20, 4)),
        (5, -1, slice(-6, None)),
        (0, np.array([-1, 0, 4])),
        (np.int64(2), slice(0, 0)),
    ]
    for key in keys:
        got = ims[key]
        np.testing.assert_array_equal(got, expected[key], err_msg=repr(key))
        assert np.asarray(got).dtype == expected.dtype
    np.testing.assert_array_equal(ims.get_region(2, ((1, 7), (3, 9))), expected[2, 1:7, 3:9])
    # frames handed out are copies: changing one does not change the next read
    frame = ims[2]
    frame[:] = 7
    np.testing.assert_array_equal(ims[2], expected[2])


def test_windows_of_unsorted_repeated_pixels_and_of_a_narrowed_cache(tmp_path):
    # Window reads take a frame's stored pixels straight from the file (no sparse array):
    # pixels stored out of order or twice (HEXRD's sparse matrices sum those) and a
    # series narrowed to a rectangle must still give the dense frame's values.
    frames = _thresholded(FRAMES, 2)
    arrays = {}
    for i, frame in enumerate(frames):
        row, col = np.nonzero(frame)
        data = frame[row, col]
        order = np.arange(len(row))[::-1]  # stored backwards
        row, col, data = row[order], col[order], data[order]
        if i == 1 and row.size:  # one pixel stored twice, as two halves
            half = data[0] // 2
            row, col = np.append(row, row[0]), np.append(col, col[0])
            data = np.append(data - np.eye(1, len(data), dtype=data.dtype)[0] * half, half)
        arrays[f"{i}_row"], arrays[f"{i}_col"] = row.astype(np.uint16), col.astype(np.uint16)
        arrays[f"{i}_data"] = data.astype(np.uint16)
    arrays.update(shape=np.array(frames.shape[1:]), nframes=np.array(len(frames)))
    arrays["dtype"] = np.array("uint16")
    path = tmp_path / "unsorted.npz"
    np.savez_compressed(path, **arrays)
    ims = imageseries.open(path, "frame-cache")
    rows, cols = np.meshgrid(np.arange(2, 12), np.arange(5, 20), indexing="ij")
    for i in range(len(frames)):
        np.testing.assert_array_equal(ims[i], frames[i])
        np.testing.assert_array_equal(ims[i, rows, cols], frames[i][rows, cols])
    narrowed = lazyims.open(path).rectangle(((3, 15), (4, 22))).to_hexrd()
    for i in range(len(frames)):
        np.testing.assert_array_equal(narrowed[i], frames[i, 3:15, 4:22])
        np.testing.assert_array_equal(narrowed[i, 2:5, -3:], frames[i, 5:8, 19:22])


def test_frame_cache_frames_are_read_a_block_at_a_time_a_damaged_one_alone(tmp_path, npz):
    # One read of a block of stored pixels fills the cache with its frames (pull_spots'
    # random windows then find them); a damaged frame does not stop the others' reads.
    ims = imageseries.open(npz)
    access = ims._adapter._access
    np.testing.assert_array_equal(ims[2, 1:4, 2:6], _thresholded(FRAMES, 3)[2, 1:4, 2:6])
    assert len(access.cache) == len(FRAMES)
    for i in range(len(FRAMES)):
        frame = access.cache.get(i)
        assert isinstance(frame, SparseFrame) and frame.row_sorted
        assert (np.diff(frame.rows) >= 0).all()
    with np.load(npz) as f:
        arrays = dict(f)
    arrays["3_data"] = arrays["3_data"][:-1]  # frame 3's members disagree in length
    damaged = tmp_path / "damaged.npz"
    np.savez_compressed(damaged, **arrays)
    ims = imageseries.open(damaged, "frame-cache")
    np.testing.assert_array_equal(ims[1], _thresholded(FRAMES, 3)[1])
    with pytest.raises(lazyims.FileContentError, match="frame 3"):
        ims[3, 0:2, 0:2]
    np.testing.assert_array_equal(ims[4, 2:5, 3:7], _thresholded(FRAMES, 3)[4, 2:5, 3:7])


def test_windows_of_row_sorted_and_unsorted_sparse_frames_agree():
    frame = _thresholded(FRAMES[0], 1)
    rows, cols = np.nonzero(frame)  # row-major: sorted by row
    values = frame[rows, cols]
    flipped = slice(None, None, -1)
    one = SparseFrame(rows, cols, values, frame.shape, row_sorted=True)
    other = SparseFrame(rows[flipped], cols[flipped], values[flipped], frame.shape)
    r, c = np.meshgrid(np.arange(4, 11), np.arange(0, 24, 3), indexing="ij")
    for rest in [(r, c), (slice(2, 9), slice(5, 17)), (7,), (slice(None, None, -2), 3)]:
        np.testing.assert_array_equal(one.window(rest), frame[rest])
        np.testing.assert_array_equal(other.window(rest), frame[rest])


def test_sparse_frames_split_from_blocks_and_windows_of_unusual_keys():
    sparse = pytest.importorskip("sparse")
    block = _thresholded(FRAMES[:3], 3)
    frames = split_block(sparse.COO.from_numpy(block))
    for frame, expected in zip(frames, block):
        assert isinstance(frame, SparseFrame) and frame.nbytes < expected.nbytes
        np.testing.assert_array_equal(frame.todense(), expected)
    for rest in [(Ellipsis,), (np.array([True] * 20),), (slice(3, 1),), (None, 2), (0, 1, 2)]:
        try:
            want = block[1][rest]
        except IndexError:
            with pytest.raises(IndexError):
                frames[1].window(rest)
            continue
        np.testing.assert_array_equal(frames[1].window(rest), want)


def test_frame_cache_is_bounded_in_bytes(h5):
    ims = imageseries.open(h5, "hdf5", path="imgs")
    frame_bytes = FRAMES[0].nbytes
    ims.set_option("cache_bytes", 2 * frame_bytes)
    assert ims.option_values() == {"cache_bytes": 2 * frame_bytes}
    for i in (0, 1, 2, 3, 1):
        ims[i]
    cache = ims._adapter._access.cache
    assert cache.nbytes <= 2 * frame_bytes and len(cache) == 2
    assert cache.get(1) is not None and cache.get(0) is None  # least recently used went first
    lru = FrameCache(10)
    lru.put(0, np.zeros(20, np.uint8))  # larger than the bound: not held
    assert len(lru) == 0


# -- objects that behave as HEXRD's ---------------------------------------------------------------
def _frame_sum(args):
    ims, i = args
    return float(ims[i].sum())


def test_processed_series_pickles_and_runs_in_a_multiprocessing_pool(h5):
    ims = imageseries.open(h5, "hdf5", path="imgs")
    dark = np.full(FRAMES.shape[1:], 2, np.uint16)
    ops = [("dark", dark), ("flip", "h"), ("rectangle", ((2, 18), (1, 20)))]
    ps = process.ProcessedImageSeries(ims, ops, frame_list=[5, 0, 3])
    expected = (np.maximum(FRAMES, 2) - 2)[[5, 0, 3], ::-1][:, 2:18, 1:20]
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(ps))[1], expected[1])
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        sums = pool.map(_frame_sum, [(ps, i) for i in range(3)])
    assert sums == [float(f.sum()) for f in expected]
    np.testing.assert_array_equal(ps.metadata["omega"], OMEGA[[5, 0, 3]])


def test_processed_series_oplist_addop_and_lazy_statistics(h5):
    ims = imageseries.open(h5, "hdf5", path="imgs")
    ps = process.ProcessedImageSeries(ims, [("dark", np.ones(FRAMES.shape[1:], np.uint16))])
    clipped = np.maximum(FRAMES, 1) - 1
    assert ps._lazyims_series() is not None  # lazyims frames, lazyims ops: lazy statistics
    np.testing.assert_array_equal(stats.max(ps), clipped.max(0))
    np.testing.assert_array_equal(ps[2, 3:6, 4], clipped[2, 3:6, 4])  # the pixelwise path
    ps.oplist.append(("double", None))
    ps.addop("double", lambda img, data: img * 2)
    assert ps._lazyims_series() is None  # a user's operation: frame by frame
    np.testing.assert_array_equal(stats.max(ps), clipped.max(0) * 2)
    ps.oplist[:] = [("flip", "none")]
    np.testing.assert_array_equal(ps[4], FRAMES[4])
    with pytest.raises(lazyims.ProcessingError):
        process.ProcessedImageSeries(ims, [("flip", "sideways")])[0]


def test_metadata_is_mutable_and_written(h5, tmp_path):
    ims = imageseries.open(h5, "hdf5", path="imgs")
    ims.metadata["panel"] = "ff2"
    del ims.metadata["omega"]
    imageseries.write(ims, tmp_path / "out.npz", "frame-cache", threshold=3)
    back = imageseries.open(tmp_path / "out.npz", "frame-cache")
    assert back.metadata["panel"] == "ff2" and "omega" not in back.metadata
    imageseries.write(ims, tmp_path / "out.h5", "hdf5", path="p", gzip=0)
    assert imageseries.open(tmp_path / "out.h5", "hdf5", path="p").metadata == {"panel": "ff2"}


def test_frame_cache_write_cache_file_and_nested_metadata(tmp_path):
    ims = imageseries.open(None, "array", data=FRAMES, meta={"nested": {"a": 1}, "x": 2})
    with pytest.warns(UserWarning, match="nested"):
        imageseries.write(ims, tmp_path / "a.yml", "frame-cache", threshold=3, cache_file="c.npz")
    back = imageseries.open(tmp_path / "c.npz", "frame-cache")
    assert "nested" not in back.metadata and back.metadata["x"] == 2
    imageseries.write(ims, tmp_path / "n.fch5", "frame-cache", threshold=3, style="fch5")
    assert imageseries.open(tmp_path / "n.fch5", "frame-cache").metadata["nested"] == {"a": 1}


def test_fch5_into_and_from_open_h5py_objects(tmp_path):
    ims = imageseries.open(None, "array", data=FRAMES, meta={"omega": OMEGA})
    path = tmp_path / "state.h5"
    with h5py.File(path, "w") as f:
        imageseries.write(ims, f, "frame-cache", style="fch5", threshold=3, path="det/ff1")
        loaded = imageseries.open(f["det"], "frame-cache", style="fch5", path="ff1")
        np.testing.assert_array_equal(loaded[4], _thresholded(FRAMES, 3)[4])
    with h5py.File(path, "r") as f:
        loaded = imageseries.open(f, "frame-cache", style="fch5", path="det/ff1")
        np.testing.assert_array_equal(np.stack(list(loaded)), _thresholded(FRAMES, 3))
        np.testing.assert_array_equal(loaded.metadata["omega"], OMEGA)
    with pytest.raises(lazyims.LazyImsError):
        with h5py.File(path, "a") as f:
            imageseries.write(ims, f, "frame-cache", style="npz", threshold=3)


def test_fch5_into_open_h5py_objects_leaves_nothing_when_it_fails(tmp_path):
    def frame(i):
        if i == 4:
            raise OSError("detector file gone")
        return FRAMES[i]

    failing = imageseries.open(None, "function", func=frame, num_frames=6)
    path = tmp_path / "state.h5"
    with h5py.File(path, "w") as f:
        f.create_group("det").attrs["x"] = 1
        for where, options in [(f, {"path": "det/new/ff1"}), (f, {}), (f["det"], {})]:
            with pytest.raises(lazyims.FileContentError, match="detector file gone"):
                imageseries.write(
                    failing, where, "frame-cache", style="fch5", threshold=3, **options
                )
            # what the failed write made is gone: groups on the way, datasets, version marks
            assert sorted(f) == ["det"] and list(f["det"]) == []
            assert "HEXRD_FRAMECACHE_VERSION" not in f.attrs
            assert dict(f["det"].attrs) == {"x": 1}
        ims = imageseries.open(None, "array", data=FRAMES.astype(">u2"), meta={})
        imageseries.write(ims, f, "frame-cache", style="fch5", threshold=3)  # into the root
        assert f["data"].dtype == np.dtype("<u2")  # stored little-endian, as HEXRD reads it
        with pytest.raises(lazyims.WriteError, match="already holds"):
            imageseries.write(ims, f, "frame-cache", style="fch5", threshold=3)
    back = imageseries.open(path, "frame-cache", style="fch5")
    np.testing.assert_array_equal(np.stack(list(back)), _thresholded(FRAMES, 3))


def test_hdf5_into_open_h5py_objects(tmp_path, h5):
    ims = imageseries.open(None, "array", data=FRAMES, meta={"omega": OMEGA, "panel": "ff1"})
    path = tmp_path / "state.h5"
    with h5py.File(path, "w") as f:
        f.create_group("keep").attrs["x"] = 1
        imageseries.write(ims, f, "hdf5", path="imgs", gzip=0, chunk_rows=5)
        imageseries.write(ims, f["keep"], "hdf5", path="sub/ff1")  # a Group too
        dset = f["imgs/images"]
        assert dset.chunks == (1, 5, 24) and dset.compression is None
        np.testing.assert_array_equal(dset[()], FRAMES)  # readable through the handle at once
        for bad in ("imgs", "keep/sub"):  # a group there already: nothing is written
            with pytest.raises(ValueError, match="already exists") as info:
                imageseries.write(ims, f, "hdf5", path=bad)
            assert isinstance(info.value, lazyims.WriteError) and info.value.path == str(path)
        with pytest.raises(lazyims.OptionError, match="unknown hdf5 options: gzp"):
            imageseries.write(ims, f, "hdf5", path="x", gzp=1)
        with pytest.raises(lazyims.MetadataError, match="'bad'"):  # checked before writing
            imageseries.write(
                imageseries.open(None, "array", data=FRAMES, meta={"bad": None}),
                f,
                "hdf5",
                path="x",
            )

        def frame(i):
            if i == 4:
                raise OSError("detector file gone")
            return FRAMES[i]

        failing = imageseries.open(None, "function", func=frame, num_frames=6)
        with pytest.raises(lazyims.FileContentError, match="detector file gone"):
            imageseries.write(failing, f, "hdf5", path="x")
        assert sorted(f) == ["imgs", "keep"]  # the failed write's group is gone again
        with pytest.raises(lazyims.FileContentError, match="detector file gone"):
            imageseries.write(failing, f, "hdf5", path="keep/new/deeper/ff2")
        # and so are the groups made on the way to a nested one; the ones before stay
        assert sorted(f) == ["imgs", "keep"] and sorted(f["keep"]) == ["sub"]
    for group in ("imgs", "keep/sub/ff1"):
        back = imageseries.open(path, "hdf5", path=group)
        np.testing.assert_array_equal(np.stack(list(back)), FRAMES)
        assert back.metadata["panel"] == "ff1"
        np.testing.assert_array_equal(back.metadata["omega"], OMEGA)
    with h5py.File(path, "r") as f:
        assert f["keep"].attrs["x"] == 1
        with pytest.raises(ValueError, match="read-only") as info:
            imageseries.write(ims, f, "hdf5", path="y")
        assert isinstance(info.value, lazyims.WriteError)
    # the file a series reads from is refused (its reads would see it change)
    source = imageseries.open(h5, "hdf5", path="imgs")
    before = h5.read_bytes()
    with h5py.File(h5, "a") as f:
        with pytest.raises(lazyims.WriteError, match="a file this series reads from"):
            imageseries.write(source, f, "hdf5", path="again")
        with pytest.raises(lazyims.WriteError, match="a file this series reads from"):
            imageseries.write(source, f, "frame-cache", style="fch5", threshold=1, path="fc")
        assert list(f) == ["imgs"]
    assert h5.read_bytes() == before


def test_from_hexrd_wraps_a_foreign_series_lazily():
    class Foreign:  # any object with HEXRD's interface
        shape, dtype, metadata = (20, 24), np.dtype(np.uint16), {"omega": OMEGA}
        reads = 0

        def __len__(self):
            return 6

        def __getitem__(self, i):
            Foreign.reads += 1
            return FRAMES[i]

    series = imageseries.from_hexrd(Foreign())
    assert Foreign.reads == 0  # nothing read yet
    np.testing.assert_array_equal(series.max().compute(), FRAMES.max(0))
    np.testing.assert_array_equal(series.metadata["omega"], OMEGA)
    np.testing.assert_array_equal(stats.median(Foreign()), np.median(FRAMES, 0))
    round_trip = imageseries.from_hexrd(lazyims.open(FRAMES).to_hexrd())
    np.testing.assert_array_equal(round_trip.compute(), FRAMES)


# -- statistics ------------------------------------------------------------------------------------
@pytest.mark.parametrize("lazy", [True, False])
def test_iter_statistics_give_the_result_so_far(lazy):
    source = imageseries.open(None, "array", data=FRAMES)
    ims = source if lazy else process.ProcessedImageSeries(source, [("double", None)])
    if not lazy:
        ims.addop("double", lambda img, data: img)
    pieces = list(stats.max_iter(ims, 3))
    assert len(pieces) == 3
    np.testing.assert_array_equal(pieces[0], FRAMES[:2].max(0))  # frames 0-1, 2-3, 4-5
    np.testing.assert_array_equal(pieces[-1], FRAMES.max(0))
    np.testing.assert_array_equal(list(stats.min_iter(ims, 6))[0], FRAMES[0])
    sums = list(stats.sum_iter(ims, 2, nframes=5))
    np.testing.assert_array_equal(sums[0], FRAMES[:3].sum(0)) and sums[0].dtype == np.float64
    averages = list(stats.average_iter(ims, 2))
    np.testing.assert_allclose(averages[0], FRAMES[:3].mean(0), rtol=1e-6)
    assert averages[-1].dtype == np.float32
    bands = list(stats.median_iter(ims, 2))
    assert (bands[0][10:] == 0).all()
    np.testing.assert_allclose(bands[-1], np.median(FRAMES, 0))
    np.testing.assert_allclose(
        list(stats.percentile_iter(ims, 90, 3))[-1], np.percentile(FRAMES, 90, 0), rtol=1e-6
    )
    with pytest.raises(ValueError, match="cannot exceed"):
        next(stats.max_iter(ims, 7))


# -- omega and metadata --------------------------------------------------------------------------
def test_omega_series_lookups_and_errors():
    ims = imageseries.open(None, "array", data=FRAMES, meta={"omega": OMEGA})
    oms = OmegaImageSeries(ims)
    assert oms.nwedges == 1 and oms.wedge(0)["delta"] == 2.0
    assert oms.omega_to_frame(5.0) == (2, 0) and oms.omega_to_frame(50.0) == (-1, -1)
    assert oms.omegarange_to_frames(1.0, 7.0) == [0, 1, 2, 3]
    assert oms.omegarange_to_frames(1.0, 70.0) == ()
    np.testing.assert_array_equal(oms[1, 0], FRAMES[1, 0])
    with pytest.raises(OmegaSeriesError, match="no omega metadata") as info:
        OmegaImageSeries(imageseries.open(None, "array", data=FRAMES))
    assert isinstance(info.value, lazyims.OmegaError)
    with pytest.raises(OmegaSeriesError, match="omega array mismatch"):
        OmegaImageSeries(imageseries.open(None, "array", data=FRAMES[:2], meta={"omega": OMEGA}))
    with pytest.raises(OmegaSeriesError, match="must be increasing"):
        OmegaImageSeries(imageseries.open(None, "array", data=FRAMES, meta={"omega": -OMEGA}))
    wedges = OmegaWedges(7)
    wedges.addwedge(0, 10, 5)
    with pytest.raises(OmegaSeriesError, match="does not match"):
        wedges.omegas  # noqa: B018


def test_yamlmeta_triggers(tmp_path):
    np.save(tmp_path / "om.npy", OMEGA)
    meta = {"omega": "! load-numpy-array om.npy", "x": "! unknown-command arg", "b": "!", "v": 1}
    with pytest.warns(UserWarning, match="unknown trigger"):
        out = yamlmeta(meta, path=tmp_path / "ims.yml")
    np.testing.assert_array_equal(out["omega"], OMEGA)
    assert "x" not in out and out["b"] == "!" and out["v"] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        legacy = yamlmeta({"k-array": [1, 2], "k": "++np.array"})
    assert list(legacy) == ["k"] and legacy["k"].tolist() == [1, 2]


def _yaml_with_unknown_trigger(tmp_path, kind):
    """An image-files or yml frame-cache YAML whose metadata has an unknown '! shout'."""
    folder = tmp_path / "scan"
    folder.mkdir()
    np.save(folder / "om.npy", OMEGA[:3])
    meta = "meta: {omega: '! load-numpy-array om.npy', note: '! shout loudly', panel: ff1}\n"
    if kind == "image-files":
        from fabio.tifimage import TifImage

        (folder / "img").mkdir()
        for i in range(3):
            TifImage(data=FRAMES[i]).write(str(folder / "img" / f"f_{i}.tif"))
        head = "image-files: {directory: img, files: 'f_*.tif'}\noptions: {}\n"
    else:
        lazyims.open(FRAMES[:3]).to_framecache(folder / "c.npz", threshold=2)
        head = "data: {file: c.npz, dtype: uint16, nframes: 3, shape: [20, 24]}\n"
    (folder / "ims.yml").write_text(head + meta)
    return folder / "ims.yml"


@pytest.mark.parametrize("kind", ["image-files", "frame-cache"])
def test_yaml_with_an_unknown_trigger_drops_the_key_as_hexrd(tmp_path, monkeypatch, kind):
    yml = _yaml_with_unknown_trigger(tmp_path, kind)
    monkeypatch.chdir(tmp_path)  # relative names resolve from the YAML's folder, not here
    with pytest.raises(lazyims.MetadataError, match="'note': unknown trigger") as info:
        lazyims.open(yml)  # lazyims' own open refuses it
    assert info.value.path == str(yml)
    options = {"style": "yml"} if kind == "frame-cache" else {}
    with pytest.warns(UserWarning, match=f"'note' of {yml}: unknown trigger '! shout loudly'"):
        ims = imageseries.open(yml, kind, **options)
    assert sorted(ims.metadata) == ["omega", "panel"]
    np.testing.assert_array_equal(ims.metadata["omega"], OMEGA[:3])
    want = FRAMES[:3] if kind == "image-files" else _thresholded(FRAMES[:3], 2)
    np.testing.assert_array_equal(np.stack(list(ims)), want)
    # opened from the file itself: the YAML stays one of the series' files, never written over
    assert str(yml) in imageseries.from_hexrd(ims).files
    before = yml.read_bytes()
    for fmt, options in [
        ("frame-cache", {"threshold": 0, "style": "yml"}),
        ("hdf5", {"path": "imgs"}),
    ]:
        with pytest.raises(lazyims.WriteError, match="a file this series reads from"):
            imageseries.write(ims, yml, fmt, **options)
    assert yml.read_bytes() == before
    assert sorted(p.name for p in yml.parent.iterdir()) == sorted(
        ["ims.yml", "om.npy", "img" if kind == "image-files" else "c.npz"]
    )


@pytest.mark.parametrize("kind", ["image-files", "frame-cache"])
def test_unknown_triggers_option_values(tmp_path, kind):
    yml = _yaml_with_unknown_trigger(tmp_path, kind)
    with pytest.warns(UserWarning, match="'note' of .*ims.yml: unknown trigger"):
        ims = lazyims.open(yml, kind, unknown_triggers="drop")
    assert sorted(ims.metadata) == ["omega", "panel"] and str(yml) in ims.files
    with pytest.raises(lazyims.MetadataError, match="unknown trigger"):
        lazyims.open(yml, kind, unknown_triggers="error")
    for bad in ("ignore", None, True):
        with pytest.raises(lazyims.OptionError, match="unknown_triggers must be one of") as info:
            lazyims.open(yml, kind, unknown_triggers=bad)
        assert info.value.path == str(yml)
