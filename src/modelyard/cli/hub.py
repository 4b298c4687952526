"""``modelyard hub serve|worker|gc|rescan|token|org`` and ``modelyard push|pull``."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from modelyard.cli.console import escape, stderr, stdout
from modelyard.cli.parsing import Commands, add_command, add_group, at_least

if TYPE_CHECKING:
    from collections.abc import Callable

    from modelyard.hub.server.hub import Hub
    from modelyard.hub.server.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    from modelyard.hub.server.settings import Settings

    return Settings.from_env(data_dir=args.data_dir, database_url=args.database_url)


def serve_command(args: argparse.Namespace) -> None:
    """Serve the hub (API for huggingface_hub clients) until interrupted."""
    from modelyard.hub.server import serve as run
    from modelyard.hub.server.settings import Settings

    settings = Settings.from_env(
        data_dir=args.data_dir,
        database_url=args.database_url,
        max_file_size=args.max_file_size,
        max_repo_size=args.max_repo_size,
        max_concurrent_scans=args.max_concurrent_scans,
        scan_timeout=args.scan_timeout,
        scan_workers=args.scan_workers,
        storage_url=args.storage_url,
        presign=args.presign or None,
    )
    url = f"http://{args.host}:{args.port}"
    where = settings.storage_url or settings.data_dir
    stderr().print(f"modelyard hub on {url} (data in {escape(str(where))})")
    seeder = _demo_seeder(settings, url) if args.demo else None
    run(settings, host=args.host, port=args.port, on_started=seeder)


def worker_command(args: argparse.Namespace) -> None:
    """Scan queued files with --workers threads until interrupted (beside `hub serve`)."""
    from modelyard.hub.server.hub import Hub
    from modelyard.hub.server.scan_queue import ScanWorkers
    from modelyard.hub.server.settings import Settings

    settings = Settings.from_env(
        data_dir=args.data_dir,
        database_url=args.database_url,
        storage_url=args.storage_url,
    )
    hub = Hub.open(settings)
    workers = ScanWorkers(hub.scan_queue, args.workers).start()
    stderr().print(f"modelyard hub worker: {args.workers} scan worker(s)")
    try:
        workers.wait()
    except KeyboardInterrupt:
        workers.stop()


def _demo_seeder(settings: Settings, url: str) -> Callable[[Hub], None]:
    def seed_demo(hub: Hub) -> None:
        from modelyard.errors import ModelyardError
        from modelyard.hub.demo import seed

        if not (settings.data_dir / "demo.json").is_file():
            stderr().print("preparing demo content (first start only; takes a minute or two)")
        try:
            state = seed(settings.data_dir, hub.accounts, url, progress=stderr().print)
        except (ModelyardError, OSError) as error:
            stderr().print(f"[bold red]error:[/] demo content failed: {escape(str(error))}")
            return
        stdout().print(f"\n[bold]modelyard hub demo[/] at {url}")
        stdout().print(f"repositories: {', '.join(state.repos)}")
        stdout().print(f"demo token (user demo): {state.token}", soft_wrap=True)
        stdout().print(
            f"try: MODELYARD_HUB_URL={url} MODELYARD_TOKEN={state.token} "
            f".venv/bin/modelyard pull {state.repos[0]}",
            soft_wrap=True,
        )

    return seed_demo


def token_create_command(args: argparse.Namespace) -> None:
    """Create an access token for USER (printed once, as the last line)."""
    from modelyard.hub.server.accounts import Accounts
    from modelyard.hub.server.db import make_engine

    token = Accounts(make_engine(_settings(args))).create_token(args.user)
    stderr().print(f"new token for {escape(args.user)} (store it now: it is not shown again):")
    stdout().print(token, soft_wrap=True)


def org_add_member_command(args: argparse.Namespace) -> None:
    """Make USER a member of ORG, so USER can write to ORG's namespace."""
    from modelyard.hub.server.accounts import Accounts
    from modelyard.hub.server.db import make_engine

    Accounts(make_engine(_settings(args))).add_member(args.org, args.user)
    stdout().print(f"{escape(args.user)} is a member of {escape(args.org)}")


