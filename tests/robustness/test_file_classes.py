"""Files that change under lazyims, and files that are not what they seem.

One class per kind of trouble: a file replaced between lazyims' check and its open,
two writers of one target at once, a write target that is not a regular file, paths
through symlinks and ``..``, names with spaces or a leading ``~``, HDF5 files that
read other files, damaged or inconsistent image files, and a ``--scheduler`` address
where no dask scheduler answers. The hostile files are opened in one child process
with a bounded address space (:mod:`tests.limited`).
"""

from __future__ import annotations

import bz2
import gzip
import json
import os
import socket
import stat
import struct
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest

import lazyims
from lazyims import _files
from lazyims.errors import FileContentError, LazyImsError, MissingFileError, WriteError
from tests.limited import run_limited

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _frames(value: int, nframes: int = 3, shape: tuple[int, int] = (8, 10)) -> np.ndarray:
    frames = np.zeros((nframes, *shape), np.uint16)
    frames[:, 2, 3] = value
    frames[:, 5, 7] = np.arange(nframes) + value
    return frames


def _write_ge(path: Path, frames: np.ndarray) -> None:
    header = bytearray(8192)
    rows, cols = frames.shape[1:]
    header[:10] = b"ADEPT\0\0\0\0\0"
    header[10:30] = struct.pack("<HLHLHHHH", 1, 8192, 1, 0, len(frames), rows, cols, 16)
    path.write_bytes(bytes(header) + frames.astype("<u2").tobytes())


# -- (a) a file replaced between the check of its name and its open ------------------------
def _make(kind: str, folder: Path, name: str, frames: np.ndarray) -> tuple[Path, Path]:
    """A file of ``kind`` holding ``frames``: (the file to open, the data file it reads)."""
    ims = lazyims.open(frames)
    if kind == "hdf5":
        ims.write(folder / f"{name}.h5", "hdf5")
        return (folder / f"{name}.h5",) * 2
    if kind in ("npz", "fch5"):
        ims.to_framecache(folder / f"{name}.{kind}", 0)
        return (folder / f"{name}.{kind}",) * 2
    if kind == "raw":
        (folder / f"{name}.bin").write_bytes(frames.astype("<u2").tobytes())
        (folder / f"{name}.yml").write_text(
            f"filename: {name}.bin\nshape: {frames.shape[1]} {frames.shape[2]}\nskip: 0\n"
            "scalar: {type: i, bytes: 2, signed: false, endian: little}\n"
        )
        return folder / f"{name}.yml", folder / f"{name}.bin"
    assert kind == "ge"
    _write_ge(folder / f"{name}.ge2", frames)
    (folder / f"{name}.yml").write_text(f"image-files: {{directory: ., files: {name}.ge2}}\n")
    return folder / f"{name}.yml", folder / f"{name}.ge2"


#: The module whose ``check_stamp`` (the check of the name) each reader calls.
_READER_MODULES = {
    "hdf5": "lazyims.formats.hdf5",
    "npz": "lazyims.formats.framecache.npz",
    "fch5": "lazyims.formats.framecache.fch5",
    "raw": "lazyims.formats.raw_image",
    "ge": "lazyims.formats.image_files",
}


