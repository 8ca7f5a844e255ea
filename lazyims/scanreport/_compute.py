"""The numbers of a scan report, from one pass over the frames.

Every chunk of the series is read once and reduced to a partial result
(``_partials``): per-frame sum, maximum, minimum, pixels over the threshold and
saturated pixels; per-pixel maximum, minimum and frames over the threshold; a histogram
of the values (``_bins``). The partial results are folded in a tree, so memory holds
a few frame-sized arrays per thread whatever the number of frames. Sparse chunks
(frame-caches) are reduced from their stored pixels: the frames are never made dense.

All of it, the dark (lazyims' own out-of-core median of the first frames) and the
default threshold taken from the dark, is one :func:`dask.compute`.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import dask
import dask.array as da
import numpy as np

from .. import _progress, stats
from ..errors import OptionError, ProcessingError
from ..series import ImageSeries
from ._bins import exact_histogram, histogram_edges
from ._partials import _Partial, chunk_partial, fold_partials

#: Frames of the dark (median over frames) by default.
DARK_FRAMES = 100
#: The default threshold: the dark's median plus this many robust standard deviations
#: (1.4826 x the median absolute deviation) of the dark's pixels.
THRESHOLD_SIGMAS = 5.0
#: A pixel over the threshold in at least this fraction of the frames is hot.
HOT_FRACTION = 0.9
#: A pixel of the dark this many robust standard deviations above the median of its
#: 5 x 5 neighbourhood is hot too.
DARK_OUTLIER_SIGMAS = 10.0
#: Partial results folded by one task.
FOLD_GROUP = 8
#: Bytes of the dense chunks a series chunked within frames is rechunked to.
_CHUNK_BYTES = 32 * 2**20


# -- the whole scan --------------------------------------------------------------------------
@dataclass
class ScanReport:
    """The numbers of a scan report (what :func:`compute_report` finds).

    Per-frame arrays have one entry per frame, per-pixel arrays the frame's shape.
    ``blank_frames``, ``saturated_frames``, ``hot_pixels`` and ``dead_pixels`` are
    derived from them by the rules stated in their docstrings.
    """

    nframes: int
    frame_shape: tuple[int, int]
    dtype: np.dtype
    sparse: bool
    threshold: float
    threshold_rule: str
    saturation: float | None
    hot_fraction: float
    frame_mean: np.ndarray
    frame_max: np.ndarray
    frame_min: np.ndarray
    frame_over: np.ndarray
    frame_saturated: np.ndarray
    pixel_max: np.ndarray
    pixel_min: np.ndarray
    pixel_over: np.ndarray
    histogram: np.ndarray
    histogram_edges: np.ndarray
    histogram_exact: bool
    nan_count: int
    dark: np.ndarray | None
    dark_frames: int
    omega: np.ndarray | None
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    format: str | None = None
    files: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def blank_frames(self) -> np.ndarray:
        """Frames whose every pixel has one value (all zero: missing; else constant)."""
        return np.flatnonzero(self.frame_min == self.frame_max)

    @property
    def saturated_frames(self) -> np.ndarray:
        """Frames holding a pixel at or above the saturation level."""
        return np.flatnonzero(self.frame_saturated > 0)

    @functools.cached_property
    def hot_by_frames(self) -> np.ndarray:
        """Pixels over the threshold in at least ``hot_fraction`` of the frames (bool map)."""
        return self.pixel_over >= math.ceil(self.hot_fraction * self.nframes)

    @functools.cached_property
    def hot_in_dark(self) -> np.ndarray:
        """Pixels of the dark far above their 5 x 5 neighbourhood's median (bool map):
        more than :data:`DARK_OUTLIER_SIGMAS` robust standard deviations of the dark's
        differences to that median, and by more than 1 count."""
        if self.dark is None:
            return np.zeros(self.frame_shape, bool)
        from scipy.ndimage import median_filter

        dark = np.nan_to_num(self.dark.astype(np.float64))
        excess = dark - median_filter(dark, size=5, mode="nearest")
        spread = 1.4826 * np.median(np.abs(excess - np.median(excess)))
        return excess > max(DARK_OUTLIER_SIGMAS * spread, 1.0)

    @functools.cached_property
    def hot_pixels(self) -> np.ndarray:
        """Hot pixels: :attr:`hot_by_frames` or :attr:`hot_in_dark` (bool map)."""
        return self.hot_by_frames | self.hot_in_dark

    @functools.cached_property
    def dead_pixels(self) -> np.ndarray:
        """Pixels with one value in every frame (bool map). In a sparse series
        (frame-cache) pixels that are 0 in every frame are not counted: below the cache's
        threshold they cannot be told from dead ones; :attr:`never_stored` counts them."""
        constant = self.pixel_min == self.pixel_max
        return constant & (self.pixel_max != 0) if self.sparse else constant

    @functools.cached_property
    def never_stored(self) -> int:
        """Pixels that are 0 in every frame."""
        return int(np.count_nonzero((self.pixel_min == 0) & (self.pixel_max == 0)))

    @property
    def max_image(self) -> np.ndarray:
        """The maximum over frames of every pixel."""
        return self.pixel_max

    @property
    def x_label(self) -> str:
        return "omega (degrees, frame middle)" if self.omega is not None else "frame"

    @property
    def x(self) -> np.ndarray:
        """Where each frame is plotted: omega at the frame's middle, or its number."""
        if self.omega is not None:
            return self.omega.mean(axis=1)
        return np.arange(self.nframes)


