"""The Hugging Face Hub-compatible HTTP API, one router per concern."""

from __future__ import annotations

from fastapi import FastAPI

from modelyard.hub.server.api import files, lfs, repos, upload, xet
from modelyard.hub.server.api.errors import install_error_handlers


def install_api(app: FastAPI) -> None:
    """Mount every API route and the error mapping on ``app``."""
    install_error_handlers(app)
    for module in (repos, upload, lfs, files, xet):
        app.include_router(module.router)