class TestReplacedBetweenCheckAndOpen:
    """The name is checked, then another file is renamed over it before the open: the
    identity of the handle actually opened is checked, so the other file is never read."""

    @pytest.mark.parametrize("kind", list(_READER_MODULES))
    def test_the_file_renamed_in_after_the_check_is_not_read(self, tmp_path, monkeypatch, kind):
        import importlib

        first, data = _make(kind, tmp_path, "scan", _frames(100))
        (tmp_path / "other").mkdir()
        _, other_data = _make(kind, tmp_path / "other", "scan", _frames(900))
        ims = lazyims.open(first)
        module = importlib.import_module(_READER_MODULES[kind])
        real_check = module.check_stamp

        def check_then_swap(path, stamp):
            real_check(path, stamp)
            if Path(path) == data and other_data.exists():
                os.replace(other_data, data)  # between the check and the open

        monkeypatch.setattr(module, "check_stamp", check_then_swap)
        with pytest.raises(FileContentError, match="replaced or changed") as info:
            np.asarray(ims[0])  # one read: the check, the swap, the open
        assert str(data) in str(info.value)

    def test_a_zarr_store_swapped_in_after_the_check_is_caught_after_the_read(
        self, tmp_path, monkeypatch
    ):
        from lazyims.formats import zarr as zarr_format

        lazyims.open(_frames(100)).to_zarr(tmp_path / "scan.zarr")
        lazyims.open(_frames(900)).to_zarr(tmp_path / "other.zarr")
        ims = lazyims.open(tmp_path / "scan.zarr")
        real_check, swapped = zarr_format.check_stamp, []

        def check_then_swap(path, stamp):
            real_check(path, stamp)
            if not swapped:
                swapped.append(True)
                os.rename(tmp_path / "scan.zarr", tmp_path / "old.zarr")
                os.rename(tmp_path / "other.zarr", tmp_path / "scan.zarr")

        monkeypatch.setattr(zarr_format, "check_stamp", check_then_swap)
        with pytest.raises(FileContentError, match="replaced or changed"):
            np.asarray(ims[0])

    def test_check_opened_takes_descriptors_file_objects_and_h5py_files(self, tmp_path):
        path = tmp_path / "a.h5"
        lazyims.open(_frames(1)).write(path, "hdf5")
        stamp = _files.file_stamp(path)
        with open(path, "rb") as fh:
            _files.check_opened(fh, stamp, path)
            _files.check_opened(fh.fileno(), stamp, path)
        with h5py.File(path, "r") as f:
            _files.check_opened(f, stamp, path)
        with open(path, "rb") as fh, pytest.raises(FileContentError, match="a.h5"):
            _files.check_opened(fh, (stamp[0] + 1, *stamp[1:]), path)


# -- (b) two writers of one target at once ---------------------------------------------------
def _series(value: int, nframes: int) -> lazyims.ImageSeries:
    omega = np.arange(2.0 * nframes).reshape(nframes, 2) + value
    return lazyims.open(_frames(value, nframes)).with_metadata(omega=omega)


def _consistent(yml: Path) -> int:
    """The value of the writer whose set the YAML names (frames and omega must agree)."""
    ims = lazyims.open(yml)
    frames = ims.compute()
    value = int(frames[0, 2, 3])
    assert ims.nframes == {100: 3, 700: 5}[value]
    np.testing.assert_array_equal(frames, _frames(value, ims.nframes))
    np.testing.assert_array_equal(ims.metadata["omega"][:, 0], 2.0 * np.arange(ims.nframes) + value)
    return value


class TestTwoWritersAtOnce:
    """Writer B runs from start to end while writer A is between writing its files and
    naming them: no YAML ever names the other writer's cache, no store is left hidden."""

    def test_yml_frame_caches(self, tmp_path, monkeypatch):
        from lazyims.formats.framecache import yml as yml_style

        target = tmp_path / "scan.yml"  # new: both writers find the plain names free
        real_write = yml_style.write_cache_npz
        seen: list[int] = []

        def write_then_other_writer(*args, **kwargs):
            real_write(*args, **kwargs)
            if not seen:
                seen.append(0)
                _series(700, 5).to_framecache(target, 0)  # B: the whole write
                seen.append(_consistent(target))

        real_replace = os.replace

        def replace(src, dst):
            if Path(dst) == target and target.exists():
                seen.append(_consistent(target))  # just before A's YAML goes in
            real_replace(src, dst)

        monkeypatch.setattr(yml_style, "write_cache_npz", write_then_other_writer)
        monkeypatch.setattr(os, "replace", replace)
        _series(100, 3).to_framecache(target, 0)  # A
        monkeypatch.undo()
        assert seen == [0, 700, 700]  # B's YAML names B's files up to A's switch
        assert _consistent(target) == 100  # A finished last: its set
        assert len([p for p in tmp_path.iterdir() if p.name.startswith(".")]) == 0

    def test_zarr_stores(self, tmp_path, monkeypatch):
        target = tmp_path / "scan.zarr"
        _series(1, 2).to_zarr(target)
        real_replace = os.replace
        done: list[bool] = []

        def replace(src, dst):
            real_replace(src, dst)
            if Path(src) == target and not done:  # A moved the old store aside
                done.append(True)
                _series(700, 5).to_zarr(target)  # B: the whole write, in the gap

        monkeypatch.setattr(os, "replace", replace)
        _series(100, 3).to_zarr(target)  # A
        monkeypatch.undo()
        assert done
        assert lazyims.open(target).compute()[0, 2, 3] == 100  # the last to finish wins
        assert sorted(p.name for p in tmp_path.iterdir()) == ["scan.zarr"]  # nothing hidden

    def test_swap_in_puts_the_latest_store_back_when_it_fails(self, tmp_path, monkeypatch):
        final, tmp = tmp_path / "s.zarr", tmp_path / ".s.zarr.x.part"
        for folder, mark in ((final, "old"), (tmp, "new")):
            folder.mkdir()
            (folder / mark).touch()
        real_replace = os.replace

        def replace(src, dst):
            if Path(src) == tmp and not final.exists():  # after the old store is moved aside
                raise OSError(28, "No space left on device")
            real_replace(src, dst)

        monkeypatch.setattr(os, "replace", replace)
        with pytest.raises(OSError, match="No space"):
            _files._swap_in(tmp, final, lambda p: True)
        monkeypatch.undo()
        assert (final / "old").exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == [".s.zarr.x.part", "s.zarr"]


