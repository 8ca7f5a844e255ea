"""The napari reader: the function itself, npe2's plugin machinery, and napari's viewer.

npe2 (in the test extra) validates the manifest and runs the reader as napari does;
napari itself (the ``napari`` extra, not in the test extra) is used when installed.
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
from dask.callbacks import Callback

import lazyims
from lazyims._napari import get_reader
from tests.conftest import synthetic_frames

OMEGA = np.column_stack([np.arange(8) * 0.5, np.arange(1, 9) * 0.5])


@pytest.fixture
def frames():
    return synthetic_frames(8, 24, 32)


@pytest.fixture(params=["scan.h5", "scan-fc.npz", "scan-fc.fch5", "images.yml"])
def scan(request, tmp_path, frames):
    """The same frames as hdf5, npz and fch5 frame-caches, and image files behind a YAML."""
    series = lazyims.open(frames).with_metadata(omega=OMEGA, panel="ff1")
    path = tmp_path / request.param
    if request.param == "scan.h5":
        series.write(path, "hdf5", path="imageseries")
        wanted = frames
    elif request.param == "images.yml":
        import fabio.edfimage

        for i, frame in enumerate(frames):
            fabio.edfimage.EdfImage(data=frame).write(str(tmp_path / f"f{i}.edf"))
        path.write_text(
            "image-files:\n  directory: .\n  files: f*.edf\noptions:\n  empty-frames: 0\n"
            "meta:\n  panel: ff1\n"
        )
        wanted = frames
    else:
        series.to_framecache(path, threshold=100)
        wanted = np.where(frames > 100, frames, 0)
    return path, wanted


class Reads(Callback):
    """Records the chunks of ``data`` (the layer's frames) that dask computes.

    Low-level task fusion is switched off so that the chunks' own tasks are seen
    (reading and decoding a chunk are one blockwise task of ``data``'s name).
    """

    def __init__(self, data: da.Array):
        super().__init__()
        self.name = data.name
        self.keys: list = []
        self._config = dask.config.set({"optimization.fuse.active": False})

    def __enter__(self):
        self._config.__enter__()
        return super().__enter__()

    def __exit__(self, *args):
        super().__exit__(*args)
        self._config.__exit__(*args)

    def _posttask(self, key, result, dsk, state, worker_id):
        if isinstance(key, tuple) and key[0] == self.name:
            self.keys.append(key)


def test_the_reader_gives_lazy_frames_one_per_chunk(scan, frames):
    path, wanted = scan
    reader = get_reader(str(path))
    assert reader is not None
    ((data, options, kind),) = reader(str(path))
    assert kind == "image" and isinstance(data, da.Array)
    assert data.shape == frames.shape and data.chunks[0] == (1,) * len(frames)
    assert options["name"].endswith("(ff1)")
    with Reads(data) as reads:
        frame = np.asarray(data[5])  # what napari does at each slider step
    assert type(frame) is np.ndarray
    np.testing.assert_array_equal(frame, wanted[5])
    assert reads.keys == [(data.name, 5, 0, 0)]  # one frame read and decoded


def test_the_reader_declines_what_lazyims_does_not_read(tmp_path):
    (tmp_path / "notes.yml").write_text("a: 1\n")
    (tmp_path / "picture.png").write_bytes(b"\x89PNG")
    (tmp_path / "broken.h5").write_bytes(b"not hdf5")
    for name in ("notes.yml", "picture.png", "broken.h5"):
        assert get_reader(str(tmp_path / name)) is None, name
    assert get_reader([]) is None


def test_npe2_finds_the_manifest_and_reads_through_it(scan):
    npe2 = pytest.importorskip("npe2")
    path, wanted = scan
    manifest = npe2.PluginManifest.from_distribution("lazyims")
    assert manifest.name == "lazyims"
    patterns = manifest.contributions.readers[0].filename_patterns
    assert f"*{path.suffix}" in patterns
    pm = npe2.PluginManager.instance()
    pm.discover()
    readers = [r.plugin_name for r in pm.iter_compatible_readers([str(path)])]
    assert "lazyims" in readers
    ((data, options, kind),) = npe2.read([str(path)], stack=False, plugin_name="lazyims")
    assert kind == "image" and data.chunks[0][0] == 1
    np.testing.assert_array_equal(np.asarray(data[3]), wanted[3])
    assert options["metadata"]["lazyims"]["panel"] == "ff1"


def test_napari_viewer_opens_and_pages_one_frame_at_a_time(scan):
    pytest.importorskip("napari")
    from napari.components import ViewerModel

    path, wanted = scan
    viewer = ViewerModel()
    (layer,) = viewer.open(str(path), plugin="lazyims")
    assert isinstance(layer.data, da.Array) and layer.data.shape == wanted.shape
    with Reads(layer.data) as reads:
        viewer.dims.set_current_step(0, 6)
    assert reads.keys == [(layer.data.name, 6, 0, 0)]
    np.testing.assert_array_equal(np.asarray(layer._slice.image.raw), wanted[6])
