"""Responses shared by the download routes: a stored object, whole or one ``Range``."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from modelyard.hub.server.objects import ObjectStorage


class BlobResponse(FileResponse):
    """A stored file (a blob, a xorb), whole or one ``Range``, read 1 MB per await."""

    # Starlette reads 64 KB per await, which caps downloads near a seventh of what a static
    # server reaches on loopback; 1 MB per read keeps 100 concurrent downloads near 100 MB.
    chunk_size = 1024 * 1024


def object_response(
    storage: ObjectStorage,
    key: str,
    size: int,
    request: Request,
    headers: dict[str, str] | None = None,
    filename: str | None = None,
) -> Response:
    """The object at ``key`` (``size`` bytes) as ``request`` asks for it: whole, or the one
    byte range of a valid ``Range`` header (checked by the caller) with 206.

    A local file goes out through ``BlobResponse``; an object in a bucket streams from ranged
    reads. A bucket object asked for several ranges is sent whole, as HTTP allows.
    """
    path = storage.local_path(key)
    if path is not None:
        return BlobResponse(
            path,
            headers=headers,
            media_type="application/octet-stream",
            content_disposition_type="inline",
            filename=filename,
        )
    sent = {**(headers or {}), "Accept-Ranges": "bytes"}
    if filename is not None:
        quoted = quote(filename)
        sent["Content-Disposition"] = (
            f"inline; filename*=utf-8''{quoted}"
            if quoted != filename
            else f'inline; filename="{filename}"'
        )
    wanted = _single_range(request.headers.get("range"), size)
    first, last = wanted or (0, size - 1)
    status = 200 if wanted is None else 206
    if wanted is not None:
        sent["Content-Range"] = f"bytes {first}-{last}/{size}"
    sent["Content-Length"] = str(max(last - first + 1, 0))
    if request.method == "HEAD" or size == 0:
        return Response(status_code=status, headers=sent, media_type="application/octet-stream")
    return StreamingResponse(
        storage.read(key, first, last + 1),
        status_code=status,
        headers=sent,
        media_type="application/octet-stream",
    )


def _single_range(header: str | None, size: int) -> tuple[int, int] | None:
    """First and last byte of a one-range ``Range`` header, or None (absent or several)."""
    if header is None or "," in header:
        return None
    first, _, last = header.partition("=")[2].strip().partition("-")
    if not first:
        return max(size - int(last), 0), size - 1
    return int(first), min(int(last), size - 1) if last else size - 1
