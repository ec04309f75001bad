"""Running one command: parse, configure, run on an event loop, map the outcome to an exit code."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator, Sequence

from .._errors import PostmanError, ValidationError
from ..testing._cli import main as mock_main
from ._batches import batch, export, retry_batch
from ._config import UsageError, resolve
from ._demo import run_demo
from ._list import list_messages
from ._meanings import explain
from ._messages import retry, send, status, watch
from ._output import Output
from ._parser import build
from ._session import Context

#: Exit codes.
EXIT_OK, EXIT_API, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

#: Signals that stop a command cleanly.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

Command = Callable[[Context], Awaitable[int]]
COMMANDS: dict[str, Command] = {
    "send": send,
    "status": status,
    "retry": retry,
    "batch": batch,
    "retry-batch": retry_batch,
    "watch": watch,
    "list": list_messages,
    "export": export,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``postman-async`` command line; return the exit code."""
    out = Output()
    try:
        parser = build()
        args, rest = parser.parse_known_args(argv)
        if args.command == "mock":
            return mock_main(rest, prog="postman-async mock")
        if rest:
            parser.error(f"unrecognised arguments: {' '.join(rest)}")
        if args.command == "demo":
            demo = run_demo(sends=args.sends, tps=args.tps, speed=args.speed, out=out)
            return _run(demo, out, verbose=False)
        ctx = Context(args, out)
        if not (args.command == "batch" and args.dry_run):
            ctx.config = resolve(args)
            out.add_secret(ctx.config.api_key)
        with _log_to_stderr(out, verbose=args.verbose):
            if args.verbose and ctx.config is not None:
                out.note(ctx.config.describe())
            return _run(COMMANDS[args.command](ctx), out, verbose=args.verbose)
    except UsageError as exc:
        out.error(str(exc))
        return EXIT_USAGE
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except KeyboardInterrupt:
        out.note("interrupted")
        return EXIT_INTERRUPTED


def _run(work: Awaitable[int], out: Output, *, verbose: bool) -> int:
    try:
        return asyncio.run(_guarded(work, out, verbose=verbose))
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, like other shell tools.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


async def _guarded(work: Awaitable[int], out: Output, *, verbose: bool) -> int:
    """Run ``work``; Ctrl-C (or SIGTERM) cancels it, so every ``async with`` closes.

    Exits 130 after Ctrl-C, 143 after SIGTERM, as shells report a death by those signals.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    stopped_by: list[int] = []

    def stop(signum: int) -> None:
        stopped_by.append(signum)
        if task is not None:
            task.cancel()

    for signum in _STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop, signum)
    try:
        return await work
    except asyncio.CancelledError:
        if not stopped_by:
            raise
        out.note("interrupted")
        return 128 + stopped_by[0]
    except (UsageError, ValidationError) as exc:
        out.error(str(exc))
        return EXIT_USAGE
    except PostmanError as exc:
        out.error(explain(exc))
        return EXIT_API
    except ValueError as exc:  # the client's own argument checks (e.g. a bad base URL)
        out.error(str(exc))
        return EXIT_USAGE
    except BrokenPipeError:
        raise  # handled by _run
    except Exception as exc:
        if verbose:
            out.note(traceback.format_exc())
        out.error(f"unexpected {type(exc).__name__}: {exc} (run with --verbose for details)")
        return EXIT_API
    finally:
        for signum in _STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)


class _Redact(logging.Filter):
    """Blanks secrets in log records; without ``--verbose``, drops the tracker's.

    A tracker that stops says why in the error the command prints anyway.
    """

    def __init__(self, out: Output, *, verbose: bool) -> None:
        super().__init__()
        self._out = out
        self._verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._verbose and record.name.endswith("_tracking"):
            return False
        record.msg = self._out.redact(record.getMessage())
        record.args = None
        return True


@contextlib.contextmanager
def _log_to_stderr(out: Output, *, verbose: bool) -> Iterator[None]:
    """The library's log on stderr: every call with ``--verbose``, else warnings only."""
    handler = logging.StreamHandler(out.stderr)
    form = "%(asctime)s %(levelname)s %(name)s: %(message)s" if verbose else "warning: %(message)s"
    handler.setFormatter(logging.Formatter(form))
    handler.addFilter(_Redact(out, verbose=verbose))
    logger = logging.getLogger("postman_async")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