# -- (c) a write target that is a device or another non-regular file --------------------------
_WRITERS = {
    "hdf5": lambda ims, path: ims.write(path, "hdf5"),
    "npz": lambda ims, path: ims.to_framecache(path, 0),
    "fch5": lambda ims, path: ims.to_framecache(path, 0),
    "yml": lambda ims, path: ims.to_framecache(path, 0),
}


class TestNonRegularTarget:
    """A FIFO, or a symlink to a device, where the output should go is refused and left
    as it is (``os.replace`` would put a file in its place)."""

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
    @pytest.mark.parametrize("kind", list(_WRITERS))
    def test_a_fifo_is_never_replaced(self, tmp_path, kind):
        target = tmp_path / f"out.{kind}"
        os.mkfifo(target)
        with pytest.raises(WriteError, match="not a regular file") as info:
            _WRITERS[kind](lazyims.open(_frames(5)), target)
        assert str(target) in str(info.value)
        assert stat.S_ISFIFO(os.lstat(target).st_mode)
        assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]

    @pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null")
    @pytest.mark.parametrize("kind", ["hdf5", "npz"])
    def test_a_symlink_to_a_device_is_never_replaced(self, tmp_path, kind):
        target = tmp_path / f"out.{kind}"
        target.symlink_to("/dev/null")
        with pytest.raises(WriteError, match="device"):
            _WRITERS[kind](lazyims.open(_frames(5)), target)
        assert target.is_symlink() and stat.S_ISCHR(os.stat(target).st_mode)

    def test_a_folder_in_the_way_of_a_zarr_store_that_is_no_store_is_kept(self, tmp_path):
        (tmp_path / "out.zarr").mkdir()
        (tmp_path / "out.zarr" / "keep.txt").write_text("mine")
        with pytest.raises(WriteError, match="not a zarr store"):
            lazyims.open(_frames(5)).to_zarr(tmp_path / "out.zarr")
        assert (tmp_path / "out.zarr" / "keep.txt").read_text() == "mine"


# -- (d) symlinks and ``..`` -------------------------------------------------------------------
class TestSymlinksAndDotDot:
    """``a/link/../b`` is resolved as the operating system resolves it: through the link's
    target, not by cutting ``link/..`` out of the text."""

    @pytest.fixture
    def tree(self, tmp_path):
        """``x/link -> ../y/sub``: ``x/link/../scan.*`` is ``y/scan.*`` for the OS; a
        different ``x/scan.*`` is what text-only resolution would open instead."""
        for folder in ("x", "y/sub"):
            (tmp_path / folder).mkdir(parents=True)
        (tmp_path / "x" / "link").symlink_to(Path("..") / "y" / "sub")
        return tmp_path

    @pytest.mark.parametrize("kind", ["hdf5", "npz", "raw"])
    def test_a_dotdot_after_a_link_follows_the_link(self, tree, monkeypatch, kind):
        wanted, _ = _make(kind, tree / "y", "scan", _frames(300))
        _make(kind, tree / "x", "scan", _frames(999))  # where abspath would point
        monkeypatch.chdir(tree)
        path = f"x/link/../{wanted.name}"
        with open(path, "rb") as fh:  # the OS agrees
            assert fh.read() == wanted.read_bytes()
        ims = lazyims.open(path)
        assert ims.compute()[0, 2, 3] == 300
        assert all(not f.startswith(str(tree / "x")) for f in ims.files)

    @pytest.mark.parametrize("kind", ["hdf5", "npz"])
    def test_a_source_named_through_link_and_dotdot_is_not_written_over(
        self, tree, monkeypatch, kind
    ):
        source, _ = _make(kind, tree / "y", "scan", _frames(300))
        before = source.read_bytes()
        monkeypatch.chdir(tree)
        ims = lazyims.open(source)
        with pytest.raises(WriteError, match="reads from"):
            _WRITERS[kind](ims, f"x/link/../{source.name}")
        assert source.read_bytes() == before

    def test_absolute_resolves_as_the_os_does(self, tree, monkeypatch):
        monkeypatch.chdir(tree)
        (tree / "y" / "f").write_text("")
        assert _files.absolute("x/link/../f") == str(tree / "y" / "f")
        assert _files.absolute("x/./link/sub2") == str(tree / "x" / "link" / "sub2")
        assert _files.absolute("~/f") == str(tree / "~" / "f")  # never the home folder
        assert os.path.samefile(_files.absolute("x/link/../f"), "x/link/../f")


