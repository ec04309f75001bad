"""The README's runnable examples run."""

from __future__ import annotations

import pathlib
import re
import textwrap

import pytest

README = pathlib.Path(__file__).parent.parent / "README.md"


def _blocks(marker: str) -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    return [b for b in blocks if marker in b]


@pytest.mark.slow  # it serves the mock on a loopback socket
async def test_mock_server_example_runs() -> None:
    (block,) = _blocks("async with serve_mock(")
    source = "async def example():\n" + textwrap.indent(block, "    ")
    namespace: dict[str, object] = {}
    exec(compile(source, str(README), "exec"), namespace)
    await namespace["example"]()  # type: ignore[operator]


def test_limiter_factory_example_builds_a_client() -> None:
    (block,) = _blocks("limiter_factory=lambda")
    namespace: dict[str, object] = {}
    exec(compile(block, str(README), "exec"), namespace)
    client = namespace["client"]
    assert type(client).__name__ == "PostmanClient"
