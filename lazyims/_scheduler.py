"""dask's default scheduler, without importing dask.distributed to look for a client.

To pick a scheduler, dask tries ``from distributed import get_client`` on every
compute that names none: in a fresh process that imports dask.distributed (0.2 s of
CPU, more than a whole reduction of a small frame-cache) although no client can
exist before it is imported. When lazyims is imported before dask.distributed and
no scheduler is configured, it configures :func:`threads_unless_client`: the same
choice dask makes (a default dask.distributed client when one exists, else dask's
threads), decided without importing anything. Creating a ``Client`` (which sets
the ``scheduler`` option itself), ``dask.config.set(scheduler=...)`` and
``compute(scheduler=...)`` all take precedence as before. One difference: dask.bag
and other collections whose own default is not threads compute with threads.
"""

from __future__ import annotations

import sys
from typing import Any

import dask
import dask.threaded


def threads_unless_client(dsk: Any, keys: Any, **kwargs: Any) -> Any:
    """Compute on the default dask.distributed client if there is one, else on threads."""
    if "distributed" in sys.modules:
        from distributed import get_client

        try:
            client = get_client()
        except ValueError:
            client = None
        if client is not None:
            return client.get(dsk, keys, **kwargs)
    return dask.threaded.get(dsk, keys, **kwargs)


def install() -> None:
    """Make :func:`threads_unless_client` dask's default, unless a scheduler is configured
    or dask.distributed is already imported (then dask looks for a client as usual)."""
    if "distributed" in sys.modules or dask.config.get("scheduler", None) is not None:
        return
    dask.config.set(scheduler=threads_unless_client)
