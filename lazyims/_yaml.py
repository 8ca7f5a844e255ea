"""Reading the YAML files of the image-files, raw-image and frame-cache formats.

YAML is only ever read with ``yaml.safe_load``: no tag in a file can run code.
"""

from __future__ import annotations

import difflib
import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ._files import absolute, check_regular_file, is_regular_file
from ._metadata import decode_value
from ._npy import load_npy_file
from .errors import (
    FileContentError,
    LazyImsError,
    MetadataError,
    MissingFileError,
    OptionError,
)


def load_yaml(source: str | os.PathLike | io.TextIOBase) -> tuple[dict[str, Any], Path | None]:
    """Load a YAML mapping from a path, or from YAML text given as a text stream.

    A ``str`` is always a path: YAML text is passed explicitly, as
    ``io.StringIO(text)`` (or any object with ``read()``), never guessed.
    Returns the mapping and the folder of the file (None for YAML text), the folder
    that relative paths inside the file are resolved against first.
    """
    text, path = _text_of(source)
    try:
        doc = bounded_safe_load(text)
    except yaml.YAMLError as exc:
        raise FileContentError(yaml_error_text(exc), path) from None
    except YamlTooLarge as exc:
        raise FileContentError(str(exc), path) from None
    if not isinstance(doc, dict):
        raise FileContentError(
            f"the YAML must be a mapping of keys, not {type(doc).__name__}", path
        )
    return doc, (path.parent if path is not None else None)


def check_keys(
    mapping: dict[str, Any],
    known: tuple[str, ...] | list[str] | set[str],
    where: Any,
    block: str,
    required: tuple[str, ...] = (),
) -> None:
    """Check the keys of a YAML mapping whose keys change how pixels are read.

    A key of ``required`` that is missing, or a key not in ``known`` (a misspelling
    such as ``singed`` would otherwise leave ``signed`` at its default and change the
    values read), is a FileContentError naming the YAML (``where``), the block, the key
    and the closest known key.
    """
    unknown = [key for key in mapping if key not in known]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), [str(k) for k in known], n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise FileContentError(
            f"unknown key {key!r} in {block}; {hint}known keys: {', '.join(sorted(known))}",
            where,
        )
    missing = [key for key in required if key not in mapping]
    if missing:
        raise FileContentError(f"no {', '.join(map(repr, missing))} in {block}", where)


def yaml_error_text(exc: yaml.YAMLError) -> str:
    """A YAML parse error as one line: where (line and column, from 1) and what."""
    mark = getattr(exc, "problem_mark", None)
    what = " ".join(
        str(part) for part in (getattr(exc, "context", None), getattr(exc, "problem", None)) if part
    )
    if mark is None:
        return f"not valid YAML: {what or exc}"
    return f"not valid YAML at line {mark.line + 1}, column {mark.column + 1}: {what or exc}"


def yaml_trouble(path: Path, limit: int = 65536) -> str | None:
    """Why a small ``.yml``/``.yaml`` file is no lazyims YAML, for format detection.

    Its parse error with line and column, or the top-level keys it has (which no
    format recognised); None when it is not a small readable text file.
    """
    try:
        if not is_regular_file(path) or path.stat().st_size > limit:
            return None
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        doc = bounded_safe_load(text)
    except yaml.YAMLError as exc:
        return yaml_error_text(exc)
    except YamlTooLarge as exc:
        return str(exc)
    if not isinstance(doc, dict):
        return f"the YAML is a {type(doc).__name__}, not a mapping of keys"
    return (
        f"no format knows the YAML's top-level keys ({', '.join(map(str, doc)) or 'none'}); "
        "check their spelling"
    )


#: Limits of a YAML document: nesting depth, and nodes once aliases are expanded (a
#: "billion laughs" file of a few hundred bytes expands to billions of nodes).
MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 1_000_000


class YamlTooLarge(Exception):
    """A YAML document nests too deeply or expands to too many nodes."""


def bounded_safe_load(text: str) -> Any:
    """``yaml.safe_load`` of ``text``, refusing documents too deep or too large once
    aliases are expanded, before anything is built from them."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise YamlTooLarge(f"the YAML nests deeper than {MAX_YAML_DEPTH} levels") from None
        if node is None:
            return None
        _expanded_size(node, 0, {}, set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, depth: int, sizes: dict, open_nodes: set) -> int:
    """Nodes under ``node`` with every alias expanded; raises YamlTooLarge past the limits."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if depth > MAX_YAML_DEPTH:
        raise YamlTooLarge(f"the YAML nests deeper than {MAX_YAML_DEPTH} levels")
    if key in open_nodes:
        raise YamlTooLarge("the YAML refers to itself (a recursive alias)")
    size = 1
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    else:
        children = []
    open_nodes.add(key)
    for child in children:
        size += _expanded_size(child, depth + 1, sizes, open_nodes)
        if size > MAX_YAML_NODES:
            raise YamlTooLarge(
                f"the YAML expands to more than {MAX_YAML_NODES} values (nested aliases?)"
            )
    open_nodes.discard(key)
    sizes[key] = size
    return size


def is_text_stream(source: Any) -> bool:
    """True for YAML text given as a stream (``io.StringIO``), not a path."""
    return not isinstance(source, (str, bytes, os.PathLike)) and callable(
        getattr(source, "read", None)
    )


