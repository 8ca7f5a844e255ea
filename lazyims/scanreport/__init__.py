"""A scan report: one HTML page to look at a scan before analysing it.

:func:`report` (``lazyims.report``) reads every frame once (in parallel, out of core, with dask) and
writes a self-contained page: per-frame mean, maximum and pixels over a threshold
against omega; missing, constant and saturated frames; hot and dead pixels; the
maximum image and the dark; a histogram of the values; the metadata. The numbers
come from :func:`compute_report` (:mod:`lazyims.scanreport._compute`), the page from
:mod:`lazyims.scanreport._html`.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from pathlib import Path

import dask

from .. import _progress
from .._files import atomic_output
from ..errors import OptionError
from ..series import ImageSeries
from ._compute import (
    DARK_FRAMES,
    HOT_FRACTION,
    THRESHOLD_SIGMAS,
    ScanReport,
    compute_report,
)
from ._html import render

__all__ = ["DARK_FRAMES", "HOT_FRACTION", "THRESHOLD_SIGMAS", "ScanReport", "compute_report"]


def report(
    series: ImageSeries,
    path: str | os.PathLike,
    *,
    threshold: float | None = None,
    saturation: float | None = None,
    dark_frames: int = DARK_FRAMES,
    hot_fraction: float = HOT_FRACTION,
    progress: bool = False,
) -> ScanReport:
    """Write a self-contained HTML report of ``series`` to ``path``; return its numbers.

    All the numbers come from one pass over the frames (one :func:`dask.compute`), with
    the current dask scheduler (threads, or a dask.distributed client); sparse chunks
    (frame-caches) are reduced from their stored pixels.

    Parameters
    ----------
    series
        The scan (any format, processed or not).
    path
        The ``.html`` file to write (written whole or not at all; never a file the
        series reads).
    threshold
        Count pixels strictly above this. Default: the dark's median plus 5 robust
        standard deviations (1.4826 x median absolute deviation) of its pixels.
    saturation
        Frames with a pixel at or above this are saturated. Default: the dtype's
        largest value (integers); none for floats.
    dark_frames
        The dark is the median of the first ``dark_frames`` frames (0: no dark).
    hot_fraction
        A pixel over the threshold in at least this fraction of the frames is hot.
    progress
        Draw a progress bar on stderr.

    Returns
    -------
    ScanReport
        The numbers shown (per-frame and per-pixel arrays, flagged frames and pixels).

    Examples
    --------
    >>> found = lazyims.report(lazyims.open("scan.h5"), "scan-report.html")  # doctest: +SKIP
    >>> found.saturated_frames, int(found.hot_pixels.sum())  # doctest: +SKIP
    """
    from ._html import _matplotlib

    _matplotlib()  # before reading: say now that the page cannot be drawn
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise OptionError("a report is an HTML page: name it NAME.html", path)
    with ExitStack() as stack:
        if progress:
            stack.enter_context(dask.config.set({_progress.CONFIG_KEY: True}))
            if _progress.distributed_client([series]) is None:
                from dask.diagnostics import ProgressBar

                stack.enter_context(ProgressBar(out=sys.stderr))
        result = compute_report(
            series,
            threshold,
            saturation=saturation,
            dark_frames=dark_frames,
            hot_fraction=hot_fraction,
        )
    page = render(result)
    with atomic_output(path, series.files) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return result
