"""The prediction routes, answered by a raw ASGI app in front of Starlette.

``POST /v2/models/{name}[/versions/{version}]/infer`` and ``POST /invocations`` carry nearly all
of a server's traffic. Answering them here skips Starlette's route table, middleware stack and
``Request`` object; every other request goes on to Starlette. The answers are the same either
way: JSON errors ``{"error": "..."}``, an ``X-Request-ID`` on every answer, metrics per model.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

import pydantic_core
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from modelyard.serve import mlflow, v2
from modelyard.serve.errors import (
    InvalidInputError,
    PayloadTooLargeError,
    ServeError,
    UnsupportedMediaTypeError,
)
from modelyard.serve.metrics import model_labels
from modelyard.serve.protocol import InferenceRequest, parse
from modelyard.serve.state import ServeState, check_version

logger = logging.getLogger(__name__)

Route = Literal["v2", "mlflow"]
"""A prediction route: v2 ``infer`` or MLflow's ``/invocations`` (also the metrics label)."""

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_V2_PREFIX, _V2_SUFFIX = "/v2/models/", "/infer"


def request_id(given: bytes | None) -> str:
    """The caller's ``X-Request-ID`` (``given``) if it is sane, else a new one."""
    if given is not None:
        text = given.decode("latin-1")
        if _REQUEST_ID.fullmatch(text):
            return text
    return uuid.uuid4().hex


def json_body(data: Any) -> bytes:
    """``data`` as compact UTF-8 JSON (NaN as ``null``, as pydantic's models write it)."""
    return pydantic_core.to_json(data, inf_nan_mode="null")


@dataclass(frozen=True, slots=True)
class _Call:
    """A prediction request as its handler sees it: the first value of each header."""

    route: Route
    name: str | None
    version: str | None
    query: bytes
    headers: dict[bytes, bytes]
    request_id: str
    receive: Receive

    def header(self, name: bytes) -> str | None:
        value = self.headers.get(name)
        return None if value is None else value.decode("latin-1")


class _Disconnected(Exception):
    """The client left before its body was read; there is no one to answer."""


class Front:
    """The prediction routes for ``state``; everything else goes on to ``app`` (Starlette)."""

    def __init__(self, app: Starlette, state: ServeState) -> None:
        self.app = app
        self.state = app.state
        self.serve = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = _route(scope["path"]) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for key, value in scope["headers"]:
            headers.setdefault(key, value)
        call = _Call(
            route[0],
            route[1],
            route[2],
            scope["query_string"],
            headers,
            request_id(headers.get(b"x-request-id")),
            receive,
        )
        if scope["method"] != "POST":
            await _send(send, 405, json_body({"error": "Method Not Allowed"}), call.request_id)
            return
        try:
            status, body = await self._answer(call)
        except _Disconnected:
            return
        except Exception as error:
            logger.error("unexpected error answering %s", scope["path"], exc_info=error)
            status, body = 500, json_body({"error": "internal server error"})
        await _send(send, status, body, call.request_id)

    async def _answer(self, call: _Call) -> tuple[int, bytes]:
        """Count and time a prediction, and turn its errors into JSON answers."""
        start = time.perf_counter()
        name = call.name if call.route == "v2" else _mlflow_model(call.query)
        try:
            if call.route == "v2":
                status, body = 200, await self._infer(call)
            else:
                if name is None:
                    name = self._only_model()
                status, body = 200, await self._invocations(call, name)
        except ServeError as error:
            status, body = error.status, json_body({"error": str(error)})
        served = self.serve.models.get(name) if name else None
        if served is not None:
            metrics = self.serve.metrics
            labels = model_labels(served.name, served.version)
            metrics.requests.inc((*labels, ("protocol", call.route), ("status", str(status))))
            metrics.latency.observe(labels, time.perf_counter() - start)
        return status, body

    async def _infer(self, call: _Call) -> bytes:
        assert call.name is not None
        served, batcher = self.serve.model(call.name)
        check_version(served, call.version)
        limits = self.serve.settings.limits
        with batcher.arriving():
            _expect_json(call.header(b"content-type"))
            body = await _read_body(call, limits.max_body_bytes)
            payload = parse(InferenceRequest, body)
            rows = v2.decode(served, payload, max_rows=limits.max_rows)
            outputs = v2.requested_outputs(served, payload)
        prediction = await batcher.predict(
            rows, proba="predict_proba" in outputs, timeout=limits.timeout
        )
        return json_body(v2.encode(served, prediction, outputs, payload.id or call.request_id))

    async def _invocations(self, call: _Call, name: str) -> bytes:
        served, batcher = self.serve.model(name)
        limits = self.serve.settings.limits
        with batcher.arriving():
            fmt = mlflow.body_format(call.header(b"content-type"))
            body = await _read_body(call, limits.max_body_bytes)
            rows = mlflow.decode(served, body, fmt, max_rows=limits.max_rows)
        prediction = await batcher.predict(rows, proba=False, timeout=limits.timeout)
        return json_body({"predictions": prediction.labels.tolist()})

    def _only_model(self) -> str:
        models = self.serve.models
        if len(models) != 1:
            raise InvalidInputError(
                "this server has several models: add ?model=NAME, one of "
                + ", ".join(sorted(models))
            )
        return next(iter(models))


def _route(path: str) -> tuple[Route, str | None, str | None] | None:
    """The prediction route of ``path`` with its model name and version, if it is one."""
    if path == "/invocations":
        return "mlflow", None, None
    if not (path.startswith(_V2_PREFIX) and path.endswith(_V2_SUFFIX)):
        return None
    parts = path[len(_V2_PREFIX) : -len(_V2_SUFFIX)].split("/")
    if len(parts) == 1 and parts[0]:
        return "v2", parts[0], None
    if len(parts) == 3 and parts[1] == "versions" and parts[0] and parts[2]:
        return "v2", parts[0], parts[2]
    return None


def _mlflow_model(query: bytes) -> str | None:
    """``?model=NAME`` (the last one given, as Starlette reads it)."""
    if not query:
        return None
    return dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True)).get("model")


def _expect_json(content_type: str | None) -> None:
    media = (content_type or "application/json").split(";", 1)[0].strip()
    if media.lower() != "application/json":
        raise UnsupportedMediaTypeError(f"send application/json, not {media!r}")


async def _read_body(call: _Call, limit: int) -> bytes:
    declared = call.header(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the body has {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await call.receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"the body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, status: int, body: bytes, request_id: str) -> None:
    headers = [
        (b"content-length", str(len(body)).encode()),
        (b"content-type", b"application/json"),
        (b"x-request-id", request_id.encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
