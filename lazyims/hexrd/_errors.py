"""Errors of the HEXRD layer: lazyims errors that are also the built-in class HEXRD raises.

A script written for HEXRD catches ``KeyError``, ``RuntimeError``, ``TypeError`` or
``NotImplementedError`` where HEXRD raises them; a lazyims user catches
:class:`lazyims.LazyImsError`. Each class here is both.
"""

from __future__ import annotations

from ..errors import (
    FileContentError,
    FormatError,
    FrameIndexError,
    LazyImsError,
    OptionError,
    WriteError,
)


class _PlainMessage:
    # KeyError's str() quotes its argument; these errors print their message as is.
    def __str__(self) -> str:
        return Exception.__str__(self)


class MissingOptionError(_PlainMessage, OptionError, KeyError):
    """A required keyword (``path=``, ``threshold=``, ``data=``, ...) is missing (HEXRD: KeyError)."""


class UnknownFormatError(_PlainMessage, FormatError, KeyError):
    """No format of that name (HEXRD: KeyError)."""


class StyleError(OptionError, TypeError):
    """An unknown frame-cache style (HEXRD: TypeError)."""


class SeriesShapeError(FileContentError, RuntimeError):
    """Frames that are not 2-D or 3-D, or a series of no frames (HEXRD: RuntimeError)."""


class VersionError(FileContentError, NotImplementedError):
    """An fch5 frame-cache without a supported version (HEXRD: NotImplementedError)."""


class OptionNotSupported(OptionError, NotImplementedError):
    """``set_option`` with an option the series does not have (HEXRD: NotImplementedError)."""


class KeyTypeError(FrameIndexError, TypeError):
    """A frame key of a type the series does not take."""


def as_hexrd_error(exc: LazyImsError, cls: type[LazyImsError]) -> LazyImsError:
    """``exc`` re-made as ``cls`` (same message and file), to raise ``from None``."""
    return cls(exc.message, exc.path)


class HandleWriteError(WriteError, ValueError):
    """An open h5py object that cannot take the write: read-only, or the group exists
    (HEXRD: ValueError)."""
