"""Computing a series block by block and handing the blocks to a writer in frame order.

Writers use :func:`stream_blocks` so that only a few blocks are in memory at once,
never the whole scan, whatever the scheduler: on dask's local threaded scheduler
the blocks are computed in one graph (shared work such as a dark image is done
once), in frame order and at most a few blocks ahead of the writer, which gets
them as they finish; on a dask.distributed client they
are computed on the workers and gathered one by one.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from typing import Any

import dask
import dask.array as da
import dask.local
import dask.threaded
import numpy as np
from dask.base import get_scheduler
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph

from . import _progress
from ._dask_graph import gated_delivery_graph

Consumer = Callable[[int, Any], None]

# Sinks of the running local computations, by token: graphs hold only the token.
_SINKS: dict[str, _OrderedSink] = {}


class _OrderedSink:
    """Passes blocks to ``consume`` in frame order, holding early arrivals."""

    def __init__(self, consume: Consumer, starts: list[int]):
        self._consume = consume
        self._order = starts
        self._next = 0
        self._waiting: dict[int, Any] = {}
        self._lock = threading.Lock()

    def put(self, start: int, block: Any) -> None:
        with self._lock:
            self._waiting[start] = block
            while self._next < len(self._order) and self._order[self._next] in self._waiting:
                s = self._order[self._next]
                self._consume(s, self._waiting.pop(s))
                self._next += 1


def _deliver(block: Any, start: int, token: str, previous: Any = None) -> None:
    # ``previous`` (the delivery of the block before) is only there to order the tasks.
    _SINKS[token].put(start, block)


def _distributed_client(array: da.Array) -> Any:
    scheduler = get_scheduler(collections=[array])
    owner = getattr(scheduler, "__self__", None)
    if owner is not None and type(owner).__name__ == "Client":
        return owner
    return None


def stream_blocks(array: da.Array, consume: Consumer) -> None:
    """Compute ``array`` one frame-block at a time; call ``consume(first_frame, block)``.

    Blocks span whole frames and arrive in frame order. ``consume`` runs in this
    process, so it may write to a local file.
    """
    array = array.rechunk({1: -1, 2: -1})
    starts = [int(s) for s in np.cumsum((0,) + array.chunks[0][:-1])]
    blocks = array.to_delayed().ravel().tolist()
    sink = _OrderedSink(consume, starts)
    client = _distributed_client(array)
    if client is not None:
        from distributed import as_completed

        futures = client.compute(blocks)
        start_of = {f.key: s for f, s in zip(futures, starts)}
        pending = as_completed(futures, loop=client.loop)
        del futures  # let each block go from the cluster once it is written
        bar = _progress.BlockCounter(len(starts))
        try:
            for future in pending:
                sink.put(start_of[future.key], future.result())
                future.release()
                bar.add()
        finally:
            bar.close()
        return
    token = uuid.uuid4().hex
    _SINKS[token] = sink
    try:
        sync = get_scheduler(collections=[array]) is dask.get
        _compute_locally(blocks, starts, token, sync)
    finally:
        del _SINKS[token]


def _local_threads() -> int:
    return int(dask.config.get("num_workers", None) or os.cpu_count() or 2)


def _compute_locally(blocks: list, starts: list[int], token: str, sync: bool) -> None:
    """Compute the blocks in one local graph in which the deliveries are chained in frame
    order and the work of block i waits for the delivery of block i - window.

    Unchained, dask may compute the blocks in any order (frame 0 last) and the sink
    holds nearly the whole scan; chained but ungated, idle threads compute blocks
    ahead of a slower writer and these wait in memory. Gated, at most ``window``
    blocks are computed ahead. Work shared by all blocks (a dark image) belongs to
    block 0 and is done once.
    """
    name = f"deliver-{token}"
    window = _local_threads() + 1
    args = [(start, token) for start in starts]
    dsk = gated_delivery_graph(blocks, _deliver, args, name, window)
    if dsk is None:  # without dask's private task API: chained deliveries only
        _compute_chained(blocks, starts, token, sync, name)
        return
    last = (name, len(blocks) - 1)
    if sync:
        dask.local.get_sync(dsk, last)
    else:
        dask.threaded.get(dsk, last)


def _compute_chained(blocks: list, starts: list[int], token: str, sync: bool, name: str) -> None:
    # Each delivery waits for the one before, so dask computes the blocks in frame
    # order. The chain is one graph layer: chaining Delayed objects would cost O(n^2).
    chain: dict = {}
    for i, (block, start) in enumerate(zip(blocks, starts)):
        previous = (name, i - 1) if i else None
        chain[(name, i)] = (_deliver, block.key, start, token, previous)
    graph = HighLevelGraph.from_collections(name, chain, dependencies=blocks[:1])
    last = Delayed((name, len(starts) - 1), graph, layer=name)
    dask.compute(last, scheduler="sync" if sync else "threads")
