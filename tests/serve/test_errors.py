"""Every error path: JSON ``{"error": ...}`` with its status, no traceback, nothing echoed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest

MARKER = "zq-secret-value-91"
IRIS_COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def _iris(rows: int = 1, **replace: object) -> dict[str, object]:
    inputs = []
    for name in IRIS_COLUMNS:
        value = replace.get(name, 1.5)
        inputs.append({"name": name, "shape": [rows], "datatype": "FP64", "data": [value] * rows})
    return {"inputs": inputs}


def _assert_error(response: httpx2.Response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-request-id"]
    body = response.json()
    assert set(body) == {"error"}
    message = body["error"]
    assert "Traceback" not in message and MARKER not in message
    for word in words:
        assert word in message
    return message


def test_missing_column_is_a_400_naming_it(server) -> None:
    body = _iris()
    body["inputs"] = body["inputs"][1:]  # type: ignore[index]
    _assert_error(server.client.post("/v2/models/iris/infer", json=body), 400, "sepal length (cm)")
    records = {"dataframe_records": [{"sepal width (cm)": 1, "petal length (cm)": 1}]}
    _assert_error(
        server.client.post("/invocations?model=iris", json=records), 400, "petal width (cm)"
    )


def test_wrong_type_is_a_400_naming_column_and_type(server) -> None:
    body = _iris(**{"petal width (cm)": MARKER})
    _assert_error(
        server.client.post("/v2/models/iris/infer", json=body), 400, "petal width (cm)", "number"
    )
    csv = "sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)\n1,2,3," + MARKER
    response = server.client.post(
        "/invocations?model=iris", content=csv, headers={"Content-Type": "text/csv"}
    )
    _assert_error(response, 400, "petal width (cm)", "number")
    penguin = {
        "island": True,
        "bill_length_mm": 1,
        "bill_depth_mm": 1,
        "flipper_length_mm": 1,
        "body_mass_g": 1,
        "sex": "male",
        "year": 2008,
    }
    response = server.client.post(
        "/invocations?model=penguins", json={"dataframe_records": [penguin]}
    )
    _assert_error(response, 400, "island", "string")


def test_extra_columns_are_ignored(server) -> None:
    body = _iris()
    body["inputs"].append(  # type: ignore[attr-defined]
        {"name": "colour", "shape": [1], "datatype": "BYTES", "data": ["blue"]}
    )
    assert server.client.post("/v2/models/iris/infer", json=body).status_code == 200


def test_malformed_bodies_are_400s_that_do_not_echo(server) -> None:
    for content in (b"{not json " + MARKER.encode(), b'{"inputs": "' + MARKER.encode() + b'"}'):
        response = server.client.post(
            "/v2/models/iris/infer", content=content, headers={"Content-Type": "application/json"}
        )
        _assert_error(response, 400)
    both = {"instances": [[1, 2, 3, 4]], "inputs": [[1, 2, 3, 4]]}
    _assert_error(server.client.post("/invocations?model=iris", json=both), 400, "exactly one")
    wrong_shape = {
        "inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP64", "data": [1.0] * 6}]
    }
    _assert_error(server.client.post("/v2/models/iris/infer", json=wrong_shape), 400, "shape")
    ragged = "sepal length (cm),sepal width (cm)\n1\n"
    response = server.client.post(
        "/invocations?model=iris", content=ragged, headers={"Content-Type": "text/csv"}
    )
    _assert_error(response, 400)


def test_a_tensor_for_a_table_needs_matching_data_of_numbers(server) -> None:
    def tensor(data: list[object]) -> dict[str, object]:
        return {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": data}]}

    short = server.client.post("/v2/models/iris/infer", json=tensor([1.0, 2.0, 3.0]))
    _assert_error(short, 400, "shape")
    boolean = server.client.post("/v2/models/iris/infer", json=tensor([1.0, True, 3.0, 4.0]))
    _assert_error(boolean, 400, "sepal width (cm)", "number")
    gap = server.client.post("/v2/models/iris/infer", json=tensor([[1.0, None, 3.0, 4.0]]))
    assert gap.status_code == 200, gap.text


def test_unknown_output_model_version_and_route(server) -> None:
    body = {**_iris(), "outputs": [{"name": "predict_proba"}]}
    assert server.client.post("/v2/models/iris/infer", json=body).status_code == 200
    bad_output = {**_iris(), "outputs": [{"name": "embedding"}]}
    _assert_error(server.client.post("/v2/models/iris/infer", json=bad_output), 400)
    _assert_error(server.client.post("/v2/models/nope/infer", json=_iris()), 404, "nope")
    _assert_error(server.client.get("/v2/models/nope"), 404)
    _assert_error(server.client.post("/v2/models/iris/versions/0/infer", json=_iris()), 404)
    _assert_error(server.client.get("/no/such/path"), 404)
    _assert_error(server.client.get("/v2/models/iris/infer"), 405)


def test_unsupported_media_type_is_a_415(server) -> None:
    response = server.client.post(
        "/invocations?model=iris", content=b"a=1", headers={"Content-Type": "application/xml"}
    )
    _assert_error(response, 415, "text/csv")
    response = server.client.post(
        "/v2/models/iris/infer", content=b"{}", headers={"Content-Type": "text/plain"}
    )
    _assert_error(response, 415)


def test_body_and_row_limits_are_413s(serve, packages) -> None:
    running = serve(packages / "iris", args=("--max-body-mb", "0.01", "--max-rows", "50"))
    _assert_error(running.client.post("/v2/models/iris/infer", json=_iris(60)), 413, "50")
    big = _iris(1000)
    _assert_error(running.client.post("/v2/models/iris/infer", json=big), 413, "bytes")
    assert running.client.post("/v2/models/iris/infer", json=_iris(10)).status_code == 200


def test_timeout_is_a_504(serve, packages) -> None:
    running = serve(packages / "iris", args=("--timeout", "0.001"))
    response = running.client.post("/v2/models/iris/infer", json=_iris(50_000))
    _assert_error(response, 504, "did not answer")


def test_a_full_queue_is_a_429(serve, packages) -> None:
    running = serve(packages / "iris", args=("--max-queue", "1", "--max-batch-size", "1"))
    body = _iris(20_000)
    with ThreadPoolExecutor(12) as pool:
        responses = list(
            pool.map(lambda _: running.client.post("/v2/models/iris/infer", json=body), range(12))
        )
    statuses = {response.status_code for response in responses}
    assert statuses <= {200, 429} and 429 in statuses and 200 in statuses
    _assert_error(next(r for r in responses if r.status_code == 429), 429, "waiting")


@pytest.mark.parametrize("path", ["/v2/models/iris/infer", "/invocations?model=iris"])
def test_a_request_id_is_echoed_or_made(server, path: str) -> None:
    body = _iris() if path.startswith("/v2") else {"instances": [[1, 2, 3, 4]]}
    given = server.client.post(path, json=body, headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    unsafe = server.client.post(path, json=body, headers={"X-Request-ID": "bad id\twith tab"})
    assert unsafe.headers["x-request-id"] != "bad id\twith tab"
    assert len(unsafe.headers["x-request-id"]) == 32
