"""Benchmarks: lazyims against HEXRD's own code and plain dask, on the same scans.

Run ``python -m benchmarks`` (or ``nox -s bench``) from the repository root;
``python -m benchmarks --quick`` is a smoke run on tiny scans. Every job runs in
its own subprocess, which reports its wall time and peak memory; the runner prints
a table with the ratios baseline / lazyims.

Modules: :mod:`.generate` writes the scans, :mod:`.reference` (HEXRD's own code),
:mod:`.lazy` and :mod:`.plain_dask` (dask.array over h5py, no lazyims) hold the sides
of each job, :mod:`.decode` the decode floor, :mod:`.jobs` lists the jobs and their
goals, :mod:`.cpu` names the CPU and builds the AVX2 table's environment,
:mod:`.child` runs one measurement, :mod:`.runner` runs them all and reports.
"""
