"""Render an exception every way a production system might, and look for secrets in it.

Error trackers and structured loggers show more than ``str(err)``: the whole
chain of causes and contexts, and the local variables of every frame (Sentry,
structlog's dict tracebacks, rich's ``show_locals``).  :func:`renderings`
produces all of that text; :func:`leaks` says which secrets appear in it;
:func:`package_frames` shows what the package's frames hold while a call runs.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Iterable, Iterator


def chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every cause and context below it, suppressed ones included."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def renderings(exc: BaseException) -> str:
    """Every text the exception can produce: str, repr, tracebacks with frame locals."""
    parts: list[str] = []
    for error in chain(exc):
        parts.append(str(error))
        parts.append(repr(error))
        parts.extend(
            traceback.TracebackException(
                type(error), error, error.__traceback__, capture_locals=True
            ).format()
        )
    parts.extend(traceback.format_exception(exc))
    return "".join(parts)


def leaks(exc: BaseException, secrets: Iterable[str]) -> list[str]:
    """The secrets that appear anywhere in :func:`renderings` of ``exc``."""
    text = renderings(exc)
    return [secret for secret in secrets if secret in text]


def package_frames() -> list[tuple[str, str]]:
    """The package's frames on the caller's stack, innermost first: (function, repr of locals)."""
    found: list[tuple[str, str]] = []
    frame = inspect.currentframe()
    frame = frame.f_back if frame is not None else None
    while frame is not None:
        if "postman_async" in frame.f_code.co_filename:
            found.append((frame.f_code.co_name, repr(frame.f_locals)))
        frame = frame.f_back
    return found
