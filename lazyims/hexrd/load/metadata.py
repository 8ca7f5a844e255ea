"""Metadata of YAML descriptions, with HEXRD's triggers (HEXRD's ``load.metadata``)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..._npy import load_npy_file
from ..._yaml import is_trigger, resolve_relative
from ...errors import MetadataError


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
        elif is_trigger(value):
            if _is_known_trigger(value):
                npy = resolve_relative(" ".join(value.split()[2:]), folder)
                out[key] = load_npy_file(npy, npy, f"metadata {key!r}", MetadataError)
            else:
                warnings.warn(
                    f"metadata {key!r}: unknown trigger {value!r}, key dropped", stacklevel=2
                )
        else:
            out[key] = value
    return out


def _is_known_trigger(value: Any) -> bool:
    words = value.split()
    return words[1] == "load-numpy-array" and len(words) > 2
