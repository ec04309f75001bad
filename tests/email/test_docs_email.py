"""The email documentation's mock example runs as written."""

from __future__ import annotations

import pathlib
import re
import textwrap

ROOT = pathlib.Path(__file__).parent.parent.parent
SOURCES = [ROOT / "README.md"]
MARKER = "mail = client.email(api_key=server.email_api_key"


def _example() -> tuple[str, pathlib.Path]:
    for source in SOURCES:
        if not source.exists():
            continue
        blocks = re.findall(r"```python\n(.*?)```", source.read_text(), re.DOTALL)
        found = [b for b in blocks if MARKER in b]
        if found:
            (block,) = found
            return block, source
    raise AssertionError("the email mock example is missing from the docs")


async def test_email_mock_example_runs() -> None:
    block, source = _example()
    code = "async def example():\n" + textwrap.indent(block, "    ")
    namespace: dict[str, object] = {}
    exec(compile(code, str(source), "exec"), namespace)
    await namespace["example"]()  # type: ignore[operator]
