"""``modelyard hub serve|token|org`` and ``modelyard push|pull``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from modelyard.cli.console import stderr, stdout

if TYPE_CHECKING:
    from collections.abc import Callable

    from modelyard.hub.server.hub import Hub
    from modelyard.hub.server.settings import Settings

hub_app = typer.Typer(
    help="Run a self-hosted, Hugging Face-compatible model hub.", no_args_is_help=True
)
token_app = typer.Typer(help="Manage access tokens.", no_args_is_help=True)
org_app = typer.Typer(help="Manage organizations.", no_args_is_help=True)
hub_app.add_typer(token_app, name="token")
hub_app.add_typer(org_app, name="org")

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Hub data folder [default: $MODELYARD_HUB_DATA_DIR or ~/.modelyard/hub]"
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db [default: SQLite in DIR]",
    ),
]


def _settings(data_dir: Path | None, database_url: str | None) -> Settings:
    from modelyard.hub.server.settings import Settings

    return Settings.from_env(data_dir=data_dir, database_url=database_url)


@hub_app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="On first start, train and push demo models (reused afterwards)."
        ),
    ] = False,
) -> None:
    """Serve the hub (API for huggingface_hub clients) until interrupted."""
    from modelyard.hub.server import serve as run

    settings = _settings(data_dir, database_url)
    url = f"http://{host}:{port}"
    stderr.print(f"modelyard hub on {url} (data in {escape(str(settings.data_dir))})")
    run(settings, host=host, port=port, on_started=_demo_seeder(settings, url) if demo else None)


def _demo_seeder(settings: Settings, url: str) -> Callable[[Hub], None]:
    def seed_demo(hub: Hub) -> None:
        from modelyard.errors import ModelyardError
        from modelyard.hub.demo import seed

        if not (settings.data_dir / "demo.json").is_file():
            stderr.print("preparing demo content (first start only; takes a minute or two)")
        try:
            state = seed(settings.data_dir, hub.accounts, url, progress=stderr.print)
        except (ModelyardError, OSError) as error:
            stderr.print(f"[bold red]error:[/] demo content failed: {escape(str(error))}")
            return
        stdout.print(f"\n[bold]modelyard hub demo[/] at {url}")
        stdout.print(f"repositories: {', '.join(state.repos)}")
        stdout.print(f"demo token (user demo): {state.token}", soft_wrap=True)
        stdout.print(
            f"try: MODELYARD_HUB_URL={url} MODELYARD_TOKEN={state.token} "
            f".venv/bin/modelyard pull {state.repos[0]}",
            soft_wrap=True,
        )

    return seed_demo


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Argument(help="User name; created if needed.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an access token for USER (printed once, as the last line)."""
    from modelyard.hub.server.accounts import Accounts
    from modelyard.hub.server.db import make_engine

    token = Accounts(make_engine(_settings(data_dir, database_url))).create_token(user)
    stderr.print(f"new token for {escape(user)} (store it now: it is not shown again):")
    stdout.print(token, soft_wrap=True)


@org_app.command("add-member")
def org_add_member(
    org: Annotated[str, typer.Argument(help="Organization; created if needed.")],
    user: Annotated[str, typer.Argument(help="User; created if needed.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Make USER a member of ORG, so USER can write to ORG's namespace."""
    from modelyard.hub.server.accounts import Accounts
    from modelyard.hub.server.db import make_engine

    Accounts(make_engine(_settings(data_dir, database_url))).add_member(org, user)
    stdout.print(f"{escape(user)} is a member of {escape(org)}")


def push(
    path: Annotated[Path, typer.Argument(help="Model file or folder to upload.")],
    repo_id: Annotated[str, typer.Argument(help="namespace/name on the hub.")],
    private: Annotated[bool, typer.Option("--private", help="Create the repo private.")] = False,
    revision: Annotated[
        str | None, typer.Option("--revision", help="Branch to push to [default: main].")
    ] = None,
) -> None:
    """Scan PATH, then upload it to REPO_ID on $MODELYARD_HUB_URL with $MODELYARD_TOKEN."""
    from modelyard.hub.client import push as push_model

    result = push_model(
        path, repo_id, private=private, revision=revision, progress=lambda m: stderr.print(m)
    )
    stdout.print(
        f"pushed {escape(str(path))} to {escape(result.repo_id)}@{escape(result.revision)} "
        f"(scan: {result.report.verdict})"
    )
    stdout.print(result.commit, soft_wrap=True)


def pull(
    repo_id: Annotated[str, typer.Argument(help="namespace/name on the hub.")],
    revision: Annotated[
        str | None, typer.Option("--revision", help="Branch, tag or commit [default: main].")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Destination folder [default: ./NAME].")
    ] = None,
) -> None:
    """Download REPO_ID from $MODELYARD_HUB_URL, scan it, then place it in --out."""
    from modelyard.hub.client import pull as pull_model

    result = pull_model(repo_id, revision=revision, out=out, progress=lambda m: stderr.print(m))
    for name, verdict in sorted(result.verdicts.items()):
        if verdict != "safe":
            stderr.print(f"[yellow]warning:[/] {escape(name)} is {verdict}")
    stdout.print(
        f"pulled {escape(repo_id)}@{result.commit[:12]} into {escape(str(result.path))} "
        f"(scan: {result.report.verdict})"
    )


def register(app: typer.Typer) -> None:
    """Add the ``hub`` group and the ``push`` / ``pull`` commands to the root app."""
    app.add_typer(hub_app, name="hub")
    app.command("push")(push)
    app.command("pull")(pull)
