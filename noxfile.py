"""Project tasks: ``nox -s tests``, ``interop``, ``lint``, ``typecheck``, ``docs``, ``bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

SOURCES = ["thinknx_async", "tests", "benchmarks", "docs/examples", "docs/hooks", "noxfile.py"]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite with branch coverage of the library (simulator and CLI aside)."""
    session.install("-e", ".[test]")
    session.run(
        "pytest",
        "--cov=thinknx_async",
        "--cov-report=term-missing:skip-covered",
        "--cov-fail-under=95",
        *session.posargs,
    )


@nox.session
def interop(session: nox.Session) -> None:
    """The tests against nginx and Apache httpd (``tests/interop``, left out of ``tests``).

    They need the servers' binaries (Debian: ``apt-get install nginx apache2``; ``.ci/run``
    installs them when run as root); where one is missing its tests skip and say why.
    """
    session.install("-e", ".[test]")
    session.run("pytest", "tests/interop", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", *SOURCES)
    session.run("ruff", "format", "--check", *SOURCES)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package, the tests and the benchmarks."""
    session.install("-e", ".[lint,bench]")
    session.run("mypy", "--strict", *SOURCES)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site in strict mode (a warning is an error)."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmark; each prints a table and writes JSON under benchmarks/results/."""
    session.install("-e", ".[bench,cli]")
    session.run("python", "-m", "benchmarks", *session.posargs)
