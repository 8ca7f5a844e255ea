"""A series knows every file it was opened from, and no writer writes over, into or around one.

Sources are compared by canonical path and by inode, so symlinks, relative and ``..``
spellings and hard links are all seen through; the command line goes through the
same writers.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import lazyims
from lazyims.cli import main
from tests.formats.test_image_files import write_ge

DATA = Path(__file__).parents[1] / "data"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _frames() -> np.ndarray:
    frames = np.zeros((4, 24, 32), np.uint16)
    frames[:, 3, 5] = 500
    return frames


def _raw(tmp: Path) -> Path:
    shutil.copy(DATA / "raw.ge", tmp / "raw.ge")
    shutil.copy(DATA / "raw.yml", tmp / "raw.yml")
    return tmp / "raw.yml"


def _image_files(tmp: Path) -> Path:
    (tmp / "GE").mkdir()
    write_ge(tmp / "GE" / "scan_1.ge2", _frames())
    np.save(tmp / "omega.npy", np.arange(8.0).reshape(4, 2))
    yml = tmp / "scan.yml"
    yml.write_text(
        "image-files: {directory: GE, files: '*.ge2'}\n"
        "options: {empty-frames: 0}\n"
        "meta: {omega: '! load-numpy-array omega.npy'}\n"
    )
    return yml


def _yml_cache(tmp: Path) -> Path:
    for name in ("fc_yml.yml", "fc_yml_cache.npz", "fc_yml-omega.npy", "fc_yml-panel.npy"):
        shutil.copy(DATA / name, tmp / name)
    return tmp / "fc_yml.yml"


def test_files_lists_the_description_data_and_metadata_arrays(tmp_path):
    raw = lazyims.open(_raw(tmp_path))
    assert raw.files == (str(tmp_path / "raw.yml"), str(tmp_path / "raw.ge"))
    imf = lazyims.open(_image_files(tmp_path))
    assert imf.files == tuple(str(tmp_path / n) for n in ("scan.yml", "omega.npy", "GE/scan_1.ge2"))
    fc = lazyims.open(_yml_cache(tmp_path))
    assert set(fc.files) == {
        str(tmp_path / n)
        for n in ("fc_yml.yml", "fc_yml_cache.npz", "fc_yml-omega.npy", "fc_yml-panel.npy")
    }
    assert all(os.path.isabs(f) for f in raw.files + imf.files + fc.files)


def test_files_are_absolute_when_opened_by_a_relative_name(tmp_path, monkeypatch):
    lazyims.open(_frames()).write(tmp_path / "scan.h5", "hdf5")
    monkeypatch.chdir(tmp_path)
    assert lazyims.open("scan.h5").files == (str(tmp_path / "scan.h5"),)


def _refused(tmp: Path, action) -> None:
    before = _snapshot(tmp)
    with pytest.raises(lazyims.WriteError, match="reads from"):
        action()
    assert _snapshot(tmp) == before  # nothing written, nothing removed


# The three cases of the issue, then every description a writer could hit.
def test_framecache_over_its_image_files_yaml_is_refused(tmp_path):
    yml = _image_files(tmp_path)
    _refused(tmp_path, lambda: lazyims.open(str(yml)).to_framecache(str(yml), 40))
    assert lazyims.open(yml).nframes == 4


def test_cli_convert_onto_its_own_raw_yaml_is_refused(tmp_path, capsys):
    yml = _raw(tmp_path)
    before = _snapshot(tmp_path)
    assert main(["convert", str(yml), str(yml), "--threshold", "50"]) == 1
    assert "reads from" in capsys.readouterr().err
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("inside", ["zarr.json", "c/0/0/0", "new.h5"])
def test_writing_into_the_zarr_store_being_read_is_refused(tmp_path, inside):
    store = tmp_path / "scan.zarr"
    lazyims.open(_frames()).to_zarr(store)
    ims = lazyims.open(store)
    _refused(tmp_path, lambda: ims.write(store / inside, "hdf5"))
    _refused(tmp_path, lambda: ims.to_framecache(store / inside, 1, style="npz"))


def test_writing_a_store_that_contains_the_source_is_refused(tmp_path):
    outer = tmp_path / "outer.zarr"
    lazyims.open(_frames()).to_zarr(outer)
    lazyims.open(_frames()).write(outer / "scan.h5", "hdf5")
    ims = lazyims.open(outer / "scan.h5")
    _refused(tmp_path, lambda: ims.to_zarr(outer))


@pytest.mark.parametrize("kind", ["raw", "image-files", "yml-cache"])
@pytest.mark.parametrize("style", ["npz", "fch5", "yml"])
def test_no_writer_replaces_a_description_or_metadata_array(tmp_path, kind, style):
    yml = {"raw": _raw, "image-files": _image_files, "yml-cache": _yml_cache}[kind](tmp_path)
    ims = lazyims.open(yml)
    for target in ims.files:
        _refused(tmp_path, lambda t=target: ims.to_framecache(t, 1, style=style))
        _refused(tmp_path, lambda t=target: ims.write(t, "hdf5"))


def test_a_yml_write_never_replaces_a_source_named_like_its_companions(tmp_path):
    yml = _yml_cache(tmp_path)
    # writing other.yml would create other-omega.npy: make that name the source's array
    os.replace(tmp_path / "fc_yml-omega.npy", tmp_path / "other-omega.npy")
    yml.write_text(yml.read_text().replace("fc_yml-omega", "other-omega"))
    ims = lazyims.open(yml)
    sources = {f: Path(f).read_bytes() for f in ims.files}
    ims.to_framecache(tmp_path / "other.yml", 1)  # written under a generation name instead
    assert {f: Path(f).read_bytes() for f in ims.files} == sources
    out = lazyims.open(tmp_path / "other.yml")
    assert str(tmp_path / "other-omega.npy") not in out.files
    np.testing.assert_array_equal(out.metadata["omega"], ims.metadata["omega"])
    np.testing.assert_array_equal(out.compute(), np.where(ims.compute() > 1, ims.compute(), 0))


@pytest.mark.parametrize("spelling", ["symlink", "relative", "dotdot", "hardlink"])
def test_other_spellings_of_a_source_are_refused(tmp_path, monkeypatch, spelling):
    src = tmp_path / "scan.h5"
    lazyims.open(_frames()).write(src, "hdf5")
    (tmp_path / "sub").mkdir()
    ims = lazyims.open(src)
    if spelling == "symlink":
        target = tmp_path / "link.h5"
        target.symlink_to(src)
    elif spelling == "relative":
        monkeypatch.chdir(tmp_path / "sub")
        target = Path("../scan.h5")
    elif spelling == "dotdot":
        target = tmp_path / "sub" / ".." / "scan.h5"
    else:
        target = tmp_path / "hard.h5"
        os.link(src, target)
    _refused(tmp_path, lambda: ims.write(target, "hdf5"))
    _refused(tmp_path, lambda: ims.to_framecache(target, 1, style="fch5"))


def test_a_symlinked_folder_is_seen_through(tmp_path):
    _raw(tmp_path)
    (tmp_path.parent / f"{tmp_path.name}-link").symlink_to(tmp_path, target_is_directory=True)
    ims = lazyims.open(tmp_path / "raw.yml")
    target = tmp_path.parent / f"{tmp_path.name}-link" / "raw.ge"
    _refused(tmp_path, lambda: ims.to_framecache(target, 1, style="npz"))


def test_cli_dark_and_convert_refuse_sources(tmp_path, capsys):
    yml = _image_files(tmp_path)
    before = _snapshot(tmp_path)
    assert main(["dark", str(yml), str(tmp_path / "omega.npy")]) == 1
    assert main(["convert", str(yml), str(tmp_path / "GE" / "scan_1.ge2"), "--to", "hdf5"]) == 1
    assert capsys.readouterr().err.count("reads from") == 2
    assert _snapshot(tmp_path) == before


def test_writing_beside_the_sources_still_works(tmp_path):
    ims = lazyims.open(_image_files(tmp_path))
    ims.to_framecache(tmp_path / "scan-fc.yml", 40)
    ims.write(tmp_path / "GE" / "copy.h5", "hdf5")
    np.testing.assert_array_equal(lazyims.open(tmp_path / "GE" / "copy.h5").compute(), ims)
