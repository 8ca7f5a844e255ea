"""The ``raw-image`` adapter: frames in a binary file described by a YAML (HEXRD's ``load.rawimage``)."""

from __future__ import annotations

import os
from typing import Any

from ... import api
from . import LazyAdapter, yaml_source


class RawImageSeriesAdapter(LazyAdapter):
    """Frames of a headerless binary file: ``open("raw.yml", "raw-image")``."""

    format = "raw-image"

    def __init__(self, fname: str | os.PathLike, **kwargs: Any):
        self._set_series(api.open(yaml_source(fname), "raw-image"))
