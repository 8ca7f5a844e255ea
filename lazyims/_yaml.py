"""Reading the YAML files of the image-files, raw-image and frame-cache formats.

YAML is only ever read with ``yaml.safe_load``: no tag in a file can run code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from .errors import FileContentError, MissingFileError


def load_yaml(source: str | os.PathLike) -> tuple[dict[str, Any], Path | None]:
    """Load a YAML mapping from a path, or from YAML text.

    Returns the mapping and the folder of the file (None for YAML text), the folder
    that relative paths inside the file are resolved against first.
    """
    text, path = _text_of(source)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FileContentError(f"not valid YAML: {exc}", path) from None
    if not isinstance(doc, dict):
        raise FileContentError(
            f"the YAML must be a mapping of keys, not {type(doc).__name__}", path
        )
    return doc, (path.parent if path is not None else None)


def _text_of(source: str | os.PathLike) -> tuple[str, Path | None]:
    if isinstance(source, str) and ("\n" in source or ":" in source and not os.path.exists(source)):
        return source, None
    path = Path(source)
    try:
        return path.read_text(), path
    except FileNotFoundError:
        raise MissingFileError("no such file", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FileContentError(f"cannot read the YAML: {exc}", path) from None


def yaml_keys(path: Path, limit: int = 65536) -> set[str]:
    """Top-level keys of a small YAML file, or an empty set when it is not one (for sniffing)."""
    try:
        if path.stat().st_size > limit:
            return set()
        doc = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return set()
    return set(doc) if isinstance(doc, dict) else set()


def resolve_relative(name: str | os.PathLike, base: Path | None) -> Path:
    """Resolve a path named inside a YAML: relative to the YAML's folder, then the working folder."""
    p = Path(name).expanduser()
    if p.is_absolute():
        return p
    if base is not None and (base / p).exists():
        return base / p
    if p.exists():
        return p
    return base / p if base is not None else p
