"""The command line of the mock server (``python -m postman_async.testing``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import pathlib
import signal
import ssl
import sys
import tempfile
from collections.abc import Iterator, Sequence
from typing import Literal, NoReturn

from ._environments import ENVIRONMENTS
from ._faults import FaultConfig
from ._leniency import LENIENCY_SWITCHES, Leniency
from ._lifecycle import PROFILES
from ._rate_windows import RATE_LIMIT_MODELS, RateLimitModel
from ._server import MockServer, serve_mock
from ._state import MockPostman
from ._tls import TlsUnavailableError, throwaway_tls


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Serve a mock Postman until Ctrl-C or SIGTERM; return the exit status.

    Prints the base URL, a ready campaign ID and its API key first, and with ``--tls`` the
    path of the CA certificate to trust (one JSON line ``{"base_url", "campaign_id",
    "api_key", "environment", "ca_file"}`` with ``--json``), then the ``export`` lines
    that point the ``postman-async`` commands at it.
    """
    args = _parser(prog).parse_args(argv)
    try:
        faults = FaultConfig(
            server_error_rate=args.server_error_rate,
            html_error_rate=args.html_error_rate,
            error_after_commit_rate=args.error_after_commit_rate,
            drop_rate=args.drop_rate,
            unreadable_body_rate=args.unreadable_body_rate,
            latency=args.latency,
            latency_jitter=args.latency_jitter,
            retry_after=args.retry_after,
            seed=args.seed,
            endpoints=_names(args.fault_endpoints) if args.fault_endpoints else None,
        )
        leniency = Leniency(**dict.fromkeys(args.lenient or (), True))
        state = MockPostman(
            speed=args.speed, profile=args.profile, leniency=leniency, seed=args.seed
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    state.faults = faults
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_serve(state, args))
    return 0


async def _serve(state: MockPostman, args: argparse.Namespace) -> int:
    rate_limit: RateLimitModel = args.rate_limit
    tps: int | Literal["auto"] | None = "auto" if args.tps is None else (args.tps or None)
    rows: int | Literal["auto"] | None = (
        "auto" if args.max_batch_rows is None else (args.max_batch_rows or None)
    )
    try:
        with _tls(args) as (ssl_context, ca_file):
            serving = serve_mock(
                state,
                host=args.host,
                port=args.port,
                ssl_context=ssl_context,
                campaign_id=args.campaign_id,
                api_keys=[args.api_key] if args.api_key else None,
                environment=args.environment,
                tps=tps,
                rate_limit=rate_limit,
                languages=_names(args.languages),
                variables=_names(args.variables),
                max_batch_rows=rows,
                hold_sent_to_telco=args.hold_sent_to_telco,
                allowed_ips=args.allowed_ip,
            )
            async with serving as server:
                _announce(args, server, ca_file)
                await _until_stopped()
    except (OSError, ValueError, TlsUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _announce(args: argparse.Namespace, server: MockServer, ca_file: pathlib.Path | None) -> None:
    base_url, campaign_id, api_key = server.base_url, server.campaign_id, server.api_key
    environment = server.campaign.environment
    if args.json:
        line = {
            "base_url": base_url,
            "campaign_id": campaign_id,
            "api_key": api_key,
            "environment": environment,
            "ca_file": str(ca_file) if ca_file is not None else None,
        }
        print(json.dumps(line), flush=True)
        return
    print(f"Mock Postman v2 API at {base_url}", flush=True)
    print(f"campaign_id: {campaign_id}", flush=True)
    print(f"api_key:     {api_key}  ({environment} environment)", flush=True)
    if ca_file is not None:
        print(f"ca_file:     {ca_file}   (trust this CA: ssl.create_default_context(cafile=...))")
    print(f"admin:       {server.url}/_mock/stats   (Ctrl-C to stop)", flush=True)
    print("Point the postman-async commands at it:", flush=True)
    print(f"  export POSTMAN_BASE_URL={base_url}", flush=True)
    print(f"  export POSTMAN_CAMPAIGN_ID={campaign_id}", flush=True)
    print(f"  export POSTMAN_API_KEY={api_key}", flush=True)
    if ca_file is not None:
        print(f"  export SSL_CERT_FILE={ca_file}", flush=True)


@contextlib.contextmanager
def _tls(args: argparse.Namespace) -> Iterator[tuple[ssl.SSLContext | None, pathlib.Path | None]]:
    """The server context and CA file of ``--tls`` (none without it)."""
    if not args.tls:
        yield None, None
        return
    names = [args.host, *(args.tls_name or ())]
    if args.tls_dir is not None:
        yield throwaway_tls(names, pathlib.Path(args.tls_dir))
        return
    with tempfile.TemporaryDirectory(prefix="postman-mock-tls-") as directory:
        yield throwaway_tls(names, pathlib.Path(directory))


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
        shown = action.default is not None and action.default is not False
        if shown and action.default != argparse.SUPPRESS and "default" not in text:
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
    add(
        "--environment",
        choices=ENVIRONMENTS,
        default=None,
        help="test, production or loadtest (default: from --api-key's prefix, else test)",
    )
    add("--profile", choices=PROFILES, default="fast", help="lifecycle profile (default fast)")
    add(
        "--tps",
        type=int,
        default=None,
        help="requests per second per campaign; 0: no limit (default 10, loadtest 200)",
    )
    add("--rate-limit", choices=RATE_LIMIT_MODELS, default="sliding", help="rate-limit model")
    add("--speed", type=float, default=1.0, help="lifecycle speed-up (0 freezes it)")
    add("--languages", default="english", help="comma-separated enabled languages")
    add("--variables", default="otp", help="comma-separated template variables")
    add("--campaign-id", default=None, help="campaign ID (default: generated)")
    add("--api-key", default=None, help="API key (default: generated for the environment)")
    add("--allowed-ip", action="append", help="IP whitelist entry (repeat); default: any")
    add(
        "--lenient",
        action="append",
        choices=LENIENCY_SWITCHES,
        help="relax one strict reading of undocumented behaviour (repeat)",
    )
    add("--tls", action="store_true", help="serve HTTPS with a throwaway CA (prints its file)")
    add("--tls-dir", default=None, help="directory to write the CA file to (default: temp)")
    add("--tls-name", action="append", help="extra host name on the certificate (repeat)")
    add(
        "--max-batch-rows",
        type=int,
        default=None,
        help="row cap of batch CSVs; 0: no cap (default 20 on test, none elsewhere)",
    )
    add("--hold-sent-to-telco", action="store_true", help="keep messages in sent_to_telco")
    add("--server-error-rate", type=float, default=0.0, help="share of JSON 5xx answers")
    add("--html-error-rate", type=float, default=0.0, help="share of HTML 502 answers")
    add("--error-after-commit-rate", type=float, default=0.0, help="share of sends: 500 after")
    add("--drop-rate", type=float, default=0.0, help="share of connections closed unanswered")
    add("--unreadable-body-rate", type=float, default=0.0, help="share of 2xx with a cut body")
    add("--fault-endpoints", default=None, help="comma-separated endpoints faults apply to")
    add("--latency", type=float, default=0.0, help="seconds added to every answer")
    add("--latency-jitter", type=float, default=0.0, help="up to this many more seconds")
    add("--retry-after", type=int, default=None, help="Retry-After seconds on 429 answers")
    add("--seed", type=int, default=None, help="seed of the fault draws")
    return parser
