"""The ASGI app factory: one ``Hub`` on ``app.state.hub``, the API routes mounted on it.

The web UI mounts its own routers on the same app and calls the same service layer
(``app.state.hub.repos``, ``.accounts``).
"""

from __future__ import annotations

from fastapi import FastAPI

from modelyard import __version__
from modelyard.hub.server.api import install_api
from modelyard.hub.server.hub import Hub
from modelyard.hub.server.settings import Settings


def create_app(settings: Settings | None = None, hub: Hub | None = None) -> FastAPI:
    """Build the hub app from ``settings`` (default: the environment) or an opened ``hub``."""
    hub = hub or Hub.open(settings or Settings.from_env())
    app = FastAPI(title="modelyard hub", version=__version__, docs_url=None, redoc_url=None)
    app.state.hub = hub
    install_api(app)
    return app


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the hub with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
