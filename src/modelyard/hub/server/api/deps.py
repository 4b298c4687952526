"""Request-scoped dependencies: the hub, the caller, and formatting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from modelyard.hub.errors import AuthenticationError
from modelyard.hub.server.accounts import Principal
from modelyard.hub.server.hub import Hub


def get_hub(request: Request) -> Hub:
    return request.app.state.hub  # type: ignore[no-any-return]


def optional_principal(request: Request) -> Principal | None:
    """The caller from ``Authorization: Bearer``; None when anonymous; 401 for a bad token."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return get_hub(request).accounts.authenticate(token.strip())


def required_principal(request: Request) -> Principal:
    principal = optional_principal(request)
    if principal is None:
        raise AuthenticationError(
            "this operation needs an access token",
            hint=(
                "create one with `modelyard hub token create USER`; set MODELYARD_TOKEN or HF_TOKEN"
            ),
        )
    return principal


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, as the Hub writes dates."""
    if moment.tzinfo is None:  # SQLite hands back naive datetimes that were stored in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


HubDep = Annotated[Hub, Depends(get_hub)]
MaybeUser = Annotated[Principal | None, Depends(optional_principal)]
User = Annotated[Principal, Depends(required_principal)]
