"""``modelyard serve`` side by side with MLServer and MLflow's scoring server, on loopback.

    python -m bench.serve [--seconds 5] [--rounds 5] [--ready-rounds 3]
                          [--only modelyard,mlserver,mlflow]

The same model everywhere: a logistic regression on iris (modelyard trains its package, the
peers fit ``LogisticRegression`` on the same rows in their own virtualenvs, ``bench/.peers/``).
Each server is measured with single-row requests at 1 and 16 keep-alive connections (a raw
HTTP/1.1 client on asyncio streams: httpx itself caps near 800 requests/s here) and with one
10,000-row request; plus time from start to ready and resident memory after warm-up and at its
peak after the load.

Fair on a busy machine: every server runs at once, each in its own process on its own port, and
the measurements go round them in short rounds (A, B, C, A, B, C, ... for each scenario; starts
too), so that a busy spell falls on all of them. Figures are medians over the rounds, and ratios
medians of per-round ratios. Every server starts from bytecode: the peers' installs hold it, and
modelyard's modules are compiled first, as a wheel's are when pip installs it (a checkout run
with ``PYTHONDONTWRITEBYTECODE`` would compile them at every start, about 0.1 s).

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
import compileall
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from statistics import median

import psutil

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


@dataclass
class Running:
    """A started server and what was measured on it, round by round."""

    server: Server
    port: int
    process: subprocess.Popen[bytes]
    ready_s: list[float]
    rss_mb: float = 0.0
    peak_mb: float = 0.0
    loads: dict[int, list[Load]] = field(default_factory=lambda: {n: [] for n in CONNECTIONS})
    bulk_ms: list[float] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.server.label

    def load(self, connections: int) -> Load:
        """Medians over the rounds at ``connections``."""
        rounds = self.loads[connections]
        return Load(
            median(load.requests_per_s for load in rounds),
            median(load.p50_ms for load in rounds),
            median(load.p99_ms for load in rounds),
            sum(load.errors for load in rounds),
        )


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


def _members(pid: int) -> list[psutil.Process]:
    process = psutil.Process(pid)
    return [process, *process.children(recursive=True)]


def _rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children."""
    return sum(member.memory_info().rss for member in _members(pid)) / 2**20


def _peak_mb(pid: int) -> float:
    """Peak resident memory (Linux ``VmHWM``) of ``pid`` and its children, summed."""
    total = 0
    for member in _members(pid):
        status = Path(f"/proc/{member.pid}/status").read_text()
        kilobytes = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        total += int(kilobytes.split()[1]) * 1024
    return total / 2**20


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


def _start(server: Server, log: Path) -> tuple[int, subprocess.Popen[bytes], float]:
    """Start ``server`` on a free port and wait until it is ready: port, process, seconds."""
    port = _free_port()
    command = [part.replace("{port}", str(port)) for part in server.command]
    if server.cwd is not None:
        settings = json.loads((server.cwd / "settings.json").read_text())
        settings.update(http_port=port, grpc_port=_free_port(), metrics_port=_free_port())
        (server.cwd / "settings.json").write_text(json.dumps(settings))
    env = dict(os.environ)
    if server.isolated:  # a peer's own virtualenv, untouched by this checkout's PYTHONPATH
        env.pop("PYTHONPATH", None)
    if server.bin_dir is not None:
        env["PATH"] = f"{server.bin_dir}{os.pathsep}{env.get('PATH', '')}"
    started = time.perf_counter()
    with log.open("ab") as output:
        process = subprocess.Popen(command, cwd=server.cwd, env=env, stdout=output, stderr=output)
    try:
        _wait_ready(port, server.ready_path, process)
    except RuntimeError:
        _stop(process)
        raise
    return port, process, time.perf_counter() - started


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def start_all(
    servers: list[Server], ready_rounds: int, log: Path, problems: list[str]
) -> list[Running]:
    """Start every server ``ready_rounds`` times in turn (A, B, C, A, B, C, ...), timing each
    start; the servers of the last round keep running, each in its own process and port."""
    ready: dict[str, list[float]] = {server.label: [] for server in servers}
    running: list[Running] = []
    for round_ in range(ready_rounds):
        last = round_ == ready_rounds - 1
        for server in servers:
            if server.label not in ready:
                continue  # failed in an earlier round
            print(f"starting {server.label} ({round_ + 1}/{ready_rounds}) ...", flush=True)
            try:
                port, process, seconds = _start(server, log)
            except RuntimeError as error:
                problems.append(f"{server.label}: {error} (log: {log})")
                del ready[server.label]
                continue
            ready[server.label].append(seconds)
            if last:
                running.append(Running(server, port, process, ready[server.label]))
            else:
                _stop(process)
    return running


