"""Omega (rotation angle) metadata: wedges, and frames from angles (HEXRD's ``omega`` module).

``metadata["omega"]`` is an (nframes, 2) array of each frame's [start, stop] angle in
degrees. A series' frames split into *wedges*: runs of frames with the same step whose
ranges follow on one another (absolute tolerance :data:`TOLERANCE`).
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import takes_series
from .errors import OmegaError
from .series import ImageSeries

#: Absolute tolerance (degrees) when comparing steps and wedge boundaries.
TOLERANCE = 1e-6
#: A full turn; angles are compared modulo this from a wedge's start.
TURN = 360.0


class OmegaWedges:
    """A list of wedges (ranges of omega split into equal steps) describing ``nframes`` frames.

    Use it to make the ``omega`` metadata of a scan.

    Parameters
    ----------
    nframes
        The number of frames the wedges must describe.

    Examples
    --------
    >>> w = OmegaWedges(12)
    >>> w.addwedge(0, 30, 6)
    >>> w.addwedge(60, 90, 6)
    >>> w.omegas[:2]
    array([[ 0.,  5.],
           [ 5., 10.]])
    """

    def __init__(self, nframes: int):
        if not isinstance(nframes, numbers.Integral) or isinstance(nframes, bool) or nframes < 0:
            raise OmegaError(f"nframes must be an integer >= 0, not {nframes!r}")
        self.nframes = int(nframes)
        self._wedges: list[dict[str, Any]] = []

    @property
    def wedges(self) -> list[dict[str, Any]]:
        """The wedges as dicts with ``ostart``, ``ostop``, ``nsteps`` (a copy)."""
        return [dict(w) for w in self._wedges]

    @property
    def nwedges(self) -> int:
        """The number of wedges."""
        return len(self._wedges)

    @property
    def wframes(self) -> int:
        """The number of frames the wedges describe (the sum of their steps)."""
        return int(sum(w["nsteps"] for w in self._wedges))

    def addwedge(self, ostart: float, ostop: float, nsteps: int, loc: int | None = None) -> None:
        """Add a wedge from ``ostart`` to ``ostop`` degrees in ``nsteps`` frames.

        It is appended, or inserted before wedge ``loc``.
        """
        if not isinstance(nsteps, numbers.Integral) or isinstance(nsteps, bool) or nsteps < 1:
            raise OmegaError(f"a wedge needs a positive integer number of steps, not {nsteps!r}")
        try:
            ostart, ostop = float(ostart), float(ostop)
        except (TypeError, ValueError):
            raise OmegaError(f"wedge angles must be numbers, not {ostart!r}, {ostop!r}") from None
        if not (np.isfinite(ostart) and np.isfinite(ostop)):
            raise OmegaError(f"wedge angles must be finite, not {ostart} to {ostop}")
        if not ostop > ostart:
            raise OmegaError(f"omega must increase within a wedge, got {ostart} to {ostop}")
        wedge = {"ostart": ostart, "ostop": ostop, "nsteps": int(nsteps)}
        self._wedges.insert(self.nwedges if loc is None else int(loc), wedge)

    def delwedge(self, i: int) -> None:
        """Remove wedge ``i``."""
        if not -self.nwedges <= i < self.nwedges:
            raise OmegaError(f"no wedge {i}: there are {self.nwedges}")
        del self._wedges[i]

    @property
    def omegas(self) -> np.ndarray:
        """The (nframes, 2) [start, stop] angles of every frame, each wedge split evenly."""
        if self.wframes != self.nframes:
            raise OmegaError(
                f"the wedges have {self.wframes} steps in all, but there are {self.nframes} frames"
            )
        parts = []
        for w in self._wedges:
            edges = np.linspace(w["ostart"], w["ostop"], w["nsteps"] + 1)
            parts.append(np.stack([edges[:-1], edges[1:]], axis=1))
        return np.concatenate(parts) if parts else np.zeros((0, 2))

    def save_omegas(self, fname: str | os.PathLike) -> None:
        """Save :attr:`omegas` with :func:`numpy.save` (for ``! load-numpy-array`` metadata)."""
        np.save(fname, self.omegas)

    def __repr__(self) -> str:
        return f"<OmegaWedges {self.nframes} frames, {self.nwedges} wedges: {self._wedges}>"


@dataclass(frozen=True)
class _Wedge:
    first: int  # the wedge's first frame
    nframes: int
    start: float
    stop: float

    @property
    def step(self) -> float:
        return (self.stop - self.start) / self.nframes


def _file_of(series: ImageSeries) -> str | None:
    """The series' source when it was read from files, for errors to name."""
    return series.source if series.files else None


