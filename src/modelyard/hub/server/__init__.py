"""The hub server: settings, database, blob storage, services and the HF-compatible API."""

from __future__ import annotations

from modelyard.hub.server.app import create_app, serve
from modelyard.hub.server.hub import Hub
from modelyard.hub.server.settings import Settings

__all__ = ["Hub", "Settings", "create_app", "serve"]