def measure(running: list[Running], seconds: float, rounds: int, problems: list[str]) -> None:
    """Warm every server up, then load them in short interleaved rounds, scenario by scenario
    (A, B, C, A, B, C, ...), so that a busy spell of the machine falls on all of them."""
    per_round = seconds / rounds

    def attempt(target: Running, action: Callable[[Running], None]) -> None:
        try:
            action(target)
        except (OSError, asyncio.IncompleteReadError) as error:
            problems.append(f"{target.label}: {error}")
            running.remove(target)
            _stop(target.process)

    def warm(target: Running) -> None:
        one = _request(target.server.endpoint.path, target.server.endpoint.one)
        asyncio.run(_drive(target.port, one, 1, min(1.0, seconds)))
        target.rss_mb = _rss_mb(target.process.pid)

    def load(connections: int) -> Callable[[Running], None]:
        def action(target: Running) -> None:
            one = _request(target.server.endpoint.path, target.server.endpoint.one)
            outcome = asyncio.run(_drive(target.port, one, connections, per_round))
            target.loads[connections].append(outcome)

        return action

    def bulk(target: Running) -> None:
        request = _request(target.server.endpoint.path, target.server.endpoint.bulk)
        target.bulk_ms.append(asyncio.run(_drive(target.port, request, 1, 0.0)).p50_ms)

    for target in list(running):
        attempt(target, warm)
    for connections in CONNECTIONS:
        print(f"{connections} conn: {rounds} rounds of {per_round:.1f} s ...", flush=True)
        for _ in range(rounds):
            for target in list(running):
                attempt(target, load(connections))
    for _ in range(rounds):
        for target in list(running):
            attempt(target, bulk)
    for target in running:
        target.peak_mb = _peak_mb(target.process.pid)


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
    compileall.compile_dir(Path(modelyard.__file__).parent, quiet=1)
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


def report(running: list[Running], problems: list[str]) -> str:
    """Medians per server, modelyard's ratio to each server, the targets, the problems."""
    rows = [
        (
            "server",
            "ready s",
            "RSS MB warm",
            "peak MB",
            "1 conn req/s",
            "p99 ms",
            "16 conn req/s",
            "p99 ms",
            "10k rows ms",
        )
    ]
    for target in running:
        one, many = target.load(1), target.load(16)
        rows.append(
            (
                target.label,
                f"{median(target.ready_s):.1f}",
                f"{target.rss_mb:.0f}",
                f"{target.peak_mb:.0f}",
                f"{one.requests_per_s:.0f}",
                f"{one.p99_ms:.2f}",
                f"{many.requests_per_s:.0f}",
                f"{many.p99_ms:.2f}",
                f"{median(target.bulk_ms):.1f}",
            )
        )
    lines = _table(rows)
    by_label = {target.label: target for target in running}
    ours = by_label.get("modelyard")
    if ours is not None:
        lines += ["", *_ratio_table(ours, running), "", *_targets(ours, running)]
    errors = [
        f"{target.label}: {errors} non-200 answers"
        for target in running
        if (errors := sum(target.load(n).errors for n in CONNECTIONS))
    ]
    return "\n".join([*lines, *errors, *problems])


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _per_round(ours: Sequence[float], theirs: Sequence[float]) -> float:
    """The median of the ratios of round ``i`` to round ``i``."""
    return median(a / b for a, b in zip(ours, theirs, strict=False))


