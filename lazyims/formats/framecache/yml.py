"""The yml style of frame-cache (older, still in the wild): a YAML file beside an npz.

::

    data:
      file: scan_cache.npz      # relative to the YAML's folder; holds only {i}_* members
      dtype: float32
      nframes: 1440
      shape: [3888, 3072]
    meta:
      panel: ff1
      omega: '! load-numpy-array scan-omega.npy'

Metadata values ``'! load-numpy-array NAME.npy'`` load a .npy file, found relative
to the YAML's folder first, then the working directory (HEXRD uses the working
directory only). The older form ``key: ++np.array`` takes its value from the
sibling key ``key-array``.
"""

from __future__ import annotations

import errno
import os
import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..._files import (
    absolute,
    check_not_a_source,
    check_target,
    remove_quietly,
    temporary_name,
    write_error,
)
from ..._yaml import check_keys, is_trigger, load_yaml, resolve_relative, yaml_metadata
from ...errors import FileContentError, LazyImsError, MetadataError, WriteError
from ...series import ImageSeries
from ._common import check_metadata, parse_dtype, parse_nframes, parse_shape
from .npz import (
    check_frame_members,
    check_writable,
    series_from_npz,
    write_cache_npz,
    zip_index,
)

LOAD_NUMPY = "! load-numpy-array"
#: The keys of the YAML and of its ``data:`` block (all of ``data``'s are required, as in
#: HEXRD); an unknown key in either is an error. ``meta`` may be left out (HEXRD needs it).
YAML_KEYS = ("data", "meta")
DATA_KEYS = ("file", "dtype", "nframes", "shape")


def open_yml(
    fname: str, frames_per_chunk: int | None = None, unknown_triggers: str = "error"
) -> ImageSeries:
    """Open a yml frame-cache: reads the YAML, the npz's directory and the .npy metadata.

    ``unknown_triggers`` (``"error"`` or ``"drop"``) is what a metadata value
    ``"! command ..."`` of an unknown command does (see :func:`lazyims._yaml.yaml_metadata`).
    """
    doc, folder = load_yaml(fname)
    data = doc.get("data")
    if not isinstance(data, dict):
        raise FileContentError("not a frame-cache YAML: no 'data' mapping", fname)
    check_keys(doc, YAML_KEYS, fname, "the frame-cache YAML")
    check_keys(data, DATA_KEYS, fname, "the frame-cache YAML's data", required=DATA_KEYS)
    cache = absolute(resolve_relative(str(data["file"]), folder))
    shape = parse_shape(data["shape"], fname)
    nframes = parse_nframes(data["nframes"], fname)
    dtype = parse_dtype(data["dtype"], fname)
    npys: list[str] = []
    metadata = yaml_metadata(doc.get("meta"), folder, fname, npys, unknown_triggers)
    check_frame_members(zip_index(cache), nframes, cache)
    return series_from_npz(
        cache,
        shape,
        nframes,
        dtype,
        metadata,
        frames_per_chunk,
        "yml",
        source=fname,
        files=(fname, cache, *npys),
    )


def _inline(value: np.ndarray) -> Any:
    """A 0-d text or number as a plain YAML value, or None when it goes to a .npy file.

    Text that readers would take for a command (``"! cmd ..."``, ``"++np.array"``) goes
    to a .npy file too: inline, it would not read back as itself."""
    if value.ndim != 0:
        return None
    if value.dtype.kind == "U":
        text = str(value)
        return None if is_trigger(text) or text == "++np.array" else text
    if value.dtype.kind in "biuf":
        return value.item()
    return None


def npy_beside(final: Path, key: str, generation: str = "") -> Path:
    """``NAME-KEY.npy`` (``NAME-KEY.GEN.npy`` for a generation) beside the YAML ``final``;
    a key that would name a file elsewhere (path separators, control characters) is an error."""
    if any(c in key for c in "/\\") or any(ord(c) < 32 for c in key):
        raise MetadataError(
            f"metadata name {key!r} cannot be part of a .npy file name "
            "(it has a path separator or a control character)",
            final,
        )
    npy = final.with_name(f"{final.stem}-{key}{generation}.npy")
    if npy.parent != final.parent:  # never write outside the folder the user named
        raise MetadataError(f"metadata name {key!r} names a file outside {final.parent}", final)
    _check_name_length(final, key, npy.name, generation)
    return npy


