"""Metadata of YAML descriptions, with HEXRD's triggers (HEXRD's ``load.metadata``)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..._yaml import load_yaml, resolve_relative


def yamlmeta(meta: dict[str, Any], path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The metadata of a YAML ``meta`` block, with its triggers applied.

    A value ``"! load-numpy-array NAME.npy"`` becomes the array in that file (resolved
    from the folder of ``path``, then the working folder; read without pickle); a
    value ``"++np.array"`` takes the list of its sibling ``KEY-array`` as an array
    (the sibling is dropped). As in HEXRD, a value ``"! other-command ..."`` drops its
    key (with a warning here); other values pass unchanged. ``meta`` is not changed.

    Parameters
    ----------
    meta
        The ``meta`` mapping of the YAML.
    path
        The YAML file (or a file in the folder) that relative names are relative to.
    """
    folder = Path(os.path.dirname(os.fspath(path))) if path is not None else None
    siblings = {f"{k}-array" for k, v in meta.items() if isinstance(v, str) and v == "++np.array"}
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if key in siblings:
            continue
        if isinstance(value, str) and value == "++np.array":
            out[key] = np.array(meta[f"{key}-array"])
        elif _is_trigger(value):
            if _is_known_trigger(value):
                out[key] = np.load(resolve_relative(" ".join(value.split()[2:]), folder))
            else:
                warnings.warn(
                    f"metadata {key!r}: unknown trigger {value!r}, key dropped", stacklevel=2
                )
        else:
            out[key] = value
    return out


def _is_trigger(value: Any) -> bool:
    words = value.split() if isinstance(value, str) else []
    return len(words) > 1 and words[0] == "!"


def _is_known_trigger(value: Any) -> bool:
    words = value.split()
    return words[1] == "load-numpy-array" and len(words) > 2


def yaml_without_unknown_triggers(source: Any, path_key: tuple[str, str]) -> str | None:
    """The YAML of ``source`` as text, its unknown ``! command`` metadata dropped (as HEXRD does).

    None when there is none to drop (open the file itself then). Paths in the text are
    made absolute (``path_key`` names the block and key of the folder or file it names,
    and ``! load-numpy-array`` names), since text has no folder to be relative to.
    """
    doc, folder = load_yaml(source)
    meta_key = "metadata" if "metadata" in doc and "meta" not in doc else "meta"
    meta = doc.get(meta_key)
    if not isinstance(meta, dict):
        return None
    unknown = [k for k, v in meta.items() if _is_trigger(v) and not _is_known_trigger(v)]
    if not unknown:
        return None
    for key in unknown:
        warnings.warn(f"metadata {key!r}: unknown trigger {meta[key]!r}, key dropped", stacklevel=3)
        del meta[key]
    for key, value in meta.items():
        if _is_trigger(value):
            name = " ".join(value.split()[2:])
            meta[key] = f"! load-numpy-array {resolve_relative(name, folder).resolve()}"
    block, name = path_key
    if isinstance(doc.get(block), dict) and isinstance(doc[block].get(name), str):
        doc[block][name] = str(resolve_relative(doc[block][name], folder).resolve())
    return yaml.safe_dump(doc)
