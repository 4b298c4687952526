"""The hub against the machine's limits, on loopback, with the real huggingface_hub client and
hf_xet: Xet and classic LFS side by side, and the hub side by side with a static file server.

    python -m bench.hub [--size-mb 1024] [--clients 100] [--storage s3] [--replicas]

Every client run is a new process with a fresh ``HF_HOME`` and ``HF_XET_CACHE``, as another
machine would be; classic LFS runs get ``HF_HUB_DISABLE_XET=1`` in their own environment only.
All data is random (incompressible).

1. A ``--size-mb`` file uploaded and downloaded through Xet and through classic LFS: times and
   ratio; the server's peak memory (children included) during each upload: targets < 300 MB
   (Xet) and < 200 MB (LFS).
2. Xet download throughput vs. a plain HTTP GET of the same file from the same hub by the same
   client (``HF_HUB_DISABLE_XET=1``): >= 0.8x; and vs. a bare urllib GET, for reference.
3. A ``--size-mb`` safetensors model (200 tensors) pushed to a second repo: bytes the client sends,
   counted by a TCP proxy in front of the hub, < 1% of the model; the model with 1% of its
   tensors changed pushed again: <= 5%.
4. Download throughput of the LFS file from the hub vs. a static server of the same file (nginx if
   installed, else Python's ``http.server``): >= 0.8x; ``snapshot_download`` of that repository;
   ``--clients`` concurrent downloads of a 1 MB file: errors (target 0) and latency percentiles.

``--storage s3`` runs only this part instead:

5. A ``--size-mb`` file uploaded (Xet) and downloaded (Xet, and a plain GET by the same client)
   with the hub's contents in its data folder and in an S3 bucket (moto's server, as no real S3
   server installs here): times and ratio S3 / folder; the server's peak memory during the S3
   upload: target < 300 MB.

``--replicas`` runs only this part instead:

6. ``--clients`` concurrent plain GETs of a 10 MB file through two ``hub serve`` replicas (one
   PostgreSQL database, one shared data folder; clients alternate between them) vs through one
   of them: aggregate throughput and ratio (errors: target 0).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import grp
import hashlib
import logging
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MODELYARD = Path(sys.executable).with_name("modelyard")
CHUNK = 1 << 20
TENSORS = 200
CHANGED_TENSORS = 2  # 1% of TENSORS

Protocol = Literal["xet", "lfs"]

# One client run: upload a folder, or download one file / a snapshot, timing only the call.
_CLIENT = """
import sys, time
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
operation, endpoint, token, repo, target, filename = sys.argv[1:7]
api = HfApi(endpoint=endpoint, token=token)
if operation == "upload":
    api.create_repo(repo, exist_ok=True)
started = time.perf_counter()
if operation == "upload":
    api.upload_folder(folder_path=target, repo_id=repo)
elif operation == "download":
    hf_hub_download(repo, filename, endpoint=endpoint, token=token, local_dir=target)
else:
    snapshot_download(repo, endpoint=endpoint, token=token, local_dir=target)
print(time.perf_counter() - started)
"""

Operation = Literal["upload", "download", "snapshot"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


def start_hub(
    data: Path, *options: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """``modelyard hub serve`` on a free loopback port, once it listens: (process, endpoint).

    ``env`` adds to the benchmark's environment."""
    port = _free_port()
    command = [str(MODELYARD), "hub", "serve", "--port", str(port), "--data-dir", str(data)]
    hub = subprocess.Popen(
        [*command, *options],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port)
    except BaseException:
        hub.terminate()
        raise
    return hub, f"http://127.0.0.1:{port}"


