"""Run hostile-input code in a fresh interpreter with a bounded address space.

A regression that makes lazyims allocate what a hostile header declares (terabytes)
then fails with ``MemoryError`` inside the child, and the test fails; the machine
running the suite is never pushed into swap or the OOM killer. A timeout catches a
regression that would hang.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Address space a hostile-input child may map: enough for numpy, dask, h5py, zarr and
#: fabio with their thread pools (about 1.5 GiB mapped), far below what a declared
#: size of 10**12 values would take.
ADDRESS_SPACE = 4 * 2**30

PRELUDE = """\
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
sys.path.insert(0, {root!r})
"""


def run_limited(
    code: str, cwd: Path, timeout: float = 60, limit: int = ADDRESS_SPACE
) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (lazyims from this checkout) under ``RLIMIT_AS`` =
    ``limit`` bytes, in the folder ``cwd``, killed after ``timeout`` seconds."""
    script = PRELUDE.format(limit=int(limit), root=str(ROOT)) + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
