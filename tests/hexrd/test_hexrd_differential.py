"""Differential tests: the same random inputs through the real HEXRD and through lazyims.hexrd.

HEXRD's imageseries code is imported from ``../shared/hexrd-reference`` (beside the
repository); without it these tests skip. hypothesis draws frames (shapes, dtypes
with big-endian and float, values), metadata, thresholds, operation lists (dark,
flips, rectangles, add, gauss_laplace, add-row/column), frame lists and omega
wedges. Each test asserts equal frames, dtypes and metadata, or the documented
difference (README, docs/coming-from-hexrd.md): an unsigned dark clips at 0, text
metadata is str, a range within one frame gives that frame.
"""

from __future__ import annotations

import gc
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lazyims
from lazyims import hexrd as lazy_is
from lazyims.hexrd import omega as lazy_omega
from lazyims.hexrd import process as lazy_process
from lazyims.hexrd import stats as lazy_stats

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "hexrd-reference"
if not (REFERENCE / "hexrd" / "core" / "imageseries" / "__init__.py").is_file():
    pytest.skip(
        f"HEXRD's code is not at {REFERENCE} (../shared is absent)", allow_module_level=True
    )
if str(REFERENCE) not in sys.path:
    sys.path.insert(0, str(REFERENCE))
from hexrd.core import imageseries as hexrd_is  # noqa: E402
from hexrd.core.imageseries import omega as hexrd_omega  # noqa: E402
from hexrd.core.imageseries import stats as hexrd_stats  # noqa: E402
from hexrd.core.imageseries.process import ProcessedImageSeries  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*sparse:UserWarning", "ignore:.*of their pixels:UserWarning"
)

SETTINGS = settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DTYPES = ["uint16", "int32", "float32", "float64", ">u2", ">f4"]


@st.composite
def frames(draw, dtypes=DTYPES, max_frames=4):
    n = draw(st.integers(1, max_frames))
    rows, cols = draw(st.integers(2, 9)), draw(st.integers(2, 9))
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    seed = draw(st.integers(0, 2**16))
    values = np.random.default_rng(seed).integers(0, 50, size=(n, rows, cols))
    if dtype.kind == "f":
        values = values + np.random.default_rng(seed).random(values.shape).round(3)
    return values.astype(dtype)


@st.composite
def metadata(draw, nframes):
    meta = {"omega": np.column_stack([np.arange(nframes), np.arange(1, nframes + 1)]) * 0.25}
    if draw(st.booleans()):
        meta["gain"] = np.array(draw(st.floats(0.1, 10, allow_nan=False)))
    if draw(st.booleans()):
        meta["panel"] = np.array(draw(st.sampled_from(["ff1", "ff2", "ge3"])))
    if draw(st.booleans()):
        meta["counts"] = np.arange(draw(st.integers(1, 5)), dtype=np.int32)
    return meta


def assert_same_meta(hexrd_meta, lazy_meta, skip=()):
    """Equal keys and values, text compared as str."""
    assert set(hexrd_meta) - set(skip) == set(lazy_meta) - set(skip)
    for key in set(hexrd_meta) - set(skip):
        # documented: lazyims gives text metadata as str where HEXRD gives bytes
        want, got = (np.asarray(m[key]) for m in (hexrd_meta, lazy_meta))
        want, got = (np.char.decode(v) if v.dtype.kind == "S" else v for v in (want, got))
        np.testing.assert_array_equal(got, want, err_msg=key)


def native(dtype):
    """``dtype`` in this machine's byte order (statistics give native results; HEXRD's
    max and min of one frame keep a big-endian frame's order)."""
    return np.dtype(dtype).newbyteorder("=")


def _thresholded(frames, t):
    return np.where(frames > t, frames, 0).astype(frames.dtype)


# -- every format, written by one and read by the other ----------------------------------------
FORMATS = [("hdf5", {"path": "imageseries"}), ("npz", {}), ("fch5", {})]