# -- (e) names with spaces or a leading ``~`` ----------------------------------------------------
class TestSpacesAndTilde:
    """Names with spaces, and names starting with ``~`` (a plain character for the OS and
    for HEXRD, never the home folder), open and are written like any other."""

    @pytest.mark.parametrize("name", ["my scan", "~scan", "~"])
    @pytest.mark.parametrize("kind", ["hdf5", "npz", "fch5", "yml"])
    def test_write_and_open(self, tmp_path, monkeypatch, name, kind):
        monkeypatch.chdir(tmp_path)
        _WRITERS[kind](lazyims.open(_frames(42)), f"{name}.{kind}")
        ims = lazyims.open(f"{name}.{kind}")
        assert ims.compute()[0, 2, 3] == 42
        assert all(str(tmp_path) in f for f in ims.files)

    def test_a_yaml_naming_a_file_under_a_tilde_folder(self, tmp_path, monkeypatch):
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        (tmp_path / "~").mkdir()
        (tmp_path / "~" / "my data.bin").write_bytes(_frames(77).astype("<u2").tobytes())
        (tmp_path / "raw.yml").write_text(
            "filename: '~/my data.bin'\nshape: 8 10\nskip: 0\n"
            "scalar: {type: i, bytes: 2, signed: false, endian: little}\n"
        )
        ims = lazyims.open(tmp_path / "raw.yml")
        assert str(tmp_path / "~" / "my data.bin") in ims.files
        assert ims.compute()[0, 2, 3] == 77

    def test_image_files_in_a_folder_with_spaces(self, tmp_path):
        (tmp_path / "G E").mkdir()
        _write_ge(tmp_path / "G E" / "~scan 1.ge2", _frames(11))
        (tmp_path / "s.yml").write_text("image-files: {directory: G E, files: '*.ge2'}\n")
        assert lazyims.open(tmp_path / "s.yml").compute()[0, 2, 3] == 11


# -- hostile files, opened in one bounded child process -----------------------------------------
def _hdf5_links(folder: Path) -> dict[str, str]:
    """External links and virtual datasets, with their target file gone."""
    with h5py.File(folder / "src.h5", "w") as f:
        f["images"] = _frames(5)
        f["other"] = _frames(6)
    with h5py.File(folder / "ext.h5", "w") as f:
        f.create_group("imageseries")["images"] = h5py.ExternalLink("gone.h5", "/images")
    with h5py.File(folder / "extgroup.h5", "w") as f:
        f["imageseries"] = h5py.ExternalLink("gone.h5", "/")
    for name, source_file, source in (("vds", "gone.h5", "images"), ("vdsset", "src.h5", "no")):
        layout = h5py.VirtualLayout((3, 8, 10), np.uint16)
        layout[:] = h5py.VirtualSource(source_file, source, shape=(3, 8, 10))
        with h5py.File(folder / f"{name}.h5", "w") as f:
            f.create_group("imageseries").create_virtual_dataset("images", layout, fillvalue=0)
    return {
        "external-link": "lazyims.open('ext.h5')",
        "external-link-path": "lazyims.open('ext.h5', path='imageseries')",
        "external-group": "lazyims.open('extgroup.h5', path='imageseries')",
        "vds-source-file": "lazyims.open('vds.h5')",
        "vds-source-dataset": "lazyims.open('vdsset.h5')",
    }


