"""The scan report: its numbers against numpy, its page, its command."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import dask.array as da
import h5py
import numpy as np
import pytest

import lazyims
from lazyims.cli import main
from lazyims.scanreport import compute_report
from lazyims.scanreport._bins import histogram_edges

pytest.importorskip("matplotlib")

REAL = Path(__file__).resolve().parents[2] / "shared" / "real-data"
DEXELA = REAL / "mruby-0129_0004-ff1_0_0.npz"
if not DEXELA.exists():  # a worktree beside the project: ../shared from the checkout's parent
    DEXELA = Path("/work/shared/real-data/mruby-0129_0004-ff1_0_0.npz")

N, ROWS, COLS = 20, 24, 32
THRESHOLD = 150
HOT, DEAD, STUCK = (2, 3), (10, 11), (4, 4)
MISSING, SATURATED = 3, 7


def planted_frames() -> np.ndarray:
    """Poisson frames with spots, a missing (all-zero) frame, a saturated pixel, a hot pixel
    (bright in every frame but the missing one) and a dead (always 0) pixel."""
    rng = np.random.default_rng(1)
    frames = rng.poisson(100, size=(N, ROWS, COLS)).astype(np.uint16)
    for f in frames:
        r, c = rng.integers(1, ROWS - 2), rng.integers(1, COLS - 2)
        f[r - 1 : r + 2, c - 1 : c + 2] += np.uint16(rng.integers(500, 3000))
    frames[:, HOT[0], HOT[1]] = 5000
    frames[:, DEAD[0], DEAD[1]] = 0
    frames[SATURATED, 5, 6] = 65535
    frames[MISSING] = 0
    return frames


@pytest.fixture(scope="module")
def scan(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """The planted frames as an HDF5 scan in HEXRD's layout, with omega."""
    frames = planted_frames()
    path = tmp_path_factory.mktemp("report") / "scan.h5"
    with h5py.File(path, "w") as f:
        group = f.create_group("imageseries")
        group.create_dataset("images", data=frames, chunks=(3, ROWS, COLS))
        start = np.arange(N) * 0.5
        group.attrs["omega"] = np.stack([start, start + 0.5], axis=1)
    return path, frames


def open_scan(path: Path):
    return lazyims.open(path, path="imageseries")


def check_against_numpy(found, frames: np.ndarray, threshold: float) -> None:
    over = frames > threshold
    np.testing.assert_allclose(found.frame_mean, frames.mean(axis=(1, 2)), rtol=1e-12)
    np.testing.assert_array_equal(found.frame_max, frames.max(axis=(1, 2)))
    np.testing.assert_array_equal(found.frame_min, frames.min(axis=(1, 2)))
    np.testing.assert_array_equal(found.frame_over, over.sum(axis=(1, 2)))
    np.testing.assert_array_equal(found.pixel_max, frames.max(axis=0))
    np.testing.assert_array_equal(found.pixel_min, frames.min(axis=0))
    np.testing.assert_array_equal(found.pixel_over, over.sum(axis=0))
    np.testing.assert_array_equal(found.histogram, np.bincount(frames.ravel(), minlength=65536))
    blank = np.flatnonzero(frames.min(axis=(1, 2)) == frames.max(axis=(1, 2)))
    np.testing.assert_array_equal(found.blank_frames, blank)
    np.testing.assert_array_equal(
        found.saturated_frames, np.flatnonzero((frames == 65535).any(axis=(1, 2)))
    )
    hot = over.sum(axis=0) >= math.ceil(0.9 * len(frames))
    np.testing.assert_array_equal(found.hot_by_frames, hot)


def test_numbers_of_an_hdf5_scan_are_numpy_s(scan):
    path, frames = scan
    found = compute_report(open_scan(path), THRESHOLD, dark_frames=5)
    check_against_numpy(found, frames, THRESHOLD)
    # what was planted is what is flagged
    assert found.blank_frames.tolist() == [MISSING]
    assert found.saturated_frames.tolist() == [SATURATED]
    assert found.hot_pixels[HOT] and found.hot_by_frames.sum() == 1
    assert np.argwhere(found.dead_pixels).tolist() == [list(DEAD)]
    np.testing.assert_allclose(found.x, np.arange(N) * 0.5 + 0.25)
    np.testing.assert_array_equal(found.dark, np.median(frames[:5], axis=0).astype(np.float32))


