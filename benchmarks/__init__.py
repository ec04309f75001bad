"""Benchmarks of postman_async against the mock server, each in its own process.

Run ``python -m benchmarks [scenario ...] [--quick]`` (or ``nox -s bench``).  Nothing
here is a test: pytest never collects it.  See ``benchmarks/README.md``.
"""
