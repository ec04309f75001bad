"""The argument parser of ``postman-async``: every command, option and default."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from typing import Any, NoReturn

from .._version import __version__
from ._config import API_KEY_VAR, BASE_URL_VAR, CAMPAIGN_VAR, ENVIRONMENTS

EPILOG = f"""\
configuration: {API_KEY_VAR}, {CAMPAIGN_VAR} and either {BASE_URL_VAR} or --env
(flags override the environment).  Exit codes: 0 done; 1 the API or the network
said no; 2 bad usage or input; 3 some messages ended in failure (watch, --wait);
130 interrupted.  Try a mock first: postman-async mock
"""


_KEY = re.compile(r"key_(test|live)_\S+")


#: One typical use of each command, shown at the end of its --help.
EXAMPLES = {
    "send": "postman-async send 6591234567 -v otp=123456 --wait",
    "status": "postman-async status message_...",
    "retry": "postman-async retry message_... --wait",
    "batch": "postman-async batch otps.csv --dry-run && postman-async batch otps.csv --wait",
    "retry-batch": "postman-async retry-batch batch_... --wait",
    "watch": "postman-async list --since 10m --format json | jq -r .id | postman-async watch -",
    "list": "postman-async list --search 9123 --since 1h --format csv > found.csv",
    "export": "postman-async export --batch batch_... -o outcomes.csv",
}


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message (see prog --help)`` and exit 2.

        Anything shaped like an API key that was typed in the wrong place is blanked.
        """
        message = _KEY.sub(r"key_\1_***", message)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(
    kind: type[int] | type[float],
    low: float,
    *,
    above: bool = False,
    high: float = math.inf,
) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if value < low or (above and value == low):
            relation = "above" if above else "at least"
            raise argparse.ArgumentTypeError(f"must be {relation} {low:g}, got {text}")
        if value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:g}, got {text}")
        return value

    convert.__name__ = "int" if kind is int else "number"
    return convert


#: Whole number >= 1.
positive_int = _number(int, 1)
#: Number > 0.
positive_float = _number(float, 0, above=True)
#: The demo mock's speed-up: beyond this its clock says nothing useful.
demo_speed = _number(float, 0, above=True, high=10_000)


