"""Smoke test of the benchmark runner (``python -m benchmarks --quick``); no timing is asserted."""

from __future__ import annotations

import json

import h5py
import numpy as np

import lazyims
from benchmarks import baseline, generate, lazy, runner
from benchmarks.jobs import JOBS


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


def test_both_sides_compute_the_same_max(tmp_path):
    path = generate.make_scan(tmp_path, 5, 32, 32)
    np.testing.assert_array_equal(lazy.frame_max(path), baseline.frame_max(path))


def test_baseline_framecache_reads_the_generated_file(tmp_path):
    path = generate.make_framecache(tmp_path, 4, 32, 32, threshold=150)
    frame = baseline.framecache_frame(path, 2)
    want = generate.FrameMaker(32, 32, seed=1).frame(2)
    np.testing.assert_array_equal(frame, np.where(want > 150, want, 0))


def test_quick_run_reports_every_job(tmp_path, capsys):
    out_json = tmp_path / "results.json"
    code = runner.main(
        ["--quick", "--in-process", "--workdir", str(tmp_path), "--json", str(out_json)]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    rows = json.loads(out_json.read_text())
    assert {row["job"] for row in rows} == {job.key for job in JOBS}
    for job in JOBS:
        line = next(line for line in text.splitlines() if line.startswith(job.title))
        assert "ran (quick" in line or "skipped: lazyims" in line, line
    # Jobs 1 and 5 need nothing from other branches: they really ran on both sides.
    for row in rows:
        if row["job"] in ("max", "cluster"):
            assert row["baseline"]["seconds"] > 0 and row["lazy"]["seconds"] > 0


def test_child_process_measures_one_job(tmp_path):
    path = generate.make_scan(tmp_path, 2, 16, 16)
    spec = {"module": "lazy", "function": "frame_max", "kwargs": {"path": str(path)}}
    result = runner.run_child(spec, repeat=1)
    assert set(result) == {"seconds", "cpu_seconds", "peak_bytes"}, result
