"""Signing in to the web pages with an access token.

The token itself is kept in an HttpOnly, SameSite=Lax cookie (it is already the user's bearer
secret); forms that change something carry a CSRF value derived from it with the hub's secret.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request

from modelyard.hub.errors import AuthenticationError
from modelyard.hub.server.accounts import Principal
from modelyard.hub.server.hub import Hub

COOKIE = "modelyard_session"


def signed_in(request: Request, hub: Hub) -> tuple[Principal | None, str | None]:
    """The signed-in user and their token, or ``(None, None)``."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None, None
    try:
        return hub.accounts.authenticate(token), token
    except AuthenticationError:  # revoked since: treat as signed out
        return None, None


def csrf_value(hub: Hub, token: str) -> str:
    return hmac.new(hub.signer.secret, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()


def csrf_ok(hub: Hub, token: str | None, value: str) -> bool:
    return token is not None and hmac.compare_digest(csrf_value(hub, token), value)
