"""The git-lfs batch API with basic and multipart transfers, streamed to the hub's storage.

The batch call (authenticated) hands out signed upload URLs; the client then PUTs the content
(whole, or in parts followed by a completion call) and finally calls verify.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from modelyard.hub.errors import EntryNotFoundError, InvalidRequestError, PayloadTooLargeError
from modelyard.hub.server.accounts import Principal
from modelyard.hub.server.api.deps import HubDep, User
from modelyard.hub.server.api.limits import BoundedRoute, check_content_length, streams_body
from modelyard.hub.server.hub import Hub
from modelyard.hub.server.model import RepoRef, RepoType
from modelyard.hub.server.uploads import UploadGrant

router = APIRouter(route_class=BoundedRoute)

_COPY_CHUNK = 1024 * 1024


class LfsObject(BaseModel):
    oid: str
    size: int


class BatchRequest(BaseModel):
    operation: str
    objects: list[LfsObject]
    transfers: list[str] = ["basic"]


class CompletedPart(BaseModel):
    partNumber: int
    etag: str


class CompletionRequest(BaseModel):
    oid: str
    parts: list[CompletedPart]


@router.post("/{namespace}/{name}/info/lfs/objects/batch")
def model_batch(
    namespace: str, name: str, body: BatchRequest, hub: HubDep, user: User, request: Request
) -> Response:
    return _batch(hub, user, request, "model", namespace, name, body)


@router.post("/datasets/{namespace}/{name}/info/lfs/objects/batch")
def dataset_batch(
    namespace: str, name: str, body: BatchRequest, hub: HubDep, user: User, request: Request
) -> Response:
    return _batch(hub, user, request, "dataset", namespace, name, body)


def _batch(
    hub: Hub,
    user: Principal,
    request: Request,
    repo_type: RepoType,
    namespace: str,
    name: str,
    body: BatchRequest,
) -> Response:
    """Upload instructions per object: none if stored already, else signed URLs.

    Every object is checked against the file and repository size limits first: one too large
    refuses the whole batch (413) before any upload URL is handed out.
    """
    if not name.endswith(".git"):
        raise EntryNotFoundError(f"no LFS endpoint at {request.url.path}")
    repo = hub.repos.writable(RepoRef(repo_type, f"{namespace}/{name.removesuffix('.git')}"), user)
    if body.operation != "upload":
        raise InvalidRequestError("only LFS uploads are supported; download through /resolve")
    usage = hub.usage(repo)
    for item in body.objects:
        hub.store.key_for(item.oid)
        hub.store.check_size(item.size, f"LFS object {item.oid}")
        usage.add(item.oid, item.size)
    base = str(request.base_url).rstrip("/")
    multipart_allowed = "multipart" in body.transfers
    objects: list[dict[str, Any]] = []
    used_multipart = False
    for item in body.objects:
        entry: dict[str, Any] = {"oid": item.oid, "size": item.size, "authenticated": True}
        if hub.repos.blob_size(item.oid) != item.size:
            grant = hub.signer.grant(item.oid, item.size)
            query = grant.query()
            verify = {"href": f"{base}/api/lfs/verify/{item.oid}?{query}", "header": {}}
            if multipart_allowed and item.size >= hub.settings.multipart_threshold:
                used_multipart = True
                chunk = hub.settings.multipart_chunk_size
                parts = {
                    str(number): f"{base}/api/lfs/part/{item.oid}/{number}?{query}"
                    for number in range(1, math.ceil(item.size / chunk) + 1)
                }
                upload = {
                    "href": f"{base}/api/lfs/complete/{item.oid}?{query}",
                    "header": {"chunk_size": str(chunk), **parts},
                }
            else:
                upload = {"href": f"{base}/api/lfs/upload/{item.oid}?{query}", "header": {}}
            entry["actions"] = {"upload": upload, "verify": verify}
        objects.append(entry)
    return JSONResponse(
        {"transfer": "multipart" if used_multipart else "basic", "objects": objects},
        media_type="application/vnd.git-lfs+json",
    )


def _grant(hub: Hub, oid: str, request: Request) -> UploadGrant:
    params = request.query_params
    try:
        size, expires = int(params["size"]), int(params["expires"])
    except (KeyError, ValueError):
        raise InvalidRequestError("upload URL lacks its size or expiry") from None
    return hub.signer.check(oid, size, expires, params.get("sig", ""))


async def _stream_body(request: Request, write: Callable[[bytes], None]) -> None:
    """Pass the request body to ``write`` in pieces of about ``_COPY_CHUNK`` bytes, off the
    event loop (a write to a bucket may wait on the network)."""
    pending = bytearray()
    async for chunk in request.stream():
        pending += chunk
        if len(pending) >= _COPY_CHUNK:
            await run_in_threadpool(write, bytes(pending))
            pending.clear()
    if pending:
        await run_in_threadpool(write, bytes(pending))


@router.put("/api/lfs/upload/{oid}")
@streams_body
async def upload_basic(oid: str, hub: HubDep, request: Request) -> Response:
    """Basic transfer: the whole object in one streamed PUT (cut off beyond its granted size)."""
    grant = _grant(hub, oid, request)
    check_content_length(request, grant.size, "upload")
    writer = await run_in_threadpool(hub.store.writer, grant.size, oid)
    try:
        await _stream_body(request, writer.write)
    except BaseException:
        await run_in_threadpool(writer.abort)
        raise
    blob = await run_in_threadpool(writer.finish)
    await run_in_threadpool(hub.repos.register_blobs, [blob])
    return Response(status_code=200)


@router.put("/api/lfs/part/{oid}/{number}")
@streams_body
async def upload_part(oid: str, number: int, hub: HubDep, request: Request) -> Response:
    """Multipart transfer: one part, kept in staging until the completion call."""
    grant = _grant(hub, oid, request)
    chunk_size = hub.settings.multipart_chunk_size
    if number < 1 or number > math.ceil(grant.size / chunk_size):
        raise InvalidRequestError(f"part number {number} is out of range")
    check_content_length(request, chunk_size, f"part {number}")
    writer = await run_in_threadpool(hub.store.part_writer)
    digest = hashlib.sha256()
    received = 0

    def write(chunk: bytes) -> None:
        nonlocal received
        received += len(chunk)
        if received > chunk_size:
            raise PayloadTooLargeError(
                f"part {number} is larger than {chunk_size} bytes; nothing was stored"
            )
        digest.update(chunk)
        writer.write(chunk)

    try:
        await _stream_body(request, write)
        await run_in_threadpool(writer.publish, hub.store.part_key(grant.key, number))
    except BaseException:
        await run_in_threadpool(writer.abort)
        raise
    return Response(status_code=200, headers={"ETag": f'"{digest.hexdigest()}"'})


def _assemble(hub: Hub, grant: UploadGrant, count: int) -> None:
    writer = hub.store.writer(grant.size, expected_sha256=grant.oid)
    storage = hub.store.storage
    try:
        for number in range(1, count + 1):
            key = hub.store.part_key(grant.key, number)
            if storage.stat(key) is None:
                raise InvalidRequestError(f"part {number} of {grant.oid} was never uploaded")
            for chunk in storage.read(key):
                writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    blob = writer.finish()
    hub.repos.register_blobs([blob])
    hub.store.remove_parts(grant.key)


@router.post("/api/lfs/complete/{oid}")
async def complete_multipart(
    oid: str, body: CompletionRequest, hub: HubDep, request: Request
) -> Response:
    """Concatenate the parts (streamed), verify the sha256, publish the blob."""
    grant = _grant(hub, oid, request)
    expected = math.ceil(grant.size / hub.settings.multipart_chunk_size)
    if body.oid != oid or len(body.parts) != expected:
        raise InvalidRequestError(f"completion must list all {expected} parts of {oid}")
    await run_in_threadpool(_assemble, hub, grant, expected)
    return Response(status_code=200)


@router.post("/api/lfs/verify/{oid}")
def verify(oid: str, body: LfsObject, hub: HubDep, user: User) -> Any:
    if body.oid != oid or hub.repos.blob_size(oid) != body.size:
        raise EntryNotFoundError(f"LFS object {oid} of {body.size} bytes is not stored")
    return {}
