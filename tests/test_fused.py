"""The fused pass (lazyims._fused): dark, flips, crops and threshold in one pass per frame
when a chain is written as a frame-cache; it must write exactly what the step-by-step
graph writes, and what numpy computes."""

from __future__ import annotations

import dask
import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lazyims
from lazyims import _fused
from lazyims.processing import FLIPS

# (frames dtype, dark dtype or None)
KINDS = [
    ("uint16", "float32"),
    ("uint16", "uint16"),
    ("int16", "int16"),
    ("float32", "float64"),
    ("uint8", None),
    ("float32", None),
]


def scan(path, frames: np.ndarray):
    with h5py.File(path, "w") as f:
        f.create_dataset("imageseries/images", data=frames, chunks=(1, *frames.shape[1:]))
    return lazyims.open(path)


def numpy_chain(frames, dark, steps):
    """What the chain means, computed with numpy on the whole stack."""
    out = frames
    if dark is not None:
        dtype = np.result_type(frames.dtype, dark.dtype)
        out = np.maximum(frames.astype(dtype), dark.astype(dtype)) - dark.astype(dtype)
    for kind, arg in steps:
        if kind == "flip":
            out = np.asarray(FLIPS[arg](out))  # the same indexing on a numpy stack
        else:
            (r0, r1), (c0, c1) = arg
            out = out[:, r0:r1, c0:c1]
    return out


def written(series, path, threshold):
    series.to_framecache(path, threshold=threshold)
    return lazyims.open(path).compute()


#: Random chains: frames and dark dtypes, flips and crops, thresholds, frame lists.
CHAINS = dict(
    seed=st.integers(0, 2**16),
    kind=st.sampled_from(KINDS),
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("flip"), st.sampled_from(sorted(FLIPS))),
            st.tuples(st.just("crop"), st.just(None)),
        ),
        max_size=3,
    ),
    threshold=st.one_of(st.integers(-5, 60), st.floats(-5, 60, width=32), st.just(25.3)),
    selection=st.one_of(st.none(), st.lists(st.integers(0, 4), min_size=1, max_size=6)),
)
CHAIN_SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def chain(folder, seed, kind, steps, selection):
    """A scan file and a chain on it: (series, what numpy computes before the threshold,
    whether the chain is one the fused pass takes)."""
    rng = np.random.default_rng(seed)
    frames_dtype, dark_dtype = kind
    frames = rng.integers(0, 90, (5, 7, 6)).astype(frames_dtype)
    if frames.dtype.kind == "i":
        frames[1] -= 40
        frames[2, 0, 0] = np.iinfo(frames.dtype).max  # wraps when a negative dark is taken
    dark = None
    if dark_dtype is not None:
        dark = rng.integers(0, 40, (7, 6)).astype(dark_dtype)
        if dark.dtype.kind == "f":
            dark[0, 0] = np.nan
            dark[1, 1] = 12.3
        elif dark.dtype.kind == "i":
            dark[0, 0] = np.iinfo(dark.dtype).min
    if frames.dtype.kind == "f":
        frames[2, 3, 3] = np.nan
        frames[3, 2, 2] = np.inf
    series = scan(folder / "scan.h5", frames)
    reference = frames
    if selection is not None:
        series = series[selection]
        reference = frames[selection]
    if dark is not None:
        series = series.dark(dark)
    done = []
    for what, arg in steps:
        if what == "flip":
            series = series.flip(arg)
        else:
            rows, cols = series.frame_shape
            arg = ((1, rows), (0, max(1, cols - 1)))
            series = series.rectangle(arg)
        done.append((what, arg))
    with np.errstate(over="ignore"):
        want = numpy_chain(reference, dark, done)
    # (crops alone narrow what the reader reads: nothing to fuse)
    fusable = dark is not None or any(what == "flip" for what, _ in done)
    return series, want, fusable


@CHAIN_SETTINGS
@given(**CHAINS)
def test_fused_write_equals_the_step_by_step_graph_and_numpy(
    tmp_path_factory, monkeypatch, seed, kind, steps, threshold, selection
):
    folder = tmp_path_factory.mktemp("fused")
    series, want, fusable = chain(folder, seed, kind, steps, selection)
    want = np.where(want > threshold, want, 0)
    with monkeypatch.context() as m:
        m.setattr(_fused, "kept_pixels", lambda series, threshold: None)
        plain = written(series, folder / "plain.npz", threshold)
    for numba in (True, False):  # the compiled kernel, and the numpy fallback
        with monkeypatch.context() as m:
            if not numba:
                m.setattr(_fused, "_numba_kernel", lambda dense=False: None)
            assert (_fused.kept_pixels(series, threshold) is not None) == fusable
            fused = written(series, folder / f"fused-{numba}.npz", threshold)
        assert fused.dtype == plain.dtype == want.dtype
        np.testing.assert_array_equal(fused, plain, err_msg=f"numba={numba}")
        np.testing.assert_array_equal(fused, want, err_msg=f"numba={numba}")


