"""HEXRD's module names mapped onto lazyims.hexrd, for running HEXRD's own tests.

Loaded as a pytest plugin (``-p tests.hexrd.hexrd_aliases``) by tests/hexrd/test_hexrd_own_tests.py
and tests/hexrd/test_hexrd_install.py. It calls :func:`lazyims.hexrd.install`, the library's
own aliasing: ``import hexrd.core.imageseries`` then gives ``lazyims.hexrd``, and so
on for every module HEXRD's tests import. Where HEXRD itself is not importable, its
packages ``hexrd`` and ``hexrd.core`` are stood in for by lazyims.hexrd too (which has
the attributes ``core`` and ``imageseries``). HEXRD's Eiger tests import
``dectris.compression``: where it is not installed, an imagecodecs stand-in takes its
name (tests/dectris_shim.py).
"""

import importlib.util
import sys

import lazyims.hexrd
from tests import dectris_shim

if importlib.util.find_spec("hexrd") is None:
    sys.modules["hexrd"] = sys.modules["hexrd.core"] = lazyims.hexrd
lazyims.hexrd.install()
dectris_shim.install()
