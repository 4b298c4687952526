"""``modelyard serve``: predictions over HTTP for packages and hub models."""

from __future__ import annotations

import argparse

from modelyard.cli.console import escape, stderr
from modelyard.cli.parsing import Commands, add_command, at_least
from modelyard.serve.settings import MIB, BatchSettings, Limits, ServeSettings

_LIMITS = Limits()
_BATCHING = BatchSettings()


def serve_command(args: argparse.Namespace) -> None:
    """Serve packages or hub models: Open Inference Protocol v2 and MLflow scoring on one port.

    A SOURCE is a package folder or a hub repo id NAMESPACE/NAME[@REVISION], pulled from
    $MODELYARD_HUB_URL with $MODELYARD_TOKEN, scanned, and cached by commit (so a restart
    works offline). Each model is served under its folder's or repo's name.
    """
    from modelyard.serve.server import resolve, serve

    sources = [resolve(source) for source in args.sources]
    settings = ServeSettings(
        Limits(
            max_body_bytes=int(args.max_body_mb * MIB),
            max_rows=int(args.max_rows),
            timeout=args.timeout,
        ),
        BatchSettings(
            max_batch_size=int(args.max_batch_size),
            max_batch_delay=args.max_batch_delay_ms / 1000,
            max_queue=int(args.max_queue),
        ),
    )
    names = ", ".join(escape(source.name) for source in sources)
    url = f"http://{args.host}:{args.port}"
    stderr().print(
        f"serving {names} on {url} (v2: {url}/v2/models/NAME/infer, MLflow: {url}/invocations)"
    )
    serve(*sources, host=args.host, port=args.port, workers=int(args.workers), settings=settings)


def register(commands: Commands) -> None:
    """Add ``serve`` to the root command."""
    serve = add_command(commands, "serve", serve_command)
    serve.add_argument(
        "sources",
        metavar="SOURCE",
        nargs="+",
        help="package folder or NAMESPACE/NAME[@REVISION] on the hub",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)"
    )
    serve.add_argument("--port", type=int, default=8080, help="TCP port (default: %(default)s)")
    serve.add_argument(
        "--workers",
        type=at_least(1),
        default=1,
        metavar="N",
        help="worker processes, each with its own copy of the models (default: %(default)s)",
    )
    serve.add_argument(
        "--max-batch-size",
        type=at_least(1),
        default=_BATCHING.max_batch_size,
        metavar="ROWS",
        help="rows per model call when requests are batched "
        "(default: %(default)s; 1 turns batching off)",
    )
    serve.add_argument(
        "--max-batch-delay-ms",
        type=at_least(0, float),
        default=_BATCHING.max_batch_delay * 1000,
        metavar="MS",
        help="how long a batch may wait for requests still being read; a lone "
        "request never waits (default: %(default)s)",
    )
    serve.add_argument(
        "--max-queue",
        type=at_least(1),
        default=_BATCHING.max_queue,
        metavar="N",
        help="requests waiting per model before answering 429 (default: %(default)s)",
    )
    serve.add_argument(
        "--max-body-mb",
        type=at_least(0.001, float),
        default=_LIMITS.max_body_bytes / MIB,
        metavar="MB",
        help="largest request body, else 413 (default: %(default)s)",
    )
    serve.add_argument(
        "--max-rows",
        type=at_least(1),
        default=_LIMITS.max_rows,
        metavar="N",
        help="most rows per request, else 413 (default: %(default)s)",
    )
    serve.add_argument(
        "--timeout",
        type=at_least(0.001, float),
        default=_LIMITS.timeout,
        metavar="SECONDS",
        help="time per request before answering 504 (default: %(default)s)",
    )
