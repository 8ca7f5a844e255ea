"""Frame-cache statistics and the xarray engine against ``lazyims.open``, fresh processes.

``python -m benchmarks.xarray_sparse [FILE ...]`` prints, for each file (default: the
real frame-caches in ``../shared/real-data`` and a 40-frame generated scan), the time
and peak memory of: the max and the median over frames through ``lazyims.open``, and
the max over frames through ``xr.open_dataset(path, engine="lazyims")`` without and
with ``chunks={}``, each in a process of its own (imports not timed), with the ratios
to the native max.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = ROOT.parent / "shared" / "real-data"

#: (job, setup not timed, timed statement), each run in a process of its own.
CASES = [
    ("max", "import lazyims", "lazyims.open(p).max().compute()"),
    ("median", "import lazyims", "lazyims.stats.median(lazyims.open(p)).compute()"),
    (
        "xarray max",
        "import xarray as xr, lazyims",
        "xr.open_dataset(p, engine='lazyims')['frames'].max('frame').values",
    ),
    (
        "xarray max, chunks={}",
        "import xarray as xr, lazyims",
        "xr.open_dataset(p, engine='lazyims', chunks={})['frames'].max('frame').values",
    ),
]

_CHILD = """
import json, resource, sys, time
p = sys.argv[1]
{setup}
start = time.perf_counter()
{statement}
seconds = time.perf_counter() - start
print(json.dumps([seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))
"""


def measure(path: Path, setup: str, statement: str) -> tuple[float, float]:
    """Seconds and peak resident MB of ``statement`` in a fresh process."""
    code = _CHILD.format(setup=setup, statement=statement)
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    seconds, megabytes = json.loads(out.stdout.strip().splitlines()[-1])
    return seconds, megabytes


def main(paths: list[Path]) -> None:
    print("| file | job | seconds | peak MB | time / native max |")
    print("|---|---|---|---|---|")
    for path in paths:
        base = None
        for name, setup, statement in CASES:
            seconds, megabytes = measure(path, setup, statement)
            base = base or seconds
            print(
                f"| {path.name} | {name} | {seconds:.2f} | {megabytes:.0f} | {seconds / base:.1f}x |"
            )


def default_paths() -> list[Path]:
    from .generate import make_scan

    paths = sorted(REAL_DATA.glob("*.npz"))
    workdir = Path(tempfile.gettempdir()) / "lazyims-benchmarks"
    workdir.mkdir(exist_ok=True)
    return [*paths, make_scan(workdir, 40, 2048, 2048)]


if __name__ == "__main__":
    main([Path(a) for a in sys.argv[1:]] or default_paths())
