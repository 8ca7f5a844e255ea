"""Progress of long computations on a dask.distributed cluster.

dask's local :class:`dask.diagnostics.ProgressBar` sees every task of the local
schedulers. On a cluster the tasks run elsewhere, so computations that should show
progress there (the writers, the CLI's statistics) go through :func:`compute` or
:func:`showing`, which draw distributed's text bar on stderr while the caller waits
or consumes results. They do so when ``dask.config`` has ``lazyims.progress: true``
(the CLI sets it for ``--progress``).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dask
from dask.base import get_scheduler

#: The dask.config key that switches the cluster progress bar on.
CONFIG_KEY = "lazyims.progress"


def enabled() -> bool:
    """True when a progress bar is wanted (``dask.config`` ``lazyims.progress``)."""
    return bool(dask.config.get(CONFIG_KEY, False))


def distributed_client(collections: Sequence[Any]) -> Any:
    """The dask.distributed client that would compute ``collections``, or None."""
    scheduler = get_scheduler(collections=list(collections))
    owner = getattr(scheduler, "__self__", None)
    if owner is not None and type(owner).__name__ == "Client":
        return owner
    return None


def compute(*collections: Any) -> tuple:
    """:func:`dask.compute`, with distributed's progress bar on a cluster when enabled."""
    client = distributed_client(collections)
    if client is None or not enabled():
        return dask.compute(*collections)
    futures = client.compute(list(collections))
    with showing(futures):
        return tuple(client.gather(futures))


class BlockCounter:
    """A text bar on stderr of blocks handed over one by one (a writer's blocks arriving
    from the cluster), in the look of dask's and distributed's bars; silent unless
    :func:`enabled`. The bar counts what the caller has received, so it needs no
    subscription to the scheduler and the blocks may be released as they come."""

    def __init__(self, total: int, width: int = 40):
        self.total = total
        self.width = width
        self.done = 0
        self.shown = enabled() and total > 0
        self._start = time.perf_counter()
        self._draw()

    def add(self, n: int = 1) -> None:
        self.done += n
        self._draw()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.shown = False

    def _draw(self) -> None:
        if not self.shown:
            return
        from dask.utils import format_time

        done = self.done / self.total
        bar = "#" * int(self.width * done)
        elapsed = format_time(time.perf_counter() - self._start)
        sys.stderr.write(f"\r[{bar:<{self.width}}] | {int(100 * done)}% Completed | {elapsed}")
        sys.stderr.flush()


@contextmanager
def showing(futures: Sequence[Any]) -> Iterator[None]:
    """Draw distributed's progress bar of ``futures`` on stderr while the block runs."""
    if not enabled() or not futures:
        yield
        return
    from dask.utils import format_time
    from distributed.diagnostics.progressbar import TextProgressBar

    class StderrBar(TextProgressBar):
        # distributed draws on stdout, which the CLI keeps for its results
        def _draw_bar(self, remaining: int, all: int, **kwargs: Any) -> None:  # noqa: A002
            done = 1 - remaining / all if all else 1.0
            bar = "#" * int(self.width * done)
            sys.stderr.write(
                f"\r[{bar:<{self.width}}] | {int(100 * done)}% Completed | "
                f"{format_time(self.elapsed)}"
            )
            sys.stderr.flush()

        def _draw_stop(self, **kwargs: Any) -> None:
            sys.stderr.write("\n")
            sys.stderr.flush()

    # keys, not the futures: holding these would keep every result on the cluster
    keys = [f.key for f in futures]
    address = futures[0].client.scheduler.address
    del futures
    thread = threading.Thread(
        target=lambda: StderrBar(keys, scheduler=address),
        name="lazyims-progress",
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        thread.join(timeout=10)
