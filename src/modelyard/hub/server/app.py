"""The ASGI app factory: one ``Hub`` on ``app.state.hub``, the API routes mounted on it.

The web UI mounts its own routers on the same app and calls the same service layer
(``app.state.hub.repos``, ``.accounts``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from modelyard import __version__
from modelyard.hub.server.api import install_api
from modelyard.hub.server.hub import Hub
from modelyard.hub.server.scan_queue import ScanWorkers
from modelyard.hub.server.settings import Settings
from modelyard.hub.server.web import install_web


def create_app(settings: Settings | None = None, hub: Hub | None = None) -> FastAPI:
    """Build the hub app from ``settings`` (default: the environment) or an opened ``hub``.

    While the app runs, ``settings.scan_workers`` threads scan queued files; once it starts,
    verdicts stored by another scanner version are queued to be redone.
    """
    opened = hub or Hub.open(settings or Settings.from_env())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        workers = ScanWorkers(opened.scan_queue, opened.settings.scan_workers).start()
        await run_in_threadpool(opened.scan_queue.enqueue_outdated)
        try:
            yield
        finally:
            await run_in_threadpool(workers.stop)

    app = FastAPI(
        title="modelyard hub",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.hub = opened
    install_api(app)
    install_web(app)
    return app


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8000,
    on_started: Callable[[Hub], None] | None = None,
) -> None:
    """Run the hub with uvicorn until interrupted; ``on_started`` runs in a thread once the
    server accepts connections (the demo pushes its content through the API then)."""
    import uvicorn

    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    if on_started is not None:
        hub = app.state.hub

        def when_started() -> None:
            while not server.started:
                if server.should_exit:
                    return
                time.sleep(0.05)
            on_started(hub)

        threading.Thread(target=when_started, name="hub-started", daemon=True).start()
    server.run()
