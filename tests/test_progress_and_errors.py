"""Progress bars where long work runs, and the errors of the CLI and of opening files.

Each test reproduces a complaint of issue 14: no progress on a cluster, a zip named
.tif, a density warning after the whole write, h5py's lock clash, YAML errors hidden
by format detection, a dark image embedded in every graph sent to a cluster.
"""

from __future__ import annotations

import warnings

import dask
import h5py
import numpy as np
import pytest

import lazyims
from lazyims.cli import main
from tests.conftest import synthetic_frames
from tests.test_cli import assert_one_line_error, run


@pytest.fixture
def scan(tmp_path):
    frames = synthetic_frames(6, 24, 32)
    path = tmp_path / "scan.h5"
    lazyims.open(frames).write(path, "hdf5", path="imageseries")
    return path, frames


# -- progress ------------------------------------------------------------------------
def test_convert_and_dark_show_dask_progress_locally(scan, tmp_path):
    path, _ = scan
    for args in (
        ("convert", path, tmp_path / "fc.npz", "--threshold", "100"),
        ("dark", path, tmp_path / "dark.npy", "--nframes", "4"),
    ):
        result = run(*args, "--progress")
        assert result.returncode == 0, result.stderr
        assert "100% Completed" in result.stderr, args
        assert "Completed" not in result.stdout  # stdout is for results


@pytest.mark.parametrize(
    "args",
    [
        ("convert", "{scan}", "{out}/fc.npz", "--threshold", "100"),
        ("convert", "{scan}", "{out}/copy.zarr"),
        ("convert", "{scan}", "{out}/copy.h5"),
        ("dark", "{scan}", "{out}/dark.npy", "--nframes", "4"),
        ("preview", "{scan}", "-o", "{out}/max.png"),
    ],
    ids=["convert-npz", "convert-zarr", "convert-hdf5", "dark", "preview"],
)
def test_commands_show_distributed_progress_on_a_scheduler(
    cluster_client, scan, tmp_path, capsys, args
):
    path, frames = scan
    words = [a.format(scan=path, out=tmp_path) for a in args]
    address = cluster_client.scheduler.address
    assert main([*words, "--scheduler", address, "--progress"]) == 0
    captured = capsys.readouterr()
    assert "100% Completed" in captured.err
    assert "Completed" not in captured.out
    if args[0] == "convert" and words[2].endswith(".zarr"):
        np.testing.assert_array_equal(lazyims.open(words[2]).compute(), frames)


def test_no_progress_means_no_bar(cluster_client, scan, tmp_path, capsys):
    path, _ = scan
    address = cluster_client.scheduler.address
    out = tmp_path / "fc.npz"
    assert main(["convert", str(path), str(out), "--threshold", "100", "--scheduler", address]) == 0
    assert "Completed" not in capsys.readouterr().err


# -- output extensions ------------------------------------------------------------------
def test_an_unknown_output_extension_is_an_error_naming_the_known_ones(scan, tmp_path):
    path, _ = scan
    out = tmp_path / "x.tif"
    result = run("convert", path, out, "--threshold", "100")
    assert_one_line_error(result, "x.tif", ".npz", ".fch5", ".h5", ".zarr")
    assert not out.exists()
    result = run(
        "convert", path, out, "--threshold", "100", "--to", "frame-cache", "--style", "npz"
    )
    assert result.returncode == 0, result.stderr
    assert lazyims.open(out, format="frame-cache").nframes == 6


def test_convert_help_lists_the_writable_formats():
    result = run("convert", "--help")
    for name in ("frame-cache", "hdf5", "zarr"):
        assert name in result.stdout


# -- the density check -------------------------------------------------------------------
def _frames_failing_after(n: int, shape=(16, 16)):
    def frame(i: int) -> np.ndarray:
        if i >= n:
            raise RuntimeError(f"frame {i} cannot be read")
        return np.full(shape, 50, np.uint16)  # every pixel above the threshold

    return frame


@pytest.mark.parametrize("name", ["fc.npz", "fc.fch5"])
def test_the_density_warning_comes_with_the_first_block(tmp_path, name):
    # frames 0-1 are dense, frame 2 cannot be read: computed in frame order, the
    # warning is out with the first block, before the failure of the second
    series = lazyims.open(_frames_failing_after(2), nframes=6, frames_per_chunk=2)
    with warnings.catch_warnings(record=True) as caught, dask.config.set(scheduler="sync"):
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="frame 2"):
            series.to_framecache(tmp_path / name, threshold=10)
    messages = [str(w.message) for w in caught]
    assert any("frame 0 keeps 100% of its pixels" in m for m in messages), messages
    assert not (tmp_path / name).exists()


