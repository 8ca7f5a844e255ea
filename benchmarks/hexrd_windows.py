"""The ``pull_spots`` job (issue 12): random small windows of random frames, HEXRD's way.

HEXRD's fit-grains reads, for every spot, a small window of one frame, in random
order, thousands of times (``ims[frame, rows, cols]`` with index arrays). Both sides
open a real frame-cache and read the same ``count`` random 40 x 40 windows through
HEXRD's interface: HEXRD's own ``imageseries``, and ``lazyims.hexrd`` (the same
code, one import line changed). The open is timed too.
"""

from __future__ import annotations

import numpy as np

from lazyims.hexrd import imageseries as lazy_imageseries

from . import reference

#: Windows read per run, their side in pixels, and the seed that picks them.
COUNT, SIZE, SEED = 300, 40, 12


def _read_windows(ims, count: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    nrows, ncols = ims.shape
    total = 0.0
    offsets = np.arange(SIZE)
    for _ in range(count):
        frame = int(rng.integers(len(ims)))
        r0, c0 = int(rng.integers(nrows - SIZE)), int(rng.integers(ncols - SIZE))
        rows, cols = np.meshgrid(r0 + offsets, c0 + offsets, indexing="ij")
        total += float(ims[frame, rows, cols].sum())
    return total


def hexrd(path, count: int = COUNT, seed: int = SEED) -> float:
    """HEXRD: open the frame-cache, read ``count`` random windows; their pixel sum."""
    return _read_windows(reference.imageseries.open(path, "frame-cache"), count, seed)


def lazyims(path, count: int = COUNT, seed: int = SEED) -> float:
    """lazyims.hexrd: the same, with ``from lazyims.hexrd import imageseries``."""
    return _read_windows(lazy_imageseries.open(path, "frame-cache"), count, seed)


def lazyims_open(path) -> int:
    """lazyims.hexrd: open the frame-cache only (the first-read job's baseline)."""
    return len(lazy_imageseries.open(path, "frame-cache"))


def lazyims_first(path, seed: int = SEED) -> float:
    """lazyims.hexrd: open the frame-cache and read one window, the first of the process."""
    return _read_windows(lazy_imageseries.open(path, "frame-cache"), 1, seed)


def jobs():
    """The jobs' entries in :data:`benchmarks.jobs.JOBS`: the windows against HEXRD, and the
    first window of a fresh process against the open alone (issue 20: <= 50 ms more)."""
    from .jobs import Job, Side  # here: jobs imports this module to list the job

    return [
        job(),
        Job(
            "hexrd_first_window",
            "real frame-cache: first window of a process",
            Side("hexrd_windows", "lazyims_open"),
            Side("hexrd_windows", "lazyims_first"),
            "<= open + 0.05 s",
            max_extra=0.05,
            input="real",
            labels=("open", "open + 1 window"),
        ),
    ]


def job():
    """The windows job's entry in :data:`benchmarks.jobs.JOBS`."""
    from .jobs import Job, Side  # here: jobs imports this module to list the job

    return Job(
        "hexrd_windows",
        f"real frame-cache: open, {COUNT} random {SIZE}x{SIZE} windows (pull_spots)",
        Side("hexrd_windows", "hexrd"),
        Side("hexrd_windows", "lazyims"),
        ">= 1.5x",
        1.5,
        input="real",
    )
