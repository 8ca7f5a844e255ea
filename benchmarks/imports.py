"""The import job: what ``import lazyims`` costs against ``import dask.array``.

This module imports nothing itself, so the clock (started after it is imported)
sees the whole import in a fresh process.
"""

from __future__ import annotations

import importlib


def import_module(name: str) -> None:
    """Import ``name`` (the job; its wall and CPU time are the import's)."""
    importlib.import_module(name)
