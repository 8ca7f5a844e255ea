"""Omega (rotation angle) metadata: ``OmegaImageSeries`` and ``OmegaWedges`` (HEXRD's ``omega``).

The wedges are found as in :mod:`lazyims.omega` (runs of frames with one step,
each starting where the previous stopped, tolerance 1e-6); the look-ups answer as
HEXRD's: ``omega_to_frame`` gives ``(-1, -1)`` when no wedge holds the angle, and
``omegarange_to_frames`` an empty tuple ``()`` when there is no such range.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import omega as _lazy_omega
from ..errors import OmegaError
from .baseclass import ImageSeries


class OmegaSeriesError(OmegaError):
    """Omega metadata missing, of the wrong length or not increasing (HEXRD's error).

    A :class:`lazyims.OmegaError` (so a ``ValueError`` too).
    """

    def __init__(self, message: Any, path: Any = None):
        super().__init__(str(message), path)
        self.value = str(message)


class OmegaWedges(_lazy_omega.OmegaWedges):
    """A list of wedges (omega ranges split into equal steps) for ``nframes`` frames.

    See :class:`lazyims.OmegaWedges`; :attr:`omegas` raises
    :class:`OmegaSeriesError` when the wedges' steps do not add up to ``nframes``.
    """

    @property
    def omegas(self) -> np.ndarray:
        """The (nframes, 2) [start, stop] angles of every frame."""
        if self.wframes != self.nframes:
            raise OmegaSeriesError(
                f"number of frames ({self.nframes}) does not match "
                f"number of wedge frames ({self.wframes})"
            )
        return super().omegas


class OmegaImageSeries(ImageSeries):
    """A series with omega metadata, and its wedges and angle look-ups.

    Parameters
    ----------
    ims
        Any HEXRD-interface series whose ``metadata["omega"]`` is an (nframes, 2)
        array of increasing [start, stop] angles.
    """

    DFLT_TOL = _lazy_omega.TOLERANCE
    TAU = _lazy_omega.TURN

    def __init__(self, ims: Any):
        meta = ims.metadata
        if "omega" not in meta:
            raise OmegaSeriesError("Imageseries has no omega metadata")
        self._omega = meta["omega"]
        omega = np.asarray(self._omega, dtype=float)
        if omega.ndim != 2 or omega.shape[1] != 2:
            raise OmegaSeriesError(f"omega array must be (nframes, 2), not {omega.shape}")
        if omega.shape[0] != len(ims):
            raise OmegaSeriesError(
                f"omega array mismatch: array has {omega.shape[0]} frames, expecting {len(ims)}"
            )
        try:
            self._wedge_list = _lazy_omega._split_wedges(omega)
        except OmegaError as exc:
            raise OmegaSeriesError(f"omega array must be increasing ({exc.message})") from None
        super().__init__(ims)
        self._omegawedges = OmegaWedges(len(omega))
        for w in self._wedge_list:
            self._omegawedges.addwedge(w.start, w.stop, w.nframes)

    @property
    def omega(self) -> np.ndarray:
        """The (nframes, 2) [start, stop] omega array."""
        return self._omega

    @property
    def omegawedges(self) -> OmegaWedges:
        """The wedges, as an :class:`OmegaWedges`."""
        return self._omegawedges

    @property
    def nwedges(self) -> int:
        """The number of wedges."""
        return len(self._wedge_list)

    def wedge(self, i: int) -> dict[str, Any]:
        """Wedge ``i``: a dict of ``ostart``, ``ostop``, ``nsteps`` and ``delta`` (the step)."""
        w = self._wedge_list[i]
        return {"ostart": w.start, "ostop": w.stop, "nsteps": w.nframes, "delta": w.step}

    def omega_to_frame(self, om: float) -> tuple[int, int]:
        """(frame, wedge) whose range holds ``om`` (modulo 360 from the wedge start); (-1, -1)."""
        return _lazy_omega._locate(self._wedge_list, float(om))

    def omegarange_to_frames(self, omin: float, omax: float) -> list[int] | tuple:
        """The frames from the one holding ``omin`` to the one holding ``omax``.

        In one wedge (``omax``'s frame not before ``omin``'s), or from ``omin``'s
        wedge to ``omax``'s when the first ends where the second starts modulo 360
        (a scan wrapping past 360): the rest of the first and the start of the
        second. Otherwise ``()``.
        """
        f0, w0 = self.omega_to_frame(omin)
        f1, w1 = self.omega_to_frame(omax)
        if w0 < 0 or w1 < 0:
            return ()
        if w0 == w1 and f1 >= f0:
            return list(range(f0, f1 + 1))
        first, second = self._wedge_list[w0], self._wedge_list[w1]
        gap = np.mod(abs(second.start - first.stop), self.TAU)
        if min(gap, self.TAU - gap) < self.DFLT_TOL:
            end = first.first + first.nframes
            return list(range(f0, end)) + list(range(second.first, f1 + 1))
        return ()

    def _lazyims_series(self) -> Any:
        from ._bridge import lazy_of

        return lazy_of(self._adapter)