def _images(folder: Path) -> dict[str, str]:
    """Cut-short EDF (plain, gz, bz2) and TIFF files, files whose frames differ."""
    from fabio.edfimage import EdfFrame, EdfImage
    from fabio.TiffIO import TiffIO

    frame = _frames(9, 1, (64, 64))[0] + 1
    EdfImage(data=frame).write(str(folder / "whole.edf"))
    raw = (folder / "whole.edf").read_bytes()
    (folder / "cut.edf").write_bytes(raw[:-3000])
    (folder / "cut.edf.gz").write_bytes(gzip.compress(raw)[:-100])
    (folder / "cut.edf.bz2").write_bytes(bz2.compress(raw)[:-100])
    two = EdfImage(data=frame)
    two.append_frame(EdfFrame(data=np.ones((32, 64), np.uint16)))
    two.write(str(folder / "frames.edf"))
    tiff = TiffIO(str(folder / "whole.tif"), mode="w")
    tiff.writeImage(frame)
    tiff.close()
    raw = (folder / "whole.tif").read_bytes()
    (folder / "cut.tif").write_bytes(raw[:-3000])
    tiff = TiffIO(str(folder / "pages.tif"), mode="w")
    tiff.writeImage(frame)
    tiff.close()
    tiff = TiffIO(str(folder / "pages.tif"), mode="r+")
    tiff.writeImage(np.ones((32, 48), np.uint16))
    tiff.close()
    calls = {}
    for name in ("cut.edf", "cut.edf.gz", "cut.edf.bz2", "frames.edf", "cut.tif", "pages.tif"):
        (folder / f"{name}.yml").write_text(f"image-files: {{directory: ., files: '{name}'}}\n")
        calls[name] = f"lazyims.open('{name}.yml').compute()"
    return calls


def _duplicates(folder: Path) -> dict[str, str]:
    """npz frame-caches storing one pixel twice, with values whose sum does not fit."""
    calls = {}
    for dtype, value in (("uint16", 60000), ("int8", -100), ("float32", 3e38), ("int64", 2**62)):
        np.savez(
            folder / f"dup-{dtype}.npz",
            shape=np.array([4, 4]),
            nframes=np.array(1),
            dtype=np.array(dtype.encode()),
            **{
                "0_row": np.array([1, 1, 2], np.uint16),
                "0_col": np.array([2, 2, 3], np.uint16),
                "0_data": np.array([value, value, 1], dtype),
            },
        )
        calls[f"dup-{dtype}"] = f"lazyims.open('dup-{dtype}.npz').compute()"
        calls[f"dup-{dtype}-max"] = f"lazyims.open('dup-{dtype}.npz').max().compute()"
    return calls