def test_default_threshold_comes_from_the_dark_and_the_noise(scan):
    path, frames = scan
    found = compute_report(open_scan(path), dark_frames=10)
    dark = np.median(frames[:10], axis=0)

    def spread(values):
        return 1.4826 * np.median(np.abs(values - np.median(values)))

    noise = math.hypot(spread(dark), spread(frames[0] - dark))
    assert found.threshold == math.floor(np.median(dark) + 5 * noise)
    assert 120 < found.threshold < 160  # Poisson(100) frames: a noise of about 10
    assert "median" in found.threshold_rule
    check_against_numpy(found, frames, found.threshold)


def test_a_frame_cache_is_reduced_from_its_stored_pixels(scan, tmp_path):
    path, frames = scan
    cache = tmp_path / "scan-fc.npz"
    open_scan(path).to_framecache(cache, threshold=120)
    series = lazyims.open(cache)
    assert series.is_sparse
    kept = np.where(frames > 120, frames, 0)
    found = compute_report(series, THRESHOLD, dark_frames=N)
    check_against_numpy(found, kept, THRESHOLD)
    assert found.sparse and found.saturated_frames.tolist() == [SATURATED]
    # pixels 0 in every frame are not called dead in a cache; they are counted apart
    assert not found.dead_pixels.any()
    assert found.never_stored == int((kept.max(axis=0) == 0).sum())
    np.testing.assert_array_equal(found.dark, np.median(kept, axis=0).astype(np.float32))
    # the default threshold of a cache (its dark is mostly 0)
    assert compute_report(series, dark_frames=N).threshold == 0


@pytest.mark.parametrize("threshold", [-3.5, -1, 0, 2.5, 40000])
@pytest.mark.parametrize("sparse_chunks", [False, True])
def test_signed_data_odd_thresholds_dense_and_sparse(threshold, sparse_chunks):
    import dask.array as da

    sparse = pytest.importorskip("sparse")
    rng = np.random.default_rng(5)
    frames = rng.integers(-6, 7, size=(7, 9, 11)).astype(np.int16)
    frames[rng.random(frames.shape) < 0.6] = 0
    frames[2, 3, 4] = 32767
    data = da.from_array(frames, chunks=(3, -1, -1))
    if sparse_chunks:
        data = data.map_blocks(sparse.COO.from_numpy)
    series = lazyims.ImageSeries(data)
    assert series.is_sparse == sparse_chunks
    found = compute_report(series, threshold, saturation=6.5, dark_frames=0)
    over = frames > threshold
    np.testing.assert_allclose(found.frame_mean, frames.mean(axis=(1, 2)), rtol=1e-12)
    np.testing.assert_array_equal(found.frame_max, frames.max(axis=(1, 2)))
    np.testing.assert_array_equal(found.frame_min, frames.min(axis=(1, 2)))
    np.testing.assert_array_equal(found.frame_over, over.sum(axis=(1, 2)))
    np.testing.assert_array_equal(found.frame_saturated, (frames >= 6.5).sum(axis=(1, 2)))
    np.testing.assert_array_equal(found.pixel_max, frames.max(axis=0))
    np.testing.assert_array_equal(found.pixel_min, frames.min(axis=0))
    np.testing.assert_array_equal(found.pixel_over, over.sum(axis=0))
    hist = np.bincount(frames.ravel().astype(np.int64) + 32768, minlength=65536)
    np.testing.assert_array_equal(found.histogram, hist)
    assert found.histogram_edges[32768] == 0


def test_the_dark_of_sparse_chunks_is_numpy_s_median_for_any_sign():
    sparse = pytest.importorskip("sparse")
    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 6):
        dense = rng.integers(-5, 6, size=(n, 7, 9)).astype(np.int16)
        dense[rng.random(dense.shape) < 0.5] = 0
        chunks = da.from_array(dense, chunks=(2, 7, 9)).map_blocks(sparse.COO.from_numpy)
        found = compute_report(lazyims.open(chunks), 1, dark_frames=n)
        np.testing.assert_array_equal(found.dark, np.median(dense, axis=0).astype(np.float32))


