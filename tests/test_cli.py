"""The lazyims command, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lazyims

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env_path = {"PYTHONPATH": str(ROOT)}
    import os

    env = {**os.environ, **env_path}
    return subprocess.run(
        [sys.executable, "-m", "lazyims", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_version():
    out = run("--version")
    assert out.returncode == 0
    assert lazyims.__version__ in out.stdout


def test_info_describes_the_golden_scan(golden):
    out = run("info", golden("scan.h5"))
    assert out.returncode == 0, out.stderr
    for part in ("hdf5", "frames:   12", "48 x 64", "uint16", "omega", "panel = 'ff1'"):
        assert part in out.stdout


def test_info_takes_format_options(golden):
    out = run("info", golden("scan.h5"), "-o", "path=imageseries")
    assert out.returncode == 0, out.stderr


def test_errors_are_one_line_without_traceback(tmp_path):
    out = run("info", tmp_path / "missing.h5")
    assert out.returncode == 1
    assert "missing.h5" in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
