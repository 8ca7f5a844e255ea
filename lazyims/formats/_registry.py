"""The table of formats: each format module registers itself here by name."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FormatError, MissingFileError


@dataclass(frozen=True)
class Format:
    """One format lazyims reads (and maybe writes).

    Attributes
    ----------
    name
        The format's name, as HEXRD spells it (``hdf5``, ``frame-cache``, ...).
    open
        ``open(source, **options) -> ImageSeries``.
    write
        ``write(series, path, **options) -> None``, or None for read-only formats.
    extensions
        File name endings (lower case, with the dot) that suggest this format.
    sniff
        ``sniff(path) -> bool``: looks at a file's content (cheaply) to confirm the format.
    priority
        Among formats that share an extension, higher priority is sniffed first.
    accepts
        ``accepts(obj) -> bool`` for sources that are not paths (arrays, callables).
    """

    name: str
    open: Callable[..., Any]
    write: Callable[..., None] | None = None
    extensions: tuple[str, ...] = ()
    sniff: Callable[[Path], bool] | None = None
    priority: int = 0
    accepts: Callable[[Any], bool] | None = None


_FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    """Add ``fmt`` to the table (replacing a format of the same name)."""
    _FORMATS[fmt.name] = fmt
    return fmt


def names() -> list[str]:
    """The names of all registered formats."""
    return sorted(_FORMATS)


def get(name: str) -> Format:
    """The format called ``name``; an unknown name is a FormatError listing the known ones."""
    try:
        return _FORMATS[name]
    except (KeyError, TypeError):
        raise FormatError(f"unknown format {name!r}; known formats: {', '.join(names())}") from None


def detect(source: Any) -> Format:
    """Find the format of ``source``: a path (by extension, then content) or an object."""
    if not isinstance(source, (str, os.PathLike)):
        for fmt in _FORMATS.values():
            if fmt.accepts is not None and fmt.accepts(source):
                return fmt
        raise FormatError(f"cannot open an object of type {type(source).__name__}")
    path = Path(source)
    if not path.exists():
        raise MissingFileError("no such file or directory", path)
    suffix = path.suffix.lower()
    by_extension = [f for f in _FORMATS.values() if suffix in f.extensions]
    by_extension.sort(key=lambda f: -f.priority)
    if len(by_extension) == 1 and by_extension[0].sniff is None:
        return by_extension[0]
    for candidates in (by_extension, sorted(_FORMATS.values(), key=lambda f: -f.priority)):
        for fmt in candidates:
            if fmt.sniff is not None and fmt.sniff(path):
                return fmt
    raise FormatError(
        f"cannot tell the format of this file; name it with format=, one of {', '.join(names())}",
        path,
    )