def test_constant_frames_float_data_and_nan():
    frames = np.random.default_rng(0).normal(0, 50, size=(6, 8, 10)).astype(np.float32)
    frames[2] = 7.0  # a constant, non-zero frame
    frames[4, 1, 1] = np.nan
    found = compute_report(lazyims.open(frames), 10.0, dark_frames=0)
    assert found.blank_frames.tolist() == [2]
    assert found.saturation is None and found.saturated_frames.size == 0
    assert found.nan_count == 1
    assert found.histogram.sum() + found.nan_count == frames.size
    # every finite value lies in its bin: edge[k] <= |v| < edge[k + 1], on its sign's side
    edges = histogram_edges(frames.dtype)
    values = frames[np.isfinite(frames)].astype(np.float64)
    positive = values[values >= 0]
    index = np.searchsorted(edges, positive, side="right") - 1
    expected = np.bincount(index, minlength=edges.size)
    zero = int(np.flatnonzero(edges == 0)[0])
    np.testing.assert_array_equal(found.histogram[zero + 1 :], expected[zero + 1 :])
    assert (
        found.histogram[:zero].sum() + found.histogram[zero]
        == values.size - positive.size + (expected[zero])
    )
    np.testing.assert_array_equal(found.frame_max, np.nanmax(frames, axis=(1, 2)))


