"""File downloads: ``/{repo}/resolve/{revision}/{path}`` with the headers hf_hub_download reads.

Quarantined (unsafe) files are never served: GET answers 403 naming the finding. HEAD still
answers with the metadata (and the warning), because huggingface_hub turns any HEAD error other
than not-found into a vague "check your connection" message, while it shows a GET 403's message.
Suspicious or unscannable files are served with ``X-Modelyard-Scan`` and an ``X-HF-Warning``
that the client logs. A malformed or unsatisfiable ``Range`` header answers 416 with a JSON
error and ``Content-Range: bytes */SIZE`` (valid ranges get 206). With ``hub serve --presign``
and a bucket, a GET of a public repository's servable file redirects to a presigned URL.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from modelyard.hub.errors import QuarantinedFileError, ScanPendingError
from modelyard.hub.server.accounts import Principal
from modelyard.hub.server.api.deps import HubDep, MaybeUser
from modelyard.hub.server.api.errors import header_value
from modelyard.hub.server.api.limits import BoundedRoute, check_range
from modelyard.hub.server.api.responses import object_response
from modelyard.hub.server.hub import Hub
from modelyard.hub.server.model import RepoRef, RepoType
from modelyard.hub.server.scanning import QUARANTINED

router = APIRouter(route_class=BoundedRoute)

# How long a presigned download URL (``hub serve --presign``) stays valid.
PRESIGN_VALIDITY = timedelta(minutes=15)


@router.api_route(
    "/datasets/{namespace}/{name}/resolve/{revision}/{path:path}", methods=["GET", "HEAD"]
)
async def resolve_dataset_file(
    namespace: str,
    name: str,
    revision: str,
    path: str,
    hub: HubDep,
    principal: MaybeUser,
    request: Request,
) -> Response:
    return await _resolve(hub, principal, request, "dataset", f"{namespace}/{name}", revision, path)


@router.api_route("/{namespace}/{name}/resolve/{revision}/{path:path}", methods=["GET", "HEAD"])
async def resolve_model_file(
    namespace: str,
    name: str,
    revision: str,
    path: str,
    hub: HubDep,
    principal: MaybeUser,
    request: Request,
) -> Response:
    return await _resolve(hub, principal, request, "model", f"{namespace}/{name}", revision, path)


async def _resolve(
    hub: HubDep,
    principal: MaybeUser,
    request: Request,
    repo_type: RepoType,
    repo_id: str,
    revision: str,
    path: str,
) -> Response:
    commit, entry = await run_in_threadpool(
        hub.repos.file, RepoRef(repo_type, repo_id), revision, path, principal
    )
    verdict = entry.scan.verdict if entry.scan else "pending"
    if entry.scan is not None and verdict == QUARANTINED and request.method != "HEAD":
        raise QuarantinedFileError(
            f"{path!r} in {repo_id!r} is quarantined: the scanner judged it unsafe "
            f"({entry.scan.summary}); it is listed but never served",
            hint=f"see /api/{repo_type}s/{repo_id}/scan/{commit.oid}/{path}",
        )
    if entry.scan is None and request.method != "HEAD":
        raise ScanPendingError(
            f"{path!r} in {repo_id!r} is being scanned; it is served once its scan is done",
            hint="retry in a moment",
        )
    if "range" in request.headers:
        check_range(request.headers["range"], entry.size)
    headers = {
        "X-Repo-Commit": commit.oid,
        "Accept-Ranges": "bytes",
        "X-Modelyard-Scan": verdict,
    }
    if entry.is_lfs:
        headers["ETag"] = f'"{entry.sha256}"'
        headers["X-Linked-Etag"] = f'"{entry.sha256}"'
        headers["X-Linked-Size"] = str(entry.size)
        if entry.xet_hash is not None and entry.scan is not None and verdict != QUARANTINED:
            # Xet clients download through the CAS; others (and curl) still get the bytes below.
            base = str(request.base_url).rstrip("/")
            token_url = f"{base}/api/{repo_type}s/{repo_id}/xet-read-token/{commit.oid}"
            headers["X-Xet-Hash"] = entry.xet_hash
            headers["Link"] = f'<{token_url}>; rel="xet-auth"'
    else:
        headers["ETag"] = f'"{entry.git_sha1}"'
    if verdict != "safe":
        detail = entry.scan.summary if entry.scan else "not scanned yet"
        warning = f"modelyard-scan-{entry.sha256[:12]}; {path} is {verdict}: {detail}"
        headers["X-HF-Warning"] = header_value(warning)
    key = hub.store.key_for(entry.sha256)
    if hub.settings.presign and request.method == "GET":
        url = await run_in_threadpool(_presigned, hub, principal, repo_type, repo_id, key)
        if url is not None:
            return RedirectResponse(url, status_code=302, headers=headers)
    return object_response(
        hub.store.storage, key, entry.size, request, headers, filename=path.rsplit("/", 1)[-1]
    )


def _presigned(
    hub: Hub, principal: Principal | None, repo_type: RepoType, repo_id: str, key: str
) -> str | None:
    """A presigned URL for a public repository's file; None for a private one, whose files
    go only through the hub (a URL, once handed out, cannot be revoked with the token)."""
    if hub.repos.get(RepoRef(repo_type, repo_id), principal).private:
        return None
    return hub.store.storage.presign(key, PRESIGN_VALIDITY)