def _rates(target: Running, connections: int) -> list[float]:
    return [load.requests_per_s for load in target.loads[connections]]


def _p99s(target: Running) -> list[float]:
    return [load.p99_ms for load in target.loads[16]]


def _ready(target: Running) -> list[float]:
    return target.ready_s


def _ratio_table(ours: Running, running: list[Running]) -> list[str]:
    rows: list[tuple[str, ...]] = [
        ("modelyard / server", "1 conn req/s", "16 conn req/s", "p99 16", "10k rows", "ready")
    ]
    for target in running:
        if target is ours:
            continue
        rows.append(
            (
                target.label,
                *(f"{_per_round(_rates(ours, n), _rates(target, n)):.2f}x" for n in CONNECTIONS),
                f"{_per_round(_p99s(ours), _p99s(target)):.2f}x",
                f"{_per_round(ours.bulk_ms, target.bulk_ms):.2f}x",
                f"{_per_round(_ready(ours), _ready(target)):.2f}x",
            )
        )
    return [
        *_table(rows),
        "(medians of per-round ratios: rounds of every server alternate, so each ratio compares",
        "measurements taken seconds apart; above 1x is better for req/s, below 1x for the rest)",
    ]


def _best(
    targets: list[Running], values: Callable[[Running], list[float]], pick: Callable[..., float]
) -> list[float]:
    """Round by round, the best value among ``targets``."""
    return [pick(round_) for round_ in zip(*(values(target) for target in targets), strict=False)]


def _targets(ours: Running, running: list[Running]) -> list[str]:
    lines = []
    unbatched = next((t for t in running if t.label == "modelyard, batching off"), None)
    if unbatched is not None:
        cost = _per_round(_rates(ours, 1), _rates(unbatched, 1))
        lines.append(
            f"one connection: batching on / off {cost:.2f}x "
            f"(batching may cost at most 10%: {'met' if cost >= 0.9 else 'missed'})"
        )
    peers_ = [target for target in running if target.label.startswith("MLServer")]
    if not peers_:
        return lines
    for connections in CONNECTIONS:
        best = _best(peers_, partial(_rates, connections=connections), max)
        ratio = _per_round(_rates(ours, connections), best)
        lines.append(
            f"{connections} conn: {ratio:.2f}x the best MLServer of each round (target >= 2x: "
            f"{'met' if ratio >= 2 else 'missed'})"
        )
    p99 = _per_round(_p99s(ours), _best(peers_, _p99s, min))
    lines.append(
        f"p99 at 16 conn: {p99:.2f}x the best MLServer of each round (target <= 0.5x: "
        f"{'met' if p99 <= 0.5 else 'missed'})"
    )
    # Every configuration of a server starts the same way: best start against best start.
    ours_all = [target for target in running if target.label.startswith("modelyard")]
    ready = _per_round(_best(ours_all, _ready, min), _best(peers_, _ready, min))
    rss = min(target.rss_mb for target in peers_)
    peak = min(target.peak_mb for target in peers_)
    met = ready <= 1 and ours.rss_mb <= rss and ours.peak_mb <= peak
    lines.append(
        f"ready {ready:.2f}x (best start of each round, ours / MLServer's), "
        f"memory {ours.rss_mb:.0f} MB vs {rss:.0f} MB warm, "
        f"{ours.peak_mb:.0f} vs {peak:.0f} MB peak "
        f"(targets: at most MLServer's: {'met' if met else 'missed'})"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="per load level and server")
    parser.add_argument("--rounds", type=int, default=5, help="the seconds are split into")
    parser.add_argument("--ready-rounds", type=int, default=3, help="starts timed per server")
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
    running = start_all(servers, args.ready_rounds, log, problems)
    try:
        measure(running, args.seconds, args.rounds, problems)
    finally:
        for target in running:
            _stop(target.process)
    print(report(running, problems))
    print(f"\n(cores: {os.cpu_count()}; logs and models in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
