"""The lazyims command, run as users run it: ``python -m lazyims ...`` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lazyims

ROOT = Path(__file__).resolve().parents[1]


def _env(*first: Path) -> dict[str, str]:
    """The environment, with lazyims importable from any working folder."""
    paths = [*map(str, first), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lazyims", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=_env(),
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lazyims"), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


def test_version():
    out = run("--version")
    assert out.returncode == 0
    assert lazyims.__version__ in out.stdout


def test_info_describes_sizes_metadata_and_omega(golden):
    result = run("info", golden("scan.h5"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "frames:   12" in out and "shape:    48 x 64" in out and "dtype:    uint16" in out
    assert "in memory: 72.0 KiB" in out  # 12 * 48 * 64 * 2 bytes
    size = golden("scan.h5").stat().st_size / 1024
    assert f"on disk:  {size:.1f} KiB" in out
    # two wedges of 6 steps: 0-30 and 60-90 degrees
    assert "omega:    0 to 90 deg, 2 wedge(s), step 5 deg" in out
    assert "metadata: panel = 'ff1'" in out


def test_info_of_a_zarr_store_with_a_format_option(tmp_path):
    lazyims.open(np.ones((3, 4, 5), np.float32), metadata={"gain": 2.5}).to_zarr(
        tmp_path / "s.zarr"
    )
    result = run("info", tmp_path / "s.zarr", "-O", "frames_per_chunk=2")
    assert result.returncode == 0, result.stderr
    assert "format:   zarr" in result.stdout and "chunks:   2 of 2 frame(s)" in result.stdout
    assert "metadata: gain = 2.5" in result.stdout and "omega" not in result.stdout


def test_preview_writes_a_log_scaled_picture_with_progress(golden, tmp_path, expected):
    out = tmp_path / "max.png"
    result = run("preview", golden("scan.h5"), "-o", out, "--progress", "--scheduler", "sync")
    assert result.returncode == 0, result.stderr
    top = expected["frames"].max(axis=0)
    assert f"log scale, values {top.min():g} to {top.max():g}" in result.stdout
    assert "100% Completed" in result.stderr  # dask's progress bar, on stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_preview_on_a_distributed_scheduler_address(cluster_client, golden, tmp_path, expected):
    out = tmp_path / "max.svg"
    address = cluster_client.scheduler.address
    result = run("preview", golden("scan.h5"), "-o", out, "--scheduler", address, "--no-log")
    assert result.returncode == 0, result.stderr
    top = expected["frames"].max(axis=0)
    assert f"linear scale, values {top.min():g} to {top.max():g}" in result.stdout
    assert out.read_text().lstrip().startswith("<?xml")


def test_an_error_is_one_line_with_exit_status_1(tmp_path):
    assert_one_line_error(run("info", "missing.h5", cwd=tmp_path), "missing.h5", "no such file")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("info", "{scan}", "-O", "path=nogroup"), ("no group 'nogroup'",)),
        (("info", "{scan}", "-O", "nokey"), ("KEY=VALUE",)),
        (("info", "{scan}", "--format", "nope"), ("unknown format 'nope'",)),
        (("preview", "{scan}", "-o", "max.xyz"), ("max.xyz", ".png")),
        (("preview", "{scan}"), ("-o/--output",)),
        (("info", "{scan}", "--scheduler", "sync", "--progress", "--bogus"), ("--bogus",)),
        (("frobnicate",), ("invalid choice",)),
    ],
)
def test_errors_in_process(golden, tmp_path, monkeypatch, capsys, args, words):
    from lazyims.cli import main

    scan = golden("scan.h5")
    monkeypatch.chdir(tmp_path)
    try:
        status = main([a.format(scan=scan) for a in args])
    except SystemExit as exc:  # argparse's usage errors
        status = exc.code
    captured = capsys.readouterr()
    result = subprocess.CompletedProcess(args, status, captured.out, captured.err)
    assert_one_line_error(result, *words)
    assert not (tmp_path / "max.xyz").exists()


def test_preview_without_matplotlib_says_how_to_install_it(golden, tmp_path):
    # a matplotlib that cannot be imported, first on the path
    fake = tmp_path / "fake"
    (fake / "matplotlib").mkdir(parents=True)
    (fake / "matplotlib" / "__init__.py").write_text("raise ImportError('no matplotlib here')\n")
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from lazyims.cli import main; sys.exit(main())"]
        + ["preview", str(golden("scan.h5")), "-o", str(tmp_path / "m.png")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(fake),
        timeout=120,
    )
    assert_one_line_error(result, "pip install 'lazyims[preview]'")


def test_main_in_process_returns_the_status(golden, capsys):
    from lazyims.cli import main

    assert main(["info", str(golden("scan.h5")), "--no-progress"]) == 0
    assert "frames:   12" in capsys.readouterr().out
    assert main(["info", "does-not-exist.h5"]) == 1
    assert capsys.readouterr().err.startswith("lazyims: error: does-not-exist.h5")


# -- the everyday job: convert, dark, demo ------------------------------------------------


def test_convert_hdf5_to_each_frame_cache_style_matches_hexrd(golden, tmp_path, expected):
    scan = golden("scan.h5")
    for name in ("fc.npz", "fc.fch5", "fc.yml"):
        out = tmp_path / name
        result = run("convert", scan, out, "--dark", "median:0", "--flip", "v", "--threshold", "20")
        assert result.returncode == 0, result.stderr
        assert "wrote" in result.stdout and "dark median:0" in result.stdout
        cache = lazyims.open(out)
        assert cache.format == "frame-cache"
        np.testing.assert_allclose(cache.compute(), expected["framecache_dense"], rtol=1e-6)
        np.testing.assert_array_equal(cache.metadata["omega"], expected["omega"])


def test_convert_with_frames_rectangle_and_saved_dark(golden, tmp_path, expected):
    scan = golden("scan.h5")
    dark = tmp_path / "dark.npy"
    result = run("dark", scan, dark, "--stat", "average", "--nframes", "5")
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.load(dark), expected["stats_average_nf5"], rtol=1e-6)
    out = tmp_path / "crop.h5"
    result = run("convert", scan, out, "--frames", "2:", "--dark", dark, "--rectangle", "4:40,8:60")
    assert result.returncode == 0, result.stderr
    got = lazyims.open(out)
    frames = expected["frames"][2:].astype(np.float32)
    dark_image = expected["stats_average_nf5"].astype(np.float32)
    want = np.clip(frames - dark_image, 0, None)[:, 4:40, 8:60]
    np.testing.assert_allclose(got.compute(), want, rtol=1e-6)
    np.testing.assert_array_equal(got.metadata["omega"], expected["omega"][2:])


def test_dark_median_equals_hexrds(golden, tmp_path, expected):
    out = tmp_path / "dark.npy"
    result = run("dark", golden("scan.h5"), out, "--nframes", "5")
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(np.load(out), expected["stats_median_nf5"])


@pytest.mark.parametrize(
    "args, words",
    [
        (["--threshold", "x"], ["threshold", "invalid float"]),
        (["--flip", "sideways", "--threshold", "1"], ["sideways"]),
        (["--dark", "mean:3", "--threshold", "1"], ["--dark"]),
        (["--dark", "nothere.npy", "--threshold", "1"], ["nothere.npy"]),
        (["--frames", "a:b", "--threshold", "1"], ["--frames"]),
        (["--rectangle", "0:10", "--threshold", "1"], ["--rectangle"]),
        ([], ["--threshold"]),
    ],
)
def test_convert_errors_are_one_line(golden, tmp_path, args, words):
    out = tmp_path / "out.npz"
    result = run("convert", golden("scan.h5"), out, *args)
    assert_one_line_error(result, *words)
    assert not out.exists()


def test_demo_makes_a_scan_a_frame_cache_and_a_picture(tmp_path):
    result = run("demo", tmp_path / "demo", "--frames", "12", "--size", "64")
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "demo"
    cache = lazyims.open(folder / "scan-fc.npz")
    scan = lazyims.open(folder / "scan.h5")
    assert cache.nframes == scan.nframes == 12
    raw = scan.compute().astype(np.float32)
    want = np.clip(raw - np.median(raw, axis=0), 0, None)[:, :, ::-1]
    np.testing.assert_allclose(cache.compute(), np.where(want > 50, want, 0), rtol=1e-6)
    assert (folder / "max.png").read_bytes()[:4] == b"\x89PNG"
    assert str(folder / "scan-fc.npz") in result.stdout
