"""HDF5 datasets that live in other files: external links and virtual datasets.

HDF5 follows an external link to a missing file with a bare ``KeyError``, and reads
the part of a virtual dataset whose source file (or source dataset) is missing as
its fill value, zeros by default, without a word. These helpers name the missing
file instead, at open and at every read.
"""

from __future__ import annotations

import os
import posixpath

import h5py

from .._files import absolute
from ..errors import FileContentError, MissingFileError


def _candidates(name: str, folder: str) -> list[str]:
    """Where HDF5 looks for a file ``name`` linked from a file in ``folder``."""
    if os.path.isabs(name):
        return [name, os.path.join(folder, os.path.basename(name))]
    return [os.path.join(folder, name), os.path.join(os.getcwd(), name)]


def _found(name: str, folder: str) -> str | None:
    """The file HDF5 would open for ``name``, or None when there is none."""
    return next((p for p in _candidates(name, folder) if os.path.isfile(p)), None)


def explain_missing_link(f: h5py.File, path: str, fname: str) -> None:
    """Raise a MissingFileError naming the file an external link on ``path`` points to,
    when that file is missing (called when ``path`` cannot be opened)."""
    group: h5py.Group = f["/"]
    parts = [p for p in path.split("/") if p]
    for k, part in enumerate(parts):
        try:
            link = group.get(part, getlink=True)
        except (KeyError, OSError, RuntimeError):
            return
        if isinstance(link, h5py.ExternalLink):
            folder = os.path.dirname(group.file.filename)
            if _found(link.filename, folder) is None:
                where = "/" + "/".join(parts[: k + 1])
                raise MissingFileError(
                    f"{where!r} is an external link to {link.filename!r}, which is missing",
                    os.path.join(folder, link.filename),
                )
        try:
            group = group[part]
        except (KeyError, OSError, RuntimeError):
            return
        if not isinstance(group, h5py.Group):
            return


def linked_files(dset: h5py.Dataset) -> tuple[str, ...]:
    """The other files a dataset reads: its own file when reached through an external
    link, and the source files of a virtual dataset (a missing one is an error)."""
    own = absolute(dset.file.filename)
    files = {own}
    if dset.is_virtual:
        files.update(virtual_sources(dset, check_datasets=True))
    return tuple(sorted(files))


def virtual_sources(dset: h5py.Dataset, check_datasets: bool = False) -> list[str]:
    """The source files of the virtual dataset ``dset``; a MissingFileError names a
    missing one (HDF5 would give its part as the fill value). With ``check_datasets``
    each source file is opened to check that the source dataset is in it."""
    vds_file = absolute(dset.file.filename)
    folder = os.path.dirname(vds_file)
    out: dict[str, set[str]] = {}
    for source in dset.virtual_sources():
        name = source.file_name
        if name == "." or "%b" in name:  # the dataset's own file, or a printf-style pattern
            continue
        found = _found(name, folder)
        if found is None:
            raise MissingFileError(
                f"a source file of the virtual dataset {dset.name!r} is missing "
                "(its frames would read as the fill value)",
                os.path.join(folder, name),
            )
        out.setdefault(absolute(found), set()).add(source.dset_name)
    if check_datasets:
        for path, names in out.items():
            try:
                with h5py.File(path, "r") as src:
                    absent = [n for n in names if not isinstance(src.get(n), h5py.Dataset)]
            except OSError as exc:
                raise FileContentError(
                    f"a source file of a virtual dataset ({exc})", path
                ) from None
            if absent:
                raise FileContentError(
                    f"the virtual dataset {dset.name!r} names dataset {absent[0]!r}, which this "
                    "source file does not hold (its frames would read as the fill value)",
                    path,
                )
    return sorted(out)


def dataset_path(group_path: str, dataname: str) -> str:
    """The absolute path of ``dataname`` in ``group_path`` as named in the file opened
    (``Dataset.name`` gives the name inside the file an external link leads to)."""
    parts = (p.strip("/") for p in (group_path, dataname))
    return posixpath.normpath("/" + "/".join(p for p in parts if p))
