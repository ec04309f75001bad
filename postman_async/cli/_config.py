"""Where the commands send their calls: API address, campaign and key, from flags and environment.

Flags override the environment.  The key is read from ``POSTMAN_API_KEY``, a file
(``--api-key-file PATH``, ``-`` for standard input) or, with a warning, ``--api-key``.
It is held in :class:`Config` but never shown: its repr and every description say
only where it came from.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Final

from .._client import PostmanClient

#: ``--env`` names and the API address each stands for.
ENVIRONMENTS: Final = {
    "production": PostmanClient.PRODUCTION_URL,
    "test": PostmanClient.TEST_URL,
    "loadtest": PostmanClient.LOADTEST_URL,
}
#: Environment variables read (flags override them).
API_KEY_VAR: Final = "POSTMAN_API_KEY"
CAMPAIGN_VAR: Final = "POSTMAN_CAMPAIGN_ID"
BASE_URL_VAR: Final = "POSTMAN_BASE_URL"
ENV_VAR: Final = "POSTMAN_ENV"

#: Printed when the key is given on the command line.
HISTORY_WARNING: Final = (
    "warning: --api-key leaves the key in your shell history; "
    f"prefer {API_KEY_VAR} or --api-key-file (use - to read it from standard input)"
)


class UsageError(Exception):
    """Bad usage or bad input: the command prints the message on one line and exits 2."""


@dataclass(frozen=True)
class Config:
    """Everything a command needs to reach one campaign."""

    #: API base URL.
    base_url: str
    #: The campaign's ID.
    campaign_id: str
    #: The API key (never printed; see :attr:`key_source`).
    api_key: str = field(repr=False)
    #: Where the key came from, e.g. ``"$POSTMAN_API_KEY"``.
    key_source: str
    #: Where the base URL came from.
    url_source: str

    def describe(self) -> str:
        """One line for ``--verbose``: address, campaign and where the key came from."""
        return (
            f"api {self.base_url} (from {self.url_source}), campaign {self.campaign_id}, "
            f"key from {self.key_source}"
        )


def resolve_base_url(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str, str]:
    """Return the API base URL and where it came from; flags first, then the environment."""
    flag_url: str | None = getattr(args, "base_url", None)
    flag_env: str | None = getattr(args, "env", None)
    if flag_url and flag_env:
        raise UsageError("give --base-url or --env, not both")
    if flag_url:
        return flag_url, "--base-url"
    if flag_env:
        return ENVIRONMENTS[flag_env], f"--env {flag_env}"
    if environ.get(BASE_URL_VAR):
        return environ[BASE_URL_VAR], f"${BASE_URL_VAR}"
    name = environ.get(ENV_VAR, "").strip().lower()
    if name:
        if name not in ENVIRONMENTS:
            raise UsageError(f"${ENV_VAR} is {name!r}; use one of {', '.join(ENVIRONMENTS)}")
        return ENVIRONMENTS[name], f"${ENV_VAR}"
    raise UsageError(
        f"no API address: set {BASE_URL_VAR} or pass --env production|test|loadtest "
        "(postman-async mock prints the lines for a mock)"
    )


def resolve(
    args: argparse.Namespace,
    environ: Mapping[str, str] | None = None,
    stdin: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> Config:
    """Build the :class:`Config` of one command run.

    Raises:
        UsageError: something is missing or given twice; the message says what to set.
    """
    environ = os.environ if environ is None else environ
    base_url, url_source = resolve_base_url(args, environ)
    campaign_id = getattr(args, "campaign", None) or environ.get(CAMPAIGN_VAR, "")
    if not campaign_id:
        raise UsageError(f"no campaign: set {CAMPAIGN_VAR} or pass --campaign ID")
    key, key_source = _api_key(args, environ, stdin or sys.stdin, stderr or sys.stderr)
    return Config(
        base_url=base_url,
        campaign_id=campaign_id,
        api_key=key,
        key_source=key_source,
        url_source=url_source,
    )


def _api_key(
    args: argparse.Namespace, environ: Mapping[str, str], stdin: IO[str], stderr: IO[str]
) -> tuple[str, str]:
    key_file: str | None = getattr(args, "api_key_file", None)
    key_flag: str | None = getattr(args, "api_key", None)
    if key_file and key_flag:
        raise UsageError("give --api-key-file or --api-key, not both")
    if key_file:
        return _read_key_file(key_file, stdin), f"--api-key-file {key_file}"
    if key_flag:
        print(HISTORY_WARNING, file=stderr)
        return key_flag.strip(), "--api-key"
    key = environ.get(API_KEY_VAR, "").strip()
    if not key:
        raise UsageError(
            f"no API key: set {API_KEY_VAR} or pass --api-key-file PATH (- reads standard input)"
        )
    return key, f"${API_KEY_VAR}"


def _read_key_file(path: str, stdin: IO[str]) -> str:
    try:
        if path == "-":
            text = stdin.readline()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.readline()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsageError(f"cannot read the API key from {path}: {reason}") from None
    key = text.strip()
    if not key:
        raise UsageError(f"the API key file {path} is empty")
    return key
