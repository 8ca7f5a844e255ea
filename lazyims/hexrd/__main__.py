"""``python -m lazyims.hexrd ARGS...``: HEXRD's own command line, reading through lazyims.

:func:`lazyims.hexrd.install` first, then HEXRD's ``hexrd`` command with ``ARGS``, for
example ``python -m lazyims.hexrd find-orientations config.yml``: the image series named
in the configuration are opened by lazyims (so ``zarr`` and ``eiger`` work there too).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Callable, Sequence

from ..errors import LazyImsError
from ._install import install

#: HEXRD's command-line entry point when no installed distribution declares one:
#: today's layout, then HEXRD before 0.10.
ENTRY_MODULES = ("hexrd.hedm.cli.main", "hexrd.cli.main")

PROG = "python -m lazyims.hexrd"


class HexrdNotFound(LazyImsError):
    """HEXRD, or its command line, is not installed."""


def hexrd_main() -> Callable[[], object]:
    """HEXRD's ``main()``: the ``hexrd`` console script of the installed HEXRD."""
    if importlib.util.find_spec("hexrd") is None:
        raise HexrdNotFound(
            "HEXRD is not installed (no module named 'hexrd'): install HEXRD "
            "(https://github.com/HEXRD/hexrd, e.g. conda install -c hexrd hexrd), "
            "or use lazyims.hexrd from Python"
        )
    for entry_point in importlib.metadata.entry_points(group="console_scripts", name="hexrd"):
        return entry_point.load()
    for name in ENTRY_MODULES:
        try:
            spec = importlib.util.find_spec(name)
        except ImportError:
            spec = None
        if spec is not None:
            return importlib.import_module(name).main
    raise HexrdNotFound(
        "HEXRD is installed, but not its command line (no 'hexrd' console script, and "
        f"none of {', '.join(ENTRY_MODULES)}): install HEXRD's full package"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run HEXRD's command line with lazyims.hexrd installed; the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    install()
    try:
        run = hexrd_main()
    except HexrdNotFound as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    sys.argv = ["hexrd", *args]
    result = run()
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
