"""lazyims.hexrd.install() and ``python -m lazyims.hexrd``: HEXRD's code on lazyims.

Each check runs in a fresh Python process (the aliasing changes ``sys.modules``):
HEXRD's own imageseries package comes from ``../shared/hexrd-reference`` (HEXRD's
packages ``hexrd`` and ``hexrd.core`` are then the real ones), and HEXRD's command line
is stood in for by a small package written here (the reference has no command line).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import lazyims
from tests.conftest import synthetic_frames
from tests.formats.eiger_files import add_goniometer, eiger_frames, write_master
from tests.hexrd.test_hexrd_own_tests import DIFFERENCES, HEXRD_TESTS

REPO = Path(__file__).resolve().parents[2]
REFERENCE = HEXRD_TESTS.parent

needs_reference = pytest.mark.skipif(
    not (REFERENCE / "hexrd" / "core" / "imageseries").is_dir(),
    reason=f"HEXRD's reference code is not at {REFERENCE}",
)


def run_python(code: str, *path: Path, args: tuple[str, ...] = (), cwd=None):
    """Run ``code`` (or ``-m lazyims.hexrd`` when code is None) with ``path`` in front."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([*map(str, path), str(REPO)]),
        PYTHONDONTWRITEBYTECODE="1",
    )
    command = [sys.executable, *(["-c", code] if code else ["-m", "lazyims.hexrd"]), *args]
    return subprocess.run(
        command, env=env, cwd=cwd or REPO, capture_output=True, text=True, timeout=300
    )


@needs_reference
def test_install_puts_lazyims_in_place_of_hexrds_imageseries_and_uninstall_undoes_it():
    code = textwrap.dedent(
        """
        import json, sys, warnings
        import lazyims.hexrd as L
        warnings.simplefilter("error")
        L.install()
        L.install()  # a second call changes nothing
        import hexrd, hexrd.core
        from hexrd.core import imageseries
        from hexrd.core.imageseries import omega, stats
        from hexrd.core.imageseries.load.framecache import FrameCacheImageSeriesAdapter
        from hexrd.core.imageseries.process import ProcessedImageSeries
        import hexrd.imageseries.load.hdf5 as old_layout
        seen = {
            "installed": L.installed(),
            "parent": hexrd.__file__,
            "imageseries": imageseries is L,
            "attribute": hexrd.core.imageseries is L,
            "modules": [omega is L.omega, stats is L.stats, old_layout is L.load.hdf5,
                        ProcessedImageSeries is L.process.ProcessedImageSeries,
                        FrameCacheImageSeriesAdapter is L.load.framecache.FrameCacheImageSeriesAdapter],
        }
        L.uninstall()
        L.uninstall()
        from hexrd.core import imageseries as real
        seen["after"] = [L.installed(), real is L, real.__file__, hexrd.core.imageseries is real]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            L.install()
        seen["again"] = [sys.modules["hexrd.core.imageseries"] is L, len(caught)]
        print(json.dumps(seen))
        """
    )
    done = run_python(code, REFERENCE)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["installed"] and seen["imageseries"] and seen["attribute"]
    assert seen["parent"].startswith(str(REFERENCE))  # HEXRD's own package, not a stand-in
    assert seen["modules"] == [True] * 5
    installed, same, real_file, attribute = seen["after"]
    assert not installed and not same and attribute
    assert real_file.startswith(str(REFERENCE / "hexrd" / "core" / "imageseries"))
    assert seen["again"] == [True, 1]  # installed after HEXRD's own was imported: a warning


@needs_reference
def test_install_after_hexrds_imageseries_was_imported_warns():
    code = textwrap.dedent(
        """
        import warnings
        from hexrd.core import imageseries
        import lazyims.hexrd as L
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            L.install()
        print([str(w.message) for w in caught])
        """
    )
    done = run_python(code, REFERENCE)
    assert done.returncode == 0, done.stderr
    assert "hexrd.core.imageseries was imported before lazyims.hexrd.install()" in done.stdout


@needs_reference
def test_hexrds_tests_pass_through_install_with_hexrds_own_packages(tmp_path):
    # HEXRD's packages hexrd and hexrd.core are the reference's (no stand-ins): the tests
    # import hexrd.core.imageseries through HEXRD's real parents and get lazyims.hexrd.
    # The one documented difference of these files fails: proof that lazyims answered.
    files = ["core/imageseries/load/test_hdf5.py"]
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(REFERENCE), str(REPO)]),
        PYTHONDONTWRITEBYTECODE="1",
    )
    report = tmp_path / "report.txt"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rfE",
        "-p",
        "tests.hexrd.hexrd_aliases",
        "-p",
        "no:cacheprovider",
        "--import-mode=importlib",
        f"--basetemp={tmp_path / 'basetemp'}",
        *files,
    ]
    done = subprocess.run(
        command, cwd=HEXRD_TESTS, env=env, capture_output=True, text=True, timeout=600
    )
    report.write_text(done.stdout + done.stderr)
    failed = sorted(
        line.split()[1] for line in done.stdout.splitlines() if line.startswith("FAILED ")
    )
    expected = sorted(t for t in DIFFERENCES if t.split("::")[0] in files)
    assert failed == expected, done.stdout[-3000:]
    assert " passed" in done.stdout and "error" not in done.stdout.splitlines()[-1]


