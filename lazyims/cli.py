"""The ``lazyims`` command.

Every command takes ``--scheduler`` (``threads``, ``processes``, ``sync`` or the
address of a dask.distributed scheduler) and ``--progress/--no-progress``. Errors
are printed as one line (``lazyims: error: ...``) with exit status 1; ``--traceback``
shows the whole traceback instead.

Commands are small functions ``_cmd_NAME(args, session)`` registered in
:func:`build_parser`; :func:`open_input` opens a command's input and
:class:`Session` computes with the chosen scheduler and progress display.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dask
import numpy as np

from . import __version__, _progress, formats
from ._files import atomic_output
from .api import open as open_series
from .api import write
from .errors import FileContentError, LazyImsError, MissingFileError, OptionError
from .series import todense

LOCAL_SCHEDULERS = {
    "threads": "threads",
    "processes": "processes",
    "sync": "sync",
    "synchronous": "sync",
}


# -- computing: scheduler and progress ---------------------------------------------
class Session:
    """How a command computes: the scheduler chosen and whether to show progress.

    Inside :func:`session`, dask's default scheduler is the chosen one, so
    writers (``series.write``) use it too. Progress is dask's local
    :class:`~dask.diagnostics.ProgressBar` on the local schedulers, and
    distributed's progress bar on a cluster (:mod:`lazyims._progress`: the writers
    and :meth:`compute` draw it), both on stderr.
    """

    def __init__(self, client: Any = None, progress: bool = False):
        self.client = client
        self.progress = progress

    def compute(self, *collections: Any) -> tuple:
        """Compute dask collections; returns their results as :func:`dask.compute` does."""
        return _progress.compute(*collections)


@contextmanager
def session(scheduler: str | None, progress: bool) -> Iterator[Session]:
    """Set up ``scheduler`` (a local scheduler's name or a scheduler address) and progress."""
    if scheduler is None or scheduler in LOCAL_SCHEDULERS:
        config = {"scheduler": LOCAL_SCHEDULERS[scheduler]} if scheduler else {}
        with dask.config.set(config):
            if progress:
                from dask.diagnostics import ProgressBar

                with ProgressBar(out=sys.stderr):
                    yield Session(None, progress)
            else:
                yield Session(None, progress)
        return
    client = _connect(scheduler)
    with client, dask.config.set({"scheduler": client, _progress.CONFIG_KEY: progress}):
        yield Session(client, progress)


def _connect(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise LazyImsError(
            f"--scheduler {address!r} is not threads, processes or sync; a scheduler address "
            "needs dask.distributed: pip install 'lazyims[distributed]'"
        ) from None
    from ._scheduler import check_scheduler

    check_scheduler(address)  # something that is not a scheduler: a clear error
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise LazyImsError(
            f"cannot connect to the dask scheduler at {address!r} ({exc}); --scheduler takes "
            "threads, processes, sync or an address such as tcp://host:8786"
        ) from None


# -- inputs ------------------------------------------------------------------------
def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """The input series of a command: a path, ``--format`` and ``-O KEY=VALUE`` options."""
    parser.add_argument("input", help="the image series (file or folder)")
    parser.add_argument("--format", default=None, help="its format, when it cannot be found out")
    parser.add_argument(
        "-O",
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the format, e.g. -O path=imageseries (repeatable)",
    )


def open_input(args: argparse.Namespace) -> Any:
    """Open the series named by :func:`add_input_arguments`'s arguments."""
    options = dict(_parse_option(o) for o in args.option)
    return open_series(args.input, format=args.format, **options)


def _parse_option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise OptionError(f"format options are KEY=VALUE, got {text!r}")
    import yaml

    try:
        return key, yaml.safe_load(value)
    except yaml.YAMLError:
        return key, value


# -- info ----------------------------------------------------------------------------
def _size_text(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024 or unit == "GiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"  # pragma: no cover


def _disk_bytes(files: Sequence[str]) -> int:
    total = 0
    for name in files:
        path = Path(name)
        if path.is_dir():
            total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            total += path.stat().st_size
    return total


def _omega_lines(omega: Any, nframes: int) -> list[str]:
    """Omega range and wedge count: a new wedge where the step or the continuity changes."""
    omega = np.asarray(omega, dtype=float)
    if omega.shape != (nframes, 2):
        return [f"omega:    shape {omega.shape} does not match {nframes} frames (nframes, 2)"]
    steps = omega[:, 1] - omega[:, 0]
    breaks = (np.abs(omega[1:, 0] - omega[:-1, 1]) > 1e-6) | (np.abs(np.diff(steps)) > 1e-6)
    wedges = 1 + int(breaks.sum())
    return [
        f"omega:    {omega[0, 0]:g} to {omega[-1, 1]:g} deg, {wedges} wedge(s), "
        f"step {steps[0]:g} deg" + (" (varies)" if np.ptp(steps) > 1e-6 else "")
    ]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def chunk_text(chunks: tuple[tuple[int, ...], ...]) -> str:
    """How dask ``chunks`` of (frames, rows, cols) cut a series, as they are:
    ``4 chunks of 32 frames, the last of 4``."""
    frames = chunks[0]
    text = _plural(len(frames), "chunk")
    if len(set(frames)) == 1:
        text += f" of {_plural(frames[0], 'frame')}"
    elif len(set(frames[:-1])) == 1 and frames[-1] < frames[0]:
        text += f" of {_plural(frames[0], 'frame')}, the last of {frames[-1]}"
    else:
        text += f" of {min(frames)} to {max(frames)} frames"
    pieces = (len(chunks[1]), len(chunks[2]))
    if pieces != (1, 1):
        text += f", each cut in {pieces[0]} x {pieces[1]} pieces (rows x columns)"
    return text


def _chunks_line(series: Any) -> str:
    """The ``chunks:`` line of :func:`describe`: the chunks as stored, and for sparse
    chunks also those of ``series.data`` (numpy chunks of fewer frames)."""
    line = f"chunks:   {chunk_text(series.chunks)}"
    if series.is_sparse:
        dense = series.data.chunks
        line += ", sparse"
        if dense != tuple(series.chunks):
            line += f" ({chunk_text(dense)} as numpy, in series.data)"
    return line


def describe(series: Any) -> list[str]:
    """The lines ``lazyims info`` prints about ``series`` (headers only, no pixels)."""
    lines = [
        f"format:   {series.format}",
        f"source:   {series.source}",
        f"frames:   {series.nframes}",
        f"shape:    {series.frame_shape[0]} x {series.frame_shape[1]}",
        f"dtype:    {series.dtype}",
        _chunks_line(series),
        f"in memory: {_size_text(series.data.nbytes)} (dense)",
    ]
    if series.files:
        lines.append(f"on disk:  {_size_text(_disk_bytes(series.files))}")
    metadata = series.metadata
    if "omega" in metadata:
        lines += _omega_lines(metadata["omega"], series.nframes)
    for key, value in sorted(metadata.items()):
        arr = np.asarray(value) if isinstance(value, (np.ndarray, list)) else None
        shown = f"array {arr.shape} {arr.dtype}" if arr is not None and arr.ndim else repr(value)
        lines.append(f"metadata: {key} = {shown}")
    return lines


def _cmd_info(args: argparse.Namespace, session: Session) -> int:
    print("\n".join(describe(open_input(args))))
    return 0


# -- preview ---------------------------------------------------------------------------
def _cmd_preview(args: argparse.Namespace, session: Session) -> int:
    series = open_input(args)
    print(save_preview(series, Path(args.output), session, log=args.log, dpi=args.dpi))
    return 0


def save_preview(
    series: Any, output: Path, session: Session, *, log: bool = True, dpi: int = 100
) -> str:
    """Save the max over frames of ``series`` as a picture; returns a line saying what it did."""
    try:
        from matplotlib.colors import LogNorm, Normalize
        from matplotlib.figure import Figure
    except ImportError:
        raise LazyImsError("preview needs matplotlib: pip install 'lazyims[preview]'") from None
    kind = output.suffix.lower().lstrip(".")
    figure = Figure(figsize=(7, 5.5), layout="constrained")
    if kind not in figure.canvas.get_supported_filetypes():
        raise OptionError(
            f"cannot save a picture as {output.suffix or 'a file without extension'}; "
            "use .png, .pdf or .svg",
            output,
        )
    (image,) = session.compute(series.max())
    image = np.asarray(image, dtype=float)
    if image.size and np.nanmin(image) == np.nanmax(image):
        warnings.warn(
            f"{series.source or 'the series'}: the max over frames is {np.nanmax(image):g} at "
            "every pixel, so the picture is one flat colour (a threshold that kept no pixel?)",
            UserWarning,
            stacklevel=2,
        )
    positive = image[image > 0]
    if log and positive.size:
        norm, scale = LogNorm(vmin=positive.min(), vmax=max(positive.max(), positive.min())), "log"
    else:
        norm, scale = Normalize(), "linear"
    ax = figure.subplots()
    shown = ax.imshow(image, norm=norm, cmap="viridis", interpolation="nearest")
    shown.cmap.set_bad(shown.cmap(0.0))  # pixels <= 0 on a log scale: darkest colour
    figure.colorbar(shown, ax=ax, shrink=0.8, label=f"max over frames ({scale} scale)")
    name = Path(series.source.split(":")[0]).name if series.source else "series"
    ax.set_title(f"{name}: max of {series.nframes} frames", fontsize=10)
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    with atomic_output(output, series.files) as tmp:
        figure.savefig(tmp, format=kind, dpi=dpi)
    return (
        f"wrote {output}: max over {series.nframes} frames of {image.shape[0]}x{image.shape[1]}, "
        f"{scale} scale, values {image.min():g} to {image.max():g}"
    )


# -- report ----------------------------------------------------------------------------
def _cmd_report(args: argparse.Namespace, session: Session) -> int:
    from .scanreport import report

    series = open_input(args)
    found = report(
        series,
        Path(args.output),
        threshold=args.threshold,
        saturation=args.saturation,
        dark_frames=args.dark_frames,
        hot_fraction=args.hot_fraction,
    )
    blank = found.blank_frames
    print(
        f"wrote {args.output}: {found.nframes} frames of {found.frame_shape[0]}x"
        f"{found.frame_shape[1]} {found.dtype} in {found.seconds:.1f} s; "
        f"threshold {found.threshold_rule}"
    )
    print(
        f"blank frames: {blank.size}, saturated frames: {found.saturated_frames.size}, "
        f"hot pixels: {int(found.hot_pixels.sum())}, dead pixels: {int(found.dead_pixels.sum())}"
    )
    return 0


# --- the everyday job: convert, dark, demo -------------------------------------


def _parse_frames(text: str) -> slice:
    """``"2:"``, ``":100"``, ``"2:1442"`` or ``"0:100:2"`` as a slice."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise OptionError(f"--frames takes START:STOP[:STEP], got {text!r}")
    try:
        values = [int(p) if p.strip() else None for p in parts]
    except ValueError:
        raise OptionError(f"--frames takes integers START:STOP[:STEP], got {text!r}") from None
    return slice(*values)


def _parse_rectangle(text: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """``"R0:R1,C0:C1"`` as HEXRD's ((r0, r1), (c0, c1))."""
    try:
        rows, cols = text.split(",")
        (r0, r1), (c0, c1) = (tuple(int(v) for v in part.split(":")) for part in (rows, cols))
    except ValueError:
        raise OptionError(f"--rectangle takes R0:R1,C0:C1, got {text!r}") from None
    return (r0, r1), (c0, c1)


def _dark_image(series, spec: str):
    """The dark image a ``--dark`` spec names: ``median:N``, ``average:N``,
    ``max:N``, ``percentile:P:N`` (N frames from the start; 0 = all) or a .npy file."""
    from . import stats

    kind, _, rest = spec.partition(":")
    if kind in ("median", "average", "max", "min"):
        nframes = _parse_int(rest or "0", "--dark", spec)
        return getattr(stats, kind)(series, nframes=nframes)
    if kind == "percentile":
        pct, _, n = rest.partition(":")
        try:
            pct_value = float(pct)
        except ValueError:
            raise OptionError(f"--dark percentile:P[:N] needs a number P, got {spec!r}") from None
        return stats.percentile(series, pct_value, nframes=_parse_int(n or "0", "--dark", spec))
    path = Path(spec)
    if path.suffix != ".npy":
        raise OptionError(
            f"--dark takes median:N, average:N, max:N, percentile:P:N or a .npy file, got {spec!r}"
        )
    if not path.exists():
        raise MissingFileError("no such dark image", path)
    try:
        image = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise FileContentError(f"not a readable .npy image ({exc})", path) from None
    return image


def _parse_int(text: str, option: str, spec: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise OptionError(f"{option}: {text!r} in {spec!r} is not a whole number") from None


def build_pipeline(series: Any, args: argparse.Namespace) -> tuple[Any, list[str]]:
    """Apply ``--frames``, ``--dark``, ``--flip`` and ``--rectangle`` lazily, in that order.

    Returns the processed series and a line per step, for the summary.
    """
    steps = []
    if args.frames:
        series = series[_parse_frames(args.frames)]
        steps.append(f"frames {args.frames} ({series.nframes} kept)")
    if args.dark:
        series = series.dark(_dark_image(series, args.dark))
        steps.append(f"dark {args.dark} subtracted")
    if args.flip:
        series = series.flip(args.flip)
        steps.append(f"flip {args.flip}")
    if args.rectangle:
        series = series.rectangle(_parse_rectangle(args.rectangle))
        steps.append(f"rectangle {args.rectangle}")
    return series, steps


def convert(
    series: Any, output: Path, to: str | None, threshold: float | None, style: str | None
) -> str:
    """Write the processed ``series`` to ``output`` as format ``to`` (by default from the
    name's extension); returns a summary line.

    A format whose writer takes a ``threshold`` (a frame-cache) gets ``threshold``;
    other formats get the thresholded frames (values at or below it set to 0).
    """
    fmt = formats.get(to) if to else formats.for_writing(output)
    if fmt.write is None:
        raise OptionError(f"format {fmt.name!r} can be read but not written", output)
    parameters = inspect.signature(fmt.write).parameters
    options: dict[str, Any] = {} if style is None else {"style": style}
    if "threshold" in parameters:
        if threshold is None and parameters["threshold"].default is inspect.Parameter.empty:
            raise OptionError(f"a {fmt.name} keeps pixels above a threshold: give --threshold T")
        if threshold is not None:
            options["threshold"] = threshold
    elif threshold is not None:
        series = series.threshold(threshold)
    start = time.perf_counter()
    write(series, output, fmt.name, **options)
    seconds = time.perf_counter() - start
    size = _disk_bytes([str(output)])
    dense = series.data.nbytes
    return (
        f"wrote {output} ({fmt.name}{', ' + style if style else ''}): "
        f"{series.nframes} frames of {series.frame_shape[0]}x{series.frame_shape[1]} "
        f"{series.dtype}, {_size_text(size)} on disk "
        f"({100 * size / max(dense, 1):.1f}% of {_size_text(dense)} in memory), "
        f"in {seconds:.1f} s"
    )


def flat_metadata(series: Any, output: Path, to: str | None, style: str | None):
    """``series`` with nested metadata dicts (Eiger stream files) as ``outer.inner`` keys,
    unless the target stores dicts (fch5 frame-caches); and the step line saying so."""
    if not any(isinstance(v, dict) for v in series.metadata.values()):
        return series, []
    name = to or formats.for_writing(output).name
    fch5 = style == "fch5" or (style is None and output.suffix.lower() in (".fch5", ".h5", ".hdf5"))
    if name == "frame-cache" and fch5:
        return series, []

    def flatten(d: dict, prefix: str) -> dict:
        out = {}
        for key, value in d.items():
            if isinstance(value, dict):
                out.update(flatten(value, f"{prefix}{key}."))
            else:
                out[f"{prefix}{key}"] = value
        return out

    flat = flatten(series.metadata, "")
    return series._replace(metadata=flat), ["nested metadata written as 'outer.inner' keys"]


def _cmd_convert(args: argparse.Namespace, session: Session) -> int:
    series, steps = build_pipeline(open_input(args), args)
    output = Path(args.output)
    series, flattened = flat_metadata(series, output, args.to, args.style)
    steps += flattened
    for step in steps:
        print(step)
    print(convert(series, output, args.to, args.threshold, args.style))
    return 0


def _cmd_dark(args: argparse.Namespace, session: Session) -> int:
    series = open_input(args)
    image = _dark_image(series, f"{args.stat}:{args.nframes}")
    (value,) = session.compute(image)
    value = todense(value)
    output = Path(args.output)
    if output.suffix != ".npy":
        raise OptionError("the dark image is saved as .npy; name the file NAME.npy", output)
    with atomic_output(output, series.files) as tmp, tmp.open("wb") as fh:
        np.save(fh, value)
    used = args.nframes or series.nframes
    print(
        f"wrote {output}: {args.stat} of the first {min(used, series.nframes)} frames, "
        f"{value.shape[0]}x{value.shape[1]} {value.dtype}"
    )
    return 0


def _cmd_demo(args: argparse.Namespace, session: Session) -> int:
    from .demo import write_synthetic_scan

    folder = Path(args.folder) if args.folder else Path(tempfile.mkdtemp(prefix="lazyims-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    scan = folder / "scan.h5"
    write_synthetic_scan(scan, nframes=args.frames, shape=(args.size, args.size))
    print(
        f"made a synthetic scan: {scan} ({args.frames} frames of {args.size}x{args.size} uint16,"
        f" {_size_text(scan.stat().st_size)}; HEXRD's hdf5 layout)"
    )
    raw = open_series(scan, path="imageseries")
    dark_frames = min(20, raw.nframes)
    processed = raw.dark(raw.median(nframes=dark_frames)).flip("v")
    print(
        f"processing, lazily: dark = median of the first {dark_frames} frames, "
        "subtracted; flip v; keep pixels > 50"
    )
    output = folder / "scan-fc.npz"
    print(convert(processed, output, "frame-cache", 50.0, "npz"))
    cache = open_series(output)
    print(
        f"frame-cache reopened: {cache.nframes} frames, omega {cache.metadata['omega'][0][0]:g}"
        f" to {cache.metadata['omega'][-1][1]:g} degrees"
    )
    try:
        print(save_preview(cache, folder / "max.png", session))
    except LazyImsError as exc:
        print(f"no preview picture: {exc}")
    print(f"next: lazyims info {output}")
    return 0


# -- formats ---------------------------------------------------------------------------------
def format_lines() -> list[str]:
    """The lines ``lazyims formats`` prints: every registered format (plug-ins too)."""
    lines = []
    for fmt in formats.formats():
        can = "read, write" if fmt.write is not None else "read"
        ext = " ".join(fmt.extensions) or "-"
        lines.append(f"{fmt.name:<18} {can:<12} {ext:<28} {fmt.description}")
    return lines


def _cmd_formats(args: argparse.Namespace, session: Session) -> int:
    print("\n".join(format_lines()))
    return 0


def _write_extensions_text() -> str:
    return "; ".join(
        f"{' '.join(fmt.write_extensions)}: {fmt.name}"
        for fmt in formats.formats()
        if fmt.write is not None and fmt.write_extensions
    )


# -- the parser ------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line and exit status 1 like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(1, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("computing")
    group.add_argument(
        "--scheduler",
        default=None,
        metavar="threads|processes|sync|ADDRESS",
        help="dask's local scheduler, or the address of a dask.distributed scheduler "
        "(e.g. tcp://host:8786) to run on a cluster; default threads",
    )
    group.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress bars on stderr (default: when stderr is a terminal)",
    )
    group.add_argument(
        "--traceback", action="store_true", help="on error, show the whole Python traceback"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``lazyims`` command and its subcommands."""
    parser = _Parser(
        prog="lazyims", description="Open, process and convert HEXRD image series lazily."
    )
    parser.add_argument("--version", action="version", version=f"lazyims {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _common_options()

    info = sub.add_parser(
        "info", parents=[common], help="describe an image series (reads headers only)"
    )
    add_input_arguments(info)
    info.set_defaults(run=_cmd_info)

    preview = sub.add_parser(
        "preview", parents=[common], help="save the max over all frames as a picture"
    )
    add_input_arguments(preview)
    preview.add_argument(
        "-o", "--output", required=True, help="the picture to write (.png, .pdf, .svg)"
    )
    preview.add_argument(
        "--log", action=argparse.BooleanOptionalAction, default=True, help="log colour scale"
    )
    preview.add_argument("--dpi", type=int, default=100, help="resolution of the picture")
    preview.set_defaults(run=_cmd_preview)

    rep = sub.add_parser(
        "report",
        parents=[common],
        help="write an HTML page to look at a scan (one pass over the data)",
        description="Read every frame once and write a self-contained HTML report: per-frame "
        "mean, maximum and pixels over a threshold against omega; missing, constant and "
        "saturated frames; hot and dead pixels; the maximum image and the dark; a histogram "
        "of the values; the metadata. Needs matplotlib (pip install 'lazyims[preview]').",
    )
    add_input_arguments(rep)
    rep.add_argument("-o", "--output", required=True, help="the .html file to write")
    rep.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="count pixels above T (default: the dark's median + 5 times the noise, stated on the page)",
    )
    rep.add_argument(
        "--saturation",
        type=float,
        default=None,
        help="a frame with a pixel at or above S is saturated (default: the dtype's maximum)",
    )
    rep.add_argument(
        "--dark-frames",
        type=int,
        default=100,
        metavar="N",
        help="the dark is the median of the first N frames (default 100; 0: no dark)",
    )
    rep.add_argument(
        "--hot-fraction",
        type=float,
        default=0.9,
        metavar="F",
        help="a pixel over the threshold in at least this fraction of frames is hot (default 0.9)",
    )
    rep.set_defaults(run=_cmd_report)

    conv = sub.add_parser(
        "convert",
        parents=[common],
        help="process a scan lazily and write it (the everyday job: raw scan -> frame-cache)",
        description="Open IN, apply --frames, --dark, --flip and --rectangle in that order, "
        "and write OUT. The format of OUT comes from its extension unless --to names it: "
        + _write_extensions_text()
        + ". Nested metadata (Eiger stream files) is written as 'outer.inner' keys, "
        "except to fch5.",
    )
    add_input_arguments(conv)
    conv.add_argument("output", help="the file to write")
    conv.add_argument("--to", choices=formats.writable(), default=None)
    conv.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="keep pixels above T (required for a frame-cache; other formats set the rest to 0)",
    )
    conv.add_argument(
        "--dark",
        default=None,
        metavar="median:N|average:N|max:N|percentile:P:N|FILE.npy",
        help="subtract a dark image: a statistic of the first N frames (0 = all), or a file",
    )
    conv.add_argument("--flip", default=None, metavar="CODE", help="v, h, vh, t, r90, r270, ...")
    conv.add_argument("--rectangle", default=None, metavar="R0:R1,C0:C1", help="crop")
    conv.add_argument("--frames", default=None, metavar="START:STOP[:STEP]", help="e.g. 2:")
    conv.add_argument(
        "--style",
        choices=["npz", "fch5", "yml"],
        default=None,
        help="frame-cache style (default from the extension, else npz)",
    )
    conv.set_defaults(run=_cmd_convert)

    dark = sub.add_parser("dark", parents=[common], help="compute a dark image and save it as .npy")
    add_input_arguments(dark)
    dark.add_argument("output", help="the .npy file to write")
    dark.add_argument(
        "--stat",
        default="median",
        metavar="median|average|max|min|percentile:P",
        help="the statistic over frames (default median)",
    )
    dark.add_argument(
        "--nframes", type=int, default=100, help="first N frames (0 = all; default 100)"
    )
    dark.set_defaults(run=_cmd_dark)

    listing = sub.add_parser(
        "formats", parents=[common], help="list the formats lazyims reads and writes (plug-ins too)"
    )
    listing.set_defaults(run=_cmd_formats)

    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="make a small synthetic scan, convert it to a frame-cache, and say what it did",
    )
    demo.add_argument(
        "folder",
        nargs="?",
        default=None,
        help="where to put the files (default: a new temporary folder)",
    )
    demo.add_argument("--frames", type=int, default=60, help="frames of the scan (default 60)")
    demo.add_argument("--size", type=int, default=256, help="rows and columns (default 256)")
    demo.set_defaults(run=_cmd_demo)
    return parser


def _show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    """Warnings as one line on stderr, like errors."""
    print(f"lazyims: warning: {message}", file=sys.stderr, flush=True)


def _stdout_to_null() -> None:
    """Send what is still to be printed to the null device, so that Python's own flush
    at exit does not fail on the closed pipe again."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):  # no real stdout (in-process, captured)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    progress = args.progress if args.progress is not None else sys.stderr.isatty()
    try:
        with warnings.catch_warnings(), session(args.scheduler, progress) as current:
            warnings.showwarning = _show_warning
            status = args.run(args, current)
            sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
            return status
    except KeyboardInterrupt:
        print("lazyims: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`lazyims info X | head -1`): not an error
        _stdout_to_null()
        return 0
    except Exception as exc:  # noqa: BLE001 - one line for the user, not a traceback
        if args.traceback:
            traceback.print_exc()
        elif isinstance(exc, (LazyImsError, OSError)):
            print(f"lazyims: error: {exc}", file=sys.stderr)
        else:
            print(
                f"lazyims: error: {type(exc).__name__}: {exc} (--traceback shows where)",
                file=sys.stderr,
            )
        return 1
