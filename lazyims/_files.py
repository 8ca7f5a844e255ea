"""Safe writing: a file appears under its final name only once it is whole."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import WriteError


def check_not_a_source(path: str | os.PathLike, sources: Iterable[str]) -> None:
    """Refuse to write over a file the series is being read from."""
    target = Path(path)
    if not target.exists():
        return
    for src in sources:
        try:
            if os.path.samefile(target, src):
                raise WriteError("refusing to overwrite a file this series reads from", path)
        except OSError:
            continue


@contextmanager
def atomic_output(path: str | os.PathLike, sources: Iterable[str] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    On any failure (or interruption) the temporary file is removed and an existing
    file at ``path`` is left as it was. A process killed outright leaves only a
    hidden ``.NAME.*.part`` file, never a half-written file under the final name.
    """
    final = Path(path)
    check_not_a_source(final, sources)
    if not final.parent.is_dir():
        raise WriteError("the folder to write into does not exist", final)
    if final.is_dir():
        raise WriteError("a folder is in the way of the file to write", final)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
