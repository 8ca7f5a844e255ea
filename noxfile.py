"""nox sessions: tests, quick, lint, docs, benchmarks (``nox -s NAME``)."""

import nox

nox.options.sessions = ["lint", "tests"]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


#: Test files that take most of the suite's time (subprocesses, clusters, SIGKILLs,
#: hypothesis, HEXRD's own tests, the docs site, the benchmark runner): ``--durations``
#: of each, 8 Dec 2026; test_cli, test_hexrd_differential and test_progress_and_errors
#: took 34, 25 and 11 s of the whole suite's 251 s on a quiet 2-core machine.
#: ``nox -s quick`` leaves them out; ``nox -s tests`` runs them.
SLOW_TESTS = (
    "test_benchmarks.py",
    "test_cli.py",
    "test_damage.py",
    "test_docs.py",
    "test_eiger_stream.py",
    "test_framecache_cluster.py",
    "test_hexrd_differential.py",
    "test_hexrd_install.py",
    "test_hexrd_own_tests.py",
    "test_progress_and_errors.py",
    "test_properties.py",
    "test_reliability.py",
    "test_resources.py",
    "test_scheduler.py",
    "test_yml_atomic.py",
)


@nox.session
def quick(session: nox.Session) -> None:
    """The fast part of the test suite, for the development loop (stops at the first failure).

    Extra arguments go to pytest, e.g. ``nox -s quick -- -k eiger``.
    """
    session.install("-e", ".[test]")
    ignored = [f"--ignore-glob=*/{name}" for name in SLOW_TESTS]  # in whichever folder
    session.run("python", "-m", "pytest", "-x", "-q", *ignored, *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and check formatting."""
    session.install("ruff")
    session.run("ruff", "check", "lazyims", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "lazyims", "tests", "benchmarks", "noxfile.py")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site, warnings as errors."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict")


@nox.session(name="bench")
def bench(session: nox.Session) -> None:
    """Run the benchmarks against the HEXRD-style baseline."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "benchmarks", *session.posargs)


benchmarks = bench
