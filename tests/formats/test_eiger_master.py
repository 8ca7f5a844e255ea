"""The eiger format: DECTRIS master/data files read lazily equal what h5py reads through the links."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import lazyims
from lazyims import eiger_pixel_mask as pixel_mask
from lazyims.formats.eiger import raw_chunk_codec
from tests.formats.eiger_files import add_goniometer, eiger_frames, write_master, write_stream_v1

ROOT = Path(__file__).resolve().parents[2]
COMPRESSIONS = ["bslz4", "bszstd", "lz4", "gzip", None]


def h5py_frames(master: Path) -> np.ndarray:
    """All frames, read by h5py (and hdf5plugin's filters) through the master's links."""
    with h5py.File(master, "r") as f:
        names = sorted(n for n in f["entry/data"] if n.startswith("data_"))
        return np.concatenate([f[f"entry/data/{n}"][()] for n in names])


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_frames_equal_h5pys(tmp_path, compression):
    frames = eiger_frames(nframes=5, dtype=np.uint16)
    master = write_master(tmp_path, frames, frames_per_file=2, compression=compression)
    ims = lazyims.open(master)
    assert ims.format == "eiger"
    assert ims.chunks[0] == (1,) * 5
    expected = h5py_frames(master)
    np.testing.assert_array_equal(expected, frames)
    np.testing.assert_array_equal(ims.compute(), expected)
    np.testing.assert_array_equal(ims[1:4].compute(), expected[1:4])  # across data files
    rect = ims.rectangle([[2, 9], [3, 17]]).compute()
    np.testing.assert_array_equal(rect, expected[:, 2:9, 3:17])
    np.testing.assert_array_equal(lazyims.open(master, frames_per_chunk=3).compute(), expected)


def test_bitshuffle_and_lz4_chunks_are_decoded_raw(tmp_path):
    frames = eiger_frames(nframes=2)
    expected = {"bslz4": "bslz4", "bszstd": "bszstd", "lz4": "lz4", "gzip": None, None: None}
    for compression, codec in expected.items():
        folder = tmp_path / str(compression)
        folder.mkdir()
        write_master(folder, frames, compression=compression)
        with h5py.File(folder / "scan_data_000001.h5") as f:
            assert raw_chunk_codec(f["entry/data/data"]) == codec


def test_metadata_omega_and_pixel_mask(tmp_path):
    frames = eiger_frames(nframes=5)
    mask = np.zeros(frames.shape[1:], np.uint32)
    mask[3, :] = 1  # a gap row
    mask[7, 7] = 8  # a noisy pixel
    master = write_master(tmp_path, frames, mask=mask)
    omega = add_goniometer(master, 5)
    ims = lazyims.open(master)
    meta = ims.metadata
    assert meta["count_time"] == pytest.approx(0.099999)
    assert meta["frame_time"] == pytest.approx(0.1)
    assert meta["incident_wavelength"] == pytest.approx(0.1823)
    assert meta["description"] == "Dectris EIGER2 Si 16M"
    assert meta["nimages"] == 5
    assert "pixel_mask" not in meta  # a whole frame: read on demand
    np.testing.assert_array_equal(meta["omega"], omega)
    np.testing.assert_array_equal(ims[2:4].metadata["omega"], omega[2:4])
    np.testing.assert_array_equal(pixel_mask(master), mask)
    masked = (ims * (pixel_mask(master) == 0)).compute()
    assert (masked[:, 3, :] == 0).all() and (masked[:, 7, 7] == 0).all()


def test_a_master_without_mask(tmp_path):
    master = write_master(tmp_path, eiger_frames(nframes=2))
    with h5py.File(master, "a") as f:
        del f["entry/instrument/detector/detectorSpecific/pixel_mask"]
    assert pixel_mask(master) is None


def test_frames_stored_in_the_master_itself(tmp_path):
    frames = eiger_frames(nframes=3)
    master = tmp_path / "inline_master.h5"
    with h5py.File(master, "w") as f:
        f.create_dataset("entry/data/data_000001", data=frames, chunks=(1, *frames.shape[1:]))
    ims = lazyims.open(master)
    assert ims.format == "eiger" and ims.files == (str(master),)
    np.testing.assert_array_equal(ims.compute(), frames)


def test_opened_from_another_folder_and_files_listed(tmp_path, monkeypatch):
    (tmp_path / "scan").mkdir()
    frames = eiger_frames(nframes=3)
    write_master(tmp_path / "scan", frames, frames_per_file=2)
    monkeypatch.chdir(tmp_path)
    ims = lazyims.open("scan/scan_master.h5")
    assert [Path(f).name for f in ims.files] == [
        "scan_master.h5",
        "scan_data_000001.h5",
        "scan_data_000002.h5",
    ]
    assert all(Path(f).is_absolute() for f in ims.files)
    monkeypatch.chdir(ROOT)
    np.testing.assert_array_equal(ims.compute(), frames)


def test_reads_on_a_local_cluster(cluster_client, tmp_path):
    frames = eiger_frames(nframes=4)
    master = write_master(tmp_path, frames, frames_per_file=3)
    ims = lazyims.open(master)
    np.testing.assert_array_equal(cluster_client.compute(ims.max()).result(), frames.max(axis=0))


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lazyims", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_cli_info_and_convert(tmp_path):
    frames = eiger_frames(nframes=3)
    master = write_master(tmp_path, frames)
    add_goniometer(master, 3)
    info = _cli("info", master)
    assert info.returncode == 0, info.stderr
    assert "format:   eiger" in info.stdout and "count_time" in info.stdout
    out = tmp_path / "scan.h5"
    done = _cli("convert", master, out)
    assert done.returncode == 0, done.stderr
    back = lazyims.open(out)
    np.testing.assert_array_equal(back.compute(), frames)
    assert back.metadata["count_time"] == pytest.approx(0.099999)
    assert back.metadata["omega"].shape == (3, 2)


def test_the_benchmark_sides_agree(tmp_path):
    from benchmarks import eiger, reference

    master = eiger.make_master(tmp_path, 5, 16, 24, per_file=2)
    stream = eiger.make_stream(tmp_path, 5, 16, 24)
    expected = np.max(eiger._frames(16, 24) * 2, axis=0)  # frame i is distinct frame i % 4
    np.testing.assert_array_equal(eiger.h5py_master_max(master), expected)
    np.testing.assert_array_equal(eiger.lazy_max(master, threads=2), expected)
    np.testing.assert_array_equal(eiger.lazy_max(stream, threads=1), expected)
    if reference.available():
        np.testing.assert_array_equal(reference.eiger_stream_max(stream), expected)


def test_frames_are_decoded_with_no_hdf5_file_open(tmp_path, monkeypatch):
    # Decoding outside any h5py call is what lets threads decode frames at the same time
    # (h5py holds one global lock during its calls).
    from lazyims.formats import _eiger_codecs

    frames = eiger_frames(nframes=4)
    master = write_master(tmp_path, frames, frames_per_file=3)
    stream = write_stream_v1(tmp_path / "stream.h5", frames)
    real = _eiger_codecs.decompress
    open_files = []

    def spy(*args, **kwargs):
        open_files.append(h5py.h5f.get_obj_count(h5py.h5f.OBJ_ALL, h5py.h5f.OBJ_FILE))
        return real(*args, **kwargs)

    monkeypatch.setattr(_eiger_codecs, "decompress", spy)
    for path in (master, stream):
        np.testing.assert_array_equal(lazyims.open(path).compute(scheduler="sync"), frames)
    assert open_files == [0] * 8
