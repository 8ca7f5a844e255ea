"""Spilled percentiles (lazyims._spill): one pass over the frames, rows spilled to band files.

Equal to numpy exactly; the spill folder is gone afterwards, after an error, and after
a killed run (removed by the next run)."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dask
import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lazyims
from lazyims import _spill, stats


@pytest.fixture
def small_bands(monkeypatch):
    """Bands of a few bytes, so small test scans spill into several band files."""
    monkeypatch.setattr(stats, "SPILL_BAND_BYTES", 16)
    monkeypatch.setattr(_spill, "SPILL_BAND_BYTES", 16)


def scan(path, frames):
    with h5py.File(path, "w") as f:
        f.create_dataset("imageseries/images", data=frames, chunks=(1, *frames.shape[1:]))
    return lazyims.open(path, frames_per_chunk=3)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from(["uint16", "uint8", "int32", "float32", "float64"]),
    nframes=st.integers(1, 9),
    first=st.integers(0, 9),
    pct=st.sampled_from([50, 0, 100, 37.5]),
    selection=st.one_of(st.none(), st.lists(st.integers(0, 8), min_size=1, max_size=7)),
    processed=st.booleans(),
)
def test_spilled_percentile_equals_numpy(
    tmp_path_factory, small_bands, seed, dtype, nframes, first, pct, selection, processed
):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 1000, (nframes, 7, 5)).astype(dtype)
    if frames.dtype.kind == "f":
        frames[0, 1, 1] = np.nan
    folder = tmp_path_factory.mktemp("spill")
    ims = scan(folder / "scan.h5", frames)
    want = frames
    if selection is not None:
        selection = [i % nframes for i in selection]
        ims, want = ims[selection], frames[selection]
    if processed:
        ims, want = ims.flip("v"), want[:, :, ::-1]
    n = min(first, len(want)) or len(want)
    result = stats.percentile(ims, pct, first, tmpdir=folder)
    assert "spilled" in result.name
    got = result.compute()
    expected = np.percentile(want[:n], pct, axis=0).astype(np.float32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    assert not list(folder.glob("lazyims-spill-*"))


def test_spill_files_go_after_an_error(tmp_path, small_bands):
    frames = np.arange(6 * 4 * 4, dtype=np.uint16).reshape(6, 4, 4)

    def fail(block):
        if list(tmp_path.glob("lazyims-spill-*/run-*/band*")):  # a chunk was spilled already
            raise RuntimeError("a bad chunk")
        return block

    ims = scan(tmp_path / "scan.h5", frames).map_blocks(fail, dtype=np.uint16)
    result = ims.median(tmpdir=tmp_path)
    with dask.config.set(scheduler="sync"), pytest.raises(RuntimeError, match="bad chunk"):
        result.compute()
    assert list(tmp_path.glob("lazyims-spill-*"))  # the first chunk was spilled
    del result
    gc.collect()
    assert not list(tmp_path.glob("lazyims-spill-*"))


def test_a_killed_runs_spill_files_are_removed_by_the_next_run(tmp_path, small_bands):
    frames = np.random.default_rng(0).integers(0, 500, (8, 6, 5)).astype(np.uint16)
    scan(tmp_path / "scan.h5", frames)
    script = textwrap.dedent(
        f"""
        import time, lazyims
        from lazyims import _spill, stats
        stats.SPILL_BAND_BYTES = _spill.SPILL_BAND_BYTES = 64
        def hang(*args):  # spilled, then stuck before reading the bands back
            time.sleep(600)
        _spill._band_percentile = hang
        ims = lazyims.open({str(tmp_path / "scan.h5")!r})
        ims.median(tmpdir={str(tmp_path)!r}).compute(scheduler="sync")
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob("lazyims-spill-*/run-*/band*")):
            assert proc.poll() is None and time.monotonic() < deadline, "no spill files appeared"
            time.sleep(0.1)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert list(tmp_path.glob("lazyims-spill-*"))  # left behind by the killed run
    ims = lazyims.open(tmp_path / "scan.h5")
    got = stats.median(ims, tmpdir=tmp_path)  # building the next one cleans up
    assert not [p for p in tmp_path.glob("lazyims-spill-*") if str(proc.pid) in p.name]
    np.testing.assert_array_equal(got.compute(), np.median(frames, axis=0).astype(np.float32))


def test_small_scans_and_band_budgets_keep_the_in_memory_bands(tmp_path):
    frames = np.ones((3, 4, 4), np.uint16)
    ims = scan(tmp_path / "scan.h5", frames)
    assert "spilled" not in stats.median(ims).name  # smaller than one band
    big = Path(tmp_path)  # and band_bytes= asks for the bands explicitly
    assert "spilled" not in stats.median(ims, band_bytes=10, tmpdir=big).name


