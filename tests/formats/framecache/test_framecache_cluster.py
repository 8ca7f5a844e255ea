"""Frame-caches read and written with the work done by dask.distributed worker processes."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest

import lazyims
from tests.conftest import synthetic_frames


@pytest.mark.parametrize("name", ["fc.npz", "fc.fch5"])
def test_read_golden_on_cluster(cluster_client, golden, expected, name):
    ims = lazyims.open(golden(name), frames_per_chunk=3)
    result = cluster_client.compute(ims).result()
    np.testing.assert_array_equal(result, expected["framecache_dense"])
    frame_max = cluster_client.compute(ims.max()).result()
    assert type(frame_max) is np.ndarray
    np.testing.assert_array_equal(frame_max, expected["framecache_dense"].max(axis=0))


@pytest.mark.parametrize("style", ["npz", "fch5", "yml"])
def test_write_on_cluster(cluster_client, tmp_path, style):
    frames = synthetic_frames(nframes=10, dtype=np.float32, seed=7)
    ims = lazyims.open(da.from_array(frames, chunks=(3, -1, -1))).with_metadata(panel="ff1")
    path = tmp_path / f"fc.{style}"
    with dask.config.set(scheduler=cluster_client):
        ims.to_framecache(path, threshold=50)
    back = lazyims.open(path, frames_per_chunk=4)
    result = cluster_client.compute(back).result()
    np.testing.assert_array_equal(result, np.where(frames > 50, frames, 0))
    assert back.metadata["panel"] == "ff1"
