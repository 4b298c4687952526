"""The ASGI app: Open Inference Protocol v2 and MLflow's scoring protocol on one port.

Every answer carries an ``X-Request-ID`` (the caller's, or a new one); every error is JSON
``{"error": "..."}`` with its status, never a traceback and never the request echoed back.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard import __version__
from modelyard.serve.errors import ModelNotFoundError, NotReadyError, ServeError
from modelyard.serve.front import Front, request_id
from modelyard.serve.model import ServedModel
from modelyard.serve.protocol import ServerMetadata
from modelyard.serve.settings import ServeSettings
from modelyard.serve.state import ServeState, check_version

logger = logging.getLogger(__name__)


def _error(error: ServeError) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=error.status)


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(data, separators=(",", ":")), status_code=status, media_type="application/json"
    )


def _served(request: Request) -> ServedModel:
    state: ServeState = request.app.state.serve
    name = request.path_params["name"]
    served = state.models.get(name)
    if served is None:
        raise ModelNotFoundError(
            f"no model named {name!r}; this server has {', '.join(sorted(state.models))}"
        )
    check_version(served, request.path_params.get("version"))
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
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        header = (b"x-request-id", request_id(given).encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(models: Sequence[ServedModel], settings: ServeSettings | None = None) -> Front:
    """The server's ASGI app for ``models`` (already loaded); warm-up runs at start-up.

    Its ``state.serve`` is the ``ServeState``; the prediction routes are answered by ``Front``.
    """
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
    return Front(app, state)
