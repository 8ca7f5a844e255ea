"""Benchmarks: lazyims against a HEXRD-style frame loop, on the same synthetic scans.

Run ``python -m benchmarks`` (or ``nox -s bench``) from the repository root;
``python -m benchmarks --quick`` is a smoke run on tiny scans. Every job runs in
its own subprocess, which reports its wall time and peak memory; the runner prints
a table with the ratios baseline / lazyims.

Modules: :mod:`.generate` writes the scans, :mod:`.baseline` and :mod:`.lazy` hold
the two sides of each job, :mod:`.jobs` lists the jobs and their goals,
:mod:`.child` runs one measurement, :mod:`.runner` runs them all and reports.
"""
