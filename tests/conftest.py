"""Shared fixtures: the golden HEXRD files and small synthetic series."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from tests import dectris_shim

# HEXRD's Eiger readers (run beside lazyims in some tests) import dectris.compression,
# which has no wheels: where it is not installed, an imagecodecs stand-in takes its name.
dectris_shim.install()

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def expected() -> dict[str, np.ndarray]:
    """What HEXRD computed on the golden series (tests/data/expected.npz)."""
    with np.load(DATA / "expected.npz") as npz:
        return {k: npz[k] for k in npz.files}


@pytest.fixture
def golden(tmp_path: Path):
    """Copy a golden file (and its companions, for YAML styles) into tmp_path; return its path."""

    def copy(*names: str) -> Path:
        for name in names:
            shutil.copy(DATA / name, tmp_path / name)
        return tmp_path / names[0]

    return copy


@pytest.fixture(scope="session")
def cluster_client():
    """A dask.distributed client on a LocalCluster of 2 worker processes.

    It is not made the default scheduler (other tests keep dask's local one): use
    ``client.compute`` or ``with dask.config.set(scheduler=client):``.
    """
    with local_client() as client:
        yield client


@contextmanager
def local_client():
    """A client of a new LocalCluster of 2 single-threaded worker processes, not the default."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client


def synthetic_frames(nframes=6, rows=24, cols=32, dtype=np.uint16, seed=0) -> np.ndarray:
    """Poisson background with a few bright spots, like a detector frame."""
    rng = np.random.default_rng(seed)
    frames = rng.poisson(30, size=(nframes, rows, cols)).astype(np.float64)
    for f in frames:
        for _ in range(3):
            r, c = rng.integers(1, rows - 2), rng.integers(1, cols - 2)
            f[r - 1 : r + 2, c - 1 : c + 2] += rng.integers(200, 2000)
    return frames.astype(dtype)