_CHILD = """
import json, lazyims, warnings
warnings.simplefilter("ignore")
results = {}
for case, call in json.loads(open("calls.json").read()).items():
    try:
        value = eval(call)
        results[case] = ["no error", repr(value)[:200]]
    except lazyims.LazyImsError as exc:
        results[case] = [type(exc).__name__, str(exc)]
    except BaseException as exc:
        results[case] = ["not a lazyims error: " + type(exc).__name__, str(exc)]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """What opening (and reading) each hostile file gives, in one bounded child process."""
    folder = tmp_path_factory.mktemp("hostile")
    calls = {**_hdf5_links(folder), **_images(folder), **_duplicates(folder)}
    (folder / "calls.json").write_text(json.dumps(calls))
    proc = run_limited(_CHILD, folder, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), folder


class TestHdf5FilesReadingOtherFiles:
    """External links are followed (the dataset is found through them) and a missing
    target is an error naming it; a virtual dataset's missing source is an error at
    open and at read, never frames of its fill value."""

    def test_an_external_link_is_followed(self, tmp_path):
        with h5py.File(tmp_path / "src.h5", "w") as f:
            f["images"] = _frames(5)
        with h5py.File(tmp_path / "ext.h5", "w") as f:
            f.create_group("imageseries")["images"] = h5py.ExternalLink("src.h5", "/images")
        ims = lazyims.open(tmp_path / "ext.h5")  # found without path=
        np.testing.assert_array_equal(ims.compute(), _frames(5))
        assert str(tmp_path / "src.h5") in ims.files  # never written over

    @pytest.mark.parametrize(
        "case, kind, words",
        [
            ("external-link", "MissingFileError", "gone.h5"),
            ("external-link-path", "MissingFileError", "gone.h5"),
            ("external-group", "MissingFileError", "gone.h5"),
            ("vds-source-file", "MissingFileError", "gone.h5"),
            ("vds-source-dataset", "FileContentError", "does not hold"),
        ],
    )
    def test_a_missing_target_is_named(self, hostile, case, kind, words):
        results, _ = hostile
        assert results[case][0] == kind, results[case]
        assert words in results[case][1]

    def test_a_virtual_source_gone_after_open_is_an_error_at_read(self, tmp_path):
        with h5py.File(tmp_path / "src.h5", "w") as f:
            f["images"] = _frames(5)
        layout = h5py.VirtualLayout((3, 8, 10), np.uint16)
        layout[:] = h5py.VirtualSource("src.h5", "images", shape=(3, 8, 10))
        with h5py.File(tmp_path / "vds.h5", "w") as f:
            f.create_group("imageseries").create_virtual_dataset("images", layout, fillvalue=0)
        ims = lazyims.open(tmp_path / "vds.h5")
        np.testing.assert_array_equal(ims.compute(), _frames(5))
        (tmp_path / "src.h5").unlink()
        with pytest.raises(MissingFileError, match="src.h5"):
            ims.compute()


class TestDamagedOrInconsistentImages:
    """Cut-short compressed and plain images, multi-frame files whose frames differ, and
    repeated frame-cache pixels whose sum does not fit: errors naming the file, never
    frames padded with zeros or wrapped values."""

    @pytest.mark.parametrize(
        "case, words",
        [
            ("cut.edf", "cut short"),
            ("cut.edf.gz", "cut.edf.gz"),
            ("cut.edf.bz2", "cut.edf.bz2"),
            ("cut.tif", "cut short"),
            ("frames.edf", "frames of this file differ"),
            ("pages.tif", "pages of this TIFF differ"),
        ],
    )
    def test_images(self, hostile, case, words):
        results, _ = hostile
        assert results[case][0] == "FileContentError", results[case]
        assert words in results[case][1] and case in results[case][1]

    @pytest.mark.parametrize("dtype", ["uint16", "int8", "float32", "int64"])
    @pytest.mark.parametrize("read", ["", "-max"])
    def test_repeated_pixels_whose_sum_overflows(self, hostile, dtype, read):
        results, _ = hostile
        kind, message = results[f"dup-{dtype}{read}"]
        assert kind == "FileContentError", (kind, message)
        assert f"dup-{dtype}.npz" in message and "does not fit" in message

    def test_repeated_pixels_that_fit_are_summed(self, tmp_path):
        np.savez(
            tmp_path / "dup.npz",
            shape=np.array([4, 4]),
            nframes=np.array(1),
            dtype=np.array(b"uint16"),
            **{
                "0_row": np.array([1, 1], np.uint16),
                "0_col": np.array([2, 2], np.uint16),
                "0_data": np.array([30000, 35535], np.uint16),
            },
        )
        assert lazyims.open(tmp_path / "dup.npz").compute()[0, 1, 2] == 65535

    def test_the_child_runs_with_a_bounded_address_space(self, tmp_path):
        proc = run_limited(
            """
            import numpy as np
            try:
                np.ones(2**33, np.uint8)
            except MemoryError:
                print("bounded")
            """,
            tmp_path,
        )
        assert proc.stdout.strip() == "bounded", proc.stderr[-2000:]


# -- (h) a --scheduler address where no dask scheduler answers -----------------------------------
class TestSchedulerAddress:
    """``--scheduler`` given an address where something else listens, or nothing, is a
    clear lazyims error within the check's timeout (a Client waited over 90 s on a port
    that accepts connections and never answers)."""

    @pytest.fixture
    def silent_port(self):
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
        server.close()

    @pytest.fixture
    def chatty_port(self):
        """A port that answers every connection with text and closes it."""
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        server.settimeout(0.2)
        stop = threading.Event()

        def serve():
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                except OSError:
                    continue
                conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
                conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
        stop.set()
        thread.join()
        server.close()

    @pytest.mark.timeout(30)
    @pytest.mark.parametrize("port", ["silent_port", "chatty_port"])
    def test_the_command_refuses_it(self, request, monkeypatch, port):
        from lazyims import _scheduler, cli

        address = request.getfixturevalue(port)
        monkeypatch.setattr(_scheduler, "CHECK_TIMEOUT", 2.0)
        with pytest.raises(LazyImsError, match="dask scheduler") as info:
            cli._connect(address)
        assert address in str(info.value) and "--scheduler takes" in str(info.value)

    @pytest.mark.timeout(30)
    def test_a_bad_scheme_is_refused(self):
        from lazyims._scheduler import check_scheduler

        with pytest.raises(LazyImsError, match="unknown address scheme"):
            check_scheduler("bogus://host:1", timeout=2)
