"""The format contract: the registry answers open, write and the CLI; plug-ins come in
through the ``lazyims.formats`` entry point group of an installed distribution."""

from __future__ import annotations

import sys
import textwrap
import warnings

import h5py
import numpy as np
import pytest

import lazyims
from lazyims import cli
from lazyims.errors import FormatError
from lazyims.formats import Format, _registry

# A format package of its own, as a third party would ship it: one module and its
# installed distribution metadata declaring the entry point.
PLUGIN = '''
"""A toy format: a text header "TOYIMS nframes rows cols" line, then uint16 frames."""
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lazyims.errors import FileContentError
from lazyims.formats import Format, FrameReader, series_from_reader

HEADER = 64


@dataclass(frozen=True)
class ToyFrames(FrameReader):
    path: str
    frame_shape: tuple

    def read(self, start, stop, rows, cols):
        nrows, ncols = self.frame_shape
        frames = np.memmap(self.path, np.uint16, "r", HEADER).reshape(-1, nrows, ncols)
        return np.array(frames[start:stop, rows, cols])

    def files(self):
        return (self.path,)


def _header(path):
    words = Path(path).read_bytes()[:HEADER].split()
    if not words or words[0] != b"TOYIMS":
        raise FileContentError("not a toy file", path)
    return [int(w) for w in words[1:4]]


def open_toy(source, frames_per_chunk=2):
    path = os.path.abspath(source)
    nframes, rows, cols = _header(path)
    return series_from_reader(
        ToyFrames(path, (rows, cols)),
        nframes=nframes,
        frame_shape=(rows, cols),
        dtype=np.uint16,
        frames_per_chunk=frames_per_chunk,
        format="toy",
    )


def write_toy(series, path):
    frames = series.compute().astype(np.uint16)
    header = f"TOYIMS {frames.shape[0]} {frames.shape[1]} {frames.shape[2]}".encode()
    with open(path, "wb") as fh:
        fh.write(header.ljust(HEADER))
        fh.write(frames.tobytes())


def _guess(path):
    with open(path, "rb") as fh:
        return fh.read(6) == b"TOYIMS"


FORMAT = Format(
    name="toy",
    open=open_toy,
    write=write_toy,
    extensions=(".toy",),
    guess_can_open=_guess,
    write_extensions=(".toy",),
    description="a toy format from a plug-in",
)
'''