def _write_options(fmt, extra, threshold):
    if fmt == "hdf5":
        return "hdf5", dict(extra)
    return "frame-cache", {"style": fmt, "threshold": threshold}


def _open_options(fmt, extra):
    return ("hdf5", dict(extra)) if fmt == "hdf5" else ("frame-cache", {"style": fmt})


@pytest.mark.parametrize("fmt,extra", FORMATS, ids=[f for f, _ in FORMATS])
@pytest.mark.parametrize("writer", ["hexrd", "lazyims"])
@SETTINGS
@given(data=st.data())
def test_written_by_one_read_by_the_other(fmt, extra, writer, data):
    # HEXRD cannot write big-endian frame-caches (numba); lazyims stores them little-endian,
    # which HEXRD reads (scipy.sparse refuses big-endian values)
    little = ["uint16", "int32", "float32"]
    a = data.draw(
        frames(
            DTYPES if fmt == "hdf5" else little + ([">u2", ">f4"] if writer == "lazyims" else [])
        )
    )
    meta = data.draw(metadata(len(a)))
    threshold = data.draw(st.sampled_from([0, 5, 20.5]))
    source_is, target_is = (hexrd_is, lazy_is) if writer == "hexrd" else (lazy_is, hexrd_is)
    expected = a if fmt == "hdf5" else _thresholded(a, threshold)
    rows, cols = np.meshgrid([0, 1], [1, 0, 1], indexing="ij")  # pull_spots' indexing
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / f"scan.{'h5' if fmt == 'hdf5' else fmt}")
        wfmt, wopts = _write_options(fmt, extra, threshold)
        source = source_is.open(None, "array", data=a, meta=dict(meta))
        source_is.write(source, path, wfmt, **wopts)
        del source
        gc.collect()  # HEXRD's series and writer hold HDF5 files open until collected
        np.testing.assert_array_equal(lazyims.open(path).compute(), expected)
        ofmt, oopts = _open_options(fmt, extra)
        lazy_back = lazy_is.open(path, ofmt, **oopts)
        lazy_windows = [lazy_back[i, rows, cols] for i in range(len(a))]
        back = target_is.open(path, ofmt, **oopts)
        if fmt == "hdf5":
            assert back.dtype == expected.dtype
        else:  # the same values, little-endian
            assert back.dtype == expected.dtype.newbyteorder("<")
        np.testing.assert_array_equal(np.stack([back[i] for i in range(len(back))]), expected)
        assert_same_meta(meta, back.metadata)
        hexrd_back = back if target_is is hexrd_is else hexrd_is.open(path, ofmt, **oopts)
        for i in range(len(a)):
            np.testing.assert_array_equal(lazy_windows[i], hexrd_back[i, rows, cols])
        del back, hexrd_back, lazy_back
        gc.collect()


# -- every operation -----------------------------------------------------------------------------
@st.composite
def operations(draw, shape):
    rows, cols = shape
    ops = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["dark", "flip", "rectangle", "add", "gauss", "row", "col"]))
        if kind == "dark":
            dark_dtype = draw(st.sampled_from(["float32", "uint16"]))
            ops.append(("dark", np.full((rows, cols), draw(st.integers(0, 30)), dark_dtype)))
        elif kind == "flip":
            ops.append(("flip", draw(st.sampled_from(sorted(lazyims.processing.FLIPS)))))
        elif kind == "rectangle":
            r0, c0 = draw(st.integers(0, rows - 1)), draw(st.integers(0, cols - 1))
            r1, c1 = draw(st.integers(r0 + 1, rows)), draw(st.integers(c0 + 1, cols))
            ops.append(("rectangle", ((r0, r1), (c0, c1))))
        elif kind == "add":
            ops.append(("add", draw(st.sampled_from([1.5, -3.0, 7]))))
        elif kind == "gauss":
            ops.append(("gauss_laplace", draw(st.sampled_from([0.7, 1.5]))))
        else:
            size = rows if kind == "row" else cols
            ops.append((f"add-{'row' if kind == 'row' else 'column'}", draw(st.integers(0, size))))
        rows, cols = _shape_after(ops[-1], rows, cols)
    return ops


