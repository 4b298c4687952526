"""Cursor pagination with a GitHub-style ``Link: <...>; rel="next"`` header."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from modelyard.hub.errors import InvalidRequestError


def paginated(request: Request, items: Sequence[Any], page_size: int) -> JSONResponse:
    """One page of ``items`` from the ``cursor`` query parameter, with a next link if more."""
    raw_cursor = request.query_params.get("cursor", "0")
    if not (raw_cursor.isascii() and raw_cursor.isdigit() and len(raw_cursor) < 19):
        raise InvalidRequestError(f"invalid cursor {raw_cursor!r}")
    start = int(raw_cursor)
    end = start + max(page_size, 1)
    response = JSONResponse(list(items[start:end]))
    if end < len(items):
        next_url = request.url.include_query_params(cursor=str(end))
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response
