"""Smoke test of the benchmark runner (``python -m benchmarks --quick``); no timing is asserted."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

import lazyims
from benchmarks import cpu, decode, generate, lazy, plain_dask, reference, runner
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


def test_shorter_scans_are_copied_from_the_longest(tmp_path, monkeypatch):
    maker = generate.FrameMaker(24, 32)
    generate.make_scan(tmp_path, 7, 24, 32)

    def no_new_frames(self, i):
        raise AssertionError("a frame was made again")

    monkeypatch.setattr(generate.FrameMaker, "frame", no_new_frames)
    short, long = generate.make_scans(tmp_path, [3, 7], 24, 32)
    monkeypatch.undo()
    with h5py.File(short, "r") as f, h5py.File(long, "r") as g:
        a, b = f["imageseries/images"], g["imageseries/images"]
        assert a.shape == (3, 24, 32) and b.shape == (7, 24, 32)
        assert a.compression == "gzip" and a.shuffle and a.chunks == (1, 24, 32)
        for i in range(3):  # the same stored bytes, not a second compression
            assert a.id.read_direct_chunk((i, 0, 0)) == b.id.read_direct_chunk((i, 0, 0))
        assert f["imageseries"].attrs["omega"].shape == (3, 2)
    np.testing.assert_array_equal(lazyims.open(short).compute(), [maker.frame(i) for i in range(3)])


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
    # the plain-dask peer and HEXRD's row-band median (the 1440-frame baseline) agree too
    np.testing.assert_array_equal(plain_dask.frame_max(path), reference.frame_max(path))
    np.testing.assert_array_equal(plain_dask.median_dark(path), reference.median_dark(path))
    np.testing.assert_array_equal(reference.median_bands(path), reference.median_dark(path))
    assert decode.h5py_frames(path) == decode.lazyims_frames(path) == 5
    cache = generate.make_framecache(tmp_path, 4, 32, 32, threshold=150)
    np.testing.assert_array_equal(
        lazy.framecache_frame(cache, 2), reference.framecache_frame(cache, 2)
    )
    np.testing.assert_array_equal(lazy.framecache_max(cache), reference.framecache_max(cache))


@needs_hexrd
def test_both_pipelines_write_the_same_frames(tmp_path):
    scan = generate.make_scan(tmp_path, 4, 32, 32)
    dark = generate.make_dark(tmp_path, scan, 3)
    outs = tmp_path / "hexrd.npz", tmp_path / "lazy.npz", tmp_path / "dask.npz"
    reference.pipeline(str(scan), str(outs[0]), str(dark), 60.0)
    gc.collect()  # HEXRD's series hold their HDF5 file open until collected
    lazy.pipeline(str(scan), str(outs[1]), str(dark), 60.0)
    plain_dask.pipeline(str(scan), str(outs[2]), str(dark), 60.0)
    hexrd_frames, lazy_frames, dask_frames = (
        reference.framecache_frames(str(out), [0, 1, 2, 3]) for out in outs
    )
    for a, b, c in zip(hexrd_frames, lazy_frames, dask_frames):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
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
        if row["job"] in ("max", "median", "pipeline"):  # the plain-dask column
            assert row["dask"]["seconds"] > 0, row
    assert "dask s" in text and "decode floor (6 frames, 1 thread): lazyims reader" in text
    assert text.startswith("scans in") and "== native table ==" in text
    assert "CPU: " in text and "numpy dispatches up to" in text


def test_no_dask_leaves_out_the_dask_column(tmp_path, capsys):
    out_json = tmp_path / "results.json"
    argv = ["--quick", "--in-process", "--no-dask", "--jobs", "max"]
    assert runner.main([*argv, "--workdir", str(tmp_path), "--json", str(out_json)]) == 0
    assert "dask s" not in capsys.readouterr().out
    assert all("dask" not in row for row in json.loads(out_json.read_text()))


def test_long_scans_get_hexrds_row_band_median_and_no_dask_median():
    args = runner.parse_args(["--frames", "100", "1440"])
    median = next(job for job in JOBS if job.key == "median")
    short, label = runner.sides(median, args, 100)
    assert dict(short)["baseline"].function == "median_dark" and label == ""
    assert dict(short)["dask"].module == "plain_dask"
    long, label = runner.sides(median, args, 1440)  # 12 GB of frames
    assert dict(long)["baseline"].function == "median_bands" and "median_iter" in label
    assert "skipped" in dict(long)["dask"] and "4 GiB" in dict(long)["dask"]
    assert "dask" not in dict(runner.sides(median, runner.parse_args(["--no-dask"]), 100)[0])


def test_cpu_baseline_children_run_numpy_and_numba_at_avx2():
    env = cpu.avx2_environment()
    assert env["NUMBA_CPU_NAME"] == "haswell" and env["NUMBA_CPU_FEATURES"] == ""
    named = env.get("NPY_DISABLE_CPU_FEATURES", "").split()
    assert all(name.startswith(("AVX512", "X86_V4")) for name in named)
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-m", "benchmarks.cpu"],
        env=runner._child_env(env),
        cwd=runner.ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and not proc.stderr, proc.stderr  # numpy took every name
    level = proc.stdout.split("dispatches up to ")[1].split()[0]
    assert not level.startswith(("AVX512", "X86_V4")) and "compiles for haswell" in proc.stdout
    with pytest.raises(SystemExit):
        runner.parse_args(["--cpu-baseline", "--in-process"])


def test_child_process_measures_one_job(tmp_path):
    path = generate.make_scan(tmp_path, 2, 16, 16)
    spec = {"module": "lazy", "function": "frame_max", "kwargs": {"path": str(path)}}
    result = runner.run_child(spec, repeat=1)
    assert set(result) == {"seconds", "cpu_seconds", "peak_bytes"}, result
