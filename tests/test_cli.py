"""The lazyims command, run as users run it: ``python -m lazyims ...`` in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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
    assert "format:   zarr" in result.stdout
    assert "chunks:   2 chunks of 2 frames, the last of 1\n" in result.stdout
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


# -- as Unix tools do: closed pipes, Ctrl-C, folders, chunks, empty caches -----------------
COMMAND = "import sys, lazyims_command; sys.exit(lazyims_command.main())"


def _command(*args: object, code: str = COMMAND) -> list[str]:
    """The ``lazyims`` console script's command line, without needing it installed."""
    return [sys.executable, "-X", "faulthandler", "-c", code, *map(str, args)]


def in_process(capsys, *args: object) -> subprocess.CompletedProcess:
    """``lazyims ARGS`` run by :func:`lazyims.cli.main` in this process (no start-up cost)."""
    from lazyims.cli import main

    try:
        status = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's usage errors
        status = exc.code
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, captured.out, captured.err)


@pytest.mark.parametrize(
    ("how", "args"),
    [("command", ("formats",)), ("python -m lazyims", ("info", "{scan}"))],
    ids=["formats", "info"],
)
def test_a_closed_pipe_ends_the_command_quietly_with_status_0(golden, how, args):
    args = [a.format(scan=golden("scan.h5")) for a in args]
    line = _command(*args) if how == "command" else [sys.executable, "-m", "lazyims", *args]
    child = subprocess.Popen(
        line, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=_env()
    )
    child.stdout.close()  # the reader is gone before the command writes a line
    err = child.stderr.read()
    child.stderr.close()
    assert child.wait(timeout=120) == 0, err
    assert err == b""


@pytest.mark.parametrize("args", ["info {scan} | head -1"])
def test_head_of_the_output_in_a_shell_pipeline(golden, args):
    # as users type it; whether head exits before or after the command writes, all is quiet
    command = " ".join(f"'{part}'" for part in _command())
    script = f"set -o pipefail; {command} {args.format(scan=golden('scan.h5'))}"
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert len(done.stdout.splitlines()) == (2 if "formats" in args else 1)


def _interrupted(child: subprocess.Popen) -> tuple[int, str, str]:
    child.send_signal(signal.SIGINT)
    try:
        out, err = child.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # stuck: its threads' stacks (-X faulthandler) say where
        child.send_signal(signal.SIGABRT)
        out, err = child.communicate()
        pytest.fail(f"the command did not end within 60 s of Ctrl-C:\n{err}")
    return child.returncode, out, err


SLOW_IMPORT = """
import pathlib, sys, time
import lazyims_command

class SlowDask:  # the import of dask stops here, as a slow disk would stop it
    def find_spec(self, name, path=None, target=None):
        if name == "dask":
            pathlib.Path(sys.argv[1]).touch()
            time.sleep(60)
        return None

sys.meta_path.insert(0, SlowDask())
sys.exit(lazyims_command.main(sys.argv[2:]))
"""


