"""``modelyard serve`` side by side with MLServer and MLflow's scoring server, on loopback.

    python -m bench.serve [--seconds 5] [--only modelyard,mlserver,mlflow]

The same model everywhere: a logistic regression on iris (modelyard trains its package, the
peers fit ``LogisticRegression`` on the same rows in their own virtualenvs, ``bench/.peers/``).
Each server is measured with single-row requests at 1 and 16 keep-alive connections (a raw
HTTP/1.1 client on asyncio streams: httpx itself caps near 800 requests/s here) and with one
10,000-row request; plus time from start to ready and resident memory once ready.

- MLServer 1.7.1 with ``parallel_workers: 0`` (inference in the server process, its fastest
  configuration for a small model), with and without adaptive batching; uvloop pinned to 0.21
  because MLServer 1.7.1 does not start with the uvloop pip installs today.
- MLflow's scoring server (``mlflow models serve --env-manager local``).

Targets (issue 14): at least 2x the best MLServer throughput at 1 and at 16 connections; p99 at
16 connections at most half of MLServer's; batching on costs at most 10% at one connection;
time to ready and memory at most MLServer's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import peers

MODELYARD = Path(sys.executable).with_name("modelyard")
MLSERVER = peers.Peer(
    "mlserver",
    "1.7.1",
    ("mlserver-sklearn==1.7.1", "uvloop==0.21.0"),
    "uvloop 0.21: MLServer 1.7.1 fails to start with newer uvloop releases",
)
# mlflow 3.18.0 is released without its mlflow-skinny 3.18.0, so it cannot be installed yet.
MLFLOW = peers.Peer("mlflow", "3.17.2")
ROW = [5.1, 3.5, 1.4, 0.2]
BULK_ROWS = 10_000
CONNECTIONS = (1, 16)

_FIT_PEER = textwrap.dedent(
    """
    import sys
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    how, out = sys.argv[1], sys.argv[2]
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    if how == "mlflow":
        import mlflow.sklearn
        mlflow.sklearn.save_model(model, out)
    else:
        import joblib
        joblib.dump(model, out)
    """
)


@dataclass(frozen=True)
class Endpoint:
    """How to ask one server for predictions: a path and the JSON bodies (one row, bulk)."""

    path: str
    one: bytes
    bulk: bytes


def _v2(rows: Sequence[Sequence[float]]) -> bytes:
    tensor = {"name": "input-0", "shape": [len(rows), 4], "datatype": "FP64", "data": rows}
    return json.dumps({"inputs": [tensor]}).encode()


def _mlflow(rows: Sequence[Sequence[float]]) -> bytes:
    return json.dumps({"inputs": rows}).encode()


@dataclass(frozen=True)
class Server:
    """A server to measure: how to start it, when it is ready, what to send."""

    label: str
    command: list[str]
    ready_path: str
    endpoint: Endpoint
    cwd: Path | None = None
    isolated: bool = True
    bin_dir: Path | None = None
    """A peer's virtualenv ``bin``, put first on ``PATH`` (MLflow starts ``uvicorn`` by name)."""


@dataclass(frozen=True)
class Load:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass(frozen=True)
class Result:
    label: str
    ready_s: float
    rss_mb: float
    loads: dict[int, Load]
    bulk_ms: float


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _answer(reader: asyncio.StreamReader) -> int:
    """Read one response; returns its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        elif name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
    await reader.readexactly(length)
    return status


async def _drive(port: int, request: bytes, connections: int, seconds: float) -> Load:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)
        while True:  # at least one request, however short ``seconds``
            started = time.perf_counter()
            writer.write(request)
            status = await _answer(reader)
            latencies.append(time.perf_counter() - started)
            errors += status != 200
            if started >= stop:
                break
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(share: float) -> float:
        return latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000

    return Load(len(latencies) / elapsed, percentile(0.5), percentile(0.99), errors)


def _rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children."""
    import psutil

    process = psutil.Process(pid)
    members = [process, *process.children(recursive=True)]
    return sum(member.memory_info().rss for member in members) / 2**20


