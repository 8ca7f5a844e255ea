"""The benchmark jobs (issue 8): what each side runs, and the goal it is held to."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Job:
    """One job: a baseline call and a lazyims call on the same files.

    ``baseline`` and ``lazy`` are (module, function, cluster_workers) of
    :mod:`benchmarks`; ``input`` names the file the job reads ("scan" or
    "framecache"); ``scales`` says the job is also run on the larger scans.
    """

    key: str
    title: str
    baseline: tuple[str, str, int]
    lazy: tuple[str, str, int]
    goal: str
    min_ratio: float
    input: str = "scan"
    scales: bool = False
    kwargs: dict = field(default_factory=dict)
    labels: tuple[str, str] = ("HEXRD-style loop", "lazyims")


JOBS = [
    Job(
        "max",
        "1. max over all frames",
        ("baseline", "frame_max", 0),
        ("lazy", "frame_max", 0),
        ">= 3x",
        3.0,
        scales=True,
    ),
    Job(
        "median",
        "2. median dark (all frames)",
        ("baseline", "median_dark", 0),
        ("lazy", "median_dark", 0),
        ">= 5x, peak memory <= 1/2 baseline",
        5.0,
        scales=True,
        kwargs={"nframes": 0},
    ),
    Job(
        "pipeline",
        "3. dark+flip+threshold -> frame-cache npz",
        ("baseline", "pipeline", 0),
        ("lazy", "pipeline", 0),
        ">= 3x, memory flat in frames",
        3.0,
        scales=True,
    ),
    Job(
        "framecache",
        "4. open frame-cache, read one frame",
        ("baseline", "framecache_frame", 0),
        ("lazy", "framecache_frame", 0),
        ">= 50x and < 50 ms",
        50.0,
        input="framecache",
    ),
    Job(
        "cluster",
        "5. max on LocalCluster, 2 workers vs 1",
        ("lazy", "cluster_max", 1),
        ("lazy", "cluster_max", 2),
        ">= 1.7x",
        1.7,
        labels=("1 worker", "2 workers"),
    ),
]