def hexrd_config(path: Path, fmt: str, args: dict) -> str:
    """The ``image_series`` section of a HEXRD configuration file (as in its examples)."""
    return textwrap.dedent(
        f"""
        image_series:
          format: {fmt}
          data:
            - file: {path}
              args: {json.dumps(args)}
              panel: ff1
        """
    )


# What HEXRD's configuration code (hexrd.core.config.imageseries) does with that section:
# imageseries.open(file, format, **args), then omega.OmegaImageSeries.
READ_CONFIG = textwrap.dedent(
    """
    import json, sys, yaml
    import numpy as np
    import lazyims.hexrd
    lazyims.hexrd.install()
    from hexrd.core import imageseries
    section = yaml.safe_load(sys.argv[1])["image_series"]
    out = {}
    for spec in section["data"]:
        ims = imageseries.open(spec["file"], section["format"], **spec["args"])
        oms = imageseries.omega.OmegaImageSeries(ims)
        out = {"class": type(ims).__module__, "nframes": len(oms),
               "frames": np.stack([oms[i] for i in range(len(oms))]).tolist(),
               "omega": np.asarray(oms.omega).tolist()}
    print(json.dumps(out))
    """
)


@needs_reference
@pytest.mark.parametrize("fmt", ["zarr", "eiger"])
def test_a_hexrd_config_naming_a_lazyims_only_format_opens_through_hexrd(tmp_path, fmt):
    if fmt == "zarr":
        frames = synthetic_frames(nframes=5, rows=12, cols=16)
        omega = np.column_stack([np.arange(5) * 0.25, np.arange(1, 6) * 0.25])
        path = tmp_path / "scan.zarr"
        lazyims.open(frames).with_metadata(omega=omega).to_zarr(path)
    else:
        frames = eiger_frames(nframes=5, rows=12, cols=16)
        path = write_master(tmp_path, frames, frames_per_file=2)
        omega = add_goniometer(path, 5)
    config = hexrd_config(path, fmt, {})
    done = run_python(READ_CONFIG, REFERENCE, args=(config,))
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["class"].startswith("lazyims.hexrd")
    np.testing.assert_array_equal(seen["frames"], frames)
    np.testing.assert_allclose(seen["omega"], omega)


@pytest.mark.skipif(importlib.util.find_spec("hexrd") is not None, reason="HEXRD is installed here")
def test_python_m_lazyims_hexrd_without_hexrd_says_so(tmp_path):
    done = run_python(None, args=("find-orientations", "config.yml"), cwd=tmp_path)
    assert done.returncode == 2
    assert "HEXRD is not installed" in done.stderr and "hexrd" in done.stderr
    assert "Traceback" not in done.stderr


@needs_reference
def test_python_m_lazyims_hexrd_with_hexrd_but_no_command_line_says_so(tmp_path):
    done = run_python(None, REFERENCE, args=("find-orientations", "config.yml"), cwd=tmp_path)
    assert done.returncode == 2
    assert "not its command line" in done.stderr and "Traceback" not in done.stderr


def test_python_m_lazyims_hexrd_runs_hexrds_command_line_on_lazyims(tmp_path):
    # A stand-in for HEXRD's package with its command line at HEXRD's place for it:
    # main() reads the series its arguments name, as find-orientations does.
    cli = tmp_path / "fake" / "hexrd" / "hedm" / "cli"
    cli.mkdir(parents=True)
    (tmp_path / "fake" / "hexrd" / "core").mkdir()
    for package in (cli.parents[1], cli.parent, cli):
        (package / "__init__.py").write_text("")
    (cli / "main.py").write_text(
        textwrap.dedent(
            """
            import sys
            from hexrd.core import imageseries
            def main():
                fmt, fname = sys.argv[1:]
                ims = imageseries.open(fname, fmt)
                print(sys.argv[0], imageseries.__name__, len(ims), ims.shape)
            """
        )
    )
    frames = synthetic_frames(nframes=3, rows=8, cols=10)
    store = tmp_path / "scan.zarr"
    lazyims.open(frames).to_zarr(store)
    done = run_python(None, tmp_path / "fake", args=("zarr", str(store)), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["hexrd", "lazyims.hexrd", "3", "(8,", "10)"]


def test_lazyims_hexrd_open_reads_lazyims_only_formats(tmp_path):
    from lazyims import hexrd

    frames = synthetic_frames(nframes=4, rows=6, cols=7)
    store = tmp_path / "scan.zarr"
    lazyims.open(frames).to_zarr(store)
    ims = hexrd.open(store, "zarr")
    np.testing.assert_array_equal(np.stack([ims[i] for i in range(len(ims))]), frames)
    master = write_master(tmp_path, eiger_frames(nframes=3, rows=6, cols=7))
    assert len(hexrd.open(master, "eiger")) == 3 and hexrd.open(master, "eiger").shape == (6, 7)
    with pytest.raises(hexrd.UnknownFormatError, match="zarr"):
        hexrd.open(store, "zar")