def install(tmp_path, monkeypatch, entry_points: str, module: str = PLUGIN):
    """Install a distribution into a folder on sys.path and let the registry look again."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "lazyims_toy.py").write_text(module)
    info = site / "lazyims_toy-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lazyims-toy\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "lazyims_toy", raising=False)
    monkeypatch.setattr(_registry, "_FORMATS", dict(_registry._FORMATS))
    monkeypatch.setattr(_registry, "_plugins_loaded", False)


@pytest.fixture
def toy(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, "[lazyims.formats]\ntoy = lazyims_toy:FORMAT\n")
    frames = np.arange(5 * 6 * 7, dtype=np.uint16).reshape(5, 6, 7)
    path = tmp_path / "scan.toy"
    path.write_bytes(b"TOYIMS 5 6 7".ljust(64) + frames.tobytes())
    return path, frames


def test_plugin_format_is_found_through_its_entry_point(toy, capsys):
    path, frames = toy
    assert "toy" in lazyims.available_formats()
    ims = lazyims.open(path)
    assert ims.format == "toy" and ims._reads_files
    np.testing.assert_array_equal(ims.compute(), frames)
    np.testing.assert_array_equal(
        ims[1:4].rectangle(((1, 3), (2, 6))).compute(), frames[1:4, 1:3, 2:6]
    )
    np.testing.assert_array_equal(ims.read_frame(2, cols=slice(0, 3)), frames[2, :, :3])
    # the CLI lists it, converts to it by extension, and converts from it
    assert cli.main(["formats"]) == 0
    assert "toy" in capsys.readouterr().out
    out = path.parent / "copy.toy"
    assert cli.main(["convert", str(path), str(out), "--frames", "1:"]) == 0
    np.testing.assert_array_equal(lazyims.open(out).compute(), frames[1:])
    h5 = path.parent / "scan.h5"
    assert cli.main(["convert", str(path), str(h5)]) == 0
    np.testing.assert_array_equal(lazyims.open(h5).compute(), frames)
    # and lazyims.write picks it from the name
    lazyims.write(lazyims.open(h5), path.parent / "again.toy")
    np.testing.assert_array_equal(lazyims.open(path.parent / "again.toy").compute(), frames)


def test_naming_a_built_in_format_skips_the_entry_point_scan(tmp_path, monkeypatch):
    # The scan of installed distributions costs tens of ms at the first call; a built-in
    # name needs none (a plug-in never takes one), another name still finds plug-ins.
    install(tmp_path, monkeypatch, "[lazyims.formats]\ntoy = lazyims_toy:FORMAT\n")
    assert lazyims.formats.get("frame-cache").name == "frame-cache"
    assert not _registry._plugins_loaded
    assert lazyims.formats.get("toy").name == "toy"
    assert _registry._plugins_loaded


@pytest.mark.parametrize(
    "entry, words",
    [
        ("toy = lazyims_toy:NOT_THERE\n", "cannot be loaded"),
        ("toy = lazyims_toy:HEADER\n", "is not a lazyims Format"),
        ("hdf5 = lazyims_toy:HDF5\n", "named like the built-in format 'hdf5'"),
    ],
)
def test_bad_plugins_warn_and_lazyims_still_works(tmp_path, monkeypatch, golden, entry, words):
    module = PLUGIN + "\nHDF5 = Format(name='hdf5', open=open_toy)\n"
    install(tmp_path, monkeypatch, "[lazyims.formats]\n" + entry, module)
    with pytest.warns(UserWarning, match=words):
        names = lazyims.available_formats()
    assert "hdf5" in names and "toy" not in names
    assert lazyims.formats.get("hdf5").open.__module__ == "lazyims.formats.hdf5"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # loaded once: no second warning
        assert lazyims.open(golden("scan.h5")).format == "hdf5"


def test_detection_prefers_the_format_that_refines_another(golden, tmp_path):
    assert lazyims.formats.detect(golden("scan.h5")).name == "hdf5"
    fch5 = tmp_path / "cache.h5"
    scan = lazyims.open(golden("scan.h5"))
    high = float(np.percentile(scan.compute(), 99))  # a sparse cache: no density warning
    scan.write(fch5, "frame-cache", threshold=high, style="fch5")
    with h5py.File(fch5) as f:  # an HDF5 file that both hdf5 and frame-cache recognise
        assert "frame_ids" in f
    assert lazyims.formats.get("hdf5").guess_can_open(fch5)
    assert lazyims.formats.detect(fch5).name == "frame-cache"


def test_two_formats_claiming_a_file_is_an_error(golden, monkeypatch):
    monkeypatch.setattr(_registry, "_FORMATS", dict(_registry._FORMATS))
    lazyims.formats.register(
        Format(name="other-h5", open=lambda s: None, extensions=(".h5",), guess_can_open=bool)
    )
    with pytest.raises(FormatError, match="could be hdf5 or other-h5"):
        lazyims.open(golden("scan.h5"))
    assert lazyims.open(golden("scan.h5"), format="hdf5").format == "hdf5"


def test_format_to_write_comes_from_the_name(golden, tmp_path):
    ims = lazyims.open(golden("scan.h5"))[:2]
    assert lazyims.formats.for_writing("a.H5").name == "hdf5"
    assert lazyims.formats.for_writing("a.zarr").name == "zarr"
    assert lazyims.formats.for_writing("a.fch5").name == "frame-cache"
    with pytest.raises(FormatError, match=r"\.npz .*frame-cache"):
        lazyims.write(ims, tmp_path / "a.dat")
    ims.write(tmp_path / "b.zarr")
    np.testing.assert_array_equal(lazyims.open(tmp_path / "b.zarr").compute(), ims.compute())
    with pytest.raises(FormatError, match="can be read but not written"):
        lazyims.write(ims, tmp_path / "c.yml", "raw-image")


def test_register_takes_only_formats():
    with pytest.raises(FormatError, match="only a lazyims.formats.Format"):
        lazyims.formats.register({"name": "x"})


def test_every_format_module_registers_a_described_format():
    """Adding a format is one module in lazyims/formats (plus its tests): nothing else."""
    built_in = [f for f in lazyims.formats.formats() if f.name in _registry._BUILT_IN]
    assert {f.open.__module__.split(".")[2] for f in built_in} >= {
        "array",
        "framecache",
        "hdf5",
        "image_files",
        "raw_image",
        "zarr",
    }
    for fmt in built_in:
        assert fmt.description, fmt.name
        assert fmt.write is None or fmt.write_extensions, fmt.name