def _shape_after(op, rows, cols):
    key, data = op
    if key == "flip" and data in ("t", "T", "ccw90", "r90", "cw90", "r270"):
        return cols, rows
    if key == "rectangle":
        (r0, r1), (c0, c1) = data
        return r1 - r0, c1 - c0
    if key == "add-row":
        return rows + 1, cols
    if key == "add-column":
        return rows, cols + 1
    return rows, cols


def _hexrd_frame_as_lazyims_does(ops, source):
    """HEXRD's processing with lazyims' documented difference: an unsigned dark clips at 0."""
    img = source
    for key, data in ops:
        if key == "dark":
            img = np.maximum(img, data.astype(np.result_type(img, data))) - data
            continue
        img = ProcessedImageSeries(hexrd_is.open(None, "array", data=img[None]), [(key, data)])[0]
    return img


@SETTINGS
@given(data=st.data())
def test_every_operation_and_frame_list(data):
    a = data.draw(frames(["uint16", "int32", "float32", "float64", ">u2"]))
    ops = data.draw(operations(a.shape[1:]))
    frame_list = data.draw(st.none() | st.lists(st.integers(0, len(a) - 1), min_size=1, max_size=4))
    meta = {"omega": np.column_stack([np.arange(len(a)), np.arange(1, len(a) + 1)]) * 1.0}
    h = ProcessedImageSeries(
        hexrd_is.open(None, "array", data=a, meta=dict(meta)), ops, frame_list=frame_list
    )
    lz = lazy_process.ProcessedImageSeries(
        lazy_is.open(None, "array", data=a, meta=dict(meta)), ops, frame_list=frame_list
    )
    assert len(h) == len(lz)
    np.testing.assert_array_equal(lz.metadata["omega"], h.metadata["omega"])
    for i in range(len(h)):
        want = _hexrd_frame_as_lazyims_does(ops, a[frame_list[i] if frame_list else i])
        if not any(k == "dark" for k, _ in ops):  # no documented difference: HEXRD's own frame
            want = h[i]
        got = lz[i]
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * max(1, np.abs(want).max()))
    # the lazy (dask) pipeline gives what frame-by-frame processing gives
    lazy_series = lz._lazyims_series()
    assert lazy_series is not None
    np.testing.assert_array_equal(lazy_series.compute(), np.stack(list(lz)))


# -- every statistic -----------------------------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_every_statistic_and_iterator(data):
    a = data.draw(frames(["uint16", "int32", "float32", ">u2", ">f4"], max_frames=6))
    nframes = data.draw(st.integers(0, len(a) + 1))
    nchunk = data.draw(st.integers(1, min(3, len(a))))
    pct = data.draw(st.sampled_from([0, 10, 50, 90, 100]))
    processed = data.draw(st.booleans())
    h = hexrd_is.open(None, "array", data=a)
    lz = lazy_is.open(None, "array", data=a)
    if processed:  # through the lazy pipeline of a processed series
        h = ProcessedImageSeries(h, [("flip", "h")])
        lz = lazy_process.ProcessedImageSeries(lz, [("flip", "h")])
    exact = ["max", "min", "sum"]
    for name in [*exact, "average", "median"]:
        want = getattr(hexrd_stats, name)(h, nframes)
        got = getattr(lazy_stats, name)(lz, nframes)
        if name == "average" and nframes:  # documented: HEXRD's is float64 with nframes > 0
            assert got.dtype == np.float32 and want.dtype == np.float64
        else:
            assert native(got.dtype) == native(want.dtype), name
        if name in exact:
            np.testing.assert_array_equal(got, want, err_msg=name)
        else:  # float32 results: lazyims sums in float64, HEXRD in float32
            np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=name)
    np.testing.assert_allclose(
        lazy_stats.percentile(lz, pct, nframes), hexrd_stats.percentile(h, pct, nframes), rtol=1e-6
    )
    for name in ["max_iter", "min_iter", "sum_iter", "average_iter"]:
        nf = min(len(a), nframes) if nframes else len(a)
        chunks = min(nchunk, nf)
        # copies as they come: HEXRD's average_iter yields its working buffer first
        want = [np.array(x) for x in getattr(hexrd_stats, name)(h, chunks, nframes)]
        got = list(getattr(lazy_stats, name)(lz, chunks, nframes))
        assert len(got) == len(want), name
        for g, w in zip(got, want):
            assert native(g.dtype) == native(w.dtype), name
            np.testing.assert_allclose(g, w, rtol=1e-5, err_msg=name)
    rows = a.shape[1]
    chunks = min(nchunk, rows)
    want = [np.array(x) for x in hexrd_stats.median_iter(h, chunks, nframes)]
    got = list(lazy_stats.median_iter(lz, chunks, nframes))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)


