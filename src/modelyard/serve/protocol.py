"""The wire formats of Open Inference Protocol v2 and of MLflow's scoring, as pydantic models."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelyard.serve.errors import InvalidInputError

Datatype = Literal[
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
]
"""A v2 tensor's element type."""
ContentType = Literal["pd", "np", "str"]
"""MLServer's content types: a table (one input per column), an array, strings."""
OutputName = Literal["predict", "predict_proba"]
"""What a model can answer: labels or values, and (classifiers) class probabilities."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Parameters(BaseModel):
    """Free-form parameters; the server reads ``content_type`` and writes ``classes``."""

    model_config = ConfigDict(extra="allow", frozen=True)
    content_type: ContentType | None = None
    classes: list[Any] | None = None


class RequestInput(_Wire):
    name: str
    shape: list[int]
    datatype: Datatype
    parameters: Parameters | None = None
    data: list[Any]


class RequestOutput(_Wire):
    name: OutputName


class InferenceRequest(_Wire):
    id: str | None = Field(default=None, max_length=256)
    parameters: Parameters | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


class ResponseOutput(_Wire):
    name: OutputName
    shape: list[int]
    datatype: Datatype
    parameters: Parameters | None = None
    data: list[Any]


class InferenceResponse(_Wire):
    model_name: str
    model_version: str
    id: str
    parameters: Parameters | None = None
    outputs: list[ResponseOutput]


class MetadataTensor(_Wire):
    name: str
    datatype: Datatype
    shape: list[int]
    parameters: dict[str, Any] | None = None


class ModelMetadata(_Wire):
    name: str
    versions: list[str]
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]
    parameters: dict[str, Any] = Field(default_factory=dict)


class ServerMetadata(_Wire):
    name: str
    version: str
    extensions: list[str]


class DataframeSplit(_Wire):
    columns: list[str]
    data: list[list[Any]]
    index: list[Any] | None = None


class MlflowRequest(_Wire):
    """One of MLflow's JSON input formats; exactly one field must be set."""

    dataframe_split: DataframeSplit | None = None
    dataframe_records: list[dict[str, Any]] | None = None
    instances: list[Any] | dict[str, list[Any]] | None = None
    inputs: list[Any] | dict[str, list[Any]] | None = None


class MlflowResponse(_Wire):
    predictions: list[Any]


WireT = TypeVar("WireT", bound=BaseModel)


def parse(model: type[WireT], body: bytes) -> WireT:
    """Parse a JSON body; errors name the fields at fault, never echo their values."""
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, problem['loc'])) or 'body'}: {problem['msg']}"
            for problem in error.errors(include_input=False, include_url=False)[:3]
        )
        raise InvalidInputError(
            f"the request body is not a valid {model.__name__}: {problems}"
        ) from None
