"""The one place lazyims uses dask's private task API (``dask._task_spec``), guarded.

Two graph rewrites need to see and rebuild single tasks, which public dask does
not offer:

- :func:`independent_copy`: out-of-core statistics read a processed series in bands
  of rows; each band after the first gets its own copy of the upstream tasks, gated
  to start once the previous band is done, so one band of frames is in memory at a
  time.
- :func:`gated_delivery_graph`: writers receive blocks in frame order, and the work
  of block ``i`` waits for the delivery of block ``i - window``.

Each has a fallback through public dask only, used when the private API is missing
or has changed (a dask release may move it: dask is pinned only from below):
:func:`independent_copy` then returns the band as it is (same results; bands may
share frame chunks, so memory holds more than one band), and the streaming writer
chains its deliveries with a plain graph (:func:`lazyims._streaming.stream_blocks`).
Nothing here imports ``dask._task_spec`` before a rewrite asks for it; the tests
force the fallbacks by setting :data:`USE_PRIVATE_API` to False.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import dask.array as da
import numpy as np
from dask.highlevelgraph import HighLevelGraph

#: Use dask's private task API when it has what lazyims needs (tests set it False).
USE_PRIVATE_API = True

_NEEDED = ("DataNode", "GraphNode", "Task", "TaskRef", "convert_legacy_graph", "cull")


def task_spec() -> ModuleType | None:
    """``dask._task_spec`` when it is there with every name lazyims uses, else None."""
    if not USE_PRIVATE_API:
        return None
    try:
        module = importlib.import_module("dask._task_spec")
    except ImportError:
        return None
    if not all(hasattr(module, name) for name in _NEEDED):
        return None
    return module


def after(gate: Any, value: Any) -> Any:
    """``value``, once ``gate`` is computed: a task that only orders the work."""
    return value


def _done(*blocks: Any) -> np.ndarray:
    return np.array(True)


def flat_keys(keys: Any) -> Iterator[Any]:
    """The keys of a (nested) list of dask keys, flattened."""
    for key in keys:
        if isinstance(key, list):
            yield from flat_keys(key)
        else:
            yield key


def _renamed(key: Any, tag: str) -> Any:
    if isinstance(key, tuple):
        return (f"{key[0]}-{tag}", *key[1:])
    return f"{key}-{tag}"


def independent_copy(band: da.Array, after_array: da.Array, tag: str, shared_prefix: str):
    """``band`` with its own copy of every upstream task, run only once ``after_array`` is done.

    Layers whose names start with ``shared_prefix`` (a dark image shared by all
    frames) and what they depend on are kept, so they are computed once.
    (``dask.graph_manipulation.bind`` would do this, but its copies of slicing tasks
    lose their dependencies in current dask.) Without the private API: ``band``
    unchanged.
    """
    ts = task_spec()
    if ts is None:
        return band
    graph = band.__dask_graph__()
    tasks = ts.cull(ts.convert_legacy_graph(dict(graph)), list(flat_keys(band.__dask_keys__())))
    if not all(isinstance(node, ts.GraphNode) for node in tasks.values()):
        return band
    shared: set = set()
    pending = [
        key
        for name, layer in graph.layers.items()
        if str(name).startswith(shared_prefix)
        for key in layer.get_output_keys()
        if key in tasks
    ]
    while pending:
        key = pending.pop()
        if key not in shared:
            shared.add(key)
            # a scattered array's future is a dependency with no task in the graph
            pending.extend(dep for dep in tasks[key].dependencies if dep in tasks)
    gate = da.blockwise(
        _done, "", after_array, "rc", concatenate=False, dtype=bool, meta=np.empty((), bool)
    )
    (gate_key,) = flat_keys(gate.__dask_keys__())
    renamed = {key: _renamed(key, tag) for key in tasks if key not in shared}
    copied: dict = {}
    for key, node in tasks.items():
        if key in shared:
            copied[key] = node
            continue
        new = node.substitute(renamed, key=renamed[key])
        if not (node.dependencies - shared):
            # A task that starts the work (a read): make it wait for the gate.
            inner = new.value if isinstance(new, ts.DataNode) else new
            new = ts.Task(renamed[key], after, ts.TaskRef(gate_key), inner)
        copied[renamed[key]] = new
    name = _renamed(band.name, tag)
    hlg = HighLevelGraph.from_collections(name, copied, dependencies=[gate])
    return da.Array(hlg, name, band.chunks, meta=band._meta)


def _first_block_needing(dsk: dict, outputs: list) -> dict:
    """For every key of the graph, the index of the first output block that needs it."""
    owner: dict = {}
    for i, key in enumerate(outputs):
        stack = [key]
        while stack:
            k = stack.pop()
            if k in owner:
                continue
            owner[k] = i
            stack.extend(dsk[k].dependencies)
    return owner


def gated_delivery_graph(
    blocks: list, deliver: Callable[..., None], args: list[tuple], name: str, window: int
) -> dict | None:
    """A graph whose task ``(name, i)`` is ``deliver(block_i, *args[i], previous_delivery)``.

    Deliveries are chained in block order, and the work of block ``i`` waits for the
    delivery of block ``i - window``, so at most ``window`` blocks are computed
    ahead. Work shared by all blocks (a dark image) belongs to block 0 and is done
    once. None without the private API (the caller chains the deliveries itself).
    """
    ts = task_spec()
    if ts is None:
        return None
    dsk = dict(blocks[0].__dask_graph__())  # the blocks share one (optimized) graph
    if not all(isinstance(node, ts.GraphNode) for node in dsk.values()):
        return None
    for key, i in _first_block_needing(dsk, [b.key for b in blocks]).items():
        node = dsk[key]
        if i >= window and isinstance(node, ts.Task):
            dsk[key] = ts.Task(key, after, ts.TaskRef((name, i - window)), node)
    for i, (block, extra) in enumerate(zip(blocks, args)):
        previous = ts.TaskRef((name, i - 1)) if i else None
        dsk[(name, i)] = ts.Task((name, i), deliver, ts.TaskRef(block.key), *extra, previous)
    return dsk
