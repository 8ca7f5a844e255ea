"""A yml frame-cache (YAML + cache npz + .npy metadata) is replaced as a whole.

Whenever the writer stops (an error at any step, or SIGKILL at any step), a reader
opening the YAML finds the old set or the new set, never the old YAML with the new
cache or omega.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import lazyims

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT.parent / "shared" / "hexrd-reference"


def _series(nframes: int, value: int) -> lazyims.ImageSeries:
    frames = np.zeros((nframes, 16, 20), np.uint16)
    frames[:, 2, 3] = value
    frames[:, 5, 7] = np.arange(nframes) + value
    omega = np.arange(2.0 * nframes).reshape(nframes, 2) + value
    return lazyims.open(frames).with_metadata(omega=omega, panel=f"p{value}")


OLD, NEW = _series(4, 500), _series(6, 700)


def _which(yml: Path) -> str:
    """'old' or 'new': the set a reader finds now (its frames and omega must agree)."""
    ims = lazyims.open(yml)
    for name, series in (("old", OLD), ("new", NEW)):
        if ims.nframes == series.nframes:
            np.testing.assert_array_equal(ims.compute(), series.compute())
            np.testing.assert_array_equal(ims.metadata["omega"], series.metadata["omega"])
            assert ims.metadata["panel"] == series.metadata["panel"]
            return name
    raise AssertionError(f"{ims.nframes} frames: neither set")


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.mark.parametrize("rounds", [1, 3])
def test_every_step_of_a_replacement_shows_old_or_new(tmp_path, monkeypatch, rounds):
    """Check what a reader sees before and after every rename and removal of the write."""
    yml = tmp_path / "scan.yml"
    OLD.to_framecache(yml, 0)
    seen = []
    real_replace, real_unlink = os.replace, Path.unlink

    def step(real):  # a rename, or a hard link giving a written file its name
        def call(src, dst):
            seen.append(_which(yml))
            real(src, dst)
            seen.append(_which(yml))

        return call

    replace, link = step(real_replace), step(os.link)

    def unlink(self, missing_ok=False):
        if not self.name.endswith(".part"):
            seen.append(_which(yml))
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(Path, "unlink", unlink)
    for k in range(rounds):  # alternates between plain and generation names
        seen.clear()
        (NEW if k % 2 == 0 else OLD).to_framecache(yml, 0)
        first, last = ("old", "new") if k % 2 == 0 else ("new", "old")
        assert len(seen) >= 8  # cache, two .npy, YAML; two removals
        assert seen == sorted(seen, key=[first, last].index)  # one switch, never back
        assert seen[0] == first and seen[-1] == last
        # only the new set is left: YAML, cache, omega (panel is inline)
        assert len(_names(tmp_path)) == 3
    monkeypatch.undo()
    assert _which(yml) == ("new" if rounds % 2 else "old")


@pytest.mark.parametrize("step", [1, 2, 3])
def test_an_error_at_any_rename_keeps_the_old_set_and_leaves_nothing(tmp_path, monkeypatch, step):
    yml = tmp_path / "scan.yml"
    OLD.to_framecache(yml, 0)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    calls = []

    def step_of(real):  # a rename, or a hard link giving a written file its name
        def call(src, dst):
            calls.append(dst)
            if len(calls) == step:
                raise OSError(28, "No space left on device")
            real(src, dst)

        return call

    monkeypatch.setattr(os, "replace", step_of(os.replace))
    monkeypatch.setattr(os, "link", step_of(os.link))
    with pytest.raises(lazyims.WriteError, match="disk is full") as info:
        NEW.to_framecache(yml, 0)
    monkeypatch.undo()
    assert info.value.path == str(yml)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert _which(yml) == "old"


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from tests.formats.framecache.test_yml_atomic import NEW

    step = int(sys.argv[3])
    calls = [0]
    real_replace, real_unlink = os.replace, Path.unlink

    def tick():
        calls[0] += 1
        if calls[0] == step:
            os.kill(os.getpid(), signal.SIGKILL)

    def replace(src, dst):
        tick()
        real_replace(src, dst)

    def link(src, dst, real_link=os.link):  # a written file given its name
        tick()
        real_link(src, dst)

    def unlink(self, missing_ok=False):
        if not self.name.endswith(".part"):
            tick()
        real_unlink(self, missing_ok=missing_ok)

    os.replace, os.link, Path.unlink = replace, link, unlink
    NEW.to_framecache(sys.argv[2], 0)
    """
)


@pytest.mark.parametrize("step", [1, 3, 4, 5, 6])
def test_sigkill_at_any_step_leaves_old_or_new(tmp_path, step):
    """A real SIGKILL before rename/removal ``step`` (1-3 links and renames, 4-5 removals,
    6: none)."""
    yml = tmp_path / "scan.yml"
    OLD.to_framecache(yml, 0)
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(ROOT), str(yml), str(step)], timeout=120
    )
    assert proc.returncode == (-signal.SIGKILL if step <= 5 else 0)
    assert _which(yml) == ("old" if step <= 3 else "new")


def test_hexrd_reads_a_replaced_yml_set(tmp_path, monkeypatch):
    if not SHARED.is_dir():
        pytest.skip(f"HEXRD reference not found at {SHARED}")
    monkeypatch.syspath_prepend(str(SHARED))
    from hexrd.core import imageseries

    yml = tmp_path / "scan.yml"
    OLD.to_framecache(yml, 0)
    NEW.to_framecache(yml, 0)  # generation-named cache and omega
    assert "_cache." in yml.read_text()
    monkeypatch.chdir(tmp_path)  # HEXRD finds the .npy from the working folder
    ims = imageseries.open(str(yml), "frame-cache", style="yml")
    assert len(ims) == NEW.nframes
    np.testing.assert_array_equal(np.stack([ims[i] for i in range(len(ims))]), NEW.compute())
    np.testing.assert_array_equal(ims.metadata["omega"], NEW.metadata["omega"])