# -- omega look-ups -----------------------------------------------------------------------------
@st.composite
def wedges(draw):
    """(start, stop, steps) of 1-3 wedges; each next one follows on, leaves a gap or wraps back 360."""
    spec, start = [], draw(st.sampled_from([-10.0, 0.0, 350.0]))
    for _ in range(draw(st.integers(1, 3))):
        steps = draw(st.integers(1, 6))
        stop = start + steps * draw(st.sampled_from([0.25, 0.5, 1.0, 2.0]))
        spec.append((start, stop, steps))
        start = stop + draw(st.sampled_from([0.0, 5.0, -360.0]))
    return spec


@SETTINGS
@given(
    spec=wedges(), angles=st.lists(st.floats(-400, 800, allow_nan=False), min_size=4, max_size=8)
)
def test_omega_wedges_and_lookups(spec, angles):
    nframes = sum(s for _, _, s in spec)
    hw, lw = hexrd_omega.OmegaWedges(nframes), lazy_omega.OmegaWedges(nframes)
    for w in spec:
        hw.addwedge(*w)
        lw.addwedge(*w)
    np.testing.assert_allclose(lw.omegas, hw.omegas)
    meta = {"omega": hw.omegas}
    a = np.zeros((nframes, 2, 2), np.uint16)
    h = hexrd_omega.OmegaImageSeries(hexrd_is.open(None, "array", data=a, meta=dict(meta)))
    lz = lazy_omega.OmegaImageSeries(lazy_is.open(None, "array", data=a, meta=dict(meta)))
    assert lz.nwedges == h.nwedges
    for i in range(h.nwedges):
        want, got = h.wedge(i), lz.wedge(i)
        assert got["nsteps"] == want["nsteps"]
        np.testing.assert_allclose(
            [got[k] for k in ("ostart", "ostop", "delta")],
            [want[k] for k in ("ostart", "ostop", "delta")],
        )
    for om in angles:
        want, got = h.omega_to_frame(om), lz.omega_to_frame(om)
        if want[1] >= 0 and want[0] != got[0]:
            # documented: an angle that rounds onto its wedge's end gives the wedge's last frame
            w = h._wedge_f[want[1]]
            assert want[0] == w[0] + w[1] and got == (want[0] - 1, want[1])
        else:
            assert got == want
    for omin, omax in zip(angles[::2], angles[1::2]):
        want = h.omegarange_to_frames(omin, omax)
        got = lz.omegarange_to_frames(omin, omax)
        f0, f1 = lz.omega_to_frame(omin)[0], lz.omega_to_frame(omax)[0]
        if f0 >= 0 and f0 == f1 and got == [f0]:
            continue  # documented: a range within one frame gives that frame
        if h.omega_to_frame(omin) != (f0, lz.omega_to_frame(omin)[1]):
            continue  # an angle on a wedge's end (documented above)
        if h.omega_to_frame(omax) != (f1, lz.omega_to_frame(omax)[1]):
            continue
        assert got == want


