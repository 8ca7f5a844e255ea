"""Run one measurement in this process and print its result as one JSON line.

``python -m benchmarks.child '<spec json>'`` where the spec names a module
(``baseline`` or ``lazy``), a function and its keyword arguments. The clock runs
around the call only (imports and cluster start-up excluded); the CPU time of the
process and its children is reported too (it tells, on a busy machine, what the
wall time would be with the cores free). Peak memory is the
high-water mark of this process's resident memory during the call (Linux resets it
through ``/proc/self/clear_refs``), or, with worker processes, the sampled peak of
the whole process tree; both are reported above the memory in use before the call.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
import threading
import time
from pathlib import Path

import psutil

PREFIX = "BENCH-RESULT "


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


class TreeSampler(threading.Thread):
    """Samples the resident memory of this process and all its descendants."""

    # 50 ms: sampling four processes' /proc entries costs ~6% of a core at 10 ms, taken
    # from the job it measures (cluster jobs keep both cores busy).
    def __init__(self, interval: float = 0.05):
        super().__init__(daemon=True)
        self.interval, self.peak, self._done = interval, 0, threading.Event()
        self.process = psutil.Process()

    def rss(self) -> int:
        total = 0
        for p in [self.process, *self.process.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def cpu(self) -> float:
        """CPU seconds (user + system) used so far by this process and its descendants."""
        total = 0.0
        for p in [self.process, *self.process.children(recursive=True)]:
            try:
                times = p.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        return total

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self.rss())
            self._done.wait(self.interval)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return max(self.peak, self.rss())


def measure(spec: dict) -> dict:
    """Run the function a spec names; its wall time and peak memory."""
    module = importlib.import_module(f"benchmarks.{spec['module']}")
    func = getattr(module, spec["function"])
    kwargs = dict(spec.get("kwargs", {}))
    workers = spec.get("cluster_workers")
    cluster = client = None
    try:
        if workers:
            from distributed import Client, LocalCluster

            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            client = Client(cluster, set_as_default=False)
            client.run(lambda: __import__("lazyims") and None)  # workers import before the clock
            kwargs["client"] = client
        if hasattr(module, "prepare"):
            module.prepare()
        return _timed(func, kwargs, tree=bool(workers))
    finally:
        if client is not None:
            client.close()
            cluster.close()


def _timed(func, kwargs: dict, tree: bool) -> dict:
    sampler = TreeSampler()
    before = sampler.rss() if tree else psutil.Process().memory_info().rss
    exact = _reset_peak() and not tree
    cpu = sampler.cpu()
    if not exact:  # sampling only when the kernel's high-water mark cannot tell
        sampler.start()
    start = time.perf_counter()
    try:
        func(**kwargs)
    finally:
        seconds = time.perf_counter() - start
        sampled = sampler.stop() if sampler.is_alive() else 0
        cpu = sampler.cpu() - cpu
    peak = _peak_rss() if exact else max(sampled, _peak_rss())
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_bytes": max(0, peak - before)}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    print(PREFIX + json.dumps(measure(spec)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