def test_ctrl_c_during_the_imports_prints_one_line_and_exits_130(golden, tmp_path):
    flag = tmp_path / "importing"
    child = subprocess.Popen(
        _command(flag, "info", golden("scan.h5"), code=SLOW_IMPORT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=_env(),
    )
    for _ in range(600):  # until the child is inside the import of dask
        if flag.exists() or child.poll() is not None:
            break
        time.sleep(0.05)
    assert flag.exists(), child.communicate()[1]
    status, out, err = _interrupted(child)
    assert (status, out, err) == (130, "", "lazyims: interrupted\n")


@pytest.mark.parametrize("delay", [0.5])
def test_ctrl_c_in_the_first_seconds_prints_one_line_and_exits_130(golden, delay):
    child = subprocess.Popen(
        _command("info", golden("scan.h5")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=_env(),
    )
    time.sleep(delay)
    status, out, err = _interrupted(child)
    if status == 0:  # a fast machine finished first: nothing to interrupt
        assert out.startswith("format:") and err == ""
    else:
        assert (status, out, err) == (130, "", "lazyims: interrupted\n")


def test_ctrl_c_while_converting_leaves_no_file(tmp_path):
    scan = tmp_path / "scan.h5"
    frames = np.random.default_rng(0).poisson(30, size=(200, 256, 256)).astype(np.uint16)
    lazyims.write(lazyims.open(frames), scan, "hdf5")
    out = tmp_path / "scan-fc.npz"
    child = subprocess.Popen(
        _command("convert", scan, out, "--dark", "median:0", "--threshold", "60", "--progress"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=_env(),
    )
    for _ in range(1200):  # until the progress bar shows the work has begun
        if child.poll() is not None or _stderr_has_begun(child):
            break
        time.sleep(0.05)
    status, _, err = _interrupted(child)
    if status == 0:  # pragma: no cover - finished before the signal
        pytest.skip("the conversion ended before it could be interrupted")
    assert status == 130
    assert err.rstrip().endswith("lazyims: interrupted") and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan.h5"]


def _stderr_has_begun(child: subprocess.Popen) -> bool:
    import select

    ready, _, _ = select.select([child.stderr], [], [], 0)
    return bool(ready)


def test_info_of_a_folder_names_it_a_folder(tmp_path, golden, capsys):
    folder = tmp_path / "scans"
    folder.mkdir()
    result = in_process(capsys, "info", folder)
    assert_one_line_error(result, "a folder", "zarr", "it is empty")
    assert "cannot tell the format of this file" not in result.stderr
    (folder / "scan.h5").write_bytes(golden("scan.h5").read_bytes())
    result = in_process(capsys, "info", folder)
    assert_one_line_error(result, "a folder", "open a file in it instead: scan.h5")
    result = in_process(capsys, "info", folder, "--format", "hdf5")
    assert_one_line_error(result, "a folder", "reads a file")


def test_info_reports_the_chunks_as_they_are(tmp_path, capsys):
    frames = np.zeros((100, 16, 16), np.uint16)
    frames[:, 3, 4] = 9
    cache = tmp_path / "fc.npz"
    lazyims.open(frames).to_framecache(cache, threshold=0)
    series = lazyims.open(cache, frames_per_chunk=32)
    assert series.chunks[0] == (32, 32, 32, 4)
    result = in_process(capsys, "info", cache, "-O", "frames_per_chunk=32")
    assert result.returncode == 0, result.stderr
    assert "chunks:   4 chunks of 32 frames, the last of 4, sparse" in result.stdout


def test_chunk_text_says_how_frames_rows_and_columns_are_cut():
    from lazyims.cli import chunk_text

    assert chunk_text(((5,), (8,), (8,))) == "1 chunk of 5 frames"
    assert chunk_text(((1, 1, 1), (8,), (8,))) == "3 chunks of 1 frame"
    assert chunk_text(((4, 4, 2), (8,), (8,))) == "3 chunks of 4 frames, the last of 2"
    assert chunk_text(((2, 5, 3), (8,), (8,))) == "3 chunks of 2 to 5 frames"
    assert chunk_text(((4,), (4, 4), (8,))).endswith("each cut in 2 x 1 pieces (rows x columns)")


@pytest.mark.parametrize("style", ["npz", "fch5", "yml"])
def test_a_threshold_that_keeps_no_pixel_warns_with_one_that_keeps_some(
    golden, tmp_path, style, capsys
):
    out = tmp_path / f"fc.{style}"
    result = in_process(capsys, "convert", golden("scan.h5"), out, "--threshold", "1e9")
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if "keeps no pixel" in line]
    assert len(warning) == 1 and warning[0].startswith("lazyims: warning:")
    top = lazyims.open(golden("scan.h5")).max().compute().max()
    assert f"the largest value of the frames is {top:g}" in warning[0]
    suggested = float(warning[0].split("a threshold below ")[1].split()[0])
    # the threshold it names keeps some pixels, and not the whole scan
    again = tmp_path / f"again.{style}"
    result = in_process(
        capsys, "convert", golden("scan.h5"), again, "--threshold", f"{suggested - 0.5:g}"
    )
    assert "keeps no pixel" not in result.stderr
    stored = lazyims.open(again).to_dask(sparse=True).compute()
    assert 0 < stored.nnz < 0.05 * stored.size


def test_a_threshold_that_keeps_almost_nothing_warns_too(tmp_path):
    frames = np.zeros((20, 100, 100), np.uint16)
    frames[3, 10, 10] = 500  # 1 pixel in 200000: under 0.001%
    with pytest.warns(UserWarning, match=r"keeps only 1 of 200000 pixels"):
        lazyims.open(frames).to_framecache(tmp_path / "fc.npz", threshold=10)
    frames[4, 20:30, 20:30] = 500  # 101 pixels: enough, no warning
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lazyims.open(frames).to_framecache(tmp_path / "fc2.npz", threshold=10)


def test_preview_of_a_flat_image_warns(tmp_path, capsys):
    frames = np.zeros((3, 16, 16), np.uint16)
    with pytest.warns(UserWarning, match="keeps no pixel"):
        lazyims.open(frames).to_framecache(tmp_path / "fc.npz", threshold=0)
    result = in_process(capsys, "preview", tmp_path / "fc.npz", "-o", tmp_path / "max.png")
    assert result.returncode == 0, result.stderr
    assert "lazyims: warning:" in result.stderr and "one flat colour" in result.stderr
    assert (tmp_path / "max.png").exists()
