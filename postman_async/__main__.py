"""Command line: ``postman-async demo`` and ``postman-async mock``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from ._demo import run_demo
from .testing._cli import main as mock_main


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``postman-async`` command line; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="postman-async",
        description="Asyncio client for the Postman v2 SMS API: demo and mock server.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="send OTPs to an embedded mock server and follow them to the end"
    )
    demo.add_argument("--sends", type=int, default=200, help="OTPs to send (default 200)")
    demo.add_argument("--tps", type=int, default=10, help="campaign rate limit (default 10)")
    demo.add_argument(
        "--speed", type=float, default=4.0, help="mock lifecycle speed-up (default 4)"
    )
    commands.add_parser(
        "mock",
        help="serve a mock Postman (see: postman-async mock --help)",
        add_help=False,
    )
    args, rest = parser.parse_known_args(argv)
    if args.command == "mock":
        return mock_main(rest)
    if rest:
        parser.error(f"unrecognised arguments: {' '.join(rest)}")
    try:
        return asyncio.run(run_demo(sends=args.sends, tps=args.tps, speed=args.speed))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
