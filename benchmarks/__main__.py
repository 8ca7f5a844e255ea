"""``python -m benchmarks``: run the benchmark suite (see :mod:`benchmarks.runner`)."""

import sys

from .runner import main

sys.exit(main())