# -- YAML metadata with unknown '! command' triggers ---------------------------------------------
META_VALUES = st.one_of(
    st.sampled_from(["! shout loudly", "! load-numpy-array om.npy", "!  cmd a b", "ff1"]),
    st.integers(-5, 5),
    st.lists(st.integers(0, 9), min_size=1, max_size=3),
)


@pytest.mark.parametrize("kind", ["image-files", "frame-cache"])
@SETTINGS
@given(meta=st.dictionaries(st.sampled_from(["a", "b", "omega", "note"]), META_VALUES, min_size=1))
def test_yaml_metadata_with_unknown_triggers_as_hexrd(kind, meta):
    import yaml
    from fabio.tifimage import TifImage

    a = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        np.save(folder / "om.npy", np.array([[0.0, 1.0], [1.0, 2.0]]))
        if kind == "image-files":
            for i in range(2):
                TifImage(data=a[i]).write(str(folder / f"f_{i}.tif"))
            doc = {"image-files": {"directory": ".", "files": "f_*.tif"}, "options": {}}
            options = {}
        else:
            lazyims.open(a).to_framecache(folder / "c.npz", threshold=0)
            doc = {"data": {"file": "c.npz", "dtype": "uint16", "nframes": 2, "shape": [3, 4]}}
            options = {"style": "yml"}
        doc["meta"] = meta
        (folder / "ims.yml").write_text(yaml.safe_dump(doc))
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(folder)  # HEXRD finds the files named in the YAML from the working folder
            want = hexrd_is.open("ims.yml", kind, **options)
            unknown = [
                k for k, v in meta.items() if str(v).startswith("!  cmd") or "shout" in str(v)
            ]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                got = lazy_is.open("ims.yml", kind, **options)
            dropped = [str(w.message) for w in caught if "unknown trigger" in str(w.message)]
            assert len(dropped) == len(unknown)
            assert all("ims.yml" in text for text in dropped)
            assert_same_meta(want.metadata, got.metadata)
            assert set(got.metadata) == set(meta) - set(unknown)
            for i in range(2):
                np.testing.assert_array_equal(got[i], want[i])
            del want, got
            gc.collect()


# -- hdf5 written into an open h5py.File -------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_hdf5_written_into_an_open_h5py_file_as_hexrd(data):
    import h5py

    a = data.draw(frames())
    meta = data.draw(metadata(len(a)))
    options = data.draw(
        st.fixed_dictionaries(
            {}, optional={"gzip": st.integers(0, 4), "chunk_rows": st.integers(-1, 10)}
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name, module in (("hexrd.h5", hexrd_is), ("lazy.h5", lazy_is)):
            ims = module.open(None, "array", data=a, meta=dict(meta))
            with h5py.File(Path(tmp) / name, "w") as f:
                f.create_group("other").attrs["kept"] = 1
                module.write(ims, f, "hdf5", path="det/ims", **options)
        with h5py.File(Path(tmp) / "hexrd.h5", "r") as hf, h5py.File(Path(tmp) / "lazy.h5") as lf:
            assert sorted(lf) == sorted(hf) == ["det", "other"]
            assert lf["other"].attrs["kept"] == 1
            want, got = hf["det/ims/images"], lf["det/ims/images"]
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got[()], want[()])
            for what in ("chunks", "compression", "compression_opts", "shuffle"):
                assert getattr(got, what) == getattr(want, what), what
            assert_same_meta(dict(hf["det/ims"].attrs), dict(lf["det/ims"].attrs))
        back = lazy_is.open(Path(tmp) / "lazy.h5", "hdf5", path="det/ims")
        np.testing.assert_array_equal(np.stack(list(back)), a)
        del back
        gc.collect()