def test_leftovers_of_other_machines_in_a_shared_folder_are_left_alone(tmp_path):
    # A shared tmpdir (a cluster's file system) holds spill folders of other machines'
    # processes: their pids mean nothing here, so only this machine's dead ones go.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = _spill._host()
    mine = tmp_path / f"{_spill.PREFIX}{host}-{dead.pid}-0123abcd"
    theirs = tmp_path / f"{_spill.PREFIX}{host}x-{dead.pid}-0123abcd"
    running = tmp_path / f"{_spill.PREFIX}{host}-{os.getpid()}-0123abcd"
    for folder in (mine, theirs, running):
        folder.mkdir()
        (folder / "band00000.bin").write_bytes(b"x")
    _spill.remove_leftovers(tmp_path)
    assert not mine.exists()
    assert theirs.exists() and running.exists()


def test_spilled_median_on_cluster_workers_in_a_shared_folder(cluster_client, tmp_path):
    # With a client, tmpdir= names a folder all workers see: worker processes write and
    # read the band files there, and the folder is gone afterwards.
    frames = np.random.default_rng(8).integers(0, 900, (9, 40, 30)).astype(np.uint16)
    ims = scan(tmp_path / "scan.h5", frames)
    spill = tmp_path / "shared"
    spill.mkdir()
    with (
        dask.config.set(scheduler=cluster_client),
        pytest.MonkeyPatch.context() as m,
    ):
        m.setattr(stats, "SPILL_BAND_BYTES", 2000)
        m.setattr(_spill, "SPILL_BAND_BYTES", 2000)
        median = ims.median(tmpdir=spill)
        assert "spilled" in median.name and len(median.chunks[0]) > 1
        got = median.compute()
    np.testing.assert_array_equal(got, np.median(frames, axis=0).astype(np.float32))
    assert not list(spill.iterdir())


def test_spilled_median_of_many_frames_equals_numpy(tmp_path, small_bands):
    # Enough frames for the tiled pixel-major copy of each spilled band.
    frames = np.random.default_rng(9).integers(0, 4000, (230, 6, 7)).astype(np.uint16)
    ims = scan(tmp_path / "scan.h5", frames)
    for pct in (50, 10):
        result = stats.percentile(ims, pct, tmpdir=tmp_path)
        assert "spilled" in result.name
        want = np.percentile(frames, pct, axis=0).astype(np.float32)
        np.testing.assert_array_equal(result.compute(), want)


def test_short_writes_of_spill_files_are_continued(tmp_path, monkeypatch):
    # A write may take fewer bytes than given; what is left must still be written (a
    # hole would read back as zeros), and a write that takes nothing is an error.
    real_pwrite = os.pwrite

    def short_pwrite(fd, data, offset):
        return real_pwrite(fd, bytes(data)[:5], offset)

    def short_pwritev(fd, buffers, offset):
        return real_pwrite(fd, b"".join(bytes(b) for b in buffers)[:7], offset)

    monkeypatch.setattr(os, "pwrite", short_pwrite)
    monkeypatch.setattr(os, "pwritev", short_pwritev)
    parts = [np.arange(10, dtype=np.uint16), np.arange(100, 113, dtype=np.uint16)]
    path = tmp_path / "band.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        _spill._write_all(fd, [memoryview(p).cast("B") for p in parts], 6)
        monkeypatch.setattr(os, "pwrite", lambda fd, data, offset: 0)
        monkeypatch.setattr(os, "pwritev", lambda fd, buffers, offset: 0)
        with pytest.raises(OSError, match="took no bytes"):
            _spill._write_all(fd, [memoryview(parts[0]).cast("B")], 0)
    finally:
        os.close(fd)
    data = path.read_bytes()
    assert data[:6] == b"\0" * 6
    np.testing.assert_array_equal(np.frombuffer(data[6:], np.uint16), np.concatenate(parts))


def test_a_spilled_median_computed_beside_a_function_of_it(tmp_path, small_bands):
    # dask runs a second copy of the graph, under other keys, for the delayed function:
    # each copy spills into a folder of its own (they used to delete each other's bands).
    frames = np.random.default_rng(3).integers(0, 500, (12, 9, 6)).astype("uint16")
    median = scan(tmp_path / "scan.h5", frames).median(tmpdir=tmp_path / "spill")
    result, total = dask.compute(median, dask.delayed(np.sum)(median))
    np.testing.assert_array_equal(result, np.median(frames, axis=0))
    assert total == np.median(frames, axis=0).sum()
    assert not any((tmp_path / "spill").iterdir())
