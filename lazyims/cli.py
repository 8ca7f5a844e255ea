"""The ``lazyims`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from . import __version__
from .api import open as open_series
from .errors import LazyImsError


def _describe(series) -> list[str]:
    lines = [
        f"format:   {series.format}",
        f"source:   {series.source}",
        f"frames:   {series.nframes}",
        f"shape:    {series.frame_shape[0]} x {series.frame_shape[1]}",
        f"dtype:    {series.dtype}",
        f"chunks:   {series.data.npartitions} of {series.chunks[0][0]} frame(s)"
        + (", sparse" if series.is_sparse else ""),
        f"in memory: {series.data.nbytes / 2**20:.1f} MiB (dense)",
    ]
    for key, value in sorted(series.metadata.items()):
        arr = np.asarray(value)
        shown = f"array {arr.shape} {arr.dtype}" if arr.ndim else repr(value)
        lines.append(f"metadata: {key} = {shown}")
    return lines


def _cmd_info(args: argparse.Namespace) -> int:
    options = dict(_parse_option(o) for o in args.option)
    series = open_series(args.path, format=args.format, **options)
    print("\n".join(_describe(series)))
    return 0


def _parse_option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise LazyImsError(f"options are KEY=VALUE, got {text!r}")
    try:
        import yaml

        return key, yaml.safe_load(value)
    except Exception:  # noqa: BLE001 - keep the text as it is
        return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lazyims", description="Open, process and convert HEXRD image series lazily."
    )
    parser.add_argument("--version", action="version", version=f"lazyims {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="describe an image series (reads headers only)")
    info.add_argument("path")
    info.add_argument("--format", default=None, help="the format, when it cannot be found out")
    info.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a format option, e.g. path=imageseries (repeatable)",
    )
    info.set_defaults(run=_cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except LazyImsError as exc:
        print(f"lazyims: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lazyims: interrupted", file=sys.stderr)
        return 130
