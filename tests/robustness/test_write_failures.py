"""Write failures (disk full, read-only, permission denied, name too long) are WriteErrors.

The error names the target (never the hidden ``.part``), the temporary file or folder
is gone, an earlier file of that name is intact, and no process crashes: a disk that
fills during an HDF5 write used to end in a segmentation fault when h5py freed the
failed write's objects.
"""

from __future__ import annotations

import errno
import gc
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pytest

import lazyims

pytestmark = pytest.mark.filterwarnings("ignore:.*keep more than 10%:UserWarning")

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"hdf5": "x.h5", "fch5": "x.fch5", "npz": "x.npz", "yml": "x.yml", "zarr": "x.zarr"}


def _write(series, target: Path, kind: str) -> None:
    if kind == "hdf5":
        series.write(target, "hdf5", gzip=0)
    elif kind == "zarr":
        series.to_zarr(target, compressors=None)
    else:
        series.to_framecache(target, 0)


@pytest.fixture
def tiny_disk():
    """A 1 MiB tmpfs (needs root; skipped otherwise), unmounted afterwards."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root on Linux")
    mount = Path(f"/tmp/lazyims-tiny-{uuid.uuid4().hex[:8]}")
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)])
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)
    mount.rmdir()


FILL = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    import lazyims
    from tests.robustness.test_write_failures import TARGETS, _write

    folder = Path(sys.argv[2])
    small = lazyims.open(np.full((2, 16, 16), 7, np.uint16)).with_metadata(omega=np.zeros((2, 2)))
    noise = np.random.default_rng(0).integers(1, 60000, (40, 128, 128), dtype=np.uint16)
    big = lazyims.open(noise).with_metadata(omega=np.zeros((40, 2)))
    for kind, name in TARGETS.items():
        target = folder / name
        _write(small, target, kind)  # fits: the earlier file
        before = sorted(p.name for p in folder.iterdir())
        try:
            _write(big, target, kind)
        except lazyims.WriteError as exc:
            assert exc.path == str(target), exc.path
            assert "disk is full" in str(exc) and ".part" not in str(exc), str(exc)
        else:
            raise AssertionError(f"{kind}: no WriteError")
        assert sorted(p.name for p in folder.iterdir()) == before, kind
        np.testing.assert_array_equal(lazyims.open(target).compute(), small.compute())
        print(kind, "ok", flush=True)
    """
)


def test_a_full_disk_is_a_write_error_and_nothing_crashes(tiny_disk):
    """In a subprocess: the HDF5 fault happened when the interpreter exited."""
    proc = subprocess.run(
        [sys.executable, "-c", FILL, str(ROOT), str(tiny_disk)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == [w for kind in TARGETS for w in (kind, "ok")]


def test_a_read_only_file_system_is_a_write_error(tiny_disk):
    small = lazyims.open(np.full((2, 16, 16), 7, np.uint16))
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    for kind, name in TARGETS.items():
        with pytest.raises(lazyims.WriteError, match="read-only") as info:
            _write(small, tiny_disk / name, kind)
        assert info.value.path == str(tiny_disk / name)


@pytest.mark.parametrize("kind", list(TARGETS))
def test_a_name_too_long_is_refused_before_any_work(tmp_path, kind):
    target = tmp_path / ("n" * 300 + Path(TARGETS[kind]).suffix)
    with pytest.raises(lazyims.WriteError, match="name is too long") as info:
        _write(lazyims.open(np.ones((2, 8, 8), np.uint16)), target, kind)
    assert info.value.path == str(target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", list(TARGETS))
@pytest.mark.parametrize(
    "code, words", [(errno.EACCES, "permission denied"), (errno.ENOSPC, "disk is full")]
)
def test_a_failing_rename_keeps_the_earlier_file(tmp_path, monkeypatch, kind, code, words):
    """The last step (the rename into place) fails: the earlier file is intact, no .part left."""
    target = tmp_path / TARGETS[kind]
    small = lazyims.open(np.full((2, 16, 16), 7, np.uint16))
    _write(small, target, kind)
    before = sorted(p.name for p in tmp_path.iterdir())
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst).name == target.name and str(src).endswith(".part"):
            raise OSError(code, os.strerror(code), str(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(lazyims.WriteError, match=words) as info:
        _write(lazyims.open(np.full((3, 16, 16), 9, np.uint16)), target, kind)
    monkeypatch.undo()
    assert info.value.path == str(target) and ".part" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    np.testing.assert_array_equal(lazyims.open(target).compute(), small.compute())


def test_reading_errors_are_not_reported_as_write_errors(tmp_path):
    """A source that vanishes mid-write is the reader's error, naming the source."""
    src = tmp_path / "scan.h5"
    lazyims.open(np.ones((2, 8, 8), np.uint16)).write(src, "hdf5")
    ims = lazyims.open(src)
    src.unlink()
    with pytest.raises(lazyims.LazyImsError) as info:
        ims.write(tmp_path / "out.h5", "hdf5")
    assert not isinstance(info.value, lazyims.WriteError)
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_under_a_spilled_median_is_a_write_error(tiny_disk, monkeypatch):
    # 2 MB of frames spilled into a 1 MiB folder: the error names a spill file and says
    # what to do; the folder is left empty for the next run.
    from lazyims import _spill, stats

    monkeypatch.setattr(stats, "SPILL_BAND_BYTES", 64 * 1024)
    monkeypatch.setattr(_spill, "SPILL_BAND_BYTES", 64 * 1024)
    frames = np.random.default_rng(3).integers(0, 999, (16, 256, 256)).astype(np.uint16)
    median = stats.median(lazyims.open(frames), tmpdir=tiny_disk)
    with pytest.raises(lazyims.WriteError, match="spill file .*tmpdir=") as info:
        median.compute()
    assert "lazyims-spill-" in info.value.path
    del median, info  # (the error's traceback refers to the result too)
    gc.collect()
    assert not list(tiny_disk.iterdir())
