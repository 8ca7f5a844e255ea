"""The HEXRD side of each job: HEXRD's own ``imageseries`` code, run from ``../shared``.

HEXRD is not installable from the package index; its imageseries package lies
beside the repository in ``../shared/hexrd-reference`` (read-only, never copied
into the project). Importing this module puts that folder on ``sys.path`` of the
process that measures (a fresh one per measurement) and imports HEXRD from it.
:func:`available` tells the runner whether the folder is there; when it is not,
the HEXRD rows are skipped and the report says so.

Every function is written as a HEXRD user writes the job: open, then the call.
"""

from __future__ import annotations

import sys
from collections import deque
from pathlib import Path

import numpy as np

#: Where HEXRD's code lies: ``<repo>/../shared/hexrd-reference``.
REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared" / "hexrd-reference"


def available() -> bool:
    """Whether HEXRD's imageseries code is beside the repository."""
    return (REFERENCE / "hexrd" / "core" / "imageseries" / "__init__.py").is_file()


def eiger_available(job) -> bool:
    """Whether HEXRD can read the job's input: its Eiger stream readers are registered
    only where ``dectris.compression`` is installed (``pip install "lazyims[dectris]"``;
    it builds from source). Other jobs: always."""
    if job.input != "eiger-stream":
        return True
    import importlib.util

    if "dectris.compression" in sys.modules:  # (or the stand-in the tests register)
        return True
    try:
        return importlib.util.find_spec("dectris.compression") is not None
    except (ImportError, ValueError):
        return False


def _imageseries():
    if str(REFERENCE) not in sys.path:
        sys.path.insert(0, str(REFERENCE))
    from hexrd.core import imageseries

    return imageseries


if available():  # imported before the clock starts, like lazyims on the other side
    imageseries = _imageseries()
    from hexrd.core.imageseries import stats
    from hexrd.core.imageseries.process import ProcessedImageSeries


def _open_scan(path):
    return imageseries.open(path, "hdf5", path="imageseries")


def frame_max(path) -> np.ndarray:
    """Job: the maximum over all frames of an HDF5 scan."""
    return stats.max(_open_scan(path))


def median_dark(path, nframes: int = 0) -> np.ndarray:
    """Job: the median over the first ``nframes`` frames (0: all)."""
    return stats.median(_open_scan(path), nframes)


def median_bands(path, nframes: int = 0, nchunks: int = 4) -> np.ndarray:
    """Job: the median in ``nchunks`` row bands (``stats.median_iter``), HEXRD's way for
    scans whose frames do not fit in memory; the last image yielded is the whole median."""
    return deque(stats.median_iter(_open_scan(path), nchunks, nframes), maxlen=1)[0]


def pipeline(path, out, dark, threshold: float) -> int:
    """Job: dark (given, a ``.npy``) + flip v, written as an npz frame-cache."""
    ims = _open_scan(path)
    processed = ProcessedImageSeries(ims, [("dark", np.load(dark)), ("flip", "v")])
    imageseries.write(processed, out, "frame-cache", threshold=threshold, cache_file=out)
    return len(processed)


def framecache_frame(path, index: int) -> np.ndarray:
    """Job: open an npz frame-cache and read frame ``index``."""
    return imageseries.open(path, "frame-cache")[index]


def framecache_max(path) -> np.ndarray:
    """Job: the maximum over all frames of a frame-cache."""
    return stats.max(imageseries.open(path, "frame-cache"))


def framecache_frames(path, indices: list[int]) -> list[np.ndarray]:
    """Job: open a frame-cache and read a few frames."""
    ims = imageseries.open(path, "frame-cache")
    return [ims[i] for i in indices]


def eiger_stream_max(path) -> np.ndarray:
    """Job (issue 16): the maximum over all frames of an eiger-stream-v1 file."""
    return stats.max(imageseries.open(path, "eiger-stream-v1"))
