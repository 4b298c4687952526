"""Open Inference Protocol v2 and MLflow's scoring protocol against a real server process."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import modelyard

IRIS_COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def _pd_request(frame: pd.DataFrame, **extra: object) -> dict[str, object]:
    datatypes = {"f": "FP64", "i": "INT64", "b": "BOOL"}
    return {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {
                "name": name,
                "shape": [len(frame)],
                "datatype": datatypes.get(frame[name].dtype.kind, "BYTES"),
                "data": [None if pd.isna(v) else v for v in frame[name].tolist()],
            }
            for name in frame.columns
        ],
        **extra,
    }


@pytest.fixture(scope="module")
def iris_rows(iris_frame: pd.DataFrame) -> pd.DataFrame:
    return iris_frame[IRIS_COLUMNS].iloc[::15].reset_index(drop=True)


@pytest.fixture(scope="module")
def iris_model(packages):  # type: ignore[no-untyped-def]
    return modelyard.load(packages / "iris")


def test_health_and_server_metadata(server) -> None:
    client = server.client
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/iris/ready").status_code == 200
    metadata = client.get("/v2").json()
    assert metadata["name"] == "modelyard" and metadata["version"] == modelyard.__version__
    assert client.get("/ping").status_code == 200
    assert client.get("/health").status_code == 200
    assert client.get("/version").text == modelyard.__version__


def test_model_metadata_lists_one_input_per_column_and_the_classes(server, packages) -> None:
    metadata = server.client.get("/v2/models/penguins").json()
    inputs = {tensor["name"]: tensor["datatype"] for tensor in metadata["inputs"]}
    assert inputs == {
        "island": "BYTES",
        "bill_length_mm": "FP64",
        "bill_depth_mm": "FP64",
        "flipper_length_mm": "FP64",
        "body_mass_g": "FP64",
        "sex": "BYTES",
        "year": "FP64",
    }
    outputs = {tensor["name"]: tensor for tensor in metadata["outputs"]}
    assert outputs["predict"]["datatype"] == "BYTES"
    assert outputs["predict_proba"]["parameters"]["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert metadata["versions"] == [server.client.get("/v2/models").json()["models"][1]["version"]]


def test_v2_pd_request_matches_local_predictions(server, iris_rows, iris_model) -> None:
    body = _pd_request(
        iris_rows, id="req-7", outputs=[{"name": "predict"}, {"name": "predict_proba"}]
    )
    response = server.client.post(
        "/v2/models/iris/infer", json=body, headers={"X-Request-ID": "trace-1"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "trace-1"
    answer = response.json()
    assert answer["id"] == "req-7"
    assert answer["model_name"] == "iris"
    outputs = {output["name"]: output for output in answer["outputs"]}
    assert outputs["predict"]["data"] == iris_model.predict(iris_rows).tolist()
    assert outputs["predict"]["datatype"] == "INT64"
    proba = np.asarray(outputs["predict_proba"]["data"]).reshape(outputs["predict_proba"]["shape"])
    np.testing.assert_allclose(proba, iris_model.predict_proba(iris_rows))
    assert outputs["predict_proba"]["parameters"]["classes"] == [0, 1, 2]


def test_v2_without_outputs_answers_predict_only_with_a_fresh_id(server, iris_rows) -> None:
    answer = server.client.post("/v2/models/iris/infer", json=_pd_request(iris_rows)).json()
    assert [output["name"] for output in answer["outputs"]] == ["predict"]
    assert len(answer["id"]) >= 16


@pytest.mark.parametrize("nested", [True, False])
def test_v2_np_tensor_flat_or_nested(server, iris_rows, iris_model, nested: bool) -> None:
    values = iris_rows.to_numpy()
    body = {
        "inputs": [
            {
                "name": "input-0",
                "shape": list(values.shape),
                "datatype": "FP64",
                "data": values.tolist() if nested else values.ravel().tolist(),
                "parameters": {"content_type": "np"},
            }
        ]
    }
    answer = server.client.post("/v2/models/iris/infer", json=body).json()
    assert answer["outputs"][0]["data"] == iris_model.predict(iris_rows).tolist()


def test_v2_strings_and_nulls_for_a_table_with_categories(server, penguins, packages) -> None:
    rows = penguins.drop(columns=["species"]).iloc[[0, 3, 100, 200, 300]].reset_index(drop=True)
    local = modelyard.load(packages / "penguins").predict(rows)
    answer = server.client.post("/v2/models/penguins/infer", json=_pd_request(rows)).json()
    assert answer["outputs"][0]["data"] == local.tolist()
    assert answer["outputs"][0]["datatype"] == "BYTES"


def test_mlflow_json_formats_agree(server, iris_rows, iris_model) -> None:
    expected = iris_model.predict(iris_rows).tolist()
    split = {"dataframe_split": iris_rows.to_dict(orient="split")}
    records = {"dataframe_records": iris_rows.to_dict(orient="records")}
    instances = {"instances": iris_rows.to_numpy().tolist()}
    inputs = {"inputs": iris_rows.to_dict(orient="list")}
    for body in (split, records, instances, inputs):
        response = server.client.post("/invocations?model=iris", json=body)
        assert response.status_code == 200, response.text
        assert response.json() == {"predictions": expected}


def test_mlflow_csv_parquet_and_arrow_bodies(server, iris_rows, iris_model) -> None:
    expected = {"predictions": iris_model.predict(iris_rows).tolist()}
    csv = server.client.post(
        "/invocations?model=iris",
        content=iris_rows.to_csv(index=False),
        headers={"Content-Type": "text/csv"},
    )
    assert csv.json() == expected
    parquet = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(iris_rows), parquet)
    response = server.client.post(
        "/invocations?model=iris",
        content=parquet.getvalue(),
        headers={"Content-Type": "application/vnd.apache.parquet"},
    )
    assert response.json() == expected
    stream = io.BytesIO()
    table = pa.Table.from_pandas(iris_rows)
    with pa.ipc.new_stream(stream, table.schema) as writer:
        writer.write_table(table)
    response = server.client.post(
        "/invocations?model=iris",
        content=stream.getvalue(),
        headers={"Content-Type": "application/vnd.apache.arrow.stream"},
    )
    assert response.json() == expected


def test_types_round_trip_from_json_and_csv(serve, typed_package, typed_frame) -> None:
    """Zip codes stay strings, booleans booleans, dates dates: JSON and CSV agree with local."""
    rows = typed_frame.drop(columns=["churned"]).iloc[::20].reset_index(drop=True)
    local = modelyard.load(typed_package).predict(rows).tolist()
    running = serve(typed_package)
    records = rows.assign(joined=rows["joined"].dt.strftime("%Y-%m-%dT%H:%M:%S"))
    records = records.astype(object).where(records.notna(), None)
    by_json = running.client.post(
        "/invocations", json={"dataframe_records": records.to_dict(orient="records")}
    )
    assert by_json.status_code == 200, by_json.text
    assert by_json.json()["predictions"] == local
    by_csv = running.client.post(
        "/invocations", content=rows.to_csv(index=False), headers={"Content-Type": "text/csv"}
    )
    assert by_csv.status_code == 200, by_csv.text
    assert by_csv.json()["predictions"] == local
    # A zip code sent as a number is refused, not silently turned into an unseen category.
    wrong = running.client.post(
        "/invocations", json={"dataframe_records": [{**records.iloc[0].to_dict(), "zip": 2134}]}
    )
    assert wrong.status_code == 400
    assert "'zip'" in wrong.json()["error"] and "a string" in wrong.json()["error"]


def test_two_models_on_one_port(server, iris_rows, iris_model, penguins) -> None:
    listed = server.client.get("/v2/models").json()["models"]
    assert [model["name"] for model in listed] == ["iris", "penguins"]
    ambiguous = server.client.post("/invocations", json={"instances": [[1, 2, 3, 4]]})
    assert ambiguous.status_code == 400
    assert "iris" in ambiguous.json()["error"] and "penguins" in ambiguous.json()["error"]
    rows = penguins.drop(columns=["species"]).head(3)
    records = rows.astype(object).where(rows.notna(), None).to_dict(orient="records")
    answer = server.client.post("/invocations?model=penguins", json={"dataframe_records": records})
    assert answer.status_code == 200
    assert set(answer.json()["predictions"]) <= {"Adelie", "Chinstrap", "Gentoo"}


def test_each_model_has_an_openapi_document_with_its_columns(server) -> None:
    document = server.client.get("/v2/models/penguins/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {"/v2/models/penguins/infer", "/invocations"}
    body = document["paths"]["/invocations"]["post"]["requestBody"]
    record = body["content"]["application/json"]["schema"]["properties"]["dataframe_records"]
    assert record["items"]["properties"]["island"] == {"type": ["string", "null"]}
    assert record["items"]["properties"]["year"] == {"type": ["number", "null"]}
    assert "sex" in record["items"]["required"]
    infer = document["paths"]["/v2/models/penguins/infer"]["post"]
    reference = infer["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert reference.removeprefix("#/components/schemas/") in document["components"]["schemas"]
    assert "island (categorical)" in infer["description"]
    assert server.client.get("/v2/models/nope/openapi.json").status_code == 404
