"""Interrupted writes and lost workers: no half-written files, no lost or doubled frames."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import lazyims

ROOT = Path(__file__).resolve().parents[1]


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
        return np.full((64, 64), i, dtype=np.uint16)

    ims = lazyims.open(frame, format="function", nframes=10_000)
    lazyims.write(ims, sys.argv[1], "hdf5", path="imageseries")
    """
)


def test_killed_write_leaves_no_file_and_keeps_the_old_one(tmp_path):
    out = tmp_path / "scan.h5"
    out.write_bytes(b"the earlier scan")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out), str(ROOT)])
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".scan.h5.*.part")):
            assert proc.poll() is None, "the writer ended before writing"
            assert time.monotonic() < deadline, "the writer never started writing"
            time.sleep(0.05)
        time.sleep(0.3)  # let it write some frames
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert out.read_bytes() == b"the earlier scan"
    assert not any(p.suffix == ".h5" and p != out for p in tmp_path.iterdir())


def test_lost_worker_during_compute_and_write(tmp_path):
    distributed = pytest.importorskip("distributed")
    frames = np.stack([slow_frame(i) for i in range(40)])
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        ims = lazyims.open(slow_frame, format="function", nframes=40, frames_per_chunk=2)
        pids = list(client.run(os.getpid).values())
        future = client.compute(ims.data.sum(axis=(1, 2)))
        time.sleep(0.4)  # some chunks are done, others running
        os.kill(pids[0], signal.SIGKILL)
        np.testing.assert_array_equal(future.result(timeout=120), frames.sum(axis=(1, 2)))

        import dask

        out = tmp_path / "out.h5"
        pids = list(client.run(os.getpid).values())
        with dask.config.set(scheduler=client):
            killer = _kill_later(pids[-1], 0.5)
            ims.write(out, "hdf5")
            killer.join()
    np.testing.assert_array_equal(lazyims.open(out).compute(), frames)


def _kill_later(pid: int, delay: float):
    import threading

    def kill():
        time.sleep(delay)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread
