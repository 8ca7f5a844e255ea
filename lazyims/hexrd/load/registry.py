"""The registry of HEXRD-layer adapters, by format name (HEXRD's ``load.registry``)."""

from __future__ import annotations

from typing import Any


class Registry:
    """Adapter classes by their ``format`` name; the last registered for a name wins."""

    adapter_registry: dict[Any, type] = {}

    @classmethod
    def register(cls, acls: type) -> None:
        """Register ``acls`` under ``acls.format`` (the base class itself is skipped)."""
        if acls.__name__ != "ImageSeriesAdapter":
            cls.adapter_registry[acls.format] = acls
