"""The ``eiger-stream-v2`` adapter (HEXRD's ``load.eiger_stream_v2``) on lazyims' reader.

Its options ``threshold_setting`` (``threshold_1``, ``threshold_2``, ``man_diff``)
and ``multiplier`` are set at open or with :meth:`set_option`, which re-opens the
series (headers only) with the new value.
"""

from __future__ import annotations

from typing import Any

from ... import api
from ...formats.eiger_stream import THRESHOLD_SETTINGS
from .._errors import OptionNotSupported
from . import LazyAdapter
from .eiger_stream_v1 import _name

OPTIONS = ("threshold_setting", "multiplier")


class EigerStreamV2ImageSeriesAdapter(LazyAdapter):
    """Eiger stream v2 frames: ``open(fname, "eiger-stream-v2", threshold_setting=...)``."""

    format = "eiger-stream-v2"

    def __init__(
        self,
        fname: Any,
        threshold_setting: str = "threshold_1",
        multiplier: float = 1,
        **kwargs: Any,
    ):
        self._fname = _name(fname)
        self._options = {"threshold_setting": threshold_setting, "multiplier": float(multiplier)}
        self._reopen()

    def _reopen(self) -> None:
        setting = self._options["threshold_setting"]
        if setting not in THRESHOLD_SETTINGS:
            raise OptionNotSupported(
                f'"{setting}" is not one of the possible values for the threshold_setting. '
                f"Possible values are: {', '.join(THRESHOLD_SETTINGS)}",
                self._fname,
            )
        self._set_series(api.open(self._fname, "eiger-stream-v2", **self._options))

    @property
    def threshold_setting(self) -> str:
        """``threshold_1``, ``threshold_2`` or ``man_diff`` (t1 - multiplier * t2, float64)."""
        return self._options["threshold_setting"]

    @property
    def multiplier(self) -> float:
        """The multiplier of ``man_diff``."""
        return self._options["multiplier"]

    def option_values(self) -> dict[str, Any]:
        """``threshold_setting`` and ``multiplier``."""
        return dict(self._options)

    def set_option(self, key: str, value: Any) -> None:
        """Set ``threshold_setting`` or ``multiplier``; the frames are read anew."""
        if key not in OPTIONS:
            raise OptionNotSupported(f'"{key}" not in possible options: {", ".join(OPTIONS)}')
        old = dict(self._options)
        self._options[key] = float(value) if key == "multiplier" else value
        try:
            self._reopen()
        except Exception:
            self._options = old
            raise
