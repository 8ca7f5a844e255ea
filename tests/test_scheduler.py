"""lazyims' default scheduler: dask's choice, made without importing dask.distributed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import dask
import dask.array as da
import numpy as np

from lazyims import _scheduler


def test_first_compute_of_a_fresh_process_does_not_import_distributed():
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        import lazyims
        ims = lazyims.open(np.arange(24, dtype=np.uint16).reshape(2, 3, 4))
        assert lazyims.stats.max(ims).compute().tolist() == [[12, 13, 14, 15], [16, 17, 18, 19], [20, 21, 22, 23]]
        assert ims.compute().shape == (2, 3, 4)
        print("distributed" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_a_configured_scheduler_is_left_alone():
    script = textwrap.dedent(
        """
        import dask
        dask.config.set(scheduler="sync")
        import lazyims
        print(dask.config.get("scheduler"))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.stdout.strip() == "sync", out.stderr


def _where(block):
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return np.zeros_like(block)
    return np.ones_like(block)


def test_a_default_client_computes_and_threads_otherwise():
    from distributed import Client, LocalCluster

    x = da.zeros(4, chunks=2).map_blocks(_where, dtype=float)
    with dask.config.set(scheduler=_scheduler.threads_unless_client):
        assert x.compute().tolist() == [0, 0, 0, 0]  # no client: dask's threads
    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster),
        dask.config.set(scheduler=_scheduler.threads_unless_client),
    ):
        assert x.compute().tolist() == [1, 1, 1, 1]  # the default client
