"""The ASGI app: Open Inference Protocol v2 and MLflow's scoring protocol on one port.

Every answer carries an ``X-Request-ID`` (the caller's, or a new one); every error is JSON
``{"error": "..."}`` with its status, never a traceback and never the request echoed back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard import __version__
from modelyard.serve import mlflow, v2
from modelyard.serve.batching import Batcher
from modelyard.serve.errors import (
    InvalidInputError,
    ModelNotFoundError,
    NotReadyError,
    PayloadTooLargeError,
    ServeError,
    UnsupportedMediaTypeError,
)
from modelyard.serve.metrics import Metrics, model_labels
from modelyard.serve.model import ServedModel
from modelyard.serve.protocol import InferenceRequest, MlflowResponse, ServerMetadata, parse
from modelyard.serve.settings import ServeSettings

logger = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class ServeState:
    """The models being served, their batchers, readiness and metrics."""

    def __init__(self, models: Sequence[ServedModel], settings: ServeSettings) -> None:
        self.models = {model.name: model for model in models}
        self.settings = settings
        self.metrics = Metrics()
        self.batchers: dict[str, Batcher] = {}
        self.ready = False
        self.draining = False

    def model(self, name: str) -> tuple[ServedModel, Batcher]:
        served = self.models.get(name)
        if served is None:
            raise ModelNotFoundError(
                f"no model named {name!r}; this server has {', '.join(sorted(self.models))}"
            )
        batcher = self.batchers.get(name)
        if batcher is None or not self.ready:
            raise NotReadyError(f"model {name!r} is not ready yet", hint="retry shortly")
        if self.draining:
            raise NotReadyError("the server is shutting down", hint="retry on another replica")
        return served, batcher

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for served in self.models.values():
            await loop.run_in_executor(None, served.warm_up)
            batcher = Batcher(served, self.settings.batching, self.metrics)
            batcher.start()
            self.batchers[served.name] = batcher
        self.ready = True

    def begin_drain(self) -> None:
        """Answer 503 to readiness probes and new requests; queued ones still get answers."""
        self.draining = True

    async def stop(self) -> None:
        self.draining = True
        for batcher in self.batchers.values():
            await batcher.drain()
            await batcher.close()


def _error(error: ServeError) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=error.status)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the body has {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"the body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(data, separators=(",", ":")), status_code=status, media_type="application/json"
    )


Handler = Callable[[Request, ServeState], Awaitable[Response]]


def _prediction(protocol: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Count and time a prediction endpoint, and turn its errors into JSON answers."""

    def decorate(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            state: ServeState = request.app.state.serve
            start = time.perf_counter()
            try:
                response = await handler(request, state)
            except ServeError as error:
                response = _error(error)
            name = request.state.model_name if hasattr(request.state, "model_name") else None
            served = state.models.get(name) if name else None
            if served is not None:
                labels = model_labels(served.name, served.version)
                state.metrics.requests.inc(
                    (*labels, ("protocol", protocol), ("status", str(response.status_code)))
                )
                state.metrics.latency.observe(labels, time.perf_counter() - start)
            return response

        return endpoint

    return decorate


@_prediction("v2")
async def infer(request: Request, state: ServeState) -> Response:
    name = request.path_params["name"]
    request.state.model_name = name
    served, batcher = state.model(name)
    _check_version(served, request)
    limits = state.settings.limits
    with batcher.arriving():
        _expect_json(request)
        body = await _read_body(request, limits.max_body_bytes)
        payload = parse(InferenceRequest, body)
        rows = v2.decode(served, payload, max_rows=limits.max_rows)
        outputs = v2.requested_outputs(served, payload)
    prediction = await batcher.predict(
        rows, proba="predict_proba" in outputs, timeout=limits.timeout
    )
    request_id = payload.id or request.state.request_id
    answer = v2.encode(served, prediction, outputs, request_id)
    return Response(answer.model_dump_json(exclude_none=True), media_type="application/json")


@_prediction("mlflow")
async def invocations(request: Request, state: ServeState) -> Response:
    name = request.query_params.get("model")
    if name is None:
        if len(state.models) != 1:
            raise InvalidInputError(
                "this server has several models: add ?model=NAME, one of "
                + ", ".join(sorted(state.models))
            )
        name = next(iter(state.models))
    request.state.model_name = name
    served, batcher = state.model(name)
    limits = state.settings.limits
    with batcher.arriving():
        fmt = mlflow.body_format(request.headers.get("content-type"))
        body = await _read_body(request, limits.max_body_bytes)
        rows = mlflow.decode(served, body, fmt, max_rows=limits.max_rows)
    prediction = await batcher.predict(rows, proba=False, timeout=limits.timeout)
    answer = MlflowResponse.model_construct(predictions=prediction.labels.tolist())
    return Response(answer.model_dump_json(), media_type="application/json")


def _expect_json(request: Request) -> None:
    media = request.headers.get("content-type", "application/json").split(";", 1)[0].strip()
    if media.lower() != "application/json":
        raise UnsupportedMediaTypeError(f"send application/json, not {media!r}")


def _check_version(served: ServedModel, request: Request) -> None:
    version = request.path_params.get("version")
    if version is not None and version != served.version:
        raise ModelNotFoundError(
            f"model {served.name!r} has no version {version!r}; it serves {served.version}"
        )


def _served(request: Request) -> ServedModel:
    state: ServeState = request.app.state.serve
    name = request.path_params["name"]
    served = state.models.get(name)
    if served is None:
        raise ModelNotFoundError(
            f"no model named {name!r}; this server has {', '.join(sorted(state.models))}"
        )
    _check_version(served, request)
    return served


async def live(request: Request) -> Response:
    return _json({"live": True})


async def ready(request: Request) -> Response:
    state: ServeState = request.app.state.serve
    if state.draining:
        raise NotReadyError("the server is shutting down")
    if not state.ready:
        raise NotReadyError("the models are still loading")
    return _json({"ready": True})


async def model_ready(request: Request) -> Response:
    state: ServeState = request.app.state.serve
    served = _served(request)
    state.model(served.name)
    return _json({"name": served.name, "ready": True})


async def model_metadata(request: Request) -> Response:
    return Response(_served(request).metadata().model_dump_json(), media_type="application/json")


async def model_openapi(request: Request) -> Response:
    from modelyard.serve.openapi import model_openapi as document

    return _json(document(_served(request)))


async def server_metadata(request: Request) -> Response:
    answer = ServerMetadata(name="modelyard", version=__version__, extensions=[])
    return Response(answer.model_dump_json(), media_type="application/json")


async def models_index(request: Request) -> Response:
    state: ServeState = request.app.state.serve
    return _json(
        {"models": [{"name": m.name, "version": m.version} for m in state.models.values()]}
    )


async def ping(request: Request) -> Response:
    state: ServeState = request.app.state.serve
    if not state.ready or state.draining:
        raise NotReadyError("the server is not ready")
    return PlainTextResponse("\n")


async def version(request: Request) -> Response:
    return PlainTextResponse(__version__)


async def metrics(request: Request) -> Response:
    state: ServeState = request.app.state.serve
    return PlainTextResponse(
        state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


async def _serve_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ServeError)
    return _error(error)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return _json({"error": error.detail}, error.status_code)


async def _unexpected(request: Request, error: Exception) -> Response:
    logger.error("unexpected error answering %s", request.url.path, exc_info=error)
    return _json({"error": "internal server error"}, 500)


class RequestIdMiddleware:
    """Give every answer an ``X-Request-ID``: the caller's if it is sane, else a new one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                text = value.decode("latin-1")
                request_id = text if _REQUEST_ID.fullmatch(text) else None
                break
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(models: Sequence[ServedModel], settings: ServeSettings | None = None) -> Starlette:
    """The server's ASGI app for ``models`` (already loaded); warm-up runs at start-up."""
    state = ServeState(models, settings or ServeSettings())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    routes = [
        Route("/v2/health/live", live),
        Route("/v2/health/ready", ready),
        Route("/v2", server_metadata),
        Route("/v2/models", models_index),
        Route("/v2/models/{name}", model_metadata),
        Route("/v2/models/{name}/versions/{version}", model_metadata),
        Route("/v2/models/{name}/ready", model_ready),
        Route("/v2/models/{name}/openapi.json", model_openapi),
        Route("/v2/models/{name}/versions/{version}/ready", model_ready),
        Route("/v2/models/{name}/infer", infer, methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}/infer", infer, methods=["POST"]),
        Route("/invocations", invocations, methods=["POST"]),
        Route("/ping", ping),
        Route("/health", ping),
        Route("/version", version),
        Route("/metrics", metrics),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            ServeError: _serve_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    app.state.serve = state
    app.add_middleware(RequestIdMiddleware)
    return app