def gc_command(args: argparse.Namespace) -> None:
    """Remove stored files no commit references, keeping anything stored within --grace."""
    from modelyard.hub.server.gc import collect_garbage
    from modelyard.hub.server.settings import Settings, format_size

    settings = Settings.from_env(
        data_dir=args.data_dir, database_url=args.database_url, storage_url=args.storage_url
    )
    report = collect_garbage(settings, args.grace)
    stdout().print(
        f"removed {report.blobs} blob(s), {report.xorbs} xorb(s), {report.xet_files} Xet "
        f"file record(s), {report.staging} staging and {report.unrecorded} unrecorded "
        f"object(s): {format_size(report.freed_bytes)} freed"
    )


def rescan_command(args: argparse.Namespace) -> None:
    """Rescan stored files that an older scanner judged (every file with --all); files that
    are now unsafe are quarantined. A starting hub queues these rescans for its workers."""
    from modelyard.hub.server.db import make_engine
    from modelyard.hub.server.scanning import Scanner
    from modelyard.hub.server.settings import Settings
    from modelyard.hub.server.storage import BlobStore

    settings = Settings.from_env(
        data_dir=args.data_dir, database_url=args.database_url, storage_url=args.storage_url
    )
    engine = make_engine(settings)
    store = BlobStore.open(settings, engine)
    scanner = Scanner(engine, store, settings.max_concurrent_scans, settings.scan_timeout or None)
    with stderr().status("rescanning stored files"):
        done = scanner.rescan(everything=args.all)
    for change in done.changes:
        quarantined = " (quarantined)" if change.quarantined else ""
        stdout().print(f"{escape(change.path)}: {change.before} -> {change.after}{quarantined}")
    stdout().print(
        f"rescanned {done.rescanned} stored result(s) with scanner {done.scanner_version}; "
        f"{len(done.changes)} verdict(s) changed"
    )


def push_command(args: argparse.Namespace) -> None:
    """Scan PATH, then upload it to REPO_ID on $MODELYARD_HUB_URL with $MODELYARD_TOKEN."""
    from modelyard.hub.client import push as push_model

    result = push_model(
        args.path,
        args.repo_id,
        private=args.private,
        revision=args.revision,
        progress=stderr().print,
    )
    stdout().print(
        f"pushed {escape(str(args.path))} to {escape(result.repo_id)}@{escape(result.revision)} "
        f"(scan: {result.report.verdict})"
    )
    stdout().print(result.commit, soft_wrap=True)


def pull_command(args: argparse.Namespace) -> None:
    """Download REPO_ID from $MODELYARD_HUB_URL, scan it, then place it in --out."""
    from modelyard.hub.client import pull as pull_model

    repo_id = args.repo_id
    result = pull_model(repo_id, revision=args.revision, out=args.out, progress=stderr().print)
    for name, verdict in sorted(result.verdicts.items()):
        if verdict != "safe":
            stderr().print(f"[yellow]warning:[/] {escape(name)} is {verdict}")
    stdout().print(
        f"pulled {escape(repo_id)}@{result.commit[:12]} into {escape(str(result.path))} "
        f"(scan: {result.report.verdict})"
    )


