"""The ``image-files`` adapter: detector image files listed in a YAML (HEXRD's ``load.imagefiles``)."""

from __future__ import annotations

import io
import os

from ... import api
from . import LazyAdapter, yaml_source
from .metadata import yaml_without_unknown_triggers


class ImageFilesImageSeriesAdapter(LazyAdapter):
    """Frames of image files: ``open("images.yml", "image-files")``.

    ``fname`` is the YAML file or its text. Opening reads the files' headers only
    (HEXRD reads every file's pixels).
    """

    format = "image-files"

    def __init__(self, fname: str | os.PathLike):
        self._fname = fname
        # HEXRD drops metadata with an unknown '! command'; lazyims.open refuses the YAML
        text = yaml_without_unknown_triggers(yaml_source(fname), ("image-files", "directory"))
        source = yaml_source(fname) if text is None else io.StringIO(text)
        self._set_series(api.open(source, "image-files"))

    @property
    def fname(self) -> str | os.PathLike:
        """The YAML file (or text) the series was opened from."""
        return self._fname
