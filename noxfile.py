"""One entry point for every chore: ``nox`` runs tests, lint and typing."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typing"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

PACKAGE = "postman_async"


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (unit, end-to-end against the mock, reliability)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff: lint and formatting."""
    session.install("ruff")
    session.run("ruff", "check", PACKAGE, "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", PACKAGE, "tests", "benchmarks", "noxfile.py")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict over the package."""
    session.install("-e", ".[test]", "mypy")
    session.run("mypy", "--strict", PACKAGE)


@nox.session
def demo(session: nox.Session) -> None:
    """Run the demo: the client against the embedded mock server."""
    session.install(".")
    session.run("postman-async", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks (a few minutes); results land in benchmarks/results/."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "benchmarks", *session.posargs)
