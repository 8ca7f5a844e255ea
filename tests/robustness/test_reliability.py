"""Interrupted writes and lost workers: no half-written files, no lost or doubled frames."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dask
import numpy as np
import pytest

import lazyims
from tests.conftest import local_client

ROOT = Path(__file__).resolve().parents[2]


def slow_frame(i: int) -> np.ndarray:
    """Frame i of a slow synthetic detector (a module-level function, so it pickles)."""
    time.sleep(0.05)
    return np.full((32, 32), i, dtype=np.uint16)


WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    import lazyims

    def frame(i):
        time.sleep(0.05)
        out = np.zeros((64, 64), dtype=np.uint16)
        out[i % 64, (7 * i) % 64] = 100 + i % 1000
        return out

    ims = lazyims.open(frame, format="function", nframes=10_000)
    fmt = sys.argv[3]
    if fmt == "frame-cache":
        lazyims.write(ims, sys.argv[1], fmt, threshold=10)
    else:
        lazyims.write(ims, sys.argv[1], fmt)
    """
)


def _kill_while_writing(out: Path, fmt: str) -> None:
    """Start a slow writer of ``out`` in a subprocess and SIGKILL it part way."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out), str(ROOT), fmt])
    try:
        deadline = time.monotonic() + 60
        while not list(out.parent.glob(f".{out.name}.*.part")):
            assert proc.poll() is None, "the writer ended before writing"
            assert time.monotonic() < deadline, "the writer never started writing"
            time.sleep(0.05)
        time.sleep(0.3)  # let it write some frames
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def _visible(folder: Path) -> list[str]:
    """Names in ``folder`` other than the hidden ``.NAME.*.part`` leftovers of a kill."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_killed_write_leaves_no_file_and_keeps_the_old_one(tmp_path):
    out = tmp_path / "scan.h5"
    out.write_bytes(b"the earlier scan")
    _kill_while_writing(out, "hdf5")
    assert out.read_bytes() == b"the earlier scan"
    assert _visible(tmp_path) == ["scan.h5"]


@pytest.mark.parametrize("name", ["cache.npz", "cache.fch5"])
def test_killed_framecache_write_keeps_the_old_file(tmp_path, name):
    out = tmp_path / name
    out.write_bytes(b"the earlier cache")
    _kill_while_writing(out, "frame-cache")
    assert out.read_bytes() == b"the earlier cache"
    assert _visible(tmp_path) == [name]


def test_killed_zarr_write_keeps_the_old_store(tmp_path):
    out = tmp_path / "scan.zarr"
    earlier = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5)
    lazyims.open(earlier).to_zarr(out)
    _kill_while_writing(out, "zarr")
    np.testing.assert_array_equal(lazyims.open(out).compute(), earlier)
    assert _visible(tmp_path) == ["scan.zarr"]
    # a later write clears nothing it should not and replaces the store
    lazyims.open(earlier[:1]).to_zarr(out)
    assert lazyims.open(out).nframes == 1


@pytest.mark.parametrize("name, fmt", [("cache.npz", "frame-cache"), ("scan.zarr", "zarr")])
def test_killed_write_leaves_nothing_under_the_final_name(tmp_path, name, fmt):
    _kill_while_writing(tmp_path / name, fmt)
    assert _visible(tmp_path) == []


@pytest.fixture
def lossy_client():
    """A LocalCluster of each test's own, whose workers the test kills.

    Not shared between tests: a worker killed while its nanny is still starting it
    is not restarted, and the next test would wait for it.
    """
    with local_client() as client:
        yield client


def _worker_pids(client) -> list[int]:
    client.wait_for_workers(2, timeout=60)
    return list(client.run(os.getpid).values())


def test_lost_worker_during_compute_and_write(tmp_path, lossy_client):
    client = lossy_client
    frames = np.stack([np.full((32, 32), i, dtype=np.uint16) for i in range(40)])
    ims = lazyims.open(slow_frame, format="function", nframes=40, frames_per_chunk=2)
    pids = _worker_pids(client)
    future = client.compute(ims.data.sum(axis=(1, 2)))
    time.sleep(0.4)  # some chunks are done, others running
    os.kill(pids[0], signal.SIGKILL)
    assert not future.done()
    np.testing.assert_array_equal(future.result(timeout=120), frames.sum(axis=(1, 2)))

    out = tmp_path / "out.h5"
    pids = _worker_pids(client)
    with dask.config.set(scheduler=client):
        killer = _kill_later(pids[-1], 0.5)
        ims.write(out, "hdf5")
    _assert_killed_before(killer, time.monotonic())
    np.testing.assert_array_equal(lazyims.open(out).compute(), frames)


