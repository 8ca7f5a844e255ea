"""What CPU the benchmark runs on, and the environment of the AVX2 baseline table.

Figures tuned on an AVX-512 machine need not hold on the AVX2 machines many users
have (issue 20). :func:`describe` names the CPU and the SIMD level numpy dispatches
to; :func:`avx2_environment` is the environment of the children of
``python -m benchmarks --cpu-baseline``: numpy's dispatch limited to AVX2
(``NPY_DISABLE_CPU_FEATURES`` naming the AVX-512 targets this numpy would use here)
and numba compiling for an AVX2 CPU (``NUMBA_CPU_NAME=haswell`` with no extra
features). Both sides of every job (HEXRD and lazyims) get the same environment.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _numpy_features() -> tuple[list[str], list[str], dict[str, bool]]:
    """numpy's (baseline, dispatch targets, features of this CPU)."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # numpy < 2
        from numpy.core import _multiarray_umath as umath
    return list(umath.__cpu_baseline__), list(umath.__cpu_dispatch__), dict(umath.__cpu_features__)


def numpy_simd() -> tuple[list[str], list[str]]:
    """(dispatch targets numpy uses here, of them those turned off by the environment).

    ``__cpu_features__`` reports a feature disabled by ``NPY_DISABLE_CPU_FEATURES``
    as absent, so the second list is what the variable names and the CPU has.
    """
    baseline, dispatch, features = _numpy_features()
    used = [f for f in dispatch if features.get(f)]
    asked = os.environ.get("NPY_DISABLE_CPU_FEATURES", "").replace(",", " ").split()
    return used, [f for f in asked if f in dispatch]


def simd_level() -> str:
    """The highest SIMD level numpy dispatches to here, e.g. ``AVX512_SKX`` or ``AVX2``."""
    used, _ = numpy_simd()
    baseline, _, _ = _numpy_features()
    return (used or baseline or ["none"])[-1]


#: Dispatch targets above AVX2: AVX-512 by name (numpy 1.x and 2.x), and the x86-64-v4
#: level (numpy >= 2.4 dispatches to ``X86_V4``, which is AVX-512 F/CD/VL/BW/DQ).
ABOVE_AVX2 = ("AVX512", "X86_V4")


def avx512_targets() -> list[str]:
    """The dispatch targets above AVX2 this numpy would use on this CPU.

    Only these are named in ``NPY_DISABLE_CPU_FEATURES``: numpy refuses to disable a
    feature of its baseline and warns about one it does not dispatch to (numpy 2.4 on
    an AVX-512 CPU: ``X86_V4`` and ``AVX512_ICL``, each to be named, as disabling
    ``X86_V4`` leaves ``AVX512_ICL`` on), so the list is built from what numpy
    reports, not a fixed one.
    """
    baseline, dispatch, features = _numpy_features()
    return [
        f for f in dispatch if f.startswith(ABOVE_AVX2) and features.get(f) and f not in baseline
    ]


def avx2_environment() -> dict[str, str]:
    """Environment variables that make a fresh process run as on an AVX2 CPU."""
    env = {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": ""}
    targets = avx512_targets()
    if targets:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(targets)
    return env


def describe() -> str:
    """One line: CPU model, cores, numpy's SIMD level, and numba's CPU target."""
    used, disabled = numpy_simd()
    numba = os.environ.get("NUMBA_CPU_NAME") or "host"
    line = f"CPU: {cpu_model()}, {os.cpu_count()} cores; numpy dispatches up to {simd_level()}"
    if disabled:
        line += f" (disabled: {' '.join(disabled)})"
    return line + f"; numba compiles for {numba}"


if __name__ == "__main__":  # the runner asks a child with the table's environment
    print(describe())
