"""nox sessions: tests, lint, docs, benchmarks (``nox -s NAME``)."""

import nox

nox.options.sessions = ["lint", "tests"]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


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
