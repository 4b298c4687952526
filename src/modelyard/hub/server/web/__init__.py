"""The hub's web pages: browse and search repositories, read model cards, files and scan reports.

Server-rendered with Jinja2 over the same service layer as the API (``app.state.hub``).
"""

from __future__ import annotations

from modelyard.hub.server.web.pages import install_web

__all__ = ["install_web"]
