"""``python -m lazyims``: the lazyims command (see :mod:`lazyims_command`)."""

try:
    from lazyims_command import main
except ImportError:  # pragma: no cover - the package copied without its entry module
    from .cli import main

raise SystemExit(main())
