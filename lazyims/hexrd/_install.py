"""lazyims.hexrd in place of HEXRD's ``imageseries`` package, by module aliasing.

After :func:`install`, the import system hands out :mod:`lazyims.hexrd` (and its
modules) for ``hexrd.core.imageseries`` (and its modules), and for
``hexrd.imageseries`` of older HEXRD: entries in ``sys.modules``, and the attribute
``imageseries`` of HEXRD's packages ``hexrd.core`` and ``hexrd``. HEXRD's own code is
not changed: its command line, its GUI and user scripts then open every image series
through lazyims, in the formats lazyims reads and HEXRD does not (``zarr``, ``eiger``)
too, as named in HEXRD's configuration files.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from types import ModuleType
from typing import Any

#: lazyims.hexrd's modules, under the names HEXRD gives its own.
SUBMODULES = (
    "baseclass",
    "imageseriesabc",
    "imageseriesiter",
    "load",
    "load.array",
    "load.eiger",
    "load.eiger_stream_v1",
    "load.eiger_stream_v2",
    "load.framecache",
    "load.function",
    "load.hdf5",
    "load.imagefiles",
    "load.metadata",
    "load.rawimage",
    "load.registry",
    "omega",
    "process",
    "save",
    "stats",
)

#: Where HEXRD keeps its imageseries package: today's layout, then HEXRD before 0.10.
PACKAGES = ("hexrd.core.imageseries", "hexrd.imageseries")

_MISSING = object()
#: What install() replaced: {module name: the previous sys.modules entry or _MISSING},
#: and [(parent module, attribute, previous value or _MISSING)]; None when not installed.
_replaced: dict[str, Any] | None = None
_replaced_attributes: list[tuple[ModuleType, str, Any]] = []


def aliases() -> dict[str, str]:
    """{HEXRD's module name: the lazyims module that stands in for it}."""
    names = {}
    for package in PACKAGES:
        names[package] = "lazyims.hexrd"
        for sub in SUBMODULES:
            names[f"{package}.{sub}"] = f"lazyims.hexrd.{sub}"
    return names


def installed() -> bool:
    """Whether :func:`install` is in effect."""
    return _replaced is not None


def install() -> None:
    """Make HEXRD's imageseries package lazyims.hexrd, for all code imported from now on.

    ``import hexrd.core.imageseries`` (and ``hexrd.imageseries``, and their modules:
    ``load``, ``omega``, ``process``, ``save``, ``stats``...) then gives lazyims.hexrd.
    HEXRD's packages ``hexrd`` and ``hexrd.core`` are imported first when HEXRD is
    installed. Calling it again does nothing; :func:`uninstall` undoes it.

    Call it before HEXRD's modules are imported: a HEXRD module imported earlier keeps
    the names it took from HEXRD's imageseries (a warning says when HEXRD's imageseries
    was already imported).

    Examples
    --------
    >>> import lazyims.hexrd
    >>> lazyims.hexrd.install()
    >>> from hexrd.core import imageseries  # doctest: +SKIP
    >>> imageseries is lazyims.hexrd  # doctest: +SKIP
    True
    >>> lazyims.hexrd.uninstall()
    """
    global _replaced
    if _replaced is not None:
        return
    for parent in ("hexrd", "hexrd.core"):
        try:
            importlib.import_module(parent)
        except ImportError:
            break
    targets = {name: importlib.import_module(target) for name, target in aliases().items()}
    earlier = sorted(
        name
        for name, module in targets.items()
        if sys.modules.get(name) not in (None, module) and name in PACKAGES
    )
    if earlier:
        warnings.warn(
            f"{', '.join(earlier)} was imported before lazyims.hexrd.install(): the modules "
            "that imported it keep HEXRD's own imageseries; call install() before importing "
            "HEXRD",
            stacklevel=2,
        )
    replaced = {}
    for name, module in targets.items():
        replaced[name] = sys.modules.get(name, _MISSING)
        sys.modules[name] = module
        parent_name, _, attribute = name.rpartition(".")
        parent = sys.modules.get(parent_name)
        if parent is not None and parent.__dict__.get(attribute, _MISSING) is not module:
            _replaced_attributes.append(
                (parent, attribute, parent.__dict__.get(attribute, _MISSING))
            )
            setattr(parent, attribute, module)
    _replaced = replaced


def uninstall() -> None:
    """Give HEXRD's imageseries back: undo :func:`install` (nothing when not installed).

    Modules imported while lazyims.hexrd was installed keep what they imported.
    """
    global _replaced
    if _replaced is None:
        return
    for parent, attribute, previous in reversed(_replaced_attributes):
        if previous is _MISSING:
            parent.__dict__.pop(attribute, None)
        else:
            setattr(parent, attribute, previous)
    for name, previous in _replaced.items():
        if previous is _MISSING:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
    _replaced_attributes.clear()
    _replaced = None


__all__ = ["PACKAGES", "SUBMODULES", "aliases", "install", "installed", "uninstall"]
