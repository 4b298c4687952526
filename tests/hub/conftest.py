"""A live hub server (SQLite and PostgreSQL) started by the tests, and real clients for it."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
# The Xet client caches what it uploaded: one cache per test run, never the user's (the servers
# the tests start are new each run, and would not hold what an old cache remembers).
os.environ["HF_XET_CACHE"] = tempfile.mkdtemp(prefix="modelyard-xet-cache-")

VENV_BIN = Path(sys.executable).parent
MODELYARD = str(VENV_BIN / "modelyard")
# Small limits so that every protocol path (LFS, multipart, pagination) runs on small files.
SERVER_ENV = {
    "MODELYARD_HUB_REGULAR_UPLOAD_MAX": "2000",
    "MODELYARD_HUB_MULTIPART_THRESHOLD": "300000",
    "MODELYARD_HUB_MULTIPART_CHUNK_SIZE": "100000",
    "MODELYARD_HUB_MAX_FILE_SIZE": str(400 * 1024 * 1024),
    "MODELYARD_HUB_PAGE_SIZE": "3",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MODELYARD, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )


@dataclass
class HubServer:
    """A running ``modelyard hub serve`` process."""

    url: str
    port: int
    data_dir: Path
    database_url: str | None
    process: subprocess.Popen[bytes]

    def db_args(self) -> list[str]:
        return ["--database-url", self.database_url] if self.database_url else []

    def token(self, user: str) -> str:
        """Create a token with the CLI while the server runs; the token is the last line."""
        result = run_cli(
            "hub", "token", "create", user, "--data-dir", str(self.data_dir), *self.db_args()
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    def add_member(self, org: str, user: str) -> None:
        args = ("hub", "org", "add-member", org, user, "--data-dir", str(self.data_dir))
        result = run_cli(*args, *self.db_args())
        assert result.returncode == 0, result.stderr

    def stop(self, sig: int = 15) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)


def start_server(
    data_dir: Path,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
) -> HubServer:
    port = free_port()
    args = [MODELYARD, "hub", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    if database_url:
        args += ["--database-url", database_url]
    args += extra_args or []
    log = (data_dir.parent / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        args, env={**os.environ, **SERVER_ENV, **(extra_env or {})}, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"hub server exited: {(data_dir.parent / f'server-{port}.log').read_text()}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("hub server did not start within 60 s")
    return HubServer(url, port, data_dir, database_url, process)


@dataclass
class Postgres:
    url: str
    data_dir: Path
    pg_ctl: str


def _start_postgres() -> Postgres:
    initdbs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not initdbs:
        pytest.skip("PostgreSQL server not installed (no /usr/lib/postgresql/*/bin/initdb)")
    bindir = Path(initdbs[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="modelyard-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    port = free_port()
    subprocess.run(
        [*as_postgres, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_postgres,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
            "-l",
            str(root / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "hub"],
        check=True,
        capture_output=True,
    )
    return Postgres(
        f"postgresql+psycopg://postgres@127.0.0.1:{port}/hub",
        data,
        " ".join([*as_postgres, str(bindir / "pg_ctl")]),
    )


def _stop_postgres(postgres: Postgres) -> None:
    subprocess.run(
        [*postgres.pg_ctl.split(), "-D", str(postgres.data_dir), "-m", "immediate", "stop"],
        check=False,
        capture_output=True,
    )
    shutil.rmtree(postgres.data_dir.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server for the test session (skips where none is installed)."""
    server = _start_postgres()
    try:
        yield server
    finally:
        _stop_postgres(server)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubServer]:
    """A live hub on SQLite, then on PostgreSQL, with users alice, bob and carol (org acme)."""
    pytest.importorskip(
        "modelyard.scan", reason="the scan engine (modelyard.scan) is not installed"
    )
    postgres = _start_postgres() if request.param == "postgresql" else None
    server = start_server(
        tmp_path_factory.mktemp(f"hub-{request.param}") / "data",
        postgres.url if postgres else None,
    )
    try:
        yield server
    finally:
        server.stop()
        if postgres is not None:
            _stop_postgres(postgres)


