"""The benchmark jobs: what each side runs, and the goal (issues 11 and 20) it is held to.

The baseline of every job HEXRD has is HEXRD's own code (:mod:`.reference`); the
max, median and dark + flip + threshold jobs also have a "plain dask" peer
(:mod:`.plain_dask`: dask.array over the h5py dataset, no lazyims). The cluster job
compares lazyims with itself (2 workers against 1), the import job compares
``import lazyims`` with ``import dask.array``, and the decode job (the floor of the
median) h5py's frame loop with lazyims' reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HEXRD = "reference"


@dataclass(frozen=True)
class Side:
    """One side of a job: ``function`` of module ``benchmarks.<module>``."""

    module: str
    function: str
    workers: int = 0  # > 0: run on a LocalCluster of this many worker processes
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    """One job: a baseline side and a lazyims side on the same input.

    ``input`` names what the job reads: ``scan`` (the HDF5 scan), ``framecache``
    (the 1000-frame synthetic npz), ``real`` (each frame-cache of
    ``../shared/real-data``, a row each) or ``none``. ``scales``: also run on the
    longer scans. The goal: a time ratio baseline / lazyims of at least
    ``min_ratio``; lazyims' peak memory at most ``max_memory`` x the baseline's;
    growth from the shortest to the longest scan at most ``growth`` (time x per
    frames x, memory x); for the import job, at most ``max_extra`` seconds more.
    ``peer`` (plain dask) is run beside the baseline unless ``--no-dask``; its time
    over lazyims' must be at least ``min_peer_ratio``. ``informative`` jobs have no
    goal: they give a figure other rows are read against.
    """

    key: str
    title: str
    baseline: Side
    lazy: Side
    goal: str
    min_ratio: float | None = None
    max_memory: float | None = None
    growth: tuple[float, float] | None = None
    max_extra: float | None = None
    input: str = "scan"
    scales: bool = False
    labels: tuple[str, str] = ("HEXRD", "lazyims")
    peer: Side | None = None
    min_peer_ratio: float | None = None
    informative: bool = False

    @property
    def needs_hexrd(self) -> bool:
        return self.labels[0] == "HEXRD"  # the baseline is HEXRD's own code


def _both(function: str, **kwargs) -> tuple[Side, Side]:
    return Side(HEXRD, function, kwargs=kwargs), Side("lazy", function, kwargs=kwargs)


def _dask(function: str, **kwargs) -> Side:
    return Side("plain_dask", function, kwargs=kwargs)


JOBS = [
    Job(
        "max",
        "max over all frames",
        *_both("frame_max"),
        ">= 3.5x",
        3.5,
        scales=True,
        peer=_dask("frame_max"),
    ),
    Job(
        "median",
        "median of all frames",
        *_both("median_dark", nframes=0),
        ">= 8x, memory <= 1/3, >= 4x dask; 4x frames: time <= 4.5x, memory <= 1.2x",
        8.0,
        max_memory=1 / 3,
        growth=(4.5 / 4, 1.2),
        scales=True,
        peer=_dask("median_dark", nframes=0),
        min_peer_ratio=4.0,
    ),
    Job(
        "decode",
        "decode floor: every frame once, 1 thread",
        Side("decode", "h5py_frames"),
        Side("decode", "lazyims_frames"),
        "the median's floor (CPU s)",
        scales=True,
        labels=("h5py", "lazyims"),
        informative=True,
    ),
    Job(
        "pipeline",
        "dark+flip v -> npz frame-cache",
        *_both("pipeline"),
        ">= 3.5x, memory <= HEXRD's",
        3.5,
        max_memory=1.0,
        scales=True,
        peer=_dask("pipeline"),
    ),
    Job(
        "framecache",
        "open npz frame-cache, read frame k",
        *_both("framecache_frame"),
        ">= 10x",
        10.0,
        input="framecache",
    ),
    Job(
        "read_frame",
        "open npz frame-cache, read_frame(k)",
        Side(HEXRD, "framecache_frame"),
        Side("lazy", "framecache_read_frame"),
        ">= 10x",
        10.0,
        input="framecache",
    ),
    Job(
        "real_max",
        "real frame-cache: max over all frames",
        *_both("framecache_max"),
        ">= 2x",
        2.0,
        input="real",
    ),
    Job(
        "real_frames",
        "real frame-cache: open, read 4 frames",
        *_both("framecache_frames"),
        ">= 2x",
        2.0,
        input="real",
    ),
    Job(
        "import",
        "import lazyims vs import dask.array",
        Side("imports", "import_module", kwargs={"name": "dask.array"}),
        Side("imports", "import_module", kwargs={"name": "lazyims"}),
        "<= dask.array + 0.25 s",
        max_extra=0.25,
        input="none",
        labels=("dask.array", "lazyims"),
    ),
    Job(
        "cluster",
        "max on LocalCluster, 2 workers vs 1",
        Side("lazy", "cluster_max", 1),
        Side("lazy", "cluster_max", 2),
        ">= 1.7x",
        1.7,
        scales=True,  # also on the longer scan: the cluster's fixed cost is a smaller share
        labels=("1 worker", "2 workers"),
    ),
]

# The Eiger rows (issue 16) and HEXRD's pull_spots windows (issue 12) live in their own modules.
from . import eiger, hexrd_windows  # noqa: E402 - their jobs are built from Job and Side above

JOBS += eiger.jobs(Job, Side, HEXRD)
JOBS += hexrd_windows.jobs()
