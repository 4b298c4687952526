"""Bounds on what one request can make the hub read and parse: body size, JSON depth, ranges.

Every route is a ``BoundedRoute``: before the endpoint runs, its body is read up to
``MAX_BODY_BYTES`` (413 beyond) and a JSON body is decoded with ``parse_json`` (400 when malformed
or nested deeper than ``MAX_JSON_DEPTH``), so FastAPI, pydantic and the endpoints only ever see
small, shallow documents. Endpoints that stream large bodies themselves (commits, LFS uploads) are
marked ``@streams_body`` and bound what they read on their own.
"""

from __future__ import annotations

import json
import re
from array import array
from collections.abc import Callable, Coroutine
from itertools import accumulate
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute

from modelyard.hub.errors import InvalidRangeError, InvalidRequestError, PayloadTooLargeError
from modelyard.hub.server.settings import MIB, format_size

MAX_BODY_BYTES = 2 * MIB
MAX_JSON_DEPTH = 64
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_DEPTH_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 and -1 as signed bytes
_RANGE = re.compile(r"^(\d{0,18})-(\d{0,18})$")
_STREAMS_BODY = "_modelyard_streams_body"

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def nests_too_deep(data: bytes) -> bool:
    """Whether a JSON text nests arrays and objects more than ``MAX_JSON_DEPTH`` levels deep.

    Checked in one pass without decoding or recursion: with strings removed, every opening
    bracket or brace steps one level in and every closing one steps out.
    """
    steps = array("b", _STRING.sub(b"", data).translate(_DEPTH_STEPS, _NOT_BRACKETS))
    return max(accumulate(steps), default=0) > MAX_JSON_DEPTH


def parse_json(data: bytes, what: str = "request body", max_bytes: int = MAX_BODY_BYTES) -> Any:
    """Decode a client's JSON document within the hub's limits.

    Raises ``PayloadTooLargeError`` above ``max_bytes`` and ``InvalidRequestError`` when it is
    not JSON (or not UTF-8) or nests deeper than ``MAX_JSON_DEPTH``.
    """
    if len(data) > max_bytes:
        raise _too_large(what, len(data), max_bytes)
    if nests_too_deep(data):
        raise InvalidRequestError(
            f"the {what} nests arrays or objects more than {MAX_JSON_DEPTH} levels deep"
        )
    try:
        return json.loads(data)
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, too many int digits
        raise InvalidRequestError(f"the {what} is not valid JSON: {error}") from None


def streams_body(endpoint: Endpoint) -> Endpoint:
    """Mark an endpoint that reads its own (large) body with ``request.stream()`` and bounds it."""
    setattr(endpoint, _STREAMS_BODY, True)
    return endpoint


class BoundedRequest(Request):
    """A request whose ``body()`` stops at ``MAX_BODY_BYTES`` and whose ``json()`` is
    ``parse_json``; ``form()`` reads the bounded body too."""

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            check_content_length(self, MAX_BODY_BYTES, "request body")
            chunks: list[bytes] = []
            received = 0
            async for chunk in self.stream():
                received += len(chunk)
                if received > MAX_BODY_BYTES:
                    raise _too_large("request body", received, MAX_BODY_BYTES)
                chunks.append(chunk)
            # Starlette's stream() and form() replay the body from this attribute.
            self._body = b"".join(chunks)
        return self._body

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


def check_content_length(request: Request, limit: int, what: str) -> None:
    """Refuse a body whose declared ``Content-Length`` exceeds ``limit``, before reading it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(what, int(declared), limit)


def _too_large(what: str, size: int, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the {what} has {size} bytes or more, above the limit of {limit} bytes here "
        f"({format_size(limit)}); nothing was stored"
    )


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


class BoundedRoute(APIRoute):
    """A route that reads and decodes its request body within the limits above first, so that
    an oversized or hostile body is refused with the hub's errors before FastAPI parses it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if getattr(self.endpoint, _STREAMS_BODY, False):
            return handler

        async def bounded_handler(request: Request) -> Response:
            request = BoundedRequest(request.scope, request.receive)
            if _is_json(request):
                await request.json()
            else:
                await request.body()
            return await handler(request)

        return bounded_handler


def check_range(header: str, size: int) -> None:
    """Refuse a ``Range`` header that is malformed or that no byte of a ``size``-byte file
    satisfies (``InvalidRangeError``); a valid one is served by Starlette's ``FileResponse``."""
    unit, _, ranges = header.partition("=")
    if unit.strip().lower() != "bytes" or not ranges.strip():
        raise InvalidRangeError(
            f"invalid Range header {header!r}: expected a byte range like bytes=0-99", size
        )
    for spec in ranges.split(","):
        match = _RANGE.match(spec.strip())
        first, last = match.groups() if match else ("", "")
        if not first and not last:
            raise InvalidRangeError(f"invalid byte range {spec.strip()!r} in {header!r}", size)
        if first and last and int(last) < int(first):
            raise InvalidRangeError(f"byte range {spec.strip()!r} ends before it starts", size)
        if (first and int(first) >= size) or (not first and int(last) == 0):
            raise InvalidRangeError(
                f"byte range {spec.strip()!r} is outside the file's {size} bytes", size
            )
