"""Upload routes: preupload (regular or LFS/Xet) and the NDJSON commit."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from modelyard.hub.errors import InvalidRequestError, PayloadTooLargeError
from modelyard.hub.server.api.deps import HubDep, User
from modelyard.hub.server.api.limits import BoundedRoute, parse_json, streams_body
from modelyard.hub.server.model import (
    AddFile,
    DeleteFile,
    DeleteFolder,
    Operation,
    RepoRef,
    url_prefix,
)
from modelyard.hub.server.names import check_path
from modelyard.hub.server.storage import StoredBlob

router = APIRouter(route_class=BoundedRoute)

_LINE_OVERHEAD = 64 * 1024


class PreuploadFile(BaseModel):
    path: str
    size: int
    sample: str = ""


class PreuploadRequest(BaseModel):
    files: list[PreuploadFile]
    gitIgnore: str | None = None


def _no_pull_requests(request: Request) -> None:
    if request.query_params.get("create_pr") in ("1", "true", "True"):
        raise InvalidRequestError("pull requests are not supported by this hub; push to a branch")


@router.post("/api/{kind}/{namespace}/{name}/preupload/{revision}")
def preupload(
    kind: str,
    namespace: str,
    name: str,
    revision: str,
    body: PreuploadRequest,
    hub: HubDep,
    user: User,
    request: Request,
) -> Any:
    """Regular upload up to the configured size, LFS above; ``oid`` of the current file if any."""
    _no_pull_requests(request)
    ref = RepoRef.from_url(kind, namespace, name)
    hub.repos.writable(ref, user)
    snapshot = hub.repos.snapshot(ref, revision, user)
    current = {entry.path: entry for entry in snapshot.files}
    answer = []
    for file in body.files:
        check_path(file.path)
        hub.store.check_size(file.size, file.path)
        regular = file.size <= hub.settings.regular_upload_max
        existing = current.get(file.path)
        oid = None
        if existing is not None:
            oid = existing.git_sha1 if regular else existing.sha256
        answer.append(
            {
                "path": file.path,
                "uploadMode": "regular" if regular else "lfs",
                "shouldIgnore": False,
                "oid": oid,
            }
        )
    return JSONResponse({"files": answer, "commitOid": snapshot.commit.oid})


async def _lines(stream: AsyncIterator[bytes], max_line: int) -> AsyncIterator[bytes]:
    """Split a streamed body into lines without ever holding more than one line."""
    pending = bytearray()
    async for chunk in stream:
        pending.extend(chunk)
        while (newline := pending.find(b"\n")) != -1:
            line = bytes(pending[:newline])
            del pending[: newline + 1]
            if line.strip():
                yield line
        if len(pending) > max_line:
            raise PayloadTooLargeError(
                f"a commit line exceeds {max_line} bytes: files above the regular-upload size "
                "must go through LFS",
                hint="let preupload decide the upload mode (huggingface_hub does this)",
            )
    if pending.strip():
        yield bytes(pending)


def _decode_regular(value: dict[str, Any], max_size: int) -> bytes:
    if value.get("encoding", "base64") != "base64":
        raise InvalidRequestError(f"unsupported encoding {value.get('encoding')!r} for a file")
    try:
        content = base64.b64decode(value["content"], validate=True)
    except (binascii.Error, KeyError, TypeError):
        raise InvalidRequestError(
            f"file {value.get('path')!r} has invalid base64 content"
        ) from None
    if len(content) > max_size:
        raise PayloadTooLargeError(
            f"{value.get('path')!r} has {len(content)} bytes, above the regular-upload limit of "
            f"{max_size}; upload it through LFS"
        )
    return content


@router.post("/api/{kind}/{namespace}/{name}/commit/{revision}")
@streams_body
async def commit(
    kind: str, namespace: str, name: str, revision: str, hub: HubDep, user: User, request: Request
) -> Any:
    """Apply an NDJSON commit: a header line, then file / lfsFile / deletedFile / deletedFolder."""
    _no_pull_requests(request)
    ref = RepoRef.from_url(kind, namespace, name)
    repo_id = ref.repo_id
    repo = await run_in_threadpool(hub.repos.writable, ref, user)
    settings = hub.settings
    max_line = settings.regular_upload_max * 4 // 3 + _LINE_OVERHEAD
    usage = await run_in_threadpool(hub.usage, repo)
    header: dict[str, Any] | None = None
    operations: list[Operation] = []
    stored: list[StoredBlob] = []
    async for line in _lines(request.stream(), max_line):
        item = parse_json(line, "commit line", max_line)
        try:
            key, value = item["key"], item["value"]
            if not isinstance(value, dict):
                raise TypeError
        except (KeyError, TypeError):
            raise InvalidRequestError(
                'malformed commit payload: expected NDJSON lines of {"key": ..., "value": {...}}'
            ) from None
        if key == "header":
            header = value
        elif key == "file":
            path = check_path(str(value.get("path", "")))
            content = _decode_regular(value, settings.regular_upload_max)
            usage.add(hashlib.sha256(content).hexdigest(), len(content))
            blob = await run_in_threadpool(hub.store.put_bytes, content)
            stored.append(blob)
            operations.append(AddFile(path, blob.sha256, is_lfs=False))
        elif key == "lfsFile":
            path = check_path(str(value.get("path", "")))
            oid = str(value.get("oid", ""))
            hub.store.key_for(oid)
            size = await run_in_threadpool(hub.repos.blob_size, oid)
            from_xet = size is None and all(blob.sha256 != oid for blob in stored)
            if from_xet:
                size = await run_in_threadpool(hub.xet.registered_size, oid)
            usage.add(oid, size or 0)  # never uploaded: the commit refuses it below
            if from_xet and size is not None:  # rebuilt from its chunks, then scanned as any blob
                stored.append(await run_in_threadpool(hub.xet.materialize, oid))
            operations.append(AddFile(path, oid, is_lfs=True))
        elif key == "deletedFile":
            operations.append(DeleteFile(check_path(str(value.get("path", "")))))
        elif key == "deletedFolder":
            operations.append(DeleteFolder(check_path(str(value.get("path", "")).rstrip("/"))))
        else:
            raise InvalidRequestError(f"unsupported commit operation {key!r}")
    if header is None:
        raise InvalidRequestError("malformed commit payload: the header line is missing")
    await run_in_threadpool(hub.repos.register_blobs, stored)
    # The service scans new blobs before the commit lands: keep that off the event loop.
    summary = str(header.get("summary") or "").strip() or "Update files"
    result = await run_in_threadpool(
        lambda: hub.repos.commit(
            ref,
            revision,
            operations,
            user,
            title=summary,
            description=str(header.get("description") or ""),
            parent_commit=header.get("parentCommit"),
        )
    )
    base = str(request.base_url).rstrip("/")
    return {
        "success": True,
        "commitOid": result.oid,
        "commitUrl": f"{base}/{url_prefix(repo.repo_type)}{repo_id}/commit/{result.oid}",
        "pullRequestUrl": None,
    }
