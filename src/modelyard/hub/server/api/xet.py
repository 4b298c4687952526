"""The Xet protocol: CAS token endpoints in the Hub API, and the CAS served by the hub itself.

The token endpoints obey the same access rules as the rest of the API (private repositories,
organization membership); the CAS routes under ``CAS_PATH`` only accept the tokens they hand
out. Uploads stream to a temporary file, bounded by the protocol's limits (64 MiB of chunk data
per xorb, 64 MiB per shard), and are verified before anything is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from modelyard.hub.errors import EntryNotFoundError, InvalidRangeError, PayloadTooLargeError
from modelyard.hub.server.api.deps import HubDep, MaybeUser, User
from modelyard.hub.server.api.limits import (
    BoundedRoute,
    check_content_length,
    check_range,
    streams_body,
)
from modelyard.hub.server.api.responses import object_response
from modelyard.hub.server.hub import Hub
from modelyard.hub.server.model import RepoRef
from modelyard.hub.server.xet.cas import FileRange
from modelyard.hub.server.xet.formats import MAX_SERIALIZED_XORB_BYTES, MAX_SHARD_BYTES
from modelyard.hub.server.xet.tokens import XetScope, XetToken

router = APIRouter(route_class=BoundedRoute)

CAS_PATH = "/api/xet/cas"


def _token_response(hub: Hub, request: Request, scope: XetScope, repo_pk: int) -> Response:
    token, expires = hub.xet_signer.issue(scope, repo_pk)
    cas_url = str(request.base_url).rstrip("/") + CAS_PATH
    # The Rust half of the client reads the JSON body, the Python half the headers.
    return JSONResponse(
        {"accessToken": token, "exp": expires, "casUrl": cas_url},
        headers={
            "X-Xet-Cas-Url": cas_url,
            "X-Xet-Access-Token": token,
            "X-Xet-Token-Expiration": str(expires),
        },
    )


@router.get("/api/{kind}/{namespace}/{name}/xet-write-token/{revision}")
def xet_write_token(
    kind: str, namespace: str, name: str, revision: str, hub: HubDep, user: User, request: Request
) -> Response:
    """A CAS write token for a repository the caller may write to and that has room left
    (file sizes are checked at preupload, which clients call first, and at commit)."""
    repo = hub.repos.writable(RepoRef.from_url(kind, namespace, name), user)
    hub.usage(repo).check_room()
    return _token_response(hub, request, "write", repo.pk)


@router.get("/api/{kind}/{namespace}/{name}/xet-read-token/{revision}")
def xet_read_token(
    kind: str,
    namespace: str,
    name: str,
    revision: str,
    hub: HubDep,
    principal: MaybeUser,
    request: Request,
) -> Response:
    """A CAS read token for a repository the caller may read."""
    repo = hub.repos.get(RepoRef.from_url(kind, namespace, name), principal)
    return _token_response(hub, request, "read", repo.pk)


def _token(hub: Hub, request: Request, scope: XetScope) -> XetToken:
    return hub.xet_signer.check(request.headers.get("authorization", ""), scope)


async def _receive(hub: Hub, request: Request, limit: int, what: str) -> Path:
    """Stream the body into a temporary file, refusing more than ``limit`` bytes."""
    check_content_length(request, limit, what)
    path, file = hub.xet.temporary(f"xet-{what}-")
    received = 0
    try:
        with file:
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise PayloadTooLargeError(
                        f"the {what} exceeds the Xet limit of {limit} bytes; nothing was stored"
                    )
                file.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


@router.post(CAS_PATH + "/v1/xorbs/{prefix}/{xorb}")
@streams_body
async def upload_xorb(prefix: str, xorb: str, hub: HubDep, request: Request) -> Any:
    """Store a xorb once every chunk and its merkle hash are verified."""
    _token(hub, request, "write")
    path = await _receive(hub, request, MAX_SERIALIZED_XORB_BYTES, "xorb")
    return {"was_inserted": await run_in_threadpool(hub.xet.store_xorb, xorb, path)}


@router.post(CAS_PATH + "/v1/shards")
@streams_body
async def upload_shard(hub: HubDep, request: Request) -> Any:
    """Register the files a shard describes, once all their xorbs are stored."""
    _token(hub, request, "write")
    path = await _receive(hub, request, MAX_SHARD_BYTES, "shard")
    return {"result": await run_in_threadpool(hub.xet.register_shard, path)}


def _file_range(header: str, size: int) -> FileRange:
    check_range(header, size)
    first, _, last = header.partition("=")[2].strip().partition("-")
    if not first.isdigit() or "," in last:
        raise InvalidRangeError(f"expected a range like bytes=0-99, got {header!r}", size)
    return FileRange(int(first), min(int(last), size - 1) if last.isdigit() else size - 1)


def _reconstruction(hub: Hub, file_id: str, request: Request) -> dict[str, Any]:
    token = _token(hub, request, "read")
    row = hub.xet.file(file_id)
    hub.xet.check_served(token.repo_pk, row)
    wanted = _file_range(request.headers["range"], row.size) if "range" in request.headers else None
    base = str(request.base_url).rstrip("/") + CAS_PATH

    def fetch_url(xorb: str) -> str:
        return f"{base}/v1/fetch/{xorb}?{hub.xet_signer.fetch_query(xorb)}"

    return hub.xet.reconstruction(file_id, wanted, fetch_url)


@router.get(CAS_PATH + "/v1/reconstructions/{file_id}")
def reconstruction(file_id: str, hub: HubDep, request: Request) -> Any:
    """How to rebuild a file of the token's repository from xorb byte ranges."""
    return _reconstruction(hub, file_id, request)


@router.get(CAS_PATH + "/v2/reconstructions/{file_id}")
def reconstruction_v2(file_id: str, hub: HubDep, request: Request) -> Any:
    """The same plan in the v2 shape: per xorb, URLs with the chunk and byte ranges they
    serve (one range per URL, so every fetch is a single-range request)."""
    plan = _reconstruction(hub, file_id, request)
    xorbs = {
        xorb: [
            {"url": f["url"], "ranges": [{"chunks": f["range"], "bytes": f["url_range"]}]}
            for f in fetches
        ]
        for xorb, fetches in plan.pop("fetch_info").items()
    }
    return {**plan, "xorbs": xorbs}


@router.get(CAS_PATH + "/v1/fetch/{xorb}")
def fetch_xorb(xorb: str, hub: HubDep, request: Request) -> Response:
    """Byte ranges of a stored xorb, through the signed URL a reconstruction gave."""
    params = request.query_params
    hub.xet_signer.check_fetch(xorb, params.get("expires", ""), params.get("sig", ""))
    key = hub.xet.xorb_key(xorb)
    found = hub.xet.storage.stat(key)
    if found is None:
        raise EntryNotFoundError(f"xorb {xorb} is not stored here")
    if "range" in request.headers:
        check_range(request.headers["range"], found.size)
    return object_response(hub.xet.storage, key, found.size, request)


@router.get(CAS_PATH + "/v1/chunks/{prefix}/{chunk}")
def chunk_dedup(prefix: str, chunk: str, hub: HubDep, request: Request) -> Response:
    """Global deduplication: the xorb holding a known chunk and the other xorbs of the files
    that use it, as a shard, so that content already stored (by any repository) is not sent
    again."""
    _token(hub, request, "read")
    shard = hub.xet.dedup_shard(chunk)
    if shard is None:
        raise EntryNotFoundError(f"chunk {chunk} is not stored here")
    return Response(shard, media_type="application/octet-stream")