def _add_connection_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The options every API command takes, before or after the command's name.

    The copy after the name has no defaults, so that it only overrides what was
    given before it.
    """
    group = parser.add_argument_group("connection (flags override the environment)")

    def add(*names: str, default: object = None, **kwargs: Any) -> None:
        group.add_argument(*names, default=default if defaults else argparse.SUPPRESS, **kwargs)

    add("--env", choices=sorted(ENVIRONMENTS), help=f"Postman environment (or set {BASE_URL_VAR})")
    add("--base-url", metavar="URL", help=f"API base URL, e.g. a mock's (env {BASE_URL_VAR})")
    add("--campaign", metavar="ID", help=f"campaign ID (env {CAMPAIGN_VAR})")
    add(
        "--api-key-file",
        metavar="PATH",
        help=f"read the API key from a file, - for standard input (else env {API_KEY_VAR})",
    )
    add("--api-key", metavar="KEY", help="the API key (avoid: shell history keeps it)")
    add("--tps", type=positive_int, default=10, help="campaign rate limit, requests/s (default 10)")
    add(
        "--timeout",
        type=positive_float,
        default=30.0,
        metavar="SECONDS",
        help="deadline of each call, waiting for rate budget included (default 30)",
    )
    add("--unmask", action="store_true", default=False, help="show full phone numbers")
    add("--verbose", action="store_true", default=False, help="log each call (never the key)")


def _format(parent: argparse.ArgumentParser, choices: tuple[str, ...] = ("text", "json")) -> None:
    parent.add_argument(
        "--format",
        choices=choices,
        default=choices[0],
        help=f"output format (default {choices[0]}); json: one object per line",
    )


def build() -> Parser:
    """The ``postman-async`` parser; each command's function name is in ``args.command``."""
    parser = Parser(
        prog="postman-async",
        description="Send, check, upload and follow Postman SMS messages from the shell.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"postman-async {__version__}")
    _add_connection_options(parser, defaults=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    connection = Parser(add_help=False)
    _add_connection_options(connection, defaults=False)
    conn = [connection]

    def command(name: str, help_text: str) -> Parser:
        example = EXAMPLES.get(name)
        sub: Parser = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"example:\n  {example}" if example else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=conn,
        )
        return sub

    send = command("send", "send one SMS from the campaign's template")
    send.add_argument("recipient", metavar="RECIPIENT", help="phone number with country code")
    send.add_argument(
        "-v",
        "--value",
        action="append",
        metavar="NAME=VALUE",
        help="a template value; repeat for each variable",
    )
    send.add_argument("--language", default="english", help="template language (default english)")
    send.add_argument("--wait", action="store_true", help="follow it until final")
    _format(send)

    status = command("status", "show a message's status, attempts and error, and what it means")
    status.add_argument("message_id", metavar="MESSAGE_ID")
    _format(status)

    retry = command("retry", "re-attempt a failed message (it keeps its ID; 3 attempts in all)")
    retry.add_argument("message_id", metavar="MESSAGE_ID")
    retry.add_argument("--wait", action="store_true", help="follow it until final")
    _format(retry)

    batch = command("batch", "check a batch CSV (every bad row), upload it and follow it")
    batch.add_argument("file", metavar="FILE.csv", help="header recipient,language,VARIABLES...")
    batch.add_argument("--dry-run", action="store_true", help="check the file only; send nothing")
    batch.add_argument("--wait", action="store_true", help="follow the batch until all are final")
    _format(batch)

    retry_batch = command("retry-batch", "re-attempt every failed message of a batch")
    retry_batch.add_argument("batch_id", metavar="BATCH_ID")
    retry_batch.add_argument("--wait", action="store_true", help="follow the batch until final")
    _format(retry_batch)

    watch = command("watch", "live counts by status until every message is final")
    watch.add_argument(
        "message_ids", metavar="MESSAGE_ID", nargs="*", help="message IDs; - reads them from stdin"
    )
    watch.add_argument("--batch", metavar="BATCH_ID", help="follow a whole batch instead")
    _format(watch)

    listing = command("list", "list messages, newest first")
    listing.add_argument("--search", metavar="DIGITS", help="recipient numbers containing DIGITS")
    listing.add_argument("--batch", metavar="BATCH_ID", help="only this batch's messages")
    listing.add_argument("--since", metavar="AGE", help="newer than 30s, 15m, 1h, 2d or a date")
    listing.add_argument(
        "--limit", type=positive_int, default=20, metavar="N", help="at most N (default 20)"
    )
    _format(listing, ("table", "json", "csv"))

    export = command("export", "write a batch's outcomes as CSV, one row per message")
    export.add_argument("--batch", metavar="BATCH_ID", required=True)
    export.add_argument(
        "-o", "--output", metavar="FILE", help="CSV file to write (default standard output)"
    )

    _add_mock_and_demo(commands)
    return parser


def _add_mock_and_demo(commands: argparse._SubParsersAction[Parser]) -> None:
    """The two commands that bring their own mock server."""
    commands.add_parser(
        "mock", help="serve a mock Postman (postman-async mock --help)", add_help=False
    )

    demo = commands.add_parser(
        "demo",
        help="send OTPs to an embedded mock and follow them, with live progress",
        description="Send OTPs to an embedded mock Postman and follow them to the end.",
    )
    demo.add_argument("--sends", type=positive_int, default=200, help="OTPs to send (default 200)")
    demo.add_argument("--tps", type=positive_int, default=10, help="rate limit (default 10)")
    demo.add_argument(
        "--speed",
        type=demo_speed,
        default=4.0,
        help="mock lifecycle speed-up, up to 10000 (default 4)",
    )
