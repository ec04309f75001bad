"""The command line of the mock server (``python -m postman_async.testing``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from ._faults import FaultConfig
from ._limits import RATE_LIMIT_MODELS, RateLimitModel
from ._server import serve_mock
from ._state import MockPostman


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Serve a mock Postman until Ctrl-C or SIGTERM; return the exit status.

    Prints the base URL, a ready campaign ID and its API key first (one JSON line
    ``{"base_url", "campaign_id", "api_key"}`` with ``--json``), then the
    ``export`` lines that point the ``postman-async`` commands at it.
    """
    try:
        args = _parser(prog).parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has printed
        return exc.code if isinstance(exc.code, int) else 2
    try:
        faults = FaultConfig(
            server_error_rate=args.server_error_rate,
            html_error_rate=args.html_error_rate,
            error_after_commit_rate=args.error_after_commit_rate,
            drop_rate=args.drop_rate,
            latency=args.latency,
            latency_jitter=args.latency_jitter,
            retry_after=args.retry_after,
            seed=args.seed,
        )
        state = MockPostman(speed=args.speed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    state.faults = faults
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_serve(state, args))
    return 0


async def _serve(state: MockPostman, args: argparse.Namespace) -> int:
    rate_limit: RateLimitModel = args.rate_limit
    try:
        serving = serve_mock(
            state,
            host=args.host,
            port=args.port,
            campaign_id=args.campaign_id,
            api_keys=[args.api_key] if args.api_key else None,
            tps=args.tps or None,
            rate_limit=rate_limit,
            languages=_names(args.languages),
            variables=_names(args.variables),
            max_batch_rows=args.max_batch_rows,
            hold_sent_to_telco=args.hold_sent_to_telco,
        )
        async with serving as server:
            if args.json:
                line = {
                    "base_url": server.base_url,
                    "campaign_id": server.campaign_id,
                    "api_key": server.api_key,
                }
                print(json.dumps(line), flush=True)
            else:
                print(f"Mock Postman v2 API at {server.base_url}", flush=True)
                print(f"campaign_id: {server.campaign_id}", flush=True)
                print(f"api_key:     {server.api_key}", flush=True)
                print(f"admin:       {server.url}/_mock/stats   (Ctrl-C to stop)", flush=True)
                print("Point the postman-async commands at it:", flush=True)
                print(f"  export POSTMAN_BASE_URL={server.base_url}", flush=True)
                print(f"  export POSTMAN_CAMPAIGN_ID={server.campaign_id}", flush=True)
                print(f"  export POSTMAN_API_KEY={server.api_key}", flush=True)
            await _until_stopped()
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


class _Help(argparse.HelpFormatter):
    """Shows each option's default, where it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "default" not in text:
            text += " (default: %(default)s)"
        return text


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 0 to 65535")
    return port


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, without the usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog or "python -m postman_async.testing",
        description="Run a mock Postman v2 SMS API server.",
        formatter_class=_Help,
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on")
    add("--port", type=_port, default=8080, help="port to listen on; 0 picks a free one")
    add("--json", action="store_true", help="print the connection details as one JSON line")
    add("--tps", type=int, default=10, help="requests per second per campaign; 0: no limit")
    add("--rate-limit", choices=RATE_LIMIT_MODELS, default="sliding", help="rate-limit model")
    add("--speed", type=float, default=1.0, help="lifecycle speed-up (0 freezes it)")
    add("--languages", default="english", help="comma-separated enabled languages")
    add("--variables", default="otp", help="comma-separated template variables")
    add("--campaign-id", default=None, help="campaign ID (default: generated)")
    add("--api-key", default=None, help="API key (default: generated key_test_...)")
    add("--max-batch-rows", type=int, default=None, help="row cap of batch CSVs")
    add("--hold-sent-to-telco", action="store_true", help="keep messages in sent_to_telco")
    add("--server-error-rate", type=float, default=0.0, help="share of JSON 5xx answers")
    add("--html-error-rate", type=float, default=0.0, help="share of HTML 502 answers")
    add("--error-after-commit-rate", type=float, default=0.0, help="share of sends: 500 after")
    add("--drop-rate", type=float, default=0.0, help="share of connections closed unanswered")
    add("--latency", type=float, default=0.0, help="seconds added to every answer")
    add("--latency-jitter", type=float, default=0.0, help="up to this many more seconds")
    add("--retry-after", type=float, default=None, help="Retry-After seconds on 429 answers")
    add("--seed", type=int, default=None, help="seed of the fault draws")
    return parser