def test_the_cli_prints_the_density_warning_as_one_line(scan, tmp_path):
    path, _ = scan
    result = run("convert", path, tmp_path / "fc.npz", "--threshold", "0")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("lazyims: warning: ") and "frame 0 keeps" in lines[0]
    assert "UserWarning" not in result.stderr


# -- h5py's lock clash ------------------------------------------------------------------
def test_a_file_open_in_h5py_elsewhere_still_opens(scan, tmp_path):
    path, frames = scan
    cache = tmp_path / "fc.fch5"
    lazyims.open(frames).to_framecache(cache, threshold=100)
    with h5py.File(path, "r"), h5py.File(cache, "r"):  # a notebook's handles, locking on
        np.testing.assert_array_equal(lazyims.open(path).compute(), frames)
        back = lazyims.open(cache)
        assert back.format == "frame-cache"
        np.testing.assert_array_equal(back.compute(), np.where(frames > 100, frames, 0))
    with h5py.File(path, "r", locking=True):
        np.testing.assert_array_equal(lazyims.open(path)[2].compute(), frames[2])


def test_the_lock_clash_is_explained_with_the_fix(scan, monkeypatch):
    from lazyims.formats import _h5

    path, _ = scan

    def clash(*args, **kwargs):
        raise OSError("Unable to synchronously open file (file locking flag values don't match)")

    monkeypatch.setattr(_h5.h5py, "File", clash)
    with pytest.raises(lazyims.FileContentError) as err:
        lazyims.open(path, format="hdf5")
    message = str(err.value)
    assert str(path) in message
    assert "HDF5_USE_FILE_LOCKING=FALSE" in message and "close the other handle" in message


# -- YAML errors through format detection --------------------------------------------------
def test_a_yaml_that_does_not_parse_is_reported_with_line_and_column(tmp_path):
    bad = tmp_path / "images.yml"
    bad.write_text('image-files:\n  directory: .\n files: "*.tif"\n')
    with pytest.raises(lazyims.FileContentError, match="line 3, column 2"):
        lazyims.open(bad)  # the format is detected
    with pytest.raises(lazyims.FileContentError, match="line 3, column 2"):
        lazyims.open(bad, format="image-files")
    result = run("info", bad)
    assert_one_line_error(result, "line 3, column 2", "images.yml")


def test_a_yaml_of_unknown_keys_names_them(tmp_path):
    typo = tmp_path / "images.yml"
    typo.write_text("image_files:\n  directory: .\n  files: '*.tif'\n")
    with pytest.raises(lazyims.FileContentError, match="image_files"):
        lazyims.open(typo)
    other = tmp_path / "scan.dat"
    other.write_bytes(b"\x00" * 64)
    result = run("info", other)
    assert_one_line_error(result, "--format")


# -- a numpy dark on a cluster ---------------------------------------------------------------
def test_a_numpy_dark_is_scattered_once_not_sent_in_the_graph(cluster_client, tmp_path):
    # a 1200 x 1200 float64 dark is 11 MiB: over distributed's large-graph warning
    frames = np.random.default_rng(0).poisson(30, (2, 1200, 1200)).astype(np.uint16)
    path = tmp_path / "big.h5"
    lazyims.open(frames).write(path, "hdf5", path="imageseries")
    dark = np.full((1200, 1200), 20.0)
    cleaned = np.clip(frames - 20.0, 0, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with dask.config.set(scheduler=cluster_client):
            series = lazyims.open(path).dark(dark)
            peak = series.max().compute()
            median = series.median(band_bytes=2 * 1200 * 2 * 300).compute()  # 4 bands
            series.to_framecache(tmp_path / "fc.npz", threshold=40)
    assert not [w for w in caught if "large graph" in str(w.message)]
    np.testing.assert_array_equal(peak, cleaned.max(axis=0))
    np.testing.assert_allclose(median, np.median(cleaned, axis=0))
    kept = lazyims.open(tmp_path / "fc.npz").compute()
    np.testing.assert_array_equal(kept, np.where(cleaned > 40, cleaned, 0))
    # without a cluster the dark is part of the graph, as before
    np.testing.assert_array_equal(lazyims.open(path).dark(dark).max().compute(), peak)