def _check_number(name: str, value: Any, low: float | None = None) -> float | None:
    if value is None:
        return None
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or math.isnan(value):
        raise OptionError(f"{name} must be a number, not {value!r}")
    if low is not None and value < low:
        raise OptionError(f"{name} must be at least {low}, not {value!r}")
    return float(value)


def default_saturation(dtype: np.dtype) -> float | None:
    """The dtype's largest value for integers; None (no saturation level) for floats."""
    if dtype.kind == "b":
        return None
    return float(np.iinfo(dtype).max) if dtype.kind in "iu" else None


def _robust_spread(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation: the standard deviation of normal noise."""
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def threshold_from_dark(dark: Any, frame: Any, dtype: np.dtype) -> tuple[float, str]:
    """The default threshold from the dark and the first frame, and the rule with its numbers.

    The dark's median plus :data:`THRESHOLD_SIGMAS` times the noise of a pixel: the
    spread of the dark over pixels (``s_dark``) and the spread of the first frame about
    the dark (``s_frame``) added in quadrature, each a robust standard deviation
    (1.4826 x the median absolute deviation). Integers round down, so "over the
    threshold" keeps the same pixels."""
    from ..series import todense

    if dtype.kind == "b":
        return 0.0, "0 (boolean data: the True pixels are counted)"
    dark = np.asarray(todense(dark), dtype=np.float64)
    frame = np.asarray(todense(frame), dtype=np.float64).reshape(dark.shape)
    finite = np.isfinite(dark) & np.isfinite(frame)
    if not finite.any():
        return 0.0, "0 (the dark has no finite pixel)"
    dark, frame = dark[finite], frame[finite]
    middle = float(np.median(dark))
    s_dark = _robust_spread(dark)
    s_frame = _robust_spread(frame - dark)
    value = middle + THRESHOLD_SIGMAS * math.hypot(s_dark, s_frame)
    if dtype.kind in "iub":
        value = float(math.floor(value))
    rule = (
        f"{value:g} = the dark's median ({middle:g}) + {THRESHOLD_SIGMAS:g} x the noise "
        f"(the dark's spread over pixels {s_dark:.3g} and frame 0's spread about the dark "
        f"{s_frame:.3g}, robust standard deviations added in quadrature)"
    )
    return value, rule


def _dark(series: ImageSeries, nframes: int) -> Any:
    """The median of the first ``nframes`` frames, as a delayed numpy image: lazyims' own
    median (from the stored pixels for a frame-cache, out of core for other series)."""
    # One delayed image, not an array of bands: the main pass takes the dark whole.
    return dask.delayed(np.asarray, pure=True)(stats.median(series, nframes=nframes))


def _full_frame_chunks(data: da.Array) -> da.Array:
    """``data`` chunked by whole frames (about 32 MiB of dense frames per chunk)."""
    if len(data.chunks[1]) == 1 and len(data.chunks[2]) == 1:
        return data
    frame_bytes = max(1, data.shape[1] * data.shape[2] * data.dtype.itemsize)
    return data.rechunk({0: max(1, _CHUNK_BYTES // frame_bytes), 1: -1, 2: -1})


def _assemble(root: _Partial, nframes: int) -> dict[str, np.ndarray]:
    pieces = sorted(root.frames, key=lambda item: item[0])
    return {key: np.concatenate([p[key] for _, p in pieces]) for key in pieces[0][1]}


def report_graph(
    series: ImageSeries,
    threshold: float | None = None,
    *,
    saturation: float | None = None,
    dark_frames: int = DARK_FRAMES,
) -> tuple[Any, Any, Any]:
    """The lazy pieces of a report: (folded partial result, dark, threshold and rule);
    compute them together with :func:`dask.compute`."""
    if not isinstance(series, ImageSeries):
        raise ProcessingError(f"a report needs an ImageSeries, not {type(series).__name__}")
    if series.nframes == 0 or 0 in series.frame_shape:
        raise ProcessingError(f"a report needs frames; the series has shape {series.shape}")
    dtype = np.dtype(series.dtype).newbyteorder("=")
    if dtype.kind not in "biuf":
        raise ProcessingError(f"a report reads numbers; the series' values are {dtype}")
    dark = None
    if dark_frames:
        dark = _dark(series, dark_frames)
    if threshold is None:
        if dark is None:
            threshold_value = dask.delayed((0.0, "0 (no dark was computed: dark_frames=0)"))
        else:
            frame = series[:1].to_dask(sparse=False)
            threshold_value = dask.delayed(threshold_from_dark, pure=True)(dark, frame, dtype)
    else:
        threshold_value = dask.delayed((float(threshold), f"{threshold:g} (given)"))
    level = threshold_value[0]

    data = _full_frame_chunks(series.to_dask(sparse=None))
    blocks = data.to_delayed().ravel()
    starts = np.cumsum((0,) + data.chunks[0][:-1])
    partial = dask.delayed(chunk_partial, pure=True)
    parts = [partial(block, int(s), level, saturation, dtype) for block, s in zip(blocks, starts)]
    fold = dask.delayed(fold_partials, pure=True)
    while len(parts) > 1:
        parts = [fold(*parts[i : i + FOLD_GROUP]) for i in range(0, len(parts), FOLD_GROUP)]
    return parts[0], dark, threshold_value


def compute_report(
    series: ImageSeries,
    threshold: float | None = None,
    *,
    saturation: float | None = None,
    dark_frames: int = DARK_FRAMES,
    hot_fraction: float = HOT_FRACTION,
) -> ScanReport:
    """Compute the numbers of a report of ``series`` in one pass (see :func:`lazyims.report`)."""
    import time

    threshold = _check_number("the threshold", threshold)
    saturation = _check_number("the saturation level", saturation)
    hot_fraction = _check_number("the hot fraction", hot_fraction, 0.0)
    if hot_fraction > 1:
        raise OptionError(f"the hot fraction is at most 1, not {hot_fraction!r}")
    if (
        not isinstance(dark_frames, numbers.Integral)
        or isinstance(dark_frames, bool)
        or dark_frames < 0
    ):
        raise OptionError(f"dark_frames must be an integer >= 0, not {dark_frames!r}")
    dtype = np.dtype(series.dtype).newbyteorder("=")
    if saturation is None:
        saturation = default_saturation(dtype)
    omega = _omega(series)
    start = time.perf_counter()
    root, dark, chosen = report_graph(
        series, threshold, saturation=saturation, dark_frames=dark_frames
    )
    root, dark, chosen = _progress.compute(root, dark, chosen)
    seconds = time.perf_counter() - start
    per_frame = _assemble(root, series.nframes)
    pixels = root.pixels.dense(tuple(series.frame_shape))
    from ..series import todense

    npix = series.frame_shape[0] * series.frame_shape[1]
    return ScanReport(
        nframes=series.nframes,
        frame_shape=tuple(series.frame_shape),
        dtype=dtype,
        sparse=series.is_sparse,
        threshold=chosen[0],
        threshold_rule=chosen[1],
        saturation=saturation,
        hot_fraction=hot_fraction,
        frame_mean=per_frame["sum"] / npix,
        frame_max=per_frame["max"],
        frame_min=per_frame["min"],
        frame_over=per_frame["over"],
        frame_saturated=per_frame["saturated"],
        pixel_max=pixels.max,
        pixel_min=pixels.min,
        pixel_over=pixels.over,
        histogram=root.histogram,
        histogram_edges=histogram_edges(dtype),
        histogram_exact=exact_histogram(dtype),
        nan_count=root.nan,
        dark=None if dark is None else np.asarray(todense(dark)),
        dark_frames=min(dark_frames, series.nframes),
        omega=omega,
        metadata=series.metadata,
        source=series.source,
        format=series.format,
        files=series.files,
        seconds=seconds,
    )


def _omega(series: ImageSeries) -> np.ndarray | None:
    """The series' omega as (nframes, 2) floats, or None when it has none that fits."""
    value = series.metadata.get("omega")
    if value is None:
        return None
    try:
        omega = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if omega.shape != (series.nframes, 2) or not np.isfinite(omega).all():
        return None
    return omega
