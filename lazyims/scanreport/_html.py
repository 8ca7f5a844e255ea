"""The report's page: figures drawn with matplotlib, embedded as base64 PNG in one HTML file."""

from __future__ import annotations

import base64
import datetime
import html
import io
import math
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import LazyImsError
from ._compute import ScanReport

#: Frames listed at most per kind in the table of flagged frames.
MOST_ROWS = 50
#: Longest side of the images drawn (larger ones are reduced by blocks, keeping maxima).
IMAGE_PIXELS = 800


def _matplotlib() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise LazyImsError(
            "a report draws its figures with matplotlib: pip install 'lazyims[preview]'"
        ) from None
    return Figure


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="" src="data:image/png;base64,{data}">'


def _pooled(image: np.ndarray, reduce: Any) -> tuple[np.ndarray, int]:
    """``image`` reduced by square blocks (``reduce`` of each block) to at most
    :data:`IMAGE_PIXELS` on its longer side, and the block size."""
    factor = max(1, math.ceil(max(image.shape) / IMAGE_PIXELS))
    if factor == 1:
        return image, 1
    rows = -(-image.shape[0] // factor) * factor
    cols = -(-image.shape[1] // factor) * factor
    padded = np.full((rows, cols), np.nan)
    padded[: image.shape[0], : image.shape[1]] = image
    blocks = padded.reshape(rows // factor, factor, cols // factor, factor)
    return reduce(reduce(blocks, axis=3), axis=1), factor


def _log_image(ax: Any, figure: Any, image: np.ndarray, title: str, label: str) -> None:
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm, Normalize

    image = np.asarray(image, dtype=np.float64)
    shown, factor = _pooled(image, np.fmax.reduce)
    positive = shown[np.isfinite(shown) & (shown > 0)]
    if positive.size:
        norm = LogNorm(vmin=positive.min(), vmax=max(positive.max(), positive.min() * 1.0001))
    else:
        norm = Normalize(vmin=0, vmax=1)
    extent = (-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5)
    drawn = ax.imshow(
        np.where(shown > 0, shown, np.nan),
        norm=norm,
        cmap=colormaps["viridis"].with_extremes(bad="black"),
        interpolation="nearest",
        extent=extent,
    )
    figure.colorbar(drawn, ax=ax, shrink=0.85, label=label + " (log scale; <= 0 black)")
    block = f", max of {factor}x{factor} blocks shown" if factor > 1 else ""
    ax.set_title(title + block, fontsize=9)
    ax.set_xlabel("column")
    ax.set_ylabel("row")


def per_frame_figure(result: ScanReport) -> str:
    """Mean, maximum and pixels over the threshold of every frame, against omega."""
    Figure = _matplotlib()
    figure = Figure(figsize=(10, 7.5), layout="constrained")
    axes = figure.subplots(3, 1, sharex=True)
    x = result.x
    gaps = _omega_breaks(result)

    def broken(values: np.ndarray) -> np.ndarray:  # no line across a gap in omega
        return np.insert(np.asarray(values, dtype=np.float64), gaps, np.nan)

    style = {"lw": 0.8, "color": "tab:blue"}
    axes[0].plot(broken(x), broken(result.frame_mean), **style)
    axes[0].set_ylabel("mean")
    axes[1].plot(broken(x), broken(result.frame_max), **style)
    axes[1].set_ylabel("maximum")
    if result.saturation is not None:
        axes[1].axhline(result.saturation, color="tab:red", ls="--", lw=0.8)
        axes[1].annotate(
            f"saturation {result.saturation:g}",
            (0.01, result.saturation),
            xycoords=("axes fraction", "data"),
            color="tab:red",
            fontsize=8,
            va="top",
        )
    axes[2].plot(broken(x), broken(result.frame_over), **style)
    axes[2].set_ylabel(f"pixels > {result.threshold:g}")
    for ax in axes:
        ax.grid(alpha=0.3)
        shown = np.asarray(ax.get_lines()[0].get_ydata(), dtype=np.float64)
        shown = shown[np.isfinite(shown)]
        if shown.size and shown.min() > 0:
            ax.set_yscale("log")
    marks = [
        (result.blank_frames, "tab:red", "x", "blank (constant)"),
        (result.saturated_frames, "tab:orange", "^", "saturated"),
    ]
    for frames, colour, marker, label in marks:
        if frames.size:
            for ax, values in zip(axes, (result.frame_mean, result.frame_max, result.frame_over)):
                ax.plot(x[frames], values[frames], marker, color=colour, ms=5, label=label)
    if any(m[0].size for m in marks):
        axes[0].legend(fontsize=8, loc="upper right")
    axes[2].set_xlabel(result.x_label)
    return _png(figure)


def _omega_breaks(result: ScanReport) -> np.ndarray:
    """Frames that do not start where the previous one stopped (a new omega wedge)."""
    if result.omega is None or result.nframes < 2:
        return np.zeros(0, np.intp)
    step = np.abs(result.omega[:, 1] - result.omega[:, 0]).max()
    jump = np.abs(result.omega[1:, 0] - result.omega[:-1, 1])
    return np.flatnonzero(jump > 1e-3 * max(step, 1e-9)) + 1


def images_figure(result: ScanReport) -> str:
    """The max over frames and the dark, each on a log scale."""
    Figure = _matplotlib()
    panels = 2 if result.dark is not None else 1
    figure = Figure(figsize=(6.5 * panels, 5.5), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, panels))
    _log_image(axes[0], figure, result.max_image, "maximum over all frames", "maximum")
    if result.dark is not None:
        _log_image(
            axes[1],
            figure,
            result.dark,
            f"dark: median of the first {result.dark_frames} frames",
            "dark",
        )
    return _png(figure)


def pixels_figure(result: ScanReport) -> str:
    """Where the hot and dead pixels are (each pixel a dot, so single ones show)."""
    Figure = _matplotlib()
    figure = Figure(figsize=(7, 6), layout="constrained")
    ax = figure.subplots()
    rows, cols = result.frame_shape
    drawn = [
        (
            result.hot_by_frames,
            "tab:red",
            f"hot: over the threshold in >= {result.hot_fraction:.0%} of frames ",
        ),
        (result.hot_in_dark & ~result.hot_by_frames, "tab:orange", "hot: outlier in the dark "),
        (result.dead_pixels, "tab:blue", "dead: one value in every frame "),
    ]
    for mask, colour, label in drawn:
        r, c = np.nonzero(mask)
        ax.plot(c, r, "s", ms=2.5, color=colour, label=f"{label}({r.size})", ls="none")
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_facecolor("#f4f4f4")
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.legend(fontsize=8, loc="best", framealpha=0.85)
    ax.set_title("hot and dead pixels", fontsize=9)
    return _png(figure)


#: Bins per decade of the histogram drawn (the numbers are exact; the picture groups them).
DISPLAY_BINS_PER_DECADE = 25


def display_bins(result: ScanReport) -> tuple[np.ndarray, np.ndarray]:
    """The histogram regrouped for drawing on a symmetric log scale: 0 alone, then bins of
    equal width in log(|value|) (at least one integer wide for integer data)."""
    counts, left = result.histogram, result.histogram_edges
    used = np.flatnonzero(counts)
    if used.size == 0:
        return np.zeros(0), np.zeros(1)
    values, weights = left[used], counts[used].astype(np.float64)
    values = np.clip(values, -1e300, 1e300)  # infinities are drawn at 1e300
    top = float(np.abs(values).max())
    decades = max(1.0, np.log10(max(top, 1.0)) + 0.1)
    if result.histogram_exact:  # integer bins: edges at half-integers, at least 1 apart
        ramp = np.unique(
            np.round(np.logspace(0, decades, int(decades * DISPLAY_BINS_PER_DECADE) + 1))
        )
        positive = np.concatenate([[0.5], ramp + 0.5])
    else:
        smallest = np.abs(values[values != 0]).min() if np.any(values != 0) else 1.0
        low = np.floor(np.log10(smallest))
        count = int((decades - low) * DISPLAY_BINS_PER_DECADE) + 1
        positive = np.logspace(low, np.log10(max(top, 1.0)) + 0.1, count)
    edges = np.concatenate([-positive[::-1], positive])
    if values.min() >= 0:
        edges = edges[edges.size // 2 - 1 :]
    grouped, edges = np.histogram(values, bins=edges, weights=weights)
    return grouped, edges


def histogram_figure(result: ScanReport) -> str:
    """Counts of values (log), with the threshold and the saturation level marked."""
    Figure = _matplotlib()
    figure = Figure(figsize=(10, 4), layout="constrained")
    ax = figure.subplots()
    counts, edges = display_bins(result)
    if counts.size:
        ax.stairs(counts, edges, fill=True, color="tab:blue", alpha=0.7)
        ax.set_yscale("log")
        ax.set_xscale("symlog", linthresh=1)
    ax.axvline(
        result.threshold, color="tab:green", ls="--", label=f"threshold {result.threshold:g}"
    )
    if result.saturation is not None:
        ax.axvline(
            result.saturation, color="tab:red", ls="--", label=f"saturation {result.saturation:g}"
        )
    ax.set_xlabel("value (symmetric log scale)")
    ax.set_ylabel("values per bin")
    ax.set_title(
        f"histogram of every value of every frame ({DISPLAY_BINS_PER_DECADE} bins per decade "
        "drawn; 0 has a bin of its own)",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(figure)


# -- the page ------------------------------------------------------------------------------------
_STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #1a7f37; } .warn { color: #b35900; font-weight: bold; }
img { max-width: 100%; }
p.note { color: #555; font-size: 0.9em; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(rows: list[tuple], header: tuple | None = None) -> str:
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = []
        for cell in row:
            number = isinstance(cell, (int, float, np.integer, np.floating))
            cells.append(f'<td class="n">{_e(_fmt(cell))}</td>' if number else f"<td>{cell}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _fmt(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.6g}"
    return str(value)


def _finding(count: int, text: str) -> str:
    kind = "warn" if count else "ok"
    return f'<span class="{kind}">{count:,}</span> {_e(text)}'


def findings(result: ScanReport) -> list[str]:
    """One line (HTML) per finding, the counts first."""
    blank = result.blank_frames
    zero = int(np.count_nonzero(result.frame_max[blank] == 0)) if blank.size else 0
    npix = result.frame_shape[0] * result.frame_shape[1]
    lines = [
        _finding(zero, "missing frames (every pixel 0)"),
        _finding(blank.size - zero, "constant frames (every pixel one non-zero value)"),
        _finding(
            result.saturated_frames.size,
            "saturated frames (a pixel at or above the saturation level)"
            if result.saturation is not None
            else "saturated frames (no saturation level: float data)",
        ),
        *_ceiling(result),
        _finding(
            int(result.hot_pixels.sum()),
            f"hot pixels ({int(result.hot_by_frames.sum()):,} over the threshold in >= "
            f"{result.hot_fraction:.0%} of the frames, {int(result.hot_in_dark.sum()):,} far "
            "above their neighbours in the dark)",
        ),
        _finding(int(result.dead_pixels.sum()), "dead pixels (one value in every frame)"),
    ]
    if result.sparse:
        lines.append(
            f"{result.never_stored:,} pixels ({100 * result.never_stored / npix:.1f}%) are 0 in "
            "every frame: in a frame-cache they were never above its threshold, so they are not "
            "counted as dead"
        )
    if result.nan_count:
        lines.append(_finding(result.nan_count, "NaN values"))
    return lines


def _ceiling(result: ScanReport) -> list[str]:
    """A line on the largest value when nothing reached the saturation level: a detector
    that saturates below its dtype's maximum needs ``saturation=``."""
    used = np.flatnonzero(result.histogram)
    if result.saturation is None or result.saturated_frames.size or not used.size:
        return []
    top = float(result.histogram_edges[used[-1]])
    return [
        _e(
            f"the largest value is {top:g} ({100 * top / result.saturation:.0f}% of the "
            f"saturation level {result.saturation:g}); if the detector saturates lower, "
            "give that level (--saturation)"
        )
    ]


def _flagged_rows(result: ScanReport) -> list[tuple]:
    rows = []
    kinds = [(result.blank_frames, None), (result.saturated_frames, "saturated")]
    for frames, kind in kinds:
        for f in frames[:MOST_ROWS]:
            if kind is None:
                name = "missing (all 0)" if result.frame_max[f] == 0 else "constant"
            else:
                count = int(result.frame_saturated[f])
                name = f"saturated ({count:,} pixel{'' if count == 1 else 's'})"
            omega = (
                f"{result.omega[f, 0]:g} to {result.omega[f, 1]:g}"
                if result.omega is not None
                else "-"
            )
            rows.append(
                (
                    int(f),
                    _e(omega),
                    _e(name),
                    float(result.frame_mean[f]),
                    result.frame_max[f].item(),
                    int(result.frame_over[f]),
                )
            )
        if frames.size > MOST_ROWS:
            rows.append(("...", "", _e(f"{frames.size - MOST_ROWS} more"), "", "", ""))
    return rows


def _metadata_value(value: Any) -> str:
    if isinstance(value, (np.ndarray, list, tuple)):
        array = np.asarray(value)
        if array.ndim and array.size > 6:
            flat = array.ravel()
            head = ", ".join(_fmt(v) for v in flat[:3].tolist())
            tail = ", ".join(_fmt(v) for v in flat[-2:].tolist())
            return f"array {array.shape} {array.dtype}: {head}, ..., {tail}"
        return f"{array.tolist()!r}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_metadata_value(v)}" for k, v in value.items()) + "}"
    text = repr(value)
    return text if len(text) < 300 else text[:300] + "..."


def _histogram_rows(result: ScanReport) -> list[tuple]:
    counts, edges = result.histogram, result.histogram_edges
    total = int(counts.sum())
    zero_bin = int(np.searchsorted(edges, 0, side="right")) - 1
    over = int(counts[edges > result.threshold].sum()) if result.histogram_exact else None
    cumulative = np.cumsum(counts)
    rows = [("values (pixels x frames)", total), ("values equal to 0", int(counts[zero_bin]))]
    if over is not None:
        rows.append((f"values > threshold {result.threshold:g}", over))
    for pct in (50, 99, 99.9, 99.99):
        k = int(np.searchsorted(cumulative, pct / 100 * total))
        k = min(k, len(edges) - 1)
        prefix = "" if result.histogram_exact else "bin from "
        rows.append((f"{pct:g}th percentile of the values", f"{prefix}{edges[k]:g}"))
    used = np.flatnonzero(counts)
    if used.size:
        rows.append(("smallest, largest value", f"{edges[used[0]]:g}, {edges[used[-1]]:g}"))
    return rows


def render(result: ScanReport) -> str:
    """The report's whole page as one HTML text (figures embedded, no outside links)."""
    name = result.source or "series"
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows, cols = result.frame_shape
    summary = [
        ("source", _e(name)),
        ("format", _e(result.format or "-")),
        ("frames", result.nframes),
        ("frame", _e(f"{rows} x {cols} {result.dtype}" + (", sparse" if result.sparse else ""))),
        ("omega", _e(_omega_text(result))),
        ("threshold", _e(result.threshold_rule)),
        (
            "saturation level",
            _e("none (float data)" if result.saturation is None else f"{result.saturation:g}"),
        ),
        ("computed in", _e(f"{result.seconds:.1f} s (one pass over the frames)")),
    ]
    flagged = _flagged_rows(result)
    flagged_html = (
        _table(flagged, ("frame", "omega", "flag", "mean", "max", "pixels > threshold"))
        if flagged
        else '<p class="ok">No frame is missing, constant or saturated.</p>'
    )
    metadata = [(_e(k), _e(_metadata_value(v))) for k, v in sorted(result.metadata.items())]
    files = "".join(f"<li>{_e(f)}</li>" for f in result.files) or "<li>(none: in memory)</li>"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>lazyims report: {_e(name)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Scan report: {_e(name)}</h1>",
        f'<p class="note">Written by lazyims {_e(__version__)} on {_e(when)}.</p>',
        _table(summary),
        "<h2>Findings</h2><ul>" + "".join(f"<li>{line}</li>" for line in findings(result)),
        "</ul>",
        "<h2>Per frame</h2>",
        f'<p class="note">Mean and maximum of every frame, and its pixels over the threshold '
        f"({_e(result.threshold_rule)}), against {_e(result.x_label)}. Blank frames are marked "
        "with a red x, saturated frames with an orange triangle.</p>",
        per_frame_figure(result),
        "<h2>Flagged frames</h2>",
        flagged_html,
        "<h2>Maximum image and dark</h2>",
        images_figure(result),
        "<h2>Hot and dead pixels</h2>",
        '<p class="note">Hot: over the threshold in at least '
        f"{result.hot_fraction:.0%} of the frames, or in the dark more than 10 robust standard "
        "deviations above the median of its 5 x 5 neighbourhood. Dead: the same value in every "
        "frame.</p>",
        pixels_figure(result),
        _pixel_table(result),
        "<h2>Histogram of values</h2>",
        histogram_figure(result),
        _table(_histogram_rows(result)),
        "<h2>Metadata</h2>",
        _table(metadata, ("key", "value")) if metadata else "<p>none</p>",
        "<h2>Files</h2><ul>" + files + "</ul>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _pixel_table(result: ScanReport) -> str:
    hot = np.argwhere(result.hot_pixels)
    dead = np.argwhere(result.dead_pixels)
    rows = []
    for kind, where in (("hot", hot), ("dead", dead)):
        for r, c in where[:MOST_ROWS]:
            rows.append(
                (
                    _e(kind),
                    int(r),
                    int(c),
                    result.pixel_max[r, c].item(),
                    int(result.pixel_over[r, c]),
                    float(result.dark[r, c]) if result.dark is not None else "-",
                )
            )
        if len(where) > MOST_ROWS:
            rows.append((_e(f"{len(where) - MOST_ROWS} more {kind}"), "", "", "", "", ""))
    if not rows:
        return ""
    return _table(rows, ("pixel", "row", "column", "maximum", "frames > threshold", "dark"))


def _omega_text(result: ScanReport) -> str:
    if result.omega is None:
        return "none (plots are against the frame number)"
    wedges = _omega_breaks(result).size + 1
    return (
        f"{result.omega[0, 0]:g} to {result.omega[-1, 1]:g} degrees, "
        f"step {result.omega[0, 1] - result.omega[0, 0]:g}, {wedges} wedge"
        + ("s (no line is drawn across a gap)" if wedges > 1 else "")
    )
