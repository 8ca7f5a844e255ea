"""The table of formats, which answers :func:`lazyims.open`, :func:`lazyims.write` and the CLI.

Formats come from two places: every module of the :mod:`lazyims.formats` package
(whose name does not start with ``_``) registers its formats when imported, and
packages of their own name a :class:`~lazyims.formats.base.Format` in the entry point
group ``lazyims.formats``, loaded the first time the table is asked.
"""

from __future__ import annotations

import importlib
import itertools
import os
import pkgutil
import warnings
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from .._files import check_regular_file
from ..errors import FileContentError, FormatError, MissingFileError
from .base import Format

#: The entry point group of formats from other packages.
ENTRY_POINT_GROUP = "lazyims.formats"

_FORMATS: dict[str, Format] = {}
_BUILT_IN: set[str] = set()
_plugins_loaded = False


def register(fmt: Format) -> Format:
    """Add ``fmt`` to the table (replacing a format of the same name); returns it."""
    if not isinstance(fmt, Format):
        raise FormatError(f"only a lazyims.formats.Format can be registered, not {fmt!r}")
    _FORMATS[fmt.name] = fmt
    return fmt


def load_built_in() -> None:
    """Import every format module of this package (each registers its formats)."""
    package = importlib.import_module(__package__)
    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_") and module.name != "base":
            importlib.import_module(f"{__package__}.{module.name}")
    _BUILT_IN.update(_FORMATS)


def _load_plugins() -> None:
    """Register the formats of the ``lazyims.formats`` entry points, once.

    A plug-in that fails to load, is not a Format or takes a built-in name is
    skipped with a warning: it never breaks lazyims.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for point in entry_points(group=ENTRY_POINT_GROUP):
        where = f"format plug-in {point.name!r} ({point.value})"
        try:
            fmt = point.load()
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not break lazyims
            warnings.warn(f"lazyims: the {where} cannot be loaded: {exc}", stacklevel=3)
            continue
        if isinstance(fmt, type) and issubclass(fmt, Format):
            fmt = fmt()
        if not isinstance(fmt, Format):
            warnings.warn(f"lazyims: the {where} is not a lazyims Format", stacklevel=3)
        elif fmt.name in _BUILT_IN:
            warnings.warn(
                f"lazyims: the {where} is named like the built-in format {fmt.name!r}; skipped",
                stacklevel=3,
            )
        else:
            register(fmt)


def formats() -> list[Format]:
    """Every registered format, by name."""
    _load_plugins()
    return [_FORMATS[name] for name in sorted(_FORMATS)]


def names() -> list[str]:
    """The names of all registered formats."""
    return [fmt.name for fmt in formats()]


def writable() -> list[str]:
    """The names of the formats that can be written."""
    return [fmt.name for fmt in formats() if fmt.write is not None]


def get(name: str) -> Format:
    """The format called ``name``; an unknown name is a FormatError listing the known ones.

    A built-in name needs no look at the entry points (a plug-in never takes a built-in
    name), so naming a built-in format skips their scan, which costs tens of
    milliseconds the first time.
    """
    if isinstance(name, str) and name in _BUILT_IN:
        return _FORMATS[name]
    _load_plugins()
    try:
        return _FORMATS[name]
    except (KeyError, TypeError):
        raise FormatError(f"unknown format {name!r}; known formats: {', '.join(names())}") from None


def _claims(fmt: Format, path: Path) -> bool:
    if fmt.guess_can_open is None:
        return False
    try:
        return bool(fmt.guess_can_open(path))
    except Exception:  # noqa: BLE001 - a guess that fails is a no
        return False


def _most_specific(found: list[Format]) -> list[Format]:
    """``found`` without the formats another of them refines."""
    refined = {name for fmt in found for name in fmt.refines}
    return [fmt for fmt in found if fmt.name not in refined]


def detect(source: Any) -> Format:
    """The format of ``source``: a path (by extension, then content) or an object.

    Formats whose extensions match are asked first (``guess_can_open``), then all
    others; among formats that recognise the file, one that refines another wins.
    A single format listing the extension with no ``guess_can_open`` takes the file
    when no format recognises it.
    """
    formats()  # plug-ins
    if not isinstance(source, (str, os.PathLike)):
        for fmt in _FORMATS.values():
            if fmt.accepts is not None and fmt.accepts(source):
                return fmt
        raise FormatError(f"cannot open an object of type {type(source).__name__}")
    path = Path(source)
    if not path.exists():
        raise MissingFileError("no such file or directory", path)
    if not path.is_dir():
        check_regular_file(path)  # sniffing a FIFO would block forever
    suffix = path.suffix.lower()
    by_extension = [f for f in _FORMATS.values() if suffix in f.extensions]
    others = [f for f in _FORMATS.values() if suffix not in f.extensions]
    for candidates in (by_extension, others):
        found = _most_specific([f for f in candidates if _claims(f, path)])
        if len(found) == 1:
            return found[0]
        if found:
            raise FormatError(
                f"this file could be {' or '.join(sorted(f.name for f in found))}; "
                "name one with format=",
                path,
            )
        unguessed = [f for f in candidates if f.guess_can_open is None]
        if candidates is by_extension and len(unguessed) == 1:
            return unguessed[0]
    if path.is_dir():
        raise FormatError(_folder_trouble(path), path)
    if suffix in (".yml", ".yaml"):
        from .._yaml import yaml_trouble

        trouble = yaml_trouble(path)
        if trouble is not None:
            raise FileContentError(trouble, path)
    raise FormatError(
        "cannot tell the format of this file; name it (format= in Python, --format in the "
        f"shell): one of {', '.join(names())}",
        path,
    )


#: At most this many entries of a folder are looked at to suggest files in it.
_FOLDER_ENTRIES_LOOKED_AT = 1000


def _folder_trouble(path: Path) -> str:
    """Why a folder that no format recognises cannot be opened, and what in it could be."""
    known = {ext for fmt in _FORMATS.values() for ext in fmt.extensions}
    try:
        entries = list(itertools.islice(path.iterdir(), _FOLDER_ENTRIES_LOOKED_AT))
    except OSError:
        entries = []
    readable = sorted(p.name for p in entries if p.suffix.lower() in known)
    text = (
        "a folder, and no format reads it as an image series (a zarr store holds zarr.json; "
        "image files in a folder are opened through an image-files YAML that lists them)"
    )
    if readable:
        shown = ", ".join(readable[:3]) + (", ..." if len(readable) > 3 else "")
        text += f"; open a file in it instead: {shown}"
    elif not entries:
        text += "; it is empty"
    return text


def for_writing(path: Any) -> Format:
    """The format :func:`lazyims.write` uses for ``path`` when none is named (by its extension)."""
    if not isinstance(path, (str, os.PathLike)):
        raise FormatError(f"name the format to write a {type(path).__name__} in")
    suffix = Path(path).suffix.lower()
    found = [f for f in formats() if f.write is not None and suffix in f.write_extensions]
    if len(found) == 1:
        return found[0]
    known = ", ".join(f"{e} ({f.name})" for f in formats() for e in f.write_extensions)
    raise FormatError(
        f"cannot tell which format to write from the name {Path(path).name!r}; name the "
        f"format ({', '.join(writable())}), or use a known extension: {known}",
        path,
    )
