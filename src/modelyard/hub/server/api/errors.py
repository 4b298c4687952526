"""Hub errors become HTTP answers the huggingface_hub client understands (``X-Error-Code``)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from modelyard.hub import errors

_STATUS: list[tuple[type[errors.HubError], int, str | None]] = [
    (errors.RepoNotFoundError, 404, "RepoNotFound"),
    (errors.RevisionNotFoundError, 404, "RevisionNotFound"),
    (errors.EntryNotFoundError, 404, "EntryNotFound"),
    (errors.AuthenticationError, 401, None),
    (errors.PermissionDeniedError, 403, None),
    (errors.QuarantinedFileError, 403, "Quarantined"),
    (errors.ScanPendingError, 423, "ScanPending"),
    (errors.ConflictError, 409, None),
    (errors.PayloadTooLargeError, 413, None),
    (errors.InvalidRangeError, 416, "RangeNotSatisfiable"),
    (errors.InvalidRequestError, 400, None),
    (errors.StorageBusyError, 503, None),
]


def header_value(text: str) -> str:
    """``text`` as a legal HTTP header value: one line of ASCII."""
    return " ".join(text.split()).encode("ascii", "replace").decode()


def error_response(
    status: int, message: str, code: str | None = None, extra: dict[str, str] | None = None
) -> Response:
    """A JSON ``{"error": message}`` with the headers the client reads errors from."""
    headers = {"X-Error-Message": header_value(message)}
    if code:
        headers["X-Error-Code"] = code
    return JSONResponse({"error": message, **(extra or {})}, status_code=status, headers=headers)


def hub_error_response(error: errors.HubError) -> Response:
    for error_type, status, code in _STATUS:
        if isinstance(error, error_type):
            response = error_response(status, str(error), code)
            if isinstance(error, errors.InvalidRangeError):
                response.headers["Content-Range"] = f"bytes */{error.size}"
            return response
    return error_response(500, str(error))


def install_error_handlers(app: FastAPI) -> None:
    # Starlette picks a handler by the exception's class, so each one is typed by its class.
    @app.exception_handler(errors.HubError)
    async def on_hub_error(_request: Request, error: errors.HubError) -> Response:
        return hub_error_response(error)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_request: Request, error: RequestValidationError) -> Response:
        details = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        return error_response(400, f"invalid request: {details}")

    @app.exception_handler(HTTPException)
    async def on_http_error(_request: Request, error: HTTPException) -> Response:
        # Unknown route, method not allowed, ...
        return error_response(error.status_code, str(error.detail))

    @app.exception_handler(ClientDisconnect)
    async def on_disconnect(_request: Request, _error: ClientDisconnect) -> Response:
        # Nobody reads this answer; it keeps a vanished client from logging a server error.
        return error_response(400, "the client closed the connection before sending the body")