def _wait_ready(port: int, path: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    probe = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(probe)
                if sock.recv(64).split(b" ")[1:2] == [b"200"]:
                    return
        except (OSError, IndexError):
            pass
        time.sleep(0.05)
    raise RuntimeError("not ready within 180 s")


def measure(server: Server, seconds: float, log: Path) -> Result | str:
    """Start ``server``, load it, stop it; a failure comes back as a message."""
    port = _free_port()
    command = [part.replace("{port}", str(port)) for part in server.command]
    if server.cwd is not None:
        settings = json.loads((server.cwd / "settings.json").read_text())
        settings.update(http_port=port, grpc_port=_free_port(), metrics_port=_free_port())
        (server.cwd / "settings.json").write_text(json.dumps(settings))
    started = time.perf_counter()
    env = dict(os.environ)
    if server.isolated:  # a peer's own virtualenv, untouched by this checkout's PYTHONPATH
        env.pop("PYTHONPATH", None)
    if server.bin_dir is not None:
        env["PATH"] = f"{server.bin_dir}{os.pathsep}{env.get('PATH', '')}"
    with log.open("ab") as output:
        process = subprocess.Popen(command, cwd=server.cwd, env=env, stdout=output, stderr=output)
    try:
        _wait_ready(port, server.ready_path, process)
        ready = time.perf_counter() - started
        rss = _rss_mb(process.pid)
        one = _request(server.endpoint.path, server.endpoint.one)
        asyncio.run(_drive(port, one, 1, min(1.0, seconds)))  # warm-up
        loads = {n: asyncio.run(_drive(port, one, n, seconds)) for n in CONNECTIONS}
        bulk = _request(server.endpoint.path, server.endpoint.bulk)
        timings = [asyncio.run(_drive(port, bulk, 1, 0.0)).p50_ms for _ in range(5)]
        return Result(server.label, ready, rss, loads, sorted(timings)[2])
    except (RuntimeError, OSError, asyncio.IncompleteReadError) as error:
        return f"{server.label}: {error} (log: {log})"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def modelyard_servers(work: Path) -> list[Server]:
    import pandas as pd
    from sklearn.datasets import load_iris

    import modelyard
    from modelyard.data.reading import Dataset

    iris = load_iris(as_frame=True)
    frame = pd.DataFrame(iris.data.to_numpy(), columns=[f"x{i}" for i in range(4)])
    dataset = Dataset("table", frame, iris.target, "target")
    package = work / "iris"
    modelyard.train(dataset, "target", model="sklearn.linear", out=package)
    endpoint = Endpoint("/v2/models/iris/infer", _v2([ROW]), _v2([ROW] * BULK_ROWS))
    base = [str(MODELYARD), "serve", str(package), "--port", "{port}"]
    return [
        Server("modelyard", base, "/v2/health/ready", endpoint, isolated=False),
        Server(
            "modelyard, batching off",
            [*base, "--max-batch-size", "1"],
            "/v2/health/ready",
            endpoint,
            isolated=False,
        ),
    ]


def mlserver_servers(work: Path, say: Callable[[str], None]) -> list[Server] | str:
    installed = peers.ensure(MLSERVER, say)
    if installed.bin_dir is None:
        return f"mlserver: {installed.problem}"
    servers = []
    for label, batching in (
        ("MLServer 1.7.1", {}),
        ("MLServer 1.7.1, adaptive batching", {"max_batch_size": 16, "max_batch_time": 0.002}),
    ):
        folder = work / label.replace(" ", "-").replace(",", "")
        (folder / "iris").mkdir(parents=True)
        _fit_peer(installed.bin_dir, "mlserver", folder / "iris" / "model.joblib")
        model = {
            "name": "iris",
            "implementation": "mlserver_sklearn.SKLearnModel",
            "parameters": {"uri": "./model.joblib"},
            **batching,
        }
        (folder / "iris" / "model-settings.json").write_text(json.dumps(model))
        settings = {"parallel_workers": 0, "debug": False, "metrics_endpoint": None}
        (folder / "settings.json").write_text(json.dumps(settings))
        command = [str(installed.bin_dir / "mlserver"), "start", "."]
        endpoint = Endpoint("/v2/models/iris/infer", _v2([ROW]), _v2([ROW] * BULK_ROWS))
        servers.append(Server(label, command, "/v2/health/ready", endpoint, cwd=folder))
    return servers


def mlflow_server(work: Path, say: Callable[[str], None]) -> Server | str:
    installed = peers.ensure(MLFLOW, say)
    if installed.bin_dir is None:
        return f"mlflow: {installed.problem}"
    model = work / "mlflow-iris"
    _fit_peer(installed.bin_dir, "mlflow", model)
    command = [
        str(installed.bin_dir / "mlflow"),
        "models",
        "serve",
        "-m",
        str(model),
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        "{port}",
    ]
    endpoint = Endpoint("/invocations", _mlflow([ROW]), _mlflow([ROW] * BULK_ROWS))
    return Server(
        f"MLflow {installed.version}", command, "/ping", endpoint, bin_dir=installed.bin_dir
    )


def _fit_peer(bin_dir: Path, how: str, out: Path) -> None:
    subprocess.run([str(bin_dir / "python"), "-c", _FIT_PEER, how, str(out)], check=True)


def report(results: list[Result], problems: list[str]) -> str:
    header = [
        "server",
        "ready s",
        "RSS MB",
        "1 conn req/s",
        "p99 ms",
        "16 conn req/s",
        "p99 ms",
        "10k rows ms",
    ]
    rows = [header]
    for result in results:
        one, many = result.loads[1], result.loads[16]
        rows.append(
            [
                result.label,
                f"{result.ready_s:.1f}",
                f"{result.rss_mb:.0f}",
                f"{one.requests_per_s:.0f}",
                f"{one.p99_ms:.2f}",
                f"{many.requests_per_s:.0f}",
                f"{many.p99_ms:.2f}",
                f"{result.bulk_ms:.1f}",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    errors = [
        f"{r.label}: {sum(load.errors for load in r.loads.values())} non-200 answers"
        for r in results
        if any(load.errors for load in r.loads.values())
    ]
    return "\n".join([*lines, "", *_targets(results), *errors, *problems])


def _targets(results: list[Result]) -> list[str]:
    by_label = {result.label: result for result in results}
    ours, unbatched = by_label.get("modelyard"), by_label.get("modelyard, batching off")
    peers_ = [result for result in results if result.label.startswith("MLServer")]
    if ours is None:
        return []
    lines = []
    if unbatched is not None:
        on, off = ours.loads[1].requests_per_s, unbatched.loads[1].requests_per_s
        lines.append(
            f"one connection: {on:.0f} req/s with batching, {off:.0f} without "
            f"(batching may cost at most 10%: {'met' if on >= 0.9 * off else 'missed'})"
        )
    if not peers_:
        return lines
    for connections in CONNECTIONS:
        best = max(peers_, key=lambda result: result.loads[connections].requests_per_s)
        ratio = ours.loads[connections].requests_per_s / best.loads[connections].requests_per_s
        lines.append(
            f"{connections} conn: {ratio:.2f}x the best MLServer ({best.label}) (target >= 2x)"
        )
    best_p99 = min(result.loads[16].p99_ms for result in peers_)
    lines.append(
        f"p99 at 16 conn: {ours.loads[16].p99_ms / best_p99:.2f}x MLServer's best (target <= 0.5x)"
    )
    lines.append(
        f"ready {ours.ready_s:.1f} s vs {min(r.ready_s for r in peers_):.1f} s, "
        f"memory {ours.rss_mb:.0f} MB vs {min(r.rss_mb for r in peers_):.0f} MB "
        "(targets: at most MLServer's)"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="per load level")
    parser.add_argument("--only", default="modelyard,mlserver,mlflow")
    args = parser.parse_args(argv)
    chosen = set(args.only.split(","))
    work = Path(tempfile.mkdtemp(prefix="modelyard-bench-serve-"))
    log = work / "servers.log"
    servers: list[Server] = []
    problems: list[str] = []
    if "modelyard" in chosen:
        servers += modelyard_servers(work)
    if "mlserver" in chosen:
        found = mlserver_servers(work, print)
        servers += found if isinstance(found, list) else []
        problems += [found] if isinstance(found, str) else []
    if "mlflow" in chosen:
        server = mlflow_server(work, print)
        servers += [server] if isinstance(server, Server) else []
        problems += [server] if isinstance(server, str) else []
    results: list[Result] = []
    for server in servers:
        print(f"measuring {server.label} ...", flush=True)
        outcome = measure(server, args.seconds, log)
        if isinstance(outcome, Result):
            results.append(outcome)
        else:
            problems.append(outcome)
    print(report(results, problems))
    print(f"\n(cores: {os.cpu_count()}; logs and models in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