def register(commands: Commands) -> None:
    """Add the ``hub`` group and the ``push`` / ``pull`` commands to the root command."""
    hub = add_group(commands, "hub", "Run a self-hosted, Hugging Face-compatible model hub.")
    serve = add_command(hub, "serve", serve_command)
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    serve.add_argument("--port", type=int, default=8000, help="TCP port")
    _storage(serve)
    _object_storage(serve)
    serve.add_argument(
        "--presign",
        action="store_true",
        help="with --storage-url, redirect downloads of public files to presigned bucket URLs "
        "(default: $MODELYARD_HUB_PRESIGN=1)",
    )
    serve.add_argument(
        "--max-file-size",
        type=_size,
        metavar="SIZE",
        help="refuse files larger than SIZE, e.g. 10GB or 500MB (units are powers of 1024; "
        "default: $MODELYARD_HUB_MAX_FILE_SIZE or 50GB, as huggingface.co)",
    )
    serve.add_argument(
        "--max-repo-size",
        type=_size,
        metavar="SIZE",
        help="refuse uploads that would grow a repository (every distinct file in its history) "
        "beyond SIZE (default: $MODELYARD_HUB_MAX_REPO_SIZE or 300GB)",
    )
    serve.add_argument(
        "--max-concurrent-scans",
        type=at_least(1),
        metavar="N",
        help="scan at most N uploaded files at once; further uploads wait their turn, so "
        "memory stays bounded (default: $MODELYARD_HUB_MAX_CONCURRENT_SCANS or 2)",
    )
    serve.add_argument(
        "--scan-timeout",
        type=at_least(0, float),
        metavar="SECONDS",
        help="most time one uploaded file's scan may take; past it the file's verdict is an "
        "error (default: $MODELYARD_HUB_SCAN_TIMEOUT or 300; 0: no limit)",
    )
    serve.add_argument(
        "--scan-workers",
        type=at_least(0),
        metavar="N",
        help="scan queued files in N threads of this server; 0 leaves scanning to `hub worker` "
        "processes (default: $MODELYARD_HUB_SCAN_WORKERS or 1)",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="on first start, train and push demo models (reused afterwards)",
    )
    worker = add_command(hub, "worker", worker_command)
    worker.add_argument(
        "--workers", type=at_least(1), default=1, metavar="N", help="scan threads (default: 1)"
    )
    _storage(worker)
    _object_storage(worker)
    gc = add_command(hub, "gc", gc_command)
    _storage(gc)
    _object_storage(gc)
    gc.add_argument(
        "--grace",
        type=_duration,
        default="1h",
        metavar="DURATION",
        help="keep anything stored or written less than DURATION ago, e.g. 30m, 1h or 2d; "
        "longer than any upload takes (default: 1h)",
    )
    token = add_group(hub, "token", "Manage access tokens.")
    create = add_command(token, "create", token_create_command)
    create.add_argument("user", help="user name; created if needed")
    _storage(create)
    org = add_group(hub, "org", "Manage organizations.")
    add_member = add_command(org, "add-member", org_add_member_command)
    add_member.add_argument("org", help="organization; created if needed")
    add_member.add_argument("user", help="user; created if needed")
    _storage(add_member)
    rescan = add_command(hub, "rescan", rescan_command)
    rescan.add_argument(
        "--all", action="store_true", help="rescan every stored file, not only outdated ones"
    )
    _storage(rescan)
    _object_storage(rescan)

    push = add_command(commands, "push", push_command)
    push.add_argument("path", metavar="PATH", type=Path, help="model file or folder to upload")
    push.add_argument("repo_id", metavar="REPO_ID", help="namespace/name on the hub")
    push.add_argument("--private", action="store_true", help="create the repo private")
    push.add_argument("--revision", help="branch to push to (default: main)")

    pull = add_command(commands, "pull", pull_command)
    pull.add_argument("repo_id", metavar="REPO_ID", help="namespace/name on the hub")
    pull.add_argument("--revision", help="branch, tag or commit (default: main)")
    pull.add_argument("--out", type=Path, help="destination folder (default: ./NAME)")


def _size(text: str) -> int:
    from modelyard.hub.server.settings import parse_size

    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _duration(text: str) -> timedelta:
    from modelyard.hub.server.settings import parse_duration

    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _object_storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage-url",
        metavar="URL",
        help="keep file contents in s3://BUCKET[/PREFIX]; endpoint and credentials from "
        "AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION "
        "(default: $MODELYARD_HUB_STORAGE_URL, else in DIR)",
    )


def _storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="hub data folder (default: $MODELYARD_HUB_DATA_DIR or ~/.modelyard/hub)",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db (default: SQLite in DIR)",
    )
