"""An OpenAPI 3.1 document per model: both protocols, with the model's own columns and types."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from modelyard.data.schema import ColumnKind
from modelyard.serve.model import ServedModel
from modelyard.serve.protocol import InferenceRequest, InferenceResponse, MlflowResponse

_REFS = "#/components/schemas/{model}"
_JSON_TYPES: dict[ColumnKind, dict[str, Any]] = {
    ColumnKind.NUMERIC: {"type": ["number", "null"]},
    ColumnKind.BOOLEAN: {"type": ["boolean", "null"]},
    ColumnKind.CATEGORICAL: {"type": ["string", "null"]},
    ColumnKind.TEXT: {"type": ["string", "null"]},
    ColumnKind.DATETIME: {"type": ["string", "null"], "format": "date-time"},
}
_ERROR = {
    "description": "an error",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": {"type": "string"}},
                "required": ["error"],
            }
        }
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def model_openapi(served: ServedModel) -> dict[str, Any]:
    """The document for ``served``: its v2 ``infer`` and its MLflow ``/invocations``."""
    refs, definitions = models_json_schema(
        [
            (InferenceRequest, "validation"),
            (InferenceResponse, "serialization"),
            (MlflowResponse, "serialization"),
        ],
        ref_template=_REFS,
    )
    schema = served.schema
    if schema is not None:
        record: dict[str, Any] = {
            "type": "object",
            "properties": {name: _JSON_TYPES[kind] for name, kind in schema.columns.items()},
            "required": list(schema.columns),
        }
        rows: dict[str, Any] = {
            "type": "object",
            "properties": {"dataframe_records": {"type": "array", "items": record}},
            "required": ["dataframe_records"],
        }
    else:
        rows = {
            "type": "object",
            "properties": {"instances": {"type": "array", "items": {"type": "array"}}},
            "required": ["instances"],
        }
    errors = {str(status): _ERROR for status in (400, 404, 413, 415, 429, 500, 503, 504)}
    request_ref = refs[(InferenceRequest, "validation")]
    response_ref = refs[(InferenceResponse, "serialization")]
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{served.name} (modelyard serve)", "version": served.version},
        "paths": {
            f"/v2/models/{served.name}/infer": {
                "post": {
                    "summary": "Predict (Open Inference Protocol v2)",
                    "description": _v2_help(served),
                    "requestBody": {"required": True, **_json(request_ref)},
                    "responses": {
                        "200": {"description": "predictions", **_json(response_ref)},
                        **errors,
                    },
                }
            },
            "/invocations": {
                "post": {
                    "summary": "Predict (MLflow scoring protocol)",
                    "description": "Also takes dataframe_split, instances, inputs, text/csv, "
                    "Parquet and Arrow IPC stream bodies.",
                    "parameters": [
                        {"name": "model", "in": "query", "schema": {"const": served.name}}
                    ],
                    "requestBody": {"required": True, **_json(rows)},
                    "responses": {
                        "200": {
                            "description": "predictions",
                            **_json(refs[(MlflowResponse, "serialization")]),
                        },
                        **errors,
                    },
                }
            },
        },
        "components": {"schemas": definitions.get("$defs", {})},
    }


def _v2_help(served: ServedModel) -> str:
    schema = served.schema
    if schema is None:
        return (
            f"One np tensor of shape [rows, ...] with {served.model.n_features_in_} values per row."
        )
    columns = ", ".join(f"{name} ({kind})" for name, kind in schema.columns.items())
    outputs = " and ".join(served.outputs())
    return f"One input per column (content_type pd): {columns}. Outputs: {outputs}."
