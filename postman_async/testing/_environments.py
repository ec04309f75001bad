"""Postman's three environments and what each changes about a campaign (pure).

A campaign's environment follows from its API keys, as Postman's own key prefixes tell it:
``key_test_`` keys belong to the test environment, ``key_live_`` keys to production. The
load-test environment has no documented key prefix, so it is only ever chosen by name.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Literal

#: The environments: ``test``, ``production`` and ``loadtest``.
Environment = Literal["test", "production", "loadtest"]
ENVIRONMENTS: tuple[Environment, ...] = ("test", "production", "loadtest")

#: Key prefix of each environment (load-test campaigns are given test-style keys).
KEY_PREFIXES: dict[Environment, str] = {
    "test": "key_test_",
    "production": "key_live_",
    "loadtest": "key_test_",
}
#: The default rate limit of each environment, in requests per second.
DEFAULT_TPS: dict[Environment, int] = {"test": 10, "production": 10, "loadtest": 200}
#: Most rows of a batch CSV on the test environment.
TEST_MAX_BATCH_ROWS = 20


def environment_of(keys: Sequence[str], environment: Environment | None) -> Environment:
    """Return the environment of a campaign with ``keys``, checking that they agree.

    Raises:
        ValueError: If ``environment`` is unknown, or a key's prefix contradicts it (or, when
            it is ``None``, the keys carry no prefix or different ones).
    """
    if environment is not None and environment not in ENVIRONMENTS:
        raise ValueError(
            f"environment must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}"
        )
    found = {_prefix_environment(key) for key in keys}
    if environment is None:
        if found == {"test"}:
            return "test"
        if found == {"production"}:
            return "production"
        raise ValueError(
            "API keys start with key_test_ (test environment) or key_live_ (production), all "
            "of a campaign's keys alike; pass environment= to use other keys"
        )
    if environment == "production" and "test" in found:
        raise ValueError("a key_test_ key cannot belong to a production campaign")
    if environment != "production" and "production" in found:
        raise ValueError(f"a key_live_ key cannot belong to a {environment} campaign")
    return environment


def new_key(environment: Environment) -> str:
    """Return a fresh random key for a campaign in ``environment``."""
    return KEY_PREFIXES[environment] + secrets.token_hex(16)


def _prefix_environment(key: str) -> str | None:
    if key.startswith("key_test_"):
        return "test"
    if key.startswith("key_live_"):
        return "production"
    return None