@CHAIN_SETTINGS
@given(**CHAINS)
def test_fused_threshold_computes_what_the_step_by_step_graph_and_numpy_do(
    tmp_path_factory, monkeypatch, seed, kind, steps, threshold, selection
):
    # `.threshold(t)` of a reader's frames after a dark, flips and crops computes in one
    # pass per frame; values <= t become 0 and NaN stays, as np.where(x <= t, 0, x).
    folder = tmp_path_factory.mktemp("fused-threshold")
    series, want, fusable = chain(folder, seed, kind, steps, selection)
    want = np.where(want <= threshold, want.dtype.type(0), want)
    with monkeypatch.context() as m:
        m.setattr(_fused, "thresholded", lambda series, t: None)
        plain = series.threshold(threshold)
        plain_chunks, plain = plain.chunks, plain.compute()
    for numba in (True, False):  # the compiled kernel, and the numpy fallback
        with monkeypatch.context() as m:
            if not numba:
                m.setattr(_fused, "_numba_kernel", lambda dense=False: None)
            fused = series.threshold(threshold)
            assert (_fused.thresholded(series, threshold) is not None) == fusable
            assert fused.chunks == plain_chunks
            got = fused.compute()
        assert got.dtype == plain.dtype == want.dtype
        np.testing.assert_array_equal(got, plain, err_msg=f"numba={numba}")
        np.testing.assert_array_equal(got, want, err_msg=f"numba={numba}")


def test_the_lazy_graph_stays_the_users_view(tmp_path):
    frames = np.arange(2 * 4 * 5, dtype=np.uint16).reshape(2, 4, 5)
    dark = np.full((4, 5), 3, np.float32)
    series = scan(tmp_path / "s.h5", frames).dark(dark).flip("v")
    want = (np.maximum(frames, 3) - 3).astype(np.float32)[:, :, ::-1]
    np.testing.assert_array_equal(series.compute(), want)
    assert series.dtype == np.float32
    assert _fused.recipe_of(series).steps[1:] == (("flip", "v"),)
    # a step the fused pass does not know ends the recipe
    assert _fused.recipe_of(series.add(1)) is None
    assert _fused.recipe_of(series.threshold(2)) is None


def test_a_lazy_dark_is_computed_in_the_same_graph(tmp_path):
    frames = np.random.default_rng(1).integers(0, 100, (6, 8, 9)).astype(np.uint16)
    ims = scan(tmp_path / "s.h5", frames)
    dark = ims.median(nframes=4)  # lazy
    fused = written(ims.dark(dark).flip("h"), tmp_path / "fc.npz", 10)
    d = np.median(frames[:4], axis=0).astype(np.float32)
    want = (np.maximum(frames.astype(np.float32), d) - d)[:, ::-1, :]
    np.testing.assert_array_equal(fused, np.where(want > 10, want, 0))


@pytest.mark.parametrize("style", ["fch5", "yml"])
def test_other_styles_are_written_from_the_fused_pass(tmp_path, style):
    frames = np.random.default_rng(2).integers(0, 100, (4, 6, 7)).astype(np.uint16)
    series = scan(tmp_path / "s.h5", frames).dark(np.full((6, 7), 20, np.float32)).flip("t")
    assert _fused.kept_pixels(series, 30) is not None
    series.to_framecache(tmp_path / f"fc.{style}", threshold=30, style=style)
    want = np.maximum(frames.astype(np.float32), 20).transpose(0, 2, 1) - 20
    got = lazyims.open(tmp_path / f"fc.{style}").compute()
    np.testing.assert_array_equal(got, np.where(want > 30, want, 0))


def test_fused_passes_run_on_cluster_workers(cluster_client, tmp_path):
    # The fused tasks (module-level functions, a reader of plain data) run in worker
    # processes: a thresholded chain computed and written there equals numpy.
    frames = np.random.default_rng(4).integers(0, 100, (6, 9, 8)).astype(np.uint16)
    dark = np.random.default_rng(5).integers(0, 30, (9, 8)).astype(np.float32)
    with dask.config.set(scheduler=cluster_client):
        chain = scan(tmp_path / "s.h5", frames).dark(dark).flip("cw90")
        assert _fused.thresholded(chain, 40) is not None
        got = chain.threshold(40).compute()
        chain.to_framecache(tmp_path / "fc.npz", threshold=40)
    want = (np.maximum(frames.astype(np.float32), dark) - dark).transpose(0, 2, 1)[:, :, ::-1]
    np.testing.assert_array_equal(got, np.where(want <= 40, 0, want))
    np.testing.assert_array_equal(lazyims.open(tmp_path / "fc.npz").compute(), got)