def _text_of(source: Any) -> tuple[str, Path | None]:
    if is_text_stream(source):
        text = source.read()
        if not isinstance(text, str):
            raise FileContentError("YAML text must be a text stream such as io.StringIO")
        return text, None
    path = Path(source)
    if path.exists():
        check_regular_file(path)  # a FIFO would block read_text forever
    try:
        return path.read_text(), path
    except FileNotFoundError:
        hint = " (pass YAML text as io.StringIO(text))" if "\n" in os.fspath(source) else ""
        raise MissingFileError("no such file" + hint, path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FileContentError(f"cannot read the YAML: {exc}", path) from None


def yaml_keys(path: Any, limit: int = 65536) -> set[str]:
    """Top-level keys of a small YAML file (or ``io.StringIO`` text), or an empty set when it
    is not one (for recognising a format)."""
    try:
        if isinstance(path, io.StringIO):
            doc = bounded_safe_load(path.getvalue())
        elif is_text_stream(path) or not is_regular_file(path) or path.stat().st_size > limit:
            return set()
        else:
            doc = bounded_safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError, YamlTooLarge):
        return set()
    return set(doc) if isinstance(doc, dict) else set()


def resolve_relative(name: str | os.PathLike, base: Path | None) -> Path:
    """Resolve a path named inside a YAML: relative to the YAML's folder, then the working folder.

    A leading ``~`` is part of the name (as HEXRD and the operating system read it),
    never the home folder."""
    p = Path(name)
    if p.is_absolute():
        return p
    if base is not None and (base / p).exists():
        return base / p
    if p.exists():
        return p
    return base / p if base is not None else p


#: What the YAML readers do with a metadata value ``"! command ..."`` of an unknown
#: command: ``error`` (a MetadataError) or ``drop`` (the key is left out, with a
#: warning, as HEXRD does).
UNKNOWN_TRIGGERS = ("error", "drop")


def is_trigger(value: Any) -> bool:
    """A ``! command ...`` value: its first word is ``!`` and more words follow (as HEXRD
    reads them; ``"!"`` alone or ``"!word"`` are plain strings)."""
    words = value.split() if isinstance(value, str) else []
    return len(words) > 1 and words[0] == "!"


def check_unknown_triggers(value: Any, where: Any) -> str:
    """``value`` if it is one of :data:`UNKNOWN_TRIGGERS`, else an OptionError naming ``where``."""
    if not isinstance(value, str) or value not in UNKNOWN_TRIGGERS:
        raise OptionError(
            f"unknown_triggers must be one of {', '.join(UNKNOWN_TRIGGERS)}, not {value!r}", where
        )
    return value


def yaml_metadata(
    meta: Any,
    folder: Path | None,
    where: Any,
    files: list[str] | None = None,
    unknown_triggers: str = "error",
) -> dict[str, Any]:
    """Metadata of a YAML block, with its triggers applied.

    ``"! load-numpy-array name.npy"`` loads a .npy file (relative to the YAML's
    folder, then the working folder; never with pickle; a 0-d array becomes a
    scalar, text a str); ``key: ++np.array`` takes the value of the sibling
    ``key-array`` as a numpy array (the sibling is dropped). Used by the
    image-files and frame-cache (yml style) formats. The .npy files loaded are
    appended to ``files`` when given (a series lists them among its files).
    Any other value starting with ``!`` is an unknown trigger: a MetadataError
    when ``unknown_triggers`` is ``"error"``; with ``"drop"`` its key is left out
    with a warning naming the file and the key.
    """
    check_unknown_triggers(unknown_triggers, where)
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise MetadataError(
            f"the metadata block must be a mapping, not {type(meta).__name__}", where
        )
    out: dict[str, Any] = {}
    used_siblings = {f"{k}-array" for k, v in meta.items() if v == "++np.array"}
    for key, value in meta.items():
        key = str(key)
        if key in used_siblings:
            continue
        if value == "++np.array":
            if f"{key}-array" not in meta:
                raise MetadataError(
                    f"metadata {key!r} is '++np.array' but there is no {key}-array", where
                )
            out[key] = np.array(meta[f"{key}-array"])
        elif is_trigger(value):
            command, _, name = value.lstrip()[1:].strip().partition(" ")
            name = name.strip()  # a file name may hold spaces
            if (command != "load-numpy-array" or not name) and unknown_triggers == "drop":
                where_text = f" of {os.fspath(where)}" if where is not None else ""
                warnings.warn(
                    f"metadata {key!r}{where_text}: unknown trigger {value!r}, key dropped",
                    stacklevel=2,
                )
                continue
            if command != "load-numpy-array" or not name:
                raise MetadataError(
                    f"metadata {key!r}: unknown trigger {value!r}; "
                    "expected '! load-numpy-array FILE.npy'",
                    where,
                )
            npy = resolve_relative(name, folder)
            if files is not None:
                files.append(absolute(npy))
            if npy.exists():
                check_regular_file(npy)
            try:
                loaded = load_npy_file(npy, npy, f"metadata {key!r}", MetadataError)
            except FileNotFoundError:
                raise MissingFileError(f"metadata {key!r} names a missing file", npy) from None
            except LazyImsError:
                raise
            except (OSError, ValueError) as exc:
                raise MetadataError(
                    f"metadata {key!r}: cannot load {str(npy)!r}: {exc}", npy
                ) from None
            if not isinstance(loaded, np.ndarray):  # an .npz: a zip of arrays
                loaded.close()
                raise MetadataError(
                    f"metadata {key!r}: {str(npy)!r} is not a .npy array (an .npz archive?)", npy
                )
            out[key] = _scalar_if_0d(loaded)
        else:
            out[key] = value
    return out


def _scalar_if_0d(value: np.ndarray) -> Any:
    return decode_value(value[()]) if value.ndim == 0 else decode_value(value)
