"""Files cannot make lazyims run code or write outside the folder the user named.

Each hostile file carries a payload that would create a marker file if it ran
(``os.system("touch MARKER")`` through a YAML python tag or a pickle); the tests
check that a lazyims error comes instead and that the marker never appears.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

import lazyims
from lazyims.errors import FileContentError, MetadataError

pytestmark = pytest.mark.timeout(30)


class Payload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def pickled_npy(marker: Path) -> bytes:
    array = np.empty(1, dtype=object)
    array[0] = Payload(marker)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def python_tag(marker: Path) -> str:
    return f"!!python/object/apply:os.system ['touch {marker}']"


def small_series(**metadata) -> lazyims.ImageSeries:
    frames = np.zeros((3, 8, 10), np.uint16)
    frames[:, 2, 3] = 500
    return lazyims.open(frames).with_metadata(**metadata)


def test_the_payloads_would_run_if_loaded_unsafely(tmp_path):
    """So that the tests below, where the marker never appears, can fail."""
    import yaml

    marker = tmp_path / "MARKER"
    np.load(io.BytesIO(pickled_npy(marker)), allow_pickle=True)
    assert marker.exists()
    marker.unlink()
    yaml.unsafe_load(f"evil: {python_tag(marker)}")
    assert marker.exists()


# -- YAML: safe loading only -------------------------------------------------------------
def _image_files_yaml(tmp: Path, marker: Path) -> str:
    (tmp / "GE").mkdir()
    (tmp / "GE" / "a.ge2").write_bytes(bytes(8192) + bytes(2 * 2048 * 2048))
    return f"image-files: {{directory: GE, files: '*.ge2'}}\nmeta:\n  evil: {python_tag(marker)}\n"


def _raw_image_yaml(tmp: Path, marker: Path) -> str:
    (tmp / "raw.bin").write_bytes(bytes(2 * 8 * 10))
    return (
        f"filename: {python_tag(marker)}\nshape: 8 10\nskip: 0\n"
        "scalar: {type: i, bytes: 2, signed: false, endian: little}\n"
    )


def _framecache_yaml(tmp: Path, marker: Path) -> str:
    small_series().to_framecache(tmp / "fc.yml", 100)
    return (
        "data: {file: fc_cache.npz, dtype: uint16, nframes: 3, shape: [8, 10]}\n"
        f"meta:\n  evil: {python_tag(marker)}\n"
    )


YAMLS = {
    "image-files": _image_files_yaml,
    "raw-image": _raw_image_yaml,
    "frame-cache": _framecache_yaml,
}


@pytest.mark.parametrize("fmt", sorted(YAMLS))
def test_yaml_python_tags_run_nothing(tmp_path, fmt):
    marker = tmp_path / "MARKER"
    path = tmp_path / "scan.yml"
    text = YAMLS[fmt](tmp_path, marker)
    path.write_text(text)
    with pytest.raises(FileContentError, match="python/object") as err:
        lazyims.open(path, format=fmt)
    assert "scan.yml" in str(err.value)
    with pytest.raises(lazyims.LazyImsError):  # found by sniffing: nothing recognises it
        lazyims.open(path)
    if fmt != "frame-cache":  # these formats also take YAML text
        with pytest.raises(FileContentError, match="python/object"):
            lazyims.open(io.StringIO(text), format=fmt)
    assert not marker.exists()


# -- npz: never with pickle ----------------------------------------------------------------
def _replace_member(path: Path, name: str, body: bytes) -> None:
    with zipfile.ZipFile(path) as zin:
        members = {i.filename: zin.read(i) for i in zin.infolist()}
    members[name] = body
    with zipfile.ZipFile(path, "w") as zout:
        for member, data in members.items():
            zout.writestr(member, data)


@pytest.mark.parametrize("member", ["notes.npy", "dtype.npy", "shape.npy", "1_data.npy"])
def test_npz_object_arrays_are_never_unpickled(tmp_path, member):
    marker = tmp_path / "MARKER"
    path = tmp_path / "fc.npz"
    small_series().to_framecache(path, 100)
    _replace_member(path, member, pickled_npy(marker))
    with pytest.raises(FileContentError, match="pickle|not a .npy") as err:
        lazyims.open(path).compute()  # a frame member fails when its frame is read
    assert "fc.npz" in str(err.value) and member[:-4] in str(err.value)
    assert not marker.exists()


def test_yaml_loaded_npy_is_never_unpickled(tmp_path):
    marker = tmp_path / "MARKER"
    small_series(omega=np.arange(6.0).reshape(3, 2)).to_framecache(tmp_path / "fc.yml", 100)
    (tmp_path / "fc-omega.npy").write_bytes(pickled_npy(marker))
    with pytest.raises(MetadataError, match="omega"):
        lazyims.open(tmp_path / "fc.yml")
    (tmp_path / "GE").mkdir()
    (tmp_path / "GE" / "a.ge2").write_bytes(bytes(8192) + bytes(2 * 2048 * 2048))
    files = tmp_path / "files.yml"
    files.write_text(
        "image-files: {directory: GE, files: '*.ge2'}\n"
        "meta: {omega: '! load-numpy-array fc-omega.npy'}\n"
    )
    with pytest.raises(MetadataError, match="omega"):
        lazyims.open(files)
    assert not marker.exists()


def test_zarr_pickle_codec_is_never_run(tmp_path):
    marker = tmp_path / "MARKER"
    store = tmp_path / "evil.zarr"
    store.mkdir()
    (store / ".zarray").write_text(
        json.dumps(
            {
                "zarr_format": 2,
                "shape": [1, 1, 1],
                "chunks": [1, 1, 1],
                "dtype": "|O",
                "compressor": None,
                "fill_value": None,
                "order": "C",
                "filters": [{"id": "pickle"}],
            }
        )
    )
    array = np.empty(1, dtype=object)
    array[0] = Payload(marker)
    (store / "0.0.0").write_bytes(pickle.dumps(array))
    with pytest.raises(lazyims.LazyImsError) as err:
        lazyims.open(store).compute()
    assert "evil.zarr" in str(err.value)
    assert not marker.exists()


# -- no name inside a file makes lazyims write elsewhere ----------------------------------
@pytest.mark.parametrize("style", ["npz", "fch5", "yml"])
@pytest.mark.parametrize("key", ["../escaped", "/tmp/escaped", "..\\escaped", "a\0b", "x\ny"])
def test_metadata_names_cannot_make_files_elsewhere(tmp_path, style, key):
    out = tmp_path / "out"
    out.mkdir()
    ims = small_series(**{key: np.arange(4.0)})
    if style != "yml" and key in ("..\\escaped", "x\ny"):
        # harmless inside one file (a zip member or an HDF5 dataset name): stored as is
        ims.to_framecache(out / f"fc.{style}", 100)
        back = lazyims.open(out / f"fc.{style}")
        np.testing.assert_array_equal(back.metadata[key], np.arange(4.0))
    else:
        with pytest.raises(MetadataError, match="metadata name") as err:
            ims.to_framecache(out / f"fc.{style}", 100)
        assert f"fc.{style}" in str(err.value)
        assert list(out.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert not Path("/tmp/escaped").exists() and not Path("/tmp/escaped.npy").exists()


def test_odd_but_harmless_names_stay_beside_the_yaml(tmp_path):
    ims = small_series(**{"..": np.arange(3.0), " spaced key": np.ones(2)})
    ims.to_framecache(tmp_path / "fc.yml", 100)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fc- spaced key.npy",
        "fc-...npy",
        "fc.yml",
        "fc_cache.npz",
    ]
    back = lazyims.open(tmp_path / "fc.yml")
    np.testing.assert_array_equal(back.metadata[".."], np.arange(3.0))
    np.testing.assert_array_equal(back.metadata[" spaced key"], np.ones(2))
