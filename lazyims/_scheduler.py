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


#: Seconds :func:`check_scheduler` waits for a scheduler's answer by default.
CHECK_TIMEOUT = 10.0


def check_scheduler(address: str, timeout: float | None = None) -> None:
    """Raise a :class:`~lazyims.errors.LazyImsError` unless ``address`` answers as a
    dask scheduler within ``timeout`` seconds.

    ``distributed.Client`` given an address where something else listens (a web
    server, a silent port) can wait far longer than its ``timeout`` or fail with a
    message about the wire protocol; here one ``identity`` request, bounded in time,
    tells a scheduler from anything else.
    """
    import asyncio

    from distributed.comm import connect

    from .errors import LazyImsError

    async def identity() -> Any:
        comm = await connect(address, timeout=timeout)  # retries until a timeout
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    async def bounded() -> Any:
        return await asyncio.wait_for(identity(), timeout)

    timeout = CHECK_TIMEOUT if timeout is None else timeout
    usage = "--scheduler takes threads, processes, sync or an address such as tcp://host:8786"
    try:
        reply = asyncio.run(bounded())
    except TimeoutError:
        raise LazyImsError(
            f"no dask scheduler answered at {address!r} within {timeout:g} s; {usage}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - the comm layer raises many kinds
        raise LazyImsError(
            f"cannot connect to a dask scheduler at {address!r} "
            f"({type(exc).__name__}: {exc}); {usage}"
        ) from None
    if not (isinstance(reply, dict) and reply.get("type") == "Scheduler"):
        kind = reply.get("type") if isinstance(reply, dict) else type(reply).__name__
        raise LazyImsError(
            f"{address!r} answers, but not as a dask scheduler (it says it is {kind!r}); {usage}"
        )
