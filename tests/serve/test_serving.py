"""Concurrency and batching, metrics, graceful drain, each package kind, and the CLI."""

from __future__ import annotations

import json
import re
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2
import numpy as np
import pandas as pd
import pytest

import modelyard
from tests.hub.conftest import run_cli
from tests.serve.conftest import _package

IRIS_COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def _v2(rows: pd.DataFrame) -> dict[str, object]:
    return {
        "inputs": [
            {"name": name, "shape": [len(rows)], "datatype": "FP64", "data": rows[name].tolist()}
            for name in rows.columns
        ]
    }


def test_16_concurrent_clients_get_their_own_answers(server, iris_frame, packages) -> None:
    local = modelyard.load(packages / "iris")
    rows = iris_frame[IRIS_COLUMNS]
    expected = local.predict(rows).tolist()

    def client(worker: int) -> list[tuple[int, int]]:
        seen = []
        with httpx2.Client(base_url=server.url, timeout=60) as http:
            for i in range(worker, len(rows), 16):
                response = http.post("/v2/models/iris/infer", json=_v2(rows.iloc[[i]]))
                assert response.status_code == 200, response.text
                seen.append((i, response.json()["outputs"][0]["data"][0]))
        return seen

    with ThreadPoolExecutor(16) as pool:
        answers = [pair for part in pool.map(client, range(16)) for pair in part]
    assert sorted(answers) == list(enumerate(expected))


def test_an_answer_leaves_in_one_send_and_connections_stay_usable(server) -> None:
    """Headers and body go out together (one recv holds the whole answer), on a kept-alive
    connection, and ``Connection: close`` still gets its whole answer before the close."""
    body = json.dumps(
        {
            "inputs": [
                {"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}
            ]
        }
    ).encode()
    host, port = server.url.removeprefix("http://").split(":")

    def request(*extra: str) -> bytes:
        head = [
            "POST /v2/models/iris/infer HTTP/1.1",
            f"Host: {host}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *extra,
        ]
        return "\r\n".join([*head, "", ""]).encode() + body

    with socket.create_connection((host, int(port)), timeout=30) as sock:
        for _ in range(2):
            sock.sendall(request())
            head, _, rest = sock.recv(65536).partition(b"\r\n\r\n")
            length = re.search(rb"content-length: (\d+)", head.lower())
            assert head.startswith(b"HTTP/1.1 200") and length is not None
            assert len(rest) == int(length.group(1))
            assert json.loads(rest)["outputs"][0]["data"] == [0]
        sock.sendall(request("Connection: close"))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and json.loads(rest)["outputs"][0]["data"] == [0]


def test_metrics_count_requests_and_batches_by_model_and_version(server) -> None:
    version = server.client.get("/v2/models/iris").json()["versions"][0]
    server.client.post("/invocations?model=iris", json={"instances": [[1, 2, 3, 4]]})
    text = server.client.get("/metrics").text
    labels = f'model="iris",version="{version}"'
    assert re.search(
        rf'modelyard_serve_requests_total\{{{labels},protocol="mlflow",status="200"\}} \d+', text
    )
    assert f"modelyard_serve_request_duration_seconds_bucket{{{labels},le=" in text
    assert f"modelyard_serve_batch_size_count{{{labels}}}" in text
    assert f"modelyard_serve_queue_depth{{{labels}}} 0" in text


def test_shutdown_drains_requests_in_flight(serve, packages) -> None:
    running = serve(packages / "iris")
    body = _v2(pd.DataFrame({name: np.full(30_000, 1.0) for name in IRIS_COLUMNS}))
    results: list[int] = []

    def slow_request() -> None:
        with httpx2.Client(base_url=running.url, timeout=60) as http:
            results.append(http.post("/v2/models/iris/infer", json=body).status_code)

    threads = [threading.Thread(target=slow_request) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    running.process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(timeout=60)
    # uvicorn re-raises the signal once it has drained, so the exit status is SIGTERM's.
    assert running.process.wait(timeout=60) in (0, -signal.SIGTERM)
    assert results == [200, 200, 200]
    assert "Traceback" not in running.log.read_text()


@pytest.mark.parametrize("model", ["xgboost", "lightgbm", "keras.mlp"])
def test_each_model_kind_is_served(serve, penguins, tmp_path, model: str) -> None:
    package = _package(penguins, "species", model, tmp_path / model.replace(".", "-"))
    rows = penguins.drop(columns=["species"]).iloc[::40].reset_index(drop=True)
    local = modelyard.load(package)
    running = serve(package)
    records = rows.astype(object).where(rows.notna(), None).to_dict(orient="records")
    answer = running.client.post("/invocations", json={"dataframe_records": records})
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == local.predict(rows).tolist()
    name = package.name
    proba = running.client.post(
        f"/v2/models/{name}/infer",
        json={
            "parameters": {"content_type": "pd"},
            "inputs": [
                {"name": column, "shape": [len(rows)], "datatype": "BYTES", "data": values}
                for column, values in pd.DataFrame(records).items()
                for values in [[None if pd.isna(v) else v for v in values]]
            ],
            "outputs": [{"name": "predict_proba"}],
        },
    )
    assert proba.status_code == 200, proba.text
    output = proba.json()["outputs"][0]
    np.testing.assert_allclose(
        np.asarray(output["data"]).reshape(output["shape"]), local.predict_proba(rows), rtol=1e-5
    )


def test_help_states_the_defaults_the_server_uses() -> None:
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    for flag in (
        "--max-batch-size",
        "--max-batch-delay-ms",
        "--max-queue",
        "--max-body-mb",
        "--max-rows",
        "--timeout",
        "--workers",
    ):
        assert flag in result.stdout
    assert "(default: 64" in result.stdout
    assert "(default: 2.0)" in result.stdout and "(default: 100000)" in result.stdout


def test_a_source_that_is_neither_folder_nor_repo_id_is_refused(tmp_path) -> None:
    result = run_cli("serve", str(tmp_path / "missing" / "deeper" / "x"))
    assert result.returncode == 2
    assert "neither a package folder nor a hub repo id" in result.stderr


def test_workers_share_the_port(serve, packages) -> None:
    running = serve(packages / "iris", args=("--workers", "2"))
    answer = running.client.post("/invocations", json={"instances": [[5.1, 3.5, 1.4, 0.2]]})
    assert answer.json() == {"predictions": [0]}


def test_an_array_model_takes_an_np_tensor(serve, tmp_path) -> None:
    from sklearn.datasets import load_digits

    from modelyard.data.reading import Dataset

    digits = load_digits()
    images, labels = digits.images[:300].astype("float32"), digits.target[:300]
    package = tmp_path / "digits"
    modelyard.train(Dataset("array", images, labels, "y"), "y", model="keras.cnn", out=package)
    local = modelyard.load(package).predict(images[:5]).tolist()
    running = serve(package)
    metadata = running.client.get("/v2/models/digits").json()
    assert metadata["inputs"][0]["shape"] == [-1, 64]
    tensor = {"name": "input-0", "shape": [5, 8, 8], "datatype": "FP32"}
    answer = running.client.post(
        "/v2/models/digits/infer", json={"inputs": [{**tensor, "data": images[:5].tolist()}]}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == local
    by_mlflow = running.client.post("/invocations", json={"instances": images[:5].tolist()})
    assert by_mlflow.json() == {"predictions": local}
    wrong = running.client.post(
        "/v2/models/digits/infer",
        json={"inputs": [{**tensor, "shape": [5, 7, 8], "data": [0.0] * 280}]},
    )
    assert wrong.status_code == 400
    assert "64 values per row" in wrong.json()["error"]