def bench_token(data: Path, *options: str) -> str:
    """A new access token for user ``bench`` of the hub in ``data`` (``options``: e.g. its
    ``--database-url``)."""
    return subprocess.run(
        [MODELYARD, "hub", "token", "create", "bench", "--data-dir", str(data), *options],
        capture_output=True, text=True, check=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip


class CountingProxy:
    """A loopback TCP proxy in front of ``target_port`` that counts the bytes clients send."""

    def __init__(self, target_port: int) -> None:
        self.sent = 0
        self._lock = threading.Lock()
        self._target = target_port
        self._server = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._accept, name="proxy", daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):  # closed by ``close``
            while True:
                client, _ = self._server.accept()
                upstream = socket.create_connection(("127.0.0.1", self._target))
                for source, target, counted in (
                    (client, upstream, True),
                    (upstream, client, False),
                ):
                    threading.Thread(
                        target=self._pipe, args=(source, target, counted), daemon=True
                    ).start()

    def _pipe(self, source: socket.socket, target: socket.socket, counted: bool) -> None:
        try:
            while data := source.recv(CHUNK):
                if counted:
                    with self._lock:
                        self.sent += len(data)
                target.sendall(data)
        except OSError:
            pass  # the other side went away; its peer sees the closed connection
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._server.close()


@dataclass(frozen=True)
class Clients:
    """Runs the real client, one fresh process and fresh caches per run, against one hub."""

    root: Path
    token: str

    def run(
        self,
        operation: Operation,
        protocol: Protocol,
        endpoint: str,
        repo: str,
        target: Path,
        filename: str = "",
    ) -> float:
        """Seconds the client call took (process start-up excluded)."""
        home = Path(tempfile.mkdtemp(prefix="client-", dir=self.root))
        env = {key: value for key, value in os.environ.items() if not key.startswith("HF_")}
        env |= {
            "HF_HOME": str(home / "hf-home"),
            "HF_XET_CACHE": str(home / "xet-cache"),
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        }
        if protocol == "lfs":
            env["HF_HUB_DISABLE_XET"] = "1"
        argv = [operation, endpoint, self.token, repo, str(target), filename]
        done = subprocess.run(
            [sys.executable, "-c", _CLIENT, *argv],
            env=env, capture_output=True, text=True, timeout=3600,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"{protocol} {operation} of {repo} failed:\n{done.stderr[-3000:]}")
        shutil.rmtree(home)
        return float(done.stdout.split()[-1])


def _download(url: str, headers: dict[str, str] | None = None, to: Path | None = None) -> float:
    """Stream ``url`` into ``to`` (or nowhere); returns seconds."""
    request = urllib.request.Request(url, headers=headers or {})
    started = time.perf_counter()
    with (
        urllib.request.urlopen(request, timeout=600) as response,
        to.open("wb") if to else open(os.devnull, "wb") as sink,
    ):
        while block := response.read(CHUNK):
            sink.write(block)
    return time.perf_counter() - started


