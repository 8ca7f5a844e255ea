"""No input hangs, crashes or exhausts the machine; graphs run from any working folder.

FIFOs are refused (never opened), YAML is parsed with its depth and alias expansion
bounded, a TIFF whose chain of images loops is an error, headers declaring absurd
sizes are refused before anything is allocated. Each hostile case runs in a subprocess
with a timeout, where a regression would hang, and an address-space limit
(``RLIMIT_AS``, :mod:`tests.limited`), where it would allocate what a header declares.
"""

from __future__ import annotations

import os
import pickle
import shutil
import struct
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

import lazyims
from tests.limited import run_limited

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parents[1] / "data"

pytestmark = pytest.mark.filterwarnings("ignore:.*keep more than 10%:UserWarning")


def _run(code: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (lazyims from this checkout) with its address space
    bounded (``RLIMIT_AS``, see :mod:`tests.limited`), killed after ``timeout``."""
    return run_limited(code, cwd, timeout)


# -- FIFOs ------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.parametrize(
    "case",
    [
        "sniffed",
        "hdf5",
        "npz",
        "fch5",
        "yml-cache",
        "yml-metadata",
        "raw-data",
        "image-files-yaml",
        "eiger",
        "eiger-stream",
    ],
)
def test_a_fifo_is_refused_without_hanging(tmp_path, case):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "x_cache.npz").write_bytes(b"")
    calls = {
        "sniffed": "lazyims.open('fifo')",
        "hdf5": "lazyims.open('fifo', format='hdf5')",
        "npz": "lazyims.open('fifo', format='frame-cache', style='npz')",
        "yml-cache": "lazyims.open('c.yml')",
        "yml-metadata": "lazyims.open('m.yml')",
        "raw-data": "lazyims.open('r.yml')",
        "image-files-yaml": "lazyims.open('fifo', format='image-files')",
        "fch5": "lazyims.open('fifo', format='frame-cache', style='fch5')",
        "eiger": "lazyims.open('fifo', format='eiger')",
        "eiger-stream": "lazyims.open('fifo', format='eiger-stream-v2')",
    }
    (tmp_path / "c.yml").write_text(
        "data: {file: fifo, dtype: uint16, nframes: 1, shape: [4, 4]}\nmeta: {}\n"
    )
    lazyims.open(np.ones((1, 4, 4), np.uint16)).to_framecache(tmp_path / "m.npz", 0)
    (tmp_path / "m.yml").write_text(
        "data: {file: m.npz, dtype: uint16, nframes: 1, shape: [4, 4]}\n"
        "meta: {omega: '! load-numpy-array fifo'}\n"
    )
    (tmp_path / "r.yml").write_text(
        "filename: fifo\nshape: 4 4\nskip: 0\nscalar: {type: i, bytes: 2, signed: false, endian: little}\n"
    )
    proc = _run(
        f"""
        import lazyims
        try:
            {calls[case]}
        except lazyims.LazyImsError as exc:
            print("ERROR", exc)
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("ERROR") and "fifo" in proc.stdout


# -- YAML -------------------------------------------------------------------------------
def _laughs() -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for prev, name in zip("abcdefgh", "bcdefghi"):
        text += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    return text + "image-files: *i\nmeta: *i\n"


@pytest.mark.parametrize(
    "text, words",
    [
        (_laughs(), "expands to more than"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nests deeper"),
        ("image-files: &x [1, *x]\n", "refers to itself"),
    ],
    ids=["billion-laughs", "deep", "recursive"],
)
@pytest.mark.parametrize("fmt", ["image-files", "raw-image", "frame-cache"])
def test_hostile_yaml_fails_fast(tmp_path, text, words, fmt):
    assert len(_laughs()) < 800
    (tmp_path / "evil.yml").write_text(text)
    proc = _run(
        f"""
        import lazyims
        try:
            lazyims.open("evil.yml", format={fmt!r})
        except lazyims.FileContentError as exc:
            print("ERROR", exc)
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert words in proc.stdout and "evil.yml" in proc.stdout


@pytest.mark.parametrize(
    "text",
    [
        "filename: x.bin\nshape: [.inf, 4]\nskip: 0\n"
        "scalar: {type: i, bytes: 2, signed: false, endian: little}\n",
        "data: {file: x.npz, dtype: uint16, nframes: .inf, shape: [4, 4]}\n",
        "data: {file: x.npz, dtype: uint16, nframes: 2, shape: [.inf, 4]}\n",
    ],
)
def test_infinite_numbers_in_yaml_are_errors(tmp_path, text):
    (tmp_path / "x.bin").write_bytes(b"\0" * 32)
    np.savez(tmp_path / "x.npz", **{"0_row": np.zeros(0)})
    (tmp_path / "x.yml").write_text(text)
    _expect_error(tmp_path, 'lazyims.open("x.yml")', "LazyImsError", "x.yml")


def _expect_error(folder: Path, call: str, kind: str, words: str) -> None:
    """``call`` in a bounded child process raises lazyims' ``kind`` with ``words``."""
    proc = _run(
        f"""
        import lazyims
        try:
            {call}
        except lazyims.{kind} as exc:
            print("ERROR", exc)
        """,
        folder,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("ERROR") and words in proc.stdout, proc.stdout


# -- TIFF -------------------------------------------------------------------------------
def _pillow_tiff(path: Path, frame: np.ndarray) -> None:
    pil = pytest.importorskip("PIL.Image")
    pil.fromarray(frame).save(path)


def test_a_pillow_uint16_tiff_without_sample_format_opens(tmp_path):
    frame = (np.arange(48 * 64).reshape(48, 64) * 7 % 60000).astype(np.uint16)
    _pillow_tiff(tmp_path / "f_1.tif", frame)
    (tmp_path / "s.yml").write_text("image-files: {directory: ., files: 'f_*.tif'}\n")
    ims = lazyims.open(tmp_path / "s.yml")
    assert ims.dtype == np.uint16
    np.testing.assert_array_equal(ims.compute()[0], frame)


def test_a_tiff_whose_image_chain_loops_does_not_hang(tmp_path):
    _pillow_tiff(tmp_path / "f_1.tif", np.zeros((8, 8), np.uint16))
    blob = bytearray((tmp_path / "f_1.tif").read_bytes())
    first = struct.unpack("<I", blob[4:8])[0]
    count = struct.unpack("<H", blob[first : first + 2])[0]
    blob[first + 2 + 12 * count : first + 6 + 12 * count] = struct.pack("<I", first)
    (tmp_path / "f_1.tif").write_bytes(bytes(blob))
    (tmp_path / "s.yml").write_text("image-files: {directory: ., files: 'f_*.tif'}\n")
    proc = _run(
        """
        import lazyims
        try:
            lazyims.open("s.yml")
        except lazyims.FileContentError as exc:
            print("ERROR", exc)
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "loops" in proc.stdout and "f_1.tif" in proc.stdout


# -- declared sizes -----------------------------------------------------------------------
def test_an_hdf5_header_of_a_trillion_frames_is_refused(tmp_path):
    path = tmp_path / "huge.h5"
    with h5py.File(path, "w") as f:  # a few KiB: unwritten chunks take no room
        f.create_dataset("imageseries/images", shape=(10**12, 8, 8), chunks=(1, 8, 8), dtype="u2")
    _expect_error(
        tmp_path, 'lazyims.open("huge.h5")', "FileContentError", "declares 1000000000000 frames"
    )


def test_an_hdf5_frame_of_a_trillion_pixels_is_refused(tmp_path):
    path = tmp_path / "huge.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("imageseries/images", shape=(2, 10**6, 10**6), chunks=(1, 64, 64))
    _expect_error(
        tmp_path,
        'lazyims.open("huge.h5")',
        "FileContentError",
        "declares frames of 1000000x1000000",
    )


@pytest.mark.parametrize(
    "header, words",
    [
        ({"nframes": 10**12, "shape": (8, 8)}, "more than lazyims opens"),
        ({"shape": (10**6, 10**6)}, "larger"),
    ],
)
def test_an_npz_header_of_absurd_sizes_is_refused(tmp_path, header, words):
    members = {"shape": np.array((8, 8)), "nframes": np.array(1), "dtype": np.array(b"uint16")}
    members.update({k: np.array(v) for k, v in header.items()})
    np.savez(tmp_path / "fc.npz", **members, **{"0_row": np.zeros(0, np.uint16)})
    proc = _run(
        """
        import lazyims
        try:
            lazyims.open("fc.npz")
        except lazyims.FileContentError as exc:
            print("ERROR", exc)
        """,
        tmp_path,
    )
    assert words in proc.stdout, proc.stderr[-2000:]


# -- graphs run from any folder -----------------------------------------------------------
def _every_format(folder: Path) -> dict[str, str]:
    frames = np.zeros((3, 16, 20), np.uint16)
    frames[:, 2, 3] = [100, 200, 300]
    ims = lazyims.open(frames).with_metadata(omega=np.arange(6.0).reshape(3, 2))
    ims.write(folder / "scan.h5", "hdf5")
    ims.to_zarr(folder / "scan.zarr")
    for style in ("npz", "fch5", "yml"):
        ims.to_framecache(folder / f"fc.{style}", 0)
    shutil.copy(DATA / "raw.ge", folder / "raw.ge")
    shutil.copy(DATA / "raw.yml", folder / "raw.yml")
    return {
        "hdf5": "scan.h5",
        "zarr": "scan.zarr",
        "npz": "fc.npz",
        "fch5": "fc.fch5",
        "yml": "fc.yml",
        "raw": "raw.yml",
    }


def test_a_pickled_graph_computes_from_another_folder(tmp_path, monkeypatch):
    """Open by relative names, pickle the graphs, compute them where those names mean nothing."""
    data = tmp_path / "data"
    data.mkdir()
    names = _every_format(data)
    monkeypatch.chdir(data)
    graphs, expected = {}, {}
    for kind, name in names.items():
        ims = lazyims.open(name)
        assert all(os.path.isabs(f) for f in ims.files), kind
        graphs[kind] = ims.to_dask()
        expected[kind] = ims.compute()
    (tmp_path / "graphs.pkl").write_bytes(pickle.dumps(graphs))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = _run(
        f"""
        import pickle, dask, numpy as np
        graphs = pickle.loads(open({str(tmp_path / "graphs.pkl")!r}, "rb").read())
        results = dask.compute(graphs, scheduler="sync")[0]
        np.savez({str(tmp_path / "out.npz")!r}, **{{
            k: (v.todense() if hasattr(v, "todense") else np.asarray(v)) for k, v in results.items()
        }})
        """,
        elsewhere,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(tmp_path / "out.npz") as out:
        for kind in names:
            np.testing.assert_array_equal(out[kind], expected[kind], err_msg=kind)