def test_cli_writes_a_self_contained_page(scan, tmp_path, capsys):
    path, frames = scan
    out = tmp_path / "report.html"
    args = ["report", str(path), "-O", "path=imageseries", "-o", str(out), "--no-progress"]
    assert main([*args, "--threshold", str(THRESHOLD), "--dark-frames", "5"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed
    assert "blank frames: 1, saturated frames: 1, hot pixels: 1, dead pixels: 1" in printed
    page = out.read_text()
    for section in (
        "Findings",
        "Per frame",
        "Flagged frames",
        "Maximum image and dark",
        "Hot and dead pixels",
        "Histogram of values",
        "Metadata",
        "Files",
    ):
        assert f"<h2>{section}" in page
    assert "missing (all 0)" in page and "saturated (1 pixel)" in page
    assert "omega" in page and str(path) in page
    # self-contained: four embedded PNGs and no address outside the page
    images = re.findall(r'<img[^>]*src="([^"]*)"', page)
    assert len(images) == 4 and all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r"(?:src|href)=\"(?!data:)", page)
    assert "http://" not in page and "https://" not in page


def test_report_refuses_what_it_cannot_write(scan, tmp_path, monkeypatch):
    path, _ = scan
    series = open_scan(path)
    with pytest.raises(lazyims.OptionError, match="HTML"):
        lazyims.report(series, tmp_path / "r.png")
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(lazyims.LazyImsError, match=r"lazyims\[preview\]"):
        lazyims.report(series, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_on_a_distributed_cluster_the_numbers_are_the_same(scan, cluster_client):
    import dask

    path, frames = scan
    with dask.config.set(scheduler=cluster_client):
        found = compute_report(open_scan(path), THRESHOLD, dark_frames=5)
    check_against_numpy(found, frames, THRESHOLD)


@pytest.mark.skipif(not DEXELA.exists(), reason="the real Dexela cache is not here")
def test_real_dexela_cache():
    series = lazyims.open(DEXELA)
    found = compute_report(series)
    assert found.nframes == 1440 and found.threshold == 0
    np.testing.assert_array_equal(found.pixel_max, series.max().compute())
    with np.load(DEXELA) as npz:
        stored = sum(npz[f"{i}_data"].size for i in range(0, 1440))
        shown = [int(npz[f"{i}_data"].max(initial=0)) for i in (0, 700, 1439)]
    assert found.frame_max[[0, 700, 1439]].tolist() == shown
    # every stored value is > 0 here: the histogram counts them, and the rest as zeros
    assert found.histogram[1:].sum() == stored == found.frame_over.sum()
    assert found.histogram.sum() == 1440 * 1944 * 1536
    assert found.blank_frames.size == 0 and found.saturated_frames.size == 0
    # pixels in the cache in (almost) every frame: hot
    assert found.hot_by_frames.sum() == 7 and found.hot_pixels[272, 308]


def test_two_omega_wedges_are_said_and_not_joined(tmp_path):
    frames = np.random.default_rng(2).poisson(10, size=(6, 8, 10)).astype(np.uint16)
    start = np.array([0.0, 1.0, 2.0, 60.0, 61.0, 62.0])
    series = lazyims.open(frames, metadata={"omega": np.stack([start, start + 1], axis=1)})
    found = lazyims.report(series, tmp_path / "wedges.html", threshold=12, dark_frames=3)
    np.testing.assert_allclose(found.x, start + 0.5)
    page = (tmp_path / "wedges.html").read_text()
    assert "0 to 63 degrees, step 1, 2 wedges" in page
    assert "array (6, 2) float64" in page  # the metadata table summarises arrays


DATA = Path(__file__).parent / "data"
COMPANIONS = {
    "fc_yml.yml": ("fc_yml_cache.npz", "fc_yml-omega.npy", "fc_yml-panel.npy"),
    "raw.yml": ("raw.ge",),
}


@pytest.mark.parametrize("name", ["scan.h5", "fc.npz", "fc.fch5", "fc_yml.yml", "raw.yml", "zarr"])
def test_every_format_gives_numpy_s_numbers(name, golden, tmp_path):
    if name == "zarr":  # chunked within frames: the report works on whole frames
        path = tmp_path / "scan.zarr"
        lazyims.write(lazyims.open(DATA / "scan.h5"), path, "zarr", chunks=(5, 16, 32))
    else:
        path = golden(name, *COMPANIONS.get(name, ()))
    series = lazyims.open(path)
    frames = series.compute()
    found = compute_report(series, 40.5, dark_frames=3)
    over = frames > 40.5
    np.testing.assert_allclose(found.frame_mean, frames.mean(axis=(1, 2), dtype=np.float64))
    np.testing.assert_array_equal(found.frame_max, frames.max(axis=(1, 2)))
    np.testing.assert_array_equal(found.frame_over, over.sum(axis=(1, 2)))
    np.testing.assert_array_equal(found.pixel_max, frames.max(axis=0))
    np.testing.assert_array_equal(found.pixel_min, frames.min(axis=0))
    np.testing.assert_array_equal(found.pixel_over, over.sum(axis=0))
    np.testing.assert_array_equal(found.dark, np.median(frames[:3], axis=0).astype(np.float32))
    # the same numbers from the frames as one dense in-memory chunk
    dense = compute_report(lazyims.open(frames), 40.5, dark_frames=0)
    np.testing.assert_array_equal(found.histogram, dense.histogram)
    assert found.histogram.sum() == frames.size
    assert (found.omega is not None) == ("omega" in series.metadata)


def test_big_endian_booleans_and_infinities(tmp_path):
    rng = np.random.default_rng(4)
    signed = rng.integers(-1000, 1000, size=(4, 5, 6)).astype(">i2")
    found = compute_report(lazyims.open(signed), 10, dark_frames=0)
    expected = np.bincount(signed.astype(np.int64).ravel() + 32768, minlength=65536)
    np.testing.assert_array_equal(found.histogram, expected)
    np.testing.assert_array_equal(found.frame_min, signed.min(axis=(1, 2)))

    flags = rng.random((4, 5, 6)) > 0.5
    found = compute_report(lazyims.open(flags), dark_frames=2)
    assert found.threshold == 0  # the True pixels are counted
    np.testing.assert_array_equal(found.frame_over, flags.sum(axis=(1, 2)))

    values = rng.normal(0, 1, size=(4, 5, 6))
    values[0, 0, 0], values[1, 1, 1], values[1, 2, 2] = np.inf, np.inf, -np.inf
    found = lazyims.report(lazyims.open(values), tmp_path / "inf.html", dark_frames=2)
    assert found.histogram.sum() == values.size and found.nan_count == 0
    assert np.isinf(found.frame_mean[0]) and np.isnan(found.frame_mean[1])
