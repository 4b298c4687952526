"""uvicorn's httptools protocol, with each answer leaving in one send.

uvicorn writes an answer's status line and headers, then its body, with one ``transport.write``
each: two system calls and two TCP segments per answer, and two wake-ups of the client. Here the
writes made within one turn of the event loop are held and sent together at its end, with one
``writelines`` (a single vectored send under uvloop): at 16 connections, about a quarter of the
server's CPU per request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _CorkedTransport:
    """``transport``, but writes made in one turn of ``loop`` leave together at its end.

    Everything else (flow control, ``get_extra_info``, ``is_closing``...) is the transport's own;
    ``close`` first sends what is held.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self._send)
        self._held.append(data)

    def writelines(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def close(self) -> None:
        self._send()
        self._transport.close()

    def _send(self) -> None:
        if not self._held:
            return
        held, self._held = self._held, []
        if not self._transport.is_closing():
            self._transport.writelines(held)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneSendProtocol(HttpToolsProtocol):
    """uvicorn's ``HttpToolsProtocol`` writing through a ``_CorkedTransport``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        corked: Any = _CorkedTransport(transport, self.loop)
        super().connection_made(corked)
