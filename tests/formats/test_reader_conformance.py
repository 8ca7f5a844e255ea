"""The reader conformance suite: every registered format, through the same checks.

Each format has one or more small examples in :data:`EXAMPLES` (a new format must add
one: :func:`test_every_registered_format_has_an_example` fails until it does). For
each: a region read equals the full read sliced, single frames and windows read
alone, the reader and the series pickle, graph keys change when a file changes on
disk, narrowed reads ask the reader for exactly the pixels needed, and a damaged
file gives a lazyims error naming it.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
import h5py
import numpy as np
import pytest

import lazyims
from lazyims.errors import LazyImsError
from tests.conftest import synthetic_frames
from tests.formats import eiger_files
from tests.formats.test_image_files import write_ge

NFRAMES, ROWS, COLS = 4, 12, 10


@dataclass
class Example:
    """A small series of a format: how to open it, the frames it holds, how to damage it."""

    source: Any
    frames: np.ndarray
    options: dict
    damage: Callable[[], str] | None = None  # damages the files; returns the path to name


def frames(dtype=np.uint16) -> np.ndarray:
    return synthetic_frames(NFRAMES, ROWS, COLS).astype(dtype)


def truncate(path: Path) -> Callable[[], str]:
    def damage() -> str:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return str(path)

    return damage


def hdf5_example(tmp: Path) -> Example:
    data = frames()
    path = tmp / "scan.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset(
            "imageseries/images", data=data, chunks=(1, ROWS, COLS), compression="gzip"
        )
    return Example(path, data, {}, truncate(path))


def zarr_example(tmp: Path) -> Example:
    data = frames()
    path = tmp / "scan.zarr"
    lazyims.write(lazyims.open(data), path, "zarr", chunks=(2, ROWS, COLS))

    def damage() -> str:
        for chunk in (path / "frames" / "c").rglob("*"):
            if chunk.is_file():
                chunk.write_bytes(b"not a zstd frame" * 4)
        return str(path)

    return Example(path, data, {"frames_per_chunk": 2}, damage)


def framecache_example(style: str) -> Callable[[Path], Example]:
    def make(tmp: Path) -> Example:
        data = frames(np.float32)
        threshold = float(np.percentile(data, 95))
        path = tmp / f"fc.{style}"
        lazyims.write(lazyims.open(data), path, "frame-cache", threshold=threshold, style=style)
        dense = np.where(data > threshold, data, 0)
        damaged = path if style != "yml" else tmp / "fc_cache.npz"
        return Example(path, dense, {"frames_per_chunk": 2}, truncate(damaged))

    return make


def raw_image_example(tmp: Path) -> Example:
    data = frames()
    (tmp / "scan.raw").write_bytes(b"\0" * 100 + data.astype("<u2").tobytes())
    yml = tmp / "raw.yml"
    yml.write_text(
        "filename: scan.raw\nshape: 12 10\nskip: 100\n"
        "scalar: {type: i, bytes: 2, signed: false, endian: little}\n"
    )
    return Example(yml, data, {}, truncate(tmp / "scan.raw"))


def image_files_example(tmp: Path) -> Example:
    data = frames()
    (tmp / "GE").mkdir()
    write_ge(tmp / "GE" / "a.ge2", data[:2])
    write_ge(tmp / "GE" / "b.ge2", data[2:])
    yml = tmp / "files.yml"
    yml.write_text("image-files: {directory: GE, files: '*.ge2'}\n")
    return Example(yml, data, {}, truncate(tmp / "GE" / "b.ge2"))


def eiger_example(version: int) -> Callable[[Path], Example]:
    def make(tmp: Path) -> Example:
        data = eiger_files.eiger_frames(NFRAMES, ROWS, COLS)
        path = tmp / "eiger.h5"
        if version == 1:
            eiger_files.write_stream_v1(path, data)
        else:
            eiger_files.write_stream_v2(path, data, None)
        return Example(path, data, {}, truncate(path))

    return make


def eiger_master_example(tmp: Path) -> Example:
    data = eiger_files.eiger_frames(NFRAMES, ROWS, COLS)
    master = eiger_files.write_master(tmp, data, frames_per_file=3)
    return Example(master, data, {}, truncate(tmp / "scan_data_000002.h5"))


def array_example(tmp: Path) -> Example:
    data = frames()
    return Example(data, data, {"frames_per_chunk": 2})


def _frame(i: int) -> np.ndarray:  # module level: picklable
    return frames()[i]


def function_example(tmp: Path) -> Example:
    return Example(_frame, frames(), {"nframes": NFRAMES, "frames_per_chunk": 2})


#: Examples of every format lazyims ships; a new format adds its own here.
EXAMPLES: dict[str, list[Callable[[Path], Example]]] = {
    "hdf5": [hdf5_example],
    "zarr": [zarr_example],
    "frame-cache": [framecache_example(s) for s in ("npz", "fch5", "yml")],
    "raw-image": [raw_image_example],
    "image-files": [image_files_example],
    "eiger-stream-v1": [eiger_example(1)],
    "eiger-stream-v2": [eiger_example(2)],
    "eiger": [eiger_master_example],
    "array": [array_example],
    "function": [function_example],
}

CASES = [
    pytest.param((name, make), id=f"{name}-{i}" if len(EXAMPLES.get(name, ())) > 1 else name)
    for name in lazyims.formats.names()
    for i, make in enumerate(EXAMPLES.get(name, ()))
]


def test_every_registered_format_has_an_example():
    missing = [n for n in lazyims.formats.names() if not EXAMPLES.get(n)]
    assert not missing, f"add an example of {missing} to EXAMPLES in {__file__}"


@pytest.fixture(params=CASES)
def example(request, tmp_path) -> tuple[str, Example]:
    name, make = request.param
    return name, make(tmp_path)


def open_example(name: str, ex: Example):
    ims = lazyims.open(ex.source, format=name, **ex.options)
    assert ims.format == name
    return ims


def sync(x):
    with dask.config.set(scheduler="sync"):
        return np.asarray(x.compute())


def test_full_region_and_frames_read(example):
    name, ex = example
    ims = open_example(name, ex)
    assert ims.shape == ex.frames.shape
    full = sync(ims)
    np.testing.assert_array_equal(full, ex.frames)
    np.testing.assert_array_equal(sync(ims[:, 3:9, 2:7]), full[:, 3:9, 2:7])
    np.testing.assert_array_equal(sync(ims[1:3].rectangle(((0, 5), (4, 10)))), full[1:3, :5, 4:])
    np.testing.assert_array_equal(sync(ims[[3, 0]][:, 1:]), full[[3, 0], 1:])
    np.testing.assert_array_equal(sync(ims[2]), full[2])
    np.testing.assert_array_equal(ims[-1].compute(), full[-1])
    window = ims.read_frame(1, rows=slice(2, 8), cols=slice(1, None, 2))
    assert isinstance(window, np.ndarray) and window.dtype == ims.dtype
    np.testing.assert_array_equal(window, full[1, 2:8, 1::2])


def test_reader_and_series_pickle(example):
    name, ex = example
    ims = open_example(name, ex)
    part = ims[1:3, 2:8]
    again = pickle.loads(pickle.dumps(part))
    np.testing.assert_array_equal(sync(again), ex.frames[1:3, 2:8])
    graph = pickle.loads(pickle.dumps(part.data))
    np.testing.assert_array_equal(sync(graph), ex.frames[1:3, 2:8])
    if part._reads_files:
        reader = pickle.loads(pickle.dumps(part._lazy.reader))
        block = reader.read(2, 3, slice(0, ROWS), slice(0, COLS))
        block = block.todense() if hasattr(block, "todense") else block
        np.testing.assert_array_equal(block[0], ex.frames[2])


def test_graph_keys_change_when_a_file_changes(example):
    name, ex = example
    ims = open_example(name, ex)
    files = ims._lazy.reader.files() if ims._reads_files else ()
    if not files:
        pytest.skip(f"{name} reads no file")
    before = ims.data.name
    assert open_example(name, ex).data.name == before  # same files, same keys
    for path in files:
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert open_example(name, ex).data.name != before


def test_narrowed_reads_ask_for_exactly_the_pixels_needed(example, monkeypatch):
    name, ex = example
    ims = open_example(name, ex)
    if not ims._reads_files:
        pytest.skip(f"{name} has no reader")
    reader_type = type(ims._lazy.reader)
    asked: list[int] = []
    original = reader_type.read

    def counting(self, start, stop, rows, cols):
        asked.append((stop - start) * (rows.stop - rows.start) * (cols.stop - cols.start))
        return original(self, start, stop, rows, cols)

    monkeypatch.setattr(reader_type, "read", counting)
    sync(ims[1:3, 2:8, 3:9])
    assert sum(asked) == 2 * 6 * 6
    asked.clear()
    sync(ims[1:].rectangle(((0, 4), (0, 10)))[::2])
    assert sum(asked) == 2 * 4 * 10
    asked.clear()
    ims.read_frame(3, rows=slice(5, 6))
    sync(ims[0, :2])
    assert asked == [1 * 1 * COLS, 1 * 2 * COLS]
    asked.clear()
    sync(ims.median(nframes=2, band_bytes=4 * COLS * ims.dtype.itemsize * 2))
    if hasattr(reader_type, "stored_values"):  # a frame-cache: from the stored pixels
        assert asked == []
    else:
        assert sum(asked) == 2 * ROWS * COLS  # every band reads its own rows once


def test_damaged_file_gives_an_error_naming_it(example):
    name, ex = example
    if ex.damage is None:
        pytest.skip(f"{name} reads no file")
    named = ex.damage()
    with pytest.raises(LazyImsError) as err:
        sync(lazyims.open(ex.source, format=name, **ex.options))
    assert named in str(err.value)