def _random_file(path: Path, size_mb: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        for _ in range(size_mb):
            handle.write(os.urandom(CHUNK))


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _models(original: Path, changed: Path, size_mb: int) -> None:
    """A safetensors model of random float32 tensors, and a copy with 1% of them replaced."""
    import numpy as np
    from safetensors.numpy import save_file

    rng = np.random.default_rng()
    elements = size_mb * CHUNK // TENSORS // 4

    def tensor() -> np.ndarray:
        return np.frombuffer(rng.bytes(elements * 4), dtype=np.float32)

    tensors = {f"layers.{number:03d}.weight": tensor() for number in range(TENSORS)}
    for path in (original, changed):
        path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(original))
    step = TENSORS // CHANGED_TENSORS
    for number in range(step // 2, TENSORS, step):
        tensors[f"layers.{number:03d}.weight"] = tensor()
    save_file(tensors, str(changed))


@contextlib.contextmanager
def _static_server(folder: Path, port: int) -> Iterator[str]:
    """A static server of ``folder`` on ``port`` until the block ends; yields its name."""
    nginx = shutil.which("nginx")
    if nginx:
        # Started as root, nginx runs its workers as its ``user`` (``nobody`` by default), which
        # cannot read the private temporary folder: run them as the process's own user and
        # group, by id (``getpass.getuser`` reads $LOGNAME/$USER, which may name someone else,
        # and nginx's default group is the user's name, which may not exist).
        user = (
            f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};\n"
            if os.geteuid() == 0
            else ""
        )
        conf = folder.parent / "nginx.conf"
        conf.write_text(
            f"{user}daemon off; pid {folder.parent}/nginx.pid; error_log stderr;\n"
            "events {}\nhttp { access_log off; sendfile on; "
            f"client_body_temp_path {folder.parent}/nginx-body; server {{ "
            f"listen 127.0.0.1:{port}; root {folder}; }} }}\n"
        )
        command, name = [nginx, "-p", str(folder.parent), "-c", str(conf)], "nginx"
    else:
        command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
        name = "python http.server"
    server = subprocess.Popen(
        command, cwd=folder, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    try:
        _wait_for(port)
        yield name
    finally:
        server.terminate()
        server.wait(timeout=30)


@dataclass(frozen=True)
class Row:
    """One line of the table: a figure, its target (empty if none) and whether it was met."""

    measurement: str
    result: str
    target: str = ""
    met: bool | None = None

    def render(self) -> str:
        verdict = "" if self.met is None else "met" if self.met else "MISSED"
        return f"| {self.measurement} | {self.result} | {self.target} | {verdict} |"


def _rate(size_mb: int, seconds: float) -> str:
    return f"{seconds:.1f} s ({size_mb / seconds:.0f} MB/s)"


def _share(sent: int, size: int) -> str:
    return f"{sent / CHUNK:.2f} MB = {100 * sent / size:.2f}%"


@contextlib.contextmanager
def _s3_endpoint() -> Iterator[dict[str, str]]:
    """moto's S3 server on a loopback port with a bucket ``bench``, until the block ends;
    yields the AWS variables that point a hub at it."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_REGION": "us-east-1",
    }
    try:
        boto3.client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
        ).create_bucket(Bucket="bench")
        yield env
    finally:
        server.stop()


def storage_rows(root: Path, size_mb: int) -> list[Row]:
    """Part ``--storage s3``: one ``size_mb`` upload (Xet) and its download (Xet, and a plain
    GET by the same client) with the hub's contents in its data folder, then in an S3 bucket
    served by moto; the server's peak memory during the bucket upload."""
    from bench._hostile_hub import _PeakRss

    source = root / "storage-files"
    _random_file(source / "weights.bin", size_mb)
    upload: dict[str, float] = {}
    download: dict[tuple[str, Protocol], float] = {}
    rss: dict[str, int] = {}
    with _s3_endpoint() as s3_env:
        setups: list[tuple[str, tuple[str, ...], dict[str, str]]] = [
            ("folder", (), {}),
            ("S3", ("--storage-url", "s3://bench/hub"), s3_env),
        ]
        for storage, options, env in setups:
            data = root / f"hub-{storage}"
            hub, endpoint = start_hub(data, *options, env=env)
            try:
                clients = Clients(root, bench_token(data))
                with _PeakRss(hub.pid) as peak:
                    upload[storage] = clients.run("upload", "xet", endpoint, "bench/s", source)
                rss[storage] = peak.peak // CHUNK
                for protocol in ("xet", "lfs"):
                    local = root / f"download-{storage}-{protocol}"
                    download[storage, protocol] = clients.run(
                        "download", protocol, endpoint, "bench/s", local, "weights.bin"
                    )
                    if _sha256(local / "weights.bin") != _sha256(source / "weights.bin"):
                        raise SystemExit(f"the {protocol} download from the {storage} hub differs")
                    shutil.rmtree(local)
            finally:
                hub.terminate()
                hub.wait(timeout=30)
    rows = []
    for what, folder, bucket in (
        ("upload (Xet)", upload["folder"], upload["S3"]),
        ("download (Xet)", download["folder", "xet"], download["S3", "xet"]),
        ("download (plain GET)", download["folder", "lfs"], download["S3", "lfs"]),
    ):
        rows += [
            Row(f"{what} of {size_mb} MB, data folder", _rate(size_mb, folder)),
            Row(f"{what} of {size_mb} MB, S3 (moto)", _rate(size_mb, bucket)),
            Row(f"{what} time, S3 / folder", f"{bucket / folder:.2f}x"),
        ]
    rows += [
        Row("server peak RSS during the folder upload (with children)", f"{rss['folder']} MB"),
        Row(
            "server peak RSS during the S3 upload (with children)",
            f"{rss['S3']} MB",
            "< 300 MB",
            rss["S3"] < 300,
        ),
    ]
    return rows


@contextlib.contextmanager
def _postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server on a loopback port until the block ends; yields its URL."""
    initdbs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not initdbs:
        raise SystemExit("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)")
    bindir = Path(initdbs[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(folder, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    pg_ctl = [*as_postgres, str(bindir / "pg_ctl"), "-D", str(folder / "data")]
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    try:
        for command in (
            [*as_postgres, str(bindir / "initdb"), "-D", str(folder / "data"), "-U", "postgres"],
            [*pg_ctl, "-o", options, "-l", str(folder / "log"), "-w", "start"],
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "hub"],
        ):
            subprocess.run(command, check=True, capture_output=True)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/hub"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def replica_rows(root: Path, clients: int) -> list[Row]:
    """Part ``--replicas``: ``clients`` concurrent GETs of a 10 MB file through one replica,
    then alternating between two, on one PostgreSQL database and one data folder."""
    from huggingface_hub import HfApi

    size_mb = 10
    data = root / "hub-replicas"
    _random_file(root / "replica-files" / "weights.bin", size_mb)
    throughput: dict[int, float] = {}
    failures: dict[int, int] = {}
    with _postgres() as database_url:
        replicas = [start_hub(data, "--database-url", database_url) for _ in range(2)]
        try:
            token = bench_token(data, "--database-url", database_url)
            api = HfApi(endpoint=replicas[0][1], token=token)
            api.create_repo("bench/r")
            api.upload_file(
                path_or_fileobj=root / "replica-files" / "weights.bin",
                path_in_repo="weights.bin",
                repo_id="bench/r",
            )
            for count in (1, 2):
                urls = [
                    f"{replicas[number % count][1]}/bench/r/resolve/main/weights.bin"
                    for number in range(clients)
                ]
                started = time.perf_counter()
                with ThreadPoolExecutor(max_workers=clients) as pool:
                    outcomes = list(pool.map(_fetch_or_fail, urls))
                seconds = time.perf_counter() - started
                failures[count] = outcomes.count(False)
                throughput[count] = outcomes.count(True) * size_mb / seconds
        finally:
            for hub, _endpoint in replicas:
                hub.terminate()
                hub.wait(timeout=30)
    return [
        Row(f"{clients} concurrent {size_mb} MB GETs, one replica", f"{throughput[1]:.0f} MB/s"),
        Row(f"{clients} concurrent {size_mb} MB GETs, two replicas", f"{throughput[2]:.0f} MB/s"),
        Row("aggregate throughput, two replicas / one", f"{throughput[2] / throughput[1]:.2f}x"),
        Row(
            "failed downloads (one, two replicas)",
            f"{failures[1]}, {failures[2]}",
            "0",
            failures[1] + failures[2] == 0,
        ),
    ]


def _fetch_or_fail(url: str) -> bool:
    try:
        _download(url)
    except OSError:
        return False
    return True


def _print_table(title: str, rows: list[Row]) -> int:
    print(f"## {title}\n")
    print("| measurement | result | target | |")
    print("|---|---|---|---|")
    for row in rows:
        print(row.render())
    return 0 if all(row.met is not False for row in rows) else 1


def main(argv: list[str] | None = None) -> int:
    from bench._hostile_hub import _PeakRss

    parser = argparse.ArgumentParser(prog="python -m bench.hub", description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument(
        "--storage",
        choices=["s3"],
        help="run only the storage part: the data folder vs an S3 bucket (moto's server)",
    )
    parser.add_argument(
        "--replicas",
        action="store_true",
        help="run only the replica part: --clients downloads through two replicas vs one",
    )
    args = parser.parse_args(argv)
    size_mb = args.size_mb
    if args.replicas:
        with tempfile.TemporaryDirectory(prefix="bench-hub-") as scratch:
            scaled = replica_rows(Path(scratch), args.clients)
        return _print_table("hub: two replicas vs one, PostgreSQL, loopback", scaled)
    if args.storage == "s3":
        with tempfile.TemporaryDirectory(prefix="bench-hub-") as scratch:
            compared = storage_rows(Path(scratch), size_mb)
        return _print_table(f"hub: data folder vs S3 bucket, {size_mb} MB, loopback", compared)
    rows: list[Row] = []

    with tempfile.TemporaryDirectory(prefix="bench-hub-") as scratch:
        root = Path(scratch)
        # Separate random files, so that neither protocol finds the other's upload stored.
        sources = {protocol: root / f"{protocol}-files" for protocol in ("xet", "lfs")}
        for folder in sources.values():
            _random_file(folder / "weights.bin", size_mb)
        _random_file(sources["lfs"] / "small.bin", 1)
        model, changed = (
            root / "model" / "model.safetensors",
            root / "changed" / "model.safetensors",
        )
        _models(model, changed, size_mb)
        data = root / "hub"
        hub, endpoint = start_hub(data)
        try:
            with _PeakRss(hub.pid) as whole_run:
                clients = Clients(root, bench_token(data))
                auth = {"Authorization": f"Bearer {clients.token}"}

                # 1. upload and download, Xet vs classic LFS

                def best_download(protocol: Protocol, repo: str, source: Protocol) -> float:
                    """Best of 3 client downloads of ``weights.bin``, each checked byte for byte."""
                    runs = []
                    for number in range(3):
                        local = root / f"download-{protocol}-{number}"
                        runs.append(
                            clients.run("download", protocol, endpoint, repo, local, "weights.bin")
                        )
                        if _sha256(local / "weights.bin") != _sha256(
                            sources[source] / "weights.bin"
                        ):
                            raise SystemExit(f"the {protocol} download of {repo} differs")
                        shutil.rmtree(local)
                    return min(runs)

                upload: dict[Protocol, float] = {}
                download: dict[Protocol, float] = {}
                rss: dict[Protocol, int] = {}
                for protocol in ("lfs", "xet"):
                    with _PeakRss(hub.pid) as peak:
                        upload[protocol] = clients.run(
                            "upload", protocol, endpoint, f"bench/{protocol}", sources[protocol]
                        )
                    rss[protocol] = peak.peak // CHUNK
                    download[protocol] = best_download(protocol, f"bench/{protocol}", protocol)
                rows += [
                    Row(f"Xet upload of {size_mb} MB", _rate(size_mb, upload["xet"])),
                    Row(f"LFS upload of {size_mb} MB", _rate(size_mb, upload["lfs"])),
                    Row("upload time, Xet / LFS", f"{upload['xet'] / upload['lfs']:.2f}x"),
                    Row("Xet download, best of 3", _rate(size_mb, download["xet"])),
                    Row("LFS download, best of 3", _rate(size_mb, download["lfs"])),
                    Row("download time, Xet / LFS", f"{download['xet'] / download['lfs']:.2f}x"),
                    Row(
                        "server peak RSS during the Xet upload (with children)",
                        f"{rss['xet']} MB",
                        "< 300 MB",
                        rss["xet"] < 300,
                    ),
                    Row(
                        "server peak RSS during the LFS upload (with children)",
                        f"{rss['lfs']} MB",
                        "< 200 MB",
                        rss["lfs"] < 200,
                    ),
                ]

                # 2. Xet download vs plain HTTP GET of the same file from the same hub: by the
                # same client (Xet disabled, so it GETs /resolve), and by a bare urllib GET
                client_get = best_download("lfs", "bench/xet", "xet")
                plain_file = root / "plain.bin"
                xet_url = f"{endpoint}/bench/xet/resolve/main/weights.bin"
                bare_get = min(_download(xet_url, auth, plain_file) for _ in range(3))
                plain_file.unlink()
                xet_rate = f"Xet {size_mb / download['xet']:.0f} MB/s"
                rows += [
                    Row(
                        "Xet download vs plain HTTP GET of the same file, same client "
                        "(HF_HUB_DISABLE_XET=1)",
                        f"{xet_rate} vs GET {size_mb / client_get:.0f} MB/s = "
                        f"{client_get / download['xet']:.2f}x",
                        ">= 0.8x",
                        client_get / download["xet"] >= 0.8,
                    ),
                    Row(
                        "Xet download vs a bare urllib GET (to disk) of the same file",
                        f"{xet_rate} vs GET {size_mb / bare_get:.0f} MB/s = "
                        f"{bare_get / download['xet']:.2f}x",
                    ),
                ]

                # 3. bytes sent: the same model to a second repo, then 1% of its tensors changed
                proxy = CountingProxy(int(endpoint.rsplit(":", 1)[1]))
                try:
                    pushes = [(model, "bench/model"), (model, "bench/model-copy"),
                              (changed, "bench/model")]  # fmt: skip
                    sent = []
                    for path, repo in pushes:
                        before = proxy.sent
                        clients.run("upload", "xet", proxy.endpoint, repo, path.parent)
                        sent.append(proxy.sent - before)
                finally:
                    proxy.close()
                model_size = model.stat().st_size
                rows += [
                    Row(
                        f"first push of a {size_mb} MB model, bytes sent",
                        _share(sent[0], model_size),
                    ),
                    Row(
                        "the same model pushed to a second repo, bytes sent",
                        _share(sent[1], model_size),
                        "< 1%",
                        sent[1] < model_size / 100,
                    ),
                    Row(
                        f"{CHANGED_TENSORS} of {TENSORS} tensors changed, pushed again, bytes sent",
                        _share(sent[2], model_size),
                        "<= 5%",
                        sent[2] <= model_size / 20,
                    ),
                ]

                # 4. the hub vs a static server, snapshot_download, concurrent small downloads
                lfs_url = f"{endpoint}/bench/lfs/resolve/main/weights.bin"
                _download(lfs_url, auth)  # warm the page cache for both servers
                hub_runs = [_download(lfs_url, auth) for _ in range(3)]
                static_port = _free_port()
                with _static_server(sources["lfs"], static_port) as static_name:
                    static_url = f"http://127.0.0.1:{static_port}/weights.bin"
                    _download(static_url)
                    static_runs = [_download(static_url) for _ in range(3)]
                hub_rate, static_rate = size_mb / min(hub_runs), size_mb / min(static_runs)
                rows.append(
                    Row(
                        f"LFS file download, best of 3, hub vs {static_name}",
                        f"hub {hub_rate:.0f} MB/s vs {static_rate:.0f} MB/s = "
                        f"{hub_rate / static_rate:.2f}x",
                        ">= 0.8x",
                        hub_rate >= 0.8 * static_rate,
                    )
                )
                snapshot = clients.run("snapshot", "lfs", endpoint, "bench/lfs", root / "snap")
                rows.append(Row(f"snapshot_download ({size_mb} MB + 1 MB)", f"{snapshot:.1f} s"))

                small_url = f"{endpoint}/bench/lfs/resolve/main/small.bin"

                def fetch(_: int) -> tuple[bool, float]:
                    try:
                        return True, _download(small_url, auth)
                    except OSError:
                        return False, 0.0

                started = time.perf_counter()
                with ThreadPoolExecutor(max_workers=args.clients) as pool:
                    results = list(pool.map(fetch, range(args.clients)))
                burst = time.perf_counter() - started
        finally:
            hub.terminate()
            hub.wait(timeout=30)

    latencies = sorted(seconds for ok, seconds in results if ok)
    errors = sum(1 for ok, _ in results if not ok)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else 0.0
    rows += [
        Row(
            f"{args.clients} concurrent 1 MB downloads",
            f"{errors} errors, p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
            f"all done in {burst:.1f} s",
            "0 errors",
            errors == 0,
        ),
        Row("server peak RSS over the whole run (with children)", f"{whole_run.peak // CHUNK} MB"),
    ]
    return _print_table(f"hub: Xet vs classic LFS, {size_mb} MB, loopback", rows)


if __name__ == "__main__":
    sys.exit(main())
