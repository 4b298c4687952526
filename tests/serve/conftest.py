"""Tiny packages trained on bundled datasets, and real ``modelyard serve`` processes for them."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

import modelyard
from modelyard.data.reading import Dataset
from tests.hub.conftest import MODELYARD, free_port


def _package(frame: pd.DataFrame, target: str, model: str, out: Path) -> Path:
    dataset = Dataset("table", frame.drop(columns=[target]), frame[target], target)
    modelyard.train(dataset, target, model=model, out=out)
    return out


@pytest.fixture(scope="session")
def iris_frame() -> pd.DataFrame:
    return load_iris(as_frame=True).frame


@pytest.fixture(scope="session")
def typed_frame() -> pd.DataFrame:
    """Integers, booleans, postal codes (some all digits, with a leading zero), dates, gaps."""
    rng = np.random.default_rng(0)
    rows = 200
    zips = np.array(["02134", "10001", "SW1A", "EC2V"])
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, rows),
            "member": rng.random(rows) > 0.5,
            "zip": zips[rng.integers(0, 4, rows)],
            "joined": pd.date_range("2020-01-01", periods=rows, freq="37h"),
            "income": np.where(rng.random(rows) > 0.1, rng.normal(50, 10, rows), np.nan),
        }
    )
    frame["churned"] = np.where(frame["member"] & (frame["age"] > 40), "yes", "no")
    return frame


@pytest.fixture(scope="session")
def packages(
    tmp_path_factory: pytest.TempPathFactory, iris_frame: pd.DataFrame, penguins: pd.DataFrame
) -> Path:
    """``iris`` (logistic regression) and ``penguins`` (categories and gaps), in one folder."""
    root = tmp_path_factory.mktemp("packages")
    _package(iris_frame, "target", "sklearn.linear", root / "iris")
    _package(penguins, "species", "sklearn.linear", root / "penguins")
    return root


@pytest.fixture(scope="session")
def typed_package(tmp_path_factory: pytest.TempPathFactory, typed_frame: pd.DataFrame) -> Path:
    return _package(
        typed_frame, "churned", "sklearn.random_forest", tmp_path_factory.mktemp("typed") / "typed"
    )


@dataclass
class Server:
    """A running ``modelyard serve`` process and an HTTP client for it."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    client: httpx2.Client

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=60)
        self.client.close()
        return self.process.returncode


def start_server(
    *sources: str | Path, args: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> Server:
    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"modelyard-serve-{port}.log"
    command = [MODELYARD, "serve", *map(str, sources), "--port", str(port), *args]
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command, env={**os.environ, **(env or {})}, stdout=handle, stderr=handle
        )
    url = f"http://127.0.0.1:{port}"
    client = httpx2.Client(base_url=url, timeout=60)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"modelyard serve exited: {log.read_text()}")
        try:
            if client.get("/v2/health/ready").status_code == 200:
                return Server(url, process, log, client)
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"modelyard serve was not ready within 120 s: {log.read_text()}")


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Start servers for this test only: ``serve(*sources, args=(), env=None)``."""
    servers: list[Server] = []

    def start(
        *sources: str | Path, args: tuple[str, ...] = (), env: dict[str, str] | None = None
    ) -> Server:
        server = start_server(*sources, args=args, env=env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def server(packages: Path) -> Iterator[Server]:
    """One server for both ``iris`` and ``penguins``, shared by a test module."""
    running = start_server(packages / "iris", packages / "penguins")
    yield running
    running.stop()