def _check_name_length(final: Path, key: str, name: str, generation: str) -> None:
    """A MetadataError naming the YAML when the .npy file of metadata ``key`` would have a
    name too long for the file system (room is kept for a generation ``.XXXXXXXX``)."""
    try:
        limit = os.pathconf(final.parent if str(final.parent) else ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    length = len(os.fsencode(name)) + (0 if generation else 9)
    if length > limit:
        shown = key if len(key) <= 40 else key[:40] + "..."
        raise MetadataError(
            f"metadata name {shown!r} ({len(key)} characters) is too long: its .npy file "
            f"name would have {length} bytes with a generation, more than the file system's "
            f"{limit}",
            final,
        )


def _names(final: Path, keys: list[str], generation: str) -> tuple[Path, dict[str, Path]]:
    cache = final.with_name(f"{final.stem}_cache{generation}.npz")
    return cache, {key: npy_beside(final, key, generation) for key in keys}


def _companions(final: Path, sources: tuple[str, ...]) -> list[Path]:
    """The cache and .npy files the YAML at ``final`` names that lazyims may remove when it
    replaces that YAML: in its folder, named as lazyims and HEXRD name them, not read by
    the series being written. Anything else a YAML names is left alone."""
    try:
        doc, folder = load_yaml(final)
    except LazyImsError:
        return []
    named = []
    data = doc.get("data")
    if isinstance(data, dict) and isinstance(data.get("file"), str):
        named.append(data["file"])
    meta = doc.get("meta")
    for value in meta.values() if isinstance(meta, dict) else ():
        if isinstance(value, str) and value.strip().startswith(LOAD_NUMPY):
            named.append(value.strip()[len(LOAD_NUMPY) :].strip())
    pattern = re.compile(
        rf"{re.escape(final.stem)}(_cache(\.[0-9a-f]{{8}})?\.npz|-.+\.npy)", re.DOTALL
    )
    out = []
    for name in named:
        path = Path(folder or ".") / name
        if path.parent.resolve() != final.parent.resolve() or not pattern.fullmatch(path.name):
            continue
        try:
            check_not_a_source(path, sources)
        except LazyImsError:
            continue
        out.append(path)
    return out


def write_yml(series: ImageSeries, fname: str, threshold: Any) -> None:
    """Write ``series`` as a yml frame-cache: ``NAME.yml``, ``NAME_cache.npz``, ``NAME-KEY.npy``.

    The set is replaced atomically as a whole: the cache and .npy files are written
    under names no file has (``NAME_cache.npz`` when free, else a generation
    ``NAME_cache.GEN.npz`` and ``NAME-KEY.GEN.npy``), then the YAML naming them is
    renamed into place in one step, and only then are the files the old YAML named
    removed. A reader (HEXRD or lazyims) opening the YAML at any moment, even when
    the writer is killed, finds either the old set or the new one, never a mix.
    """
    check_writable(series, threshold, fname)
    metadata = check_metadata(series.metadata, fname, reserved=False)
    final = Path(fname)
    meta: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for key, value in metadata.items():
        inline = _inline(value)
        if inline is not None:
            meta[key] = inline
        else:
            npy_beside(final, key)  # checks the key
            arrays[key] = value
    check_target(final, series.files)
    part_cache = temporary_name(final.with_name(f"{final.stem}_cache.npz"))
    part_npys = {key: temporary_name(npy_beside(final, key)) for key in arrays}
    part_yml = temporary_name(final)
    placed: list[Path] = []
    try:
        write_cache_npz(series, part_cache, threshold, fname, header={})
        for key, part in part_npys.items():
            with open(part, "wb") as fh:
                np.lib.format.write_array(fh, arrays[key], allow_pickle=False)
        # new names only, taken with a hard link that fails when the name is taken: two
        # writers of one YAML at once never place their files under the same name
        cache, npys = _place(final, part_cache, part_npys, placed, series.files)
        for key, npy in npys.items():
            meta[key] = f"{LOAD_NUMPY} {npy.name}"
        doc = {
            "data": {
                "file": cache.name,
                "dtype": str(series.dtype),
                "nframes": int(series.nframes),
                "shape": [int(n) for n in series.frame_shape],
            },
            "meta": meta,
        }
        part_yml.write_text(yaml.safe_dump(doc, sort_keys=False))
        old = _identities(_companions(final, series.files) if final.exists() else [])
        os.replace(part_yml, final)  # the switch: from here on readers see the new set
    except BaseException as exc:
        for path in (part_cache, *part_npys.values(), part_yml, *placed):
            remove_quietly(path)
        if isinstance(exc, OSError) and not isinstance(exc, LazyImsError):
            raise write_error(exc, final) from None
        raise
    for path in (part_cache, *part_npys.values()):
        remove_quietly(path)  # the other name of a file placed by a hard link
    new = {p.resolve() for p in (cache, *npys.values())}
    for path, identity in old:
        if path.resolve() in new or _identities([path]) != [(path, identity)]:
            continue  # ours, or put there by another writer since: not the old file
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass  # the new set is in place; an old file left behind harms no reader


def _identities(paths: list[Path]) -> list[tuple[Path, tuple[int, int]]]:
    """``(path, (device, inode))`` of those of ``paths`` that exist."""
    out = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        out.append((path, (st.st_dev, st.st_ino)))
    return out


def _place(
    final: Path,
    part_cache: Path,
    part_npys: dict[str, Path],
    placed: list[Path],
    sources: tuple[str, ...],
    attempts: int = 20,
) -> tuple[Path, dict[str, Path]]:
    """Give the written cache and .npy files names no file has: ``NAME_cache.npz`` when
    free, else a new generation. Each name is taken with :func:`_take_name`, which fails
    when another writer took it first; then all names are dropped and a new
    generation is tried. The names taken are appended to ``placed``."""
    generation = ""
    for _ in range(attempts):
        cache, npys = _names(final, list(part_npys), generation)
        pairs = [(part_cache, cache), *((part_npys[k], npys[k]) for k in part_npys)]
        for part, target in pairs:
            if os.path.lexists(target) or not _take_name(part, target, sources):
                break  # a name taken is never replaced: another generation
            placed.append(target)
        else:
            return cache, npys
        for path in placed:
            remove_quietly(path)
        placed.clear()
        generation = "." + uuid.uuid4().hex[:8]
    raise WriteError(f"no free name for the cache beside the YAML after {attempts} tries", final)


def _take_name(part: Path, target: Path, sources: tuple[str, ...]) -> bool:
    """Give the file ``part`` the name ``target`` unless a file has it (False then).

    A hard link takes the name in one step that fails when it is taken; on a file
    system without hard links, a rename after a check (not safe against a writer
    doing the same at the same moment)."""
    check_target(target, sources)
    try:
        os.link(part, target)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (
            errno.EPERM,
            errno.EOPNOTSUPP,
            errno.ENOTSUP,
            errno.ENOSYS,
            errno.EMLINK,
        ):
            raise
    if os.path.lexists(target):
        return False
    os.replace(part, target)
    return True
