"""Responses shared by the download routes."""

from __future__ import annotations

from fastapi.responses import FileResponse


class BlobResponse(FileResponse):
    """A stored file (a blob, a xorb), whole or one ``Range``, read 1 MB per await."""

    # Starlette reads 64 KB per await, which caps downloads near a seventh of what a static
    # server reaches on loopback; 1 MB per read keeps 100 concurrent downloads near 100 MB.
    chunk_size = 1024 * 1024
