"""Smoke test of the benchmark runner (``python -m benchmarks --quick``); no timing is asserted."""

from __future__ import annotations

import gc
import json

import h5py
import numpy as np
import pytest

import lazyims
from benchmarks import generate, lazy, reference, runner
from benchmarks.jobs import JOBS

needs_hexrd = pytest.mark.skipif(
    not reference.available(), reason=f"HEXRD reference absent ({reference.REFERENCE})"
)


def test_generated_scan_has_hexrd_layout(tmp_path):
    path = generate.make_scan(tmp_path, 3, 40, 48)
    with h5py.File(path, "r") as f:
        dset = f["imageseries/images"]
        assert dset.shape == (3, 40, 48) and dset.dtype == np.uint16
        assert dset.chunks == (1, 40, 48)
        assert dset.compression == "gzip" and dset.compression_opts == 1 and dset.shuffle
        assert f["imageseries"].attrs["omega"].shape == (3, 2)
    frames = generate.FrameMaker(40, 48).frame(2)
    np.testing.assert_array_equal(lazyims.open(path)[2].compute(), frames)
    assert 80 < np.median(frames) < 120 and frames.max() > 300  # background and spots


def test_generated_dark_is_the_median_of_the_first_frames(tmp_path):
    scan = generate.make_scan(tmp_path, 5, 24, 16)
    dark = np.load(generate.make_dark(tmp_path, scan, 4))
    with h5py.File(scan, "r") as f:
        want = np.median(f["imageseries/images"][:4], axis=0).astype(np.float32)
    assert dark.dtype == np.float32
    np.testing.assert_array_equal(dark, want)


@needs_hexrd
def test_both_sides_compute_the_same_results(tmp_path):
    path = generate.make_scan(tmp_path, 5, 32, 32)
    np.testing.assert_array_equal(lazy.frame_max(path), reference.frame_max(path))
    np.testing.assert_array_equal(lazy.median_dark(path), reference.median_dark(path))
    cache = generate.make_framecache(tmp_path, 4, 32, 32, threshold=150)
    np.testing.assert_array_equal(
        lazy.framecache_frame(cache, 2), reference.framecache_frame(cache, 2)
    )
    np.testing.assert_array_equal(lazy.framecache_max(cache), reference.framecache_max(cache))


@needs_hexrd
def test_both_pipelines_write_the_same_frames(tmp_path):
    scan = generate.make_scan(tmp_path, 4, 32, 32)
    dark = generate.make_dark(tmp_path, scan, 3)
    outs = tmp_path / "hexrd.npz", tmp_path / "lazy.npz"
    reference.pipeline(str(scan), str(outs[0]), str(dark), 60.0)
    gc.collect()  # HEXRD's series hold their HDF5 file open until collected
    lazy.pipeline(str(scan), str(outs[1]), str(dark), 60.0)
    hexrd_frames, lazy_frames = (
        reference.framecache_frames(str(out), [0, 1, 2, 3]) for out in outs
    )
    for a, b in zip(hexrd_frames, lazy_frames):
        np.testing.assert_array_equal(a, b)
        assert (a > 0).any()


def test_quick_run_reports_every_job(tmp_path, capsys):
    out_json = tmp_path / "results.json"
    code = runner.main(
        ["--quick", "--in-process", "--workdir", str(tmp_path), "--json", str(out_json)]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    rows = json.loads(out_json.read_text())
    ran = {row["job"] for row in rows}
    real = runner.real_caches(runner.parse_args(["--quick"]))
    assert ran == {job.key for job in JOBS if real or job.input != "real"}
    for job in JOBS:
        if job.key not in ran:
            continue
        line = next(line for line in text.splitlines() if line.startswith(job.title))
        assert "ran (quick" in line or "skipped: HEXRD reference absent" in line, line
    for row in rows:
        if row["job"] in ("max", "cluster", "import"):
            assert row["lazy"]["seconds"] > 0
            assert row["baseline"]["seconds"] > 0 or "skipped" in row["baseline"]


def test_child_process_measures_one_job(tmp_path):
    path = generate.make_scan(tmp_path, 2, 16, 16)
    spec = {"module": "lazy", "function": "frame_max", "kwargs": {"path": str(path)}}
    result = runner.run_child(spec, repeat=1)
    assert set(result) == {"seconds", "cpu_seconds", "peak_bytes"}, result
