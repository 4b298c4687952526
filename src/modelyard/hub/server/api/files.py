"""File downloads: ``/{repo}/resolve/{revision}/{path}`` with the headers hf_hub_download reads.

Quarantined (unsafe) files are never served: GET answers 403 naming the finding. HEAD still
answers with the metadata (and the warning), because huggingface_hub turns any HEAD error other
than not-found into a vague "check your connection" message, while it shows a GET 403's message.
Suspicious or unscannable files are served with ``X-Modelyard-Scan`` and an ``X-HF-Warning``
that the client logs. A malformed or unsatisfiable ``Range`` header answers 416 with a JSON error
and ``Content-Range: bytes */SIZE`` (valid ranges get 206).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from modelyard.hub.errors import QuarantinedFileError
from modelyard.hub.server.api.deps import HubDep, MaybeUser
from modelyard.hub.server.api.errors import header_value
from modelyard.hub.server.api.limits import BoundedRoute, check_range
from modelyard.hub.server.api.responses import BlobResponse
from modelyard.hub.server.model import RepoRef, RepoType
from modelyard.hub.server.scanning import QUARANTINED

router = APIRouter(route_class=BoundedRoute)


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
        if entry.xet_hash is not None and verdict != QUARANTINED:
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
    return BlobResponse(
        hub.store.path_for(entry.sha256),
        headers=headers,
        media_type="application/octet-stream",
        content_disposition_type="inline",
        filename=path.rsplit("/", 1)[-1],
    )
