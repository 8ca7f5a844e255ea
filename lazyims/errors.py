"""The exceptions lazyims raises.

Every error caused by bad input derives from :class:`LazyImsError`, names the
file (when there is one) and says what is wrong, so a user can catch one type.
"""

from __future__ import annotations

import os


class LazyImsError(Exception):
    """Base class of every error lazyims raises on bad input.

    Parameters
    ----------
    message
        What is wrong.
    path
        The file the problem is in, if any; it is put in front of the message.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.path = os.fspath(path) if path is not None else None
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)

    def __reduce__(self):  # keep the two arguments when pickled to/from workers
        return (type(self), (self.message, self.path))


class FormatError(LazyImsError):
    """A format name is unknown, or a file's format cannot be found out."""


class FileContentError(LazyImsError, ValueError):
    """A file is missing parts, malformed, truncated or inconsistent."""


class MissingFileError(LazyImsError, FileNotFoundError):
    """A file the series needs does not exist."""


class OptionError(LazyImsError, ValueError):
    """An option passed by the user has a wrong type or value."""


class MetadataError(LazyImsError, ValueError):
    """Metadata is malformed or cannot be stored."""


class FrameIndexError(LazyImsError, IndexError):
    """A frame index is out of range or of a wrong type."""


class ProcessingError(LazyImsError, ValueError):
    """A processing operation was given arguments it cannot apply."""


class OmegaError(LazyImsError, ValueError):
    """Omega metadata is missing, of the wrong shape, or not increasing."""


class WriteError(LazyImsError):
    """A series could not be written; the destination was left unchanged."""
