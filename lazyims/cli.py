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
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

import dask
import numpy as np

from . import __version__
from ._files import atomic_output
from .api import open as open_series
from .errors import LazyImsError, OptionError

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
    writers (``series.write``) use it too; :meth:`compute` adds a progress bar on
    a dask.distributed client, where dask's local bar cannot see the work.
    """

    def __init__(self, client: Any = None, progress: bool = False):
        self.client = client
        self.progress = progress

    def compute(self, *collections: Any) -> tuple:
        """Compute dask collections; returns their results as :func:`dask.compute` does."""
        if self.client is None:
            return dask.compute(*collections)
        futures = self.client.compute(list(collections))
        if self.progress:
            from distributed import progress

            with redirect_stdout(sys.stderr):  # stdout is for results
                progress(futures)
                print()
        return tuple(self.client.gather(futures))


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
    with client, dask.config.set(scheduler=client):
        yield Session(client, progress)


def _connect(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise LazyImsError(
            f"--scheduler {address!r} is not threads, processes or sync; a scheduler address "
            "needs dask.distributed: pip install 'lazyims[distributed]'"
        ) from None
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


def describe(series: Any) -> list[str]:
    """The lines ``lazyims info`` prints about ``series`` (headers only, no pixels)."""
    lines = [
        f"format:   {series.format}",
        f"source:   {series.source}",
        f"frames:   {series.nframes}",
        f"shape:    {series.frame_shape[0]} x {series.frame_shape[1]}",
        f"dtype:    {series.dtype}",
        f"chunks:   {series.data.npartitions} of {series.chunks[0][0]} frame(s)"
        + (", sparse" if series.is_sparse else ""),
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
    try:
        from matplotlib.colors import LogNorm, Normalize
        from matplotlib.figure import Figure
    except ImportError:
        raise LazyImsError("preview needs matplotlib: pip install 'lazyims[preview]'") from None
    output = Path(args.output)
    kind = output.suffix.lower().lstrip(".")
    figure = Figure(figsize=(7, 5.5), layout="constrained")
    if kind not in figure.canvas.get_supported_filetypes():
        raise OptionError(
            f"cannot save a picture as {output.suffix or 'a file without extension'}; "
            "use .png, .pdf or .svg",
            output,
        )
    series = open_input(args)
    (image,) = session.compute(series.data.max(axis=0))
    image = np.asarray(image.todense() if hasattr(image, "todense") else image, dtype=float)
    positive = image[image > 0]
    if args.log and positive.size:
        norm, scale = LogNorm(vmin=positive.min(), vmax=max(positive.max(), positive.min())), "log"
    else:
        norm, scale = Normalize(), "linear"
    ax = figure.subplots()
    shown = ax.imshow(image, norm=norm, cmap="viridis", interpolation="nearest")
    shown.cmap.set_bad(shown.cmap(0.0))  # pixels <= 0 on a log scale: darkest colour
    figure.colorbar(shown, ax=ax, shrink=0.8, label=f"max over frames ({scale} scale)")
    ax.set_title(f"{Path(args.input).name}: max of {series.nframes} frames", fontsize=10)
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    with atomic_output(output, series.files) as tmp:
        figure.savefig(tmp, format=kind, dpi=args.dpi)
    print(
        f"wrote {output}: max over {series.nframes} frames of {image.shape[0]}x{image.shape[1]}, "
        f"{scale} scale, values {image.min():g} to {image.max():g}"
    )
    return 0


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    progress = args.progress if args.progress is not None else sys.stderr.isatty()
    try:
        with session(args.scheduler, progress) as current:
            return args.run(args, current)
    except KeyboardInterrupt:
        print("lazyims: interrupted", file=sys.stderr)
        return 130
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
