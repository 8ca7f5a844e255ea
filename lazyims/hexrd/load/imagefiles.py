"""The ``image-files`` adapter: detector image files listed in a YAML (HEXRD's ``load.imagefiles``)."""

from __future__ import annotations

import os

from ... import api
from . import LazyAdapter, yaml_source


class ImageFilesImageSeriesAdapter(LazyAdapter):
    """Frames of image files: ``open("images.yml", "image-files")``.

    ``fname`` is the YAML file or its text. Opening reads the files' headers only
    (HEXRD reads every file's pixels). As in HEXRD, a metadata value
    ``"! command ..."`` of an unknown command drops its key (with a warning).
    """

    format = "image-files"

    def __init__(self, fname: str | os.PathLike):
        self._fname = fname
        # HEXRD drops metadata with an unknown '! command'; lazyims.open refuses the YAML
        self._set_series(api.open(yaml_source(fname), "image-files", unknown_triggers="drop"))

    @property
    def fname(self) -> str | os.PathLike:
        """The YAML file (or text) the series was opened from."""
        return self._fname
