"""HEXRD's module names mapped onto lazyims.hexrd, for running HEXRD's own tests.

Loaded as a pytest plugin (``-p tests.hexrd.hexrd_aliases``) by tests/hexrd/test_hexrd_own_tests.py.
It only puts entries in ``sys.modules``: ``import hexrd.core.imageseries`` then
gives ``lazyims.hexrd``, and so on for every module HEXRD's tests import.
"""

import importlib
import sys

_MODULES = (
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

ALIASES = {
    "hexrd": "lazyims.hexrd",
    "hexrd.core": "lazyims.hexrd",
    "hexrd.core.imageseries": "lazyims.hexrd",
    **{f"hexrd.core.imageseries.{name}": f"lazyims.hexrd.{name}" for name in _MODULES},
}

for _alias, _target in ALIASES.items():
    sys.modules[_alias] = importlib.import_module(_target)