def _omega_of(series: ImageSeries) -> np.ndarray:
    where = _file_of(series)
    meta = series.metadata
    if "omega" not in meta:
        raise OmegaError(f"the series ({series.source or 'no source'}) has no omega metadata")
    try:
        omega = np.asarray(meta["omega"], dtype=float)
    except (TypeError, ValueError):
        raise OmegaError("the omega metadata is not numeric", where) from None
    if omega.ndim != 2 or omega.shape[1] != 2:
        raise OmegaError(f"omega metadata must be (nframes, 2), not {omega.shape}", where)
    if omega.shape[0] != series.nframes:
        raise OmegaError(
            f"omega metadata has {omega.shape[0]} rows, but the series has {series.nframes} frames",
            where,
        )
    if not np.isfinite(omega).all():
        raise OmegaError("omega metadata holds NaN or infinite angles", where)
    return omega


def _split_wedges(omega: np.ndarray, where: str | None = None) -> list[_Wedge]:
    """Runs of frames with one step, each frame starting where the previous stopped."""
    steps = omega[:, 1] - omega[:, 0]
    bad = np.flatnonzero(~(steps > 0))
    if bad.size:
        raise OmegaError(
            f"omega must increase: frame {bad[0]} goes from {omega[bad[0]].tolist()}", where
        )
    starts = [0]
    for f in range(1, len(omega)):
        new_step = abs(steps[f] - steps[f - 1]) > TOLERANCE
        gap = abs(omega[f, 0] - omega[f - 1, 1]) > TOLERANCE
        if new_step or gap:
            starts.append(f)
    bounds = [*starts, len(omega)]
    return [
        _Wedge(a, b - a, float(omega[a, 0]), float(omega[b - 1, 1]))
        for a, b in zip(bounds[:-1], bounds[1:])
    ]


@takes_series(OmegaError)
def wedges(series: ImageSeries) -> OmegaWedges:
    """The wedges of a series with omega metadata.

    Frames split where the step or the continuity of omega changes; decreasing
    omega, or omega not matching the frames, is an :class:`~lazyims.OmegaError`.
    """
    omega = _omega_of(series)
    result = OmegaWedges(series.nframes)
    for w in _split_wedges(omega, _file_of(series)):
        result.addwedge(w.start, w.stop, w.nframes)
    return result


def _locate(found: list[_Wedge], om: float) -> tuple[int, int]:
    for i, w in enumerate(found):
        # Angles wrap modulo a turn from the wedge's start; a wedge holds [start, stop).
        wrapped = w.start + np.mod(om - w.start, TURN)
        if wrapped < w.stop:
            step_index = int(np.floor((wrapped - w.start) / w.step))
            return w.first + min(step_index, w.nframes - 1), i
    return -1, -1


@takes_series(OmegaError)
def omega_to_frame(series: ImageSeries, om: float) -> tuple[int, int]:
    """The (frame, wedge) whose omega range holds ``om`` degrees; (-1, -1) if none.

    Angles are taken modulo 360 from each wedge's start.
    """
    if not isinstance(om, numbers.Real) or isinstance(om, bool):
        raise OmegaError(f"omega must be a number, not {om!r}")
    return _locate(_split_wedges(_omega_of(series), _file_of(series)), float(om))


@takes_series(OmegaError)
def omegarange_to_frames(series: ImageSeries, omin: float, omax: float) -> list[int]:
    """The frames from the one holding ``omin`` to the one holding ``omax``.

    Both must fall in one wedge (``omin``'s frame first), or in two successive wedges
    that meet modulo 360; otherwise the result is empty (as in HEXRD).
    """
    for value in (omin, omax):
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise OmegaError(f"omega must be a number, not {value!r}")
    found = _split_wedges(_omega_of(series), _file_of(series))
    f0, w0 = _locate(found, float(omin))
    f1, w1 = _locate(found, float(omax))
    if w0 < 0 or w1 < 0 or f1 < f0:
        return []
    if w0 == w1:
        return list(range(f0, f1 + 1))
    if w1 == w0 + 1:
        gap = np.mod(found[w1].start - found[w0].stop, TURN)
        if min(gap, TURN - gap) <= TOLERANCE:
            return list(range(f0, f1 + 1))
    return []


@takes_series(OmegaError)
def omega_range(series: ImageSeries, omin: float, omax: float) -> ImageSeries:
    """The frames of ``series`` from omega ``omin`` to ``omax``, as a lazy series.

    See :func:`omegarange_to_frames`; an empty selection is an :class:`~lazyims.OmegaError`.
    """
    selection = omegarange_to_frames(series, omin, omax)
    if not selection:
        raise OmegaError(f"no frames from omega {omin} to {omax} in one run of wedges")
    return series[selection]
