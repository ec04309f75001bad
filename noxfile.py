"""One entry point for every chore: ``nox`` runs tests, lint and typing."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import nox

nox.options.sessions = ["tests", "lint", "typing"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

PACKAGE = "postman_async"
SUPPORTED = ("3.11", "3.12", "3.13", "3.14")


def _interpreters() -> list[str]:
    """Every supported Python this machine has (pyenv's too), so the suite runs on each."""
    pyenv = pathlib.Path.home() / ".pyenv" / "versions"
    if pyenv.is_dir() and "PYENV_VERSION" not in os.environ:
        names = sorted(p.name for p in pyenv.iterdir() if p.name.startswith(SUPPORTED))
        if names:
            os.environ["PYENV_VERSION"] = ":".join(names)
    found = []
    for version in SUPPORTED:
        exe = shutil.which(f"python{version}")
        if exe is None:
            continue
        probe = subprocess.run([exe, "-c", ""], capture_output=True, check=False)  # noqa: S603
        if probe.returncode == 0:
            found.append(version)
    return found or ["3.11"]


PYTHONS = _interpreters()


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite (unit, end-to-end against the mock, reliability) on each Python."""
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
    """mypy --strict over the package and the tests (checked for the oldest supported Python)."""
    session.install("-e", ".[test]", "mypy")
    session.run("mypy", "--strict", PACKAGE, "tests")


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