@pytest.fixture
def hub_factory(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    """Start hubs for this test only (SQLite unless given a database URL):
    ``hub_factory(data_dir=None, extra_env=None, extra_args=None, database_url=None)``."""
    pytest.importorskip(
        "modelyard.scan", reason="the scan engine (modelyard.scan) is not installed"
    )
    servers: list[HubServer] = []

    def start(
        data_dir: Path | None = None,
        extra_env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
        database_url: str | None = None,
    ) -> HubServer:
        server = start_server(
            data_dir or tmp_path / "hub" / "data",
            database_url,
            extra_env=extra_env,
            extra_args=extra_args,
        )
        servers.append(server)
        return server

    (tmp_path / "hub").mkdir()
    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def cli():  # type: ignore[no-untyped-def]
    """Run the ``modelyard`` executable: ``cli(*args, env={...})``."""
    return run_cli


@dataclass
class Users:
    alice: str
    bob: str
    carol: str


@pytest.fixture(scope="session")
def tokens(hub: HubServer) -> Users:
    users = Users(hub.token("alice"), hub.token("bob"), hub.token("carol"))
    hub.add_member("acme", "carol")
    return users


@pytest.fixture
def api(hub: HubServer, tokens: Users):  # type: ignore[no-untyped-def]
    """An ``HfApi`` for alice."""
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.url, token=tokens.alice)


@pytest.fixture
def classic_lfs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client with Xet disabled (``HF_HUB_DISABLE_XET=1``): large files go through the
    classic LFS batch API."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)


@pytest.fixture
def repo_name(request: pytest.FixtureRequest) -> str:
    """A repo name unique to the test (and to the backend it runs on)."""
    backend = (
        request.node.callspec.params.get("hub", "") if hasattr(request.node, "callspec") else ""
    )
    name = f"{request.node.originalname.removeprefix('test_')}-{backend}".replace("_", "-")
    return name[-90:].strip("-.")


@dataclass
class S3Endpoint:
    """moto's S3 server on a loopback port: an S3-compatible endpoint for bucket storage (no
    real S3 server package installs here)."""

    url: str

    @property
    def env(self) -> dict[str, str]:
        """The standard AWS variables that point a hub (or any client) at this endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "modelyard-test",
            "AWS_SECRET_ACCESS_KEY": "modelyard-test-secret",
            "AWS_REGION": "us-east-1",
        }

    def client(self) -> Any:
        import boto3

        env = self.env
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
        )

    def new_bucket(self) -> str:
        name = f"hub-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every complete object of ``bucket`` under ``prefix``, by key."""
        client = self.client()
        listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return {
            item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            for item in listed
        }


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Endpoint]:
    """A moto S3 server for the test session."""
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    port = free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Endpoint(f"http://127.0.0.1:{port}")
    finally:
        server.stop()


Storage = Literal["folder", "bucket"]


@pytest.fixture(params=["folder", "bucket"])
def storage(request: pytest.FixtureRequest) -> Storage:
    """Each storage a hub keeps file contents in: its data folder, and an S3 bucket."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def storage_hub(storage: Storage, s3: S3Endpoint, hub_factory) -> Iterator:  # type: ignore[type-arg]
    """Start hubs for this test keeping contents in ``storage`` (a new bucket per test):
    ``storage_hub(data_dir=None, extra_args=None, database_url=None)``; ``storage_hub.bucket``
    names the bucket."""

    class Start:
        bucket = s3.new_bucket() if storage == "bucket" else None

        def __call__(
            self,
            data_dir: Path | None = None,
            extra_args: list[str] | None = None,
            database_url: str | None = None,
        ) -> HubServer:
            if self.bucket is None:
                return hub_factory(  # type: ignore[no-any-return]
                    data_dir, extra_args=extra_args, database_url=database_url
                )
            return hub_factory(  # type: ignore[no-any-return]
                data_dir,
                extra_env=s3.env,
                extra_args=["--storage-url", f"s3://{self.bucket}/hub", *(extra_args or [])],
                database_url=database_url,
            )

    yield Start()