def sparse_frame(i: int) -> np.ndarray:
    """Frame i: a few bright pixels on zeros."""
    frame = np.zeros((32, 32), dtype=np.uint16)
    frame[i % 32, (7 * i) % 32] = 100 + i
    frame[(5 * i) % 32, i % 32] += 1 + i
    return frame


def slow_sparse_frame(i: int) -> np.ndarray:
    """``sparse_frame``, slowly (module level, so workers can load it)."""
    time.sleep(0.05)
    return sparse_frame(i)


@pytest.mark.parametrize("name", ["out.npz", "out.fch5", "out.zarr"])
def test_lost_worker_during_a_framecache_or_zarr_write(tmp_path, lossy_client, name):
    frames = np.stack([sparse_frame(i) for i in range(40)])
    ims = lazyims.open(slow_sparse_frame, format="function", nframes=40, frames_per_chunk=2)
    out = tmp_path / name
    pids = _worker_pids(lossy_client)
    with dask.config.set(scheduler=lossy_client):
        killer = _kill_later(pids[0], 0.4)
        if name.endswith(".zarr"):
            ims.to_zarr(out)  # written by the workers themselves
        else:
            ims.to_framecache(out, threshold=0)  # written here, from the workers' blocks
    _assert_killed_before(killer, time.monotonic())
    back = lazyims.open(out)
    assert back.nframes == 40  # no frame lost, none appended twice
    np.testing.assert_array_equal(back.compute(), frames)
    if name.endswith(".fch5"):
        import h5py

        with h5py.File(out) as f:  # every pixel stored once: no block written twice
            assert f["data"].shape[0] == np.count_nonzero(frames)


def _kill_later(pid: int, delay: float):
    """SIGKILL ``pid`` after ``delay`` seconds, from a thread; ``.killed_at`` tells when."""
    import threading

    def kill():
        time.sleep(delay)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        thread.killed_at = time.monotonic()

    thread = threading.Thread(target=kill, daemon=True)
    thread.killed_at = None
    thread.start()
    return thread


def _assert_killed_before(killer, done: float) -> None:
    """The worker was killed while the work ran (else the test proved nothing)."""
    killer.join()
    assert killer.killed_at is not None and killer.killed_at < done


# -- writing over the file being read is refused -----------------------------------------
def _source_and_target(tmp: Path, kind: str):
    """A file of ``kind`` written here, the series read from it, and a write over it."""
    frames = np.zeros((4, 24, 32), np.uint16)
    frames[:, 3, 5] = 500
    ims = lazyims.open(frames).with_metadata(omega=np.arange(8.0).reshape(4, 2))
    if kind == "hdf5":
        src = tmp / "scan.h5"
        ims.write(src, "hdf5")
        return src, lambda s: s.write(src, "hdf5")
    if kind == "zarr":
        src = tmp / "scan.zarr"
        ims.to_zarr(src)
        return src, lambda s: s.to_zarr(src)
    if kind in ("npz", "fch5", "yml"):
        src = tmp / f"cache.{kind}"
        ims.to_framecache(src, 100)
        return src, lambda s: s.to_framecache(src, 100)
    if kind == "hdf5-over-npz":
        src = tmp / "cache.npz"
        ims.to_framecache(src, 100)
        return src, lambda s: s.write(src, "hdf5")
    if kind == "framecache-over-image-file":
        (tmp / "raw.bin").write_bytes(frames.tobytes())
        (tmp / "raw.yml").write_text(
            "filename: raw.bin\nshape: 24 32\nskip: 0\n"
            "scalar: {type: i, bytes: 2, signed: false, endian: little}\n"
        )
        src = tmp / "raw.bin"
        return tmp / "raw.yml", lambda s: s.to_framecache(src, 100, style="npz")
    raise AssertionError(kind)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "kind",
    [
        "hdf5",
        "npz",
        "fch5",
        "yml",
        "zarr",
        "hdf5-over-npz",
        "framecache-over-image-file",
    ],
)
@pytest.mark.parametrize("processed", [False, True])
def test_writing_over_the_file_being_read_is_refused(tmp_path, kind, processed):
    src, write_over = _source_and_target(tmp_path, kind)
    ims = lazyims.open(src)
    if processed:  # still reads the file: a lazy dark, flip and frame selection
        ims = ims.dark(ims.median(nframes=2)).flip("v").frames([0, 2])
    before = _snapshot(tmp_path)
    with pytest.raises(lazyims.WriteError, match="reads from"):
        write_over(ims)
    assert _snapshot(tmp_path) == before  # nothing written, nothing removed
    assert lazyims.open(src).nframes == 4
