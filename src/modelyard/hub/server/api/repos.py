"""Repo routes: identity, create/delete, info, listings, tree, refs, commits, scan reports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from modelyard.hub.errors import ConflictError, EntryNotFoundError, InvalidRequestError
from modelyard.hub.server.api import views
from modelyard.hub.server.api.deps import HubDep, MaybeUser, User, iso
from modelyard.hub.server.api.errors import error_response
from modelyard.hub.server.api.limits import BoundedRoute
from modelyard.hub.server.api.pagination import paginated
from modelyard.hub.server.cards import CardError, parse_front_matter
from modelyard.hub.server.model import RepoRef, check_repo_type, repo_type_of
from modelyard.hub.server.names import check_path
from modelyard.hub.server.repos import DEFAULT_BRANCH

router = APIRouter(route_class=BoundedRoute)


class RepoRequest(BaseModel):
    name: str
    organization: str | None = None
    type: str | None = None
    private: bool | None = None
    visibility: str | None = None


class BranchRequest(BaseModel):
    startingPoint: str | None = None


class TagRequest(BaseModel):
    tag: str
    message: str | None = None


class PathsInfoRequest(BaseModel):
    paths: list[str]
    expand: bool = False


class YamlRequest(BaseModel):
    content: str
    repoType: str | None = None


def _repo_id(body: RepoRequest, user_name: str) -> str:
    return f"{body.organization or user_name}/{body.name}"


@router.get("/api/whoami-v2")
def whoami(user: User) -> dict[str, Any]:
    return {
        "type": "user",
        "id": user.name,
        "name": user.name,
        "fullname": user.name,
        "orgs": [{"type": "org", "name": org} for org in sorted(user.orgs)],
        "auth": {
            "type": "access_token",
            "accessToken": {"displayName": "modelyard", "role": "write"},
        },
    }


@router.post("/api/repos/create")
def create_repo(body: RepoRequest, hub: HubDep, user: User, request: Request) -> Response:
    repo_type = check_repo_type(body.type)
    private = body.visibility == "private" if body.visibility else bool(body.private)
    repo_id = _repo_id(body, user.name)
    try:
        repo = hub.repos.create(RepoRef(repo_type, repo_id), user, private=private)
    except ConflictError as error:
        url = views.repo_url(request, repo_type, repo_id)
        return error_response(409, str(error), extra={"url": url})
    url = views.repo_url(request, repo_type, repo.repo_id)
    return JSONResponse({"url": url, "name": repo.repo_id, "id": str(repo.pk)})


@router.delete("/api/repos/delete")
def delete_repo(body: RepoRequest, hub: HubDep, user: User) -> dict[str, Any]:
    hub.repos.delete(RepoRef(check_repo_type(body.type), _repo_id(body, user.name)), user)
    return {}


@router.get("/api/{kind}")
def list_repos(
    kind: str,
    hub: HubDep,
    principal: MaybeUser,
    request: Request,
    search: str | None = None,
    author: str | None = None,
    filter: Annotated[list[str] | None, Query()] = None,
    sort: str | None = None,
    limit: int | None = None,
) -> Response:
    repos = hub.repos.list_repos(
        repo_type_of(kind), principal, search=search, author=author, filters=filter or (), sort=sort
    )
    page_size = min(limit, hub.settings.page_size) if limit else hub.settings.page_size
    return paginated(request, [views.repo_summary(repo) for repo in repos], page_size)


@router.get("/api/{kind}/{namespace}/{name}")
def repo_info(kind: str, namespace: str, name: str, hub: HubDep, principal: MaybeUser) -> Any:
    return _info(hub, RepoRef.from_url(kind, namespace, name), DEFAULT_BRANCH, principal)


@router.get("/api/{kind}/{namespace}/{name}/revision/{revision:path}")
def repo_info_at(
    kind: str, namespace: str, name: str, revision: str, hub: HubDep, principal: MaybeUser
) -> Any:
    return _info(hub, RepoRef.from_url(kind, namespace, name), revision, principal)


def _info(hub: HubDep, ref: RepoRef, revision: str, principal: MaybeUser) -> Any:
    return views.repo_info(hub.repos.snapshot(ref, revision, principal))


@router.get("/api/{kind}/{namespace}/{name}/tree/{revision}")
@router.get("/api/{kind}/{namespace}/{name}/tree/{revision}/{path:path}")
def repo_tree(
    kind: str,
    namespace: str,
    name: str,
    revision: str,
    hub: HubDep,
    principal: MaybeUser,
    request: Request,
    path: str = "",
    recursive: bool = False,
) -> Response:
    path = path.strip("/")
    if path:
        check_path(path)
    snapshot = hub.repos.snapshot(RepoRef.from_url(kind, namespace, name), revision, principal)
    items = views.tree(snapshot.files, path, recursive)
    if items is None:
        raise EntryNotFoundError(f"folder {path!r} not found at {revision!r}")
    return paginated(request, items, hub.settings.page_size)


@router.post("/api/{kind}/{namespace}/{name}/paths-info/{revision}")
async def paths_info(
    kind: str,
    namespace: str,
    name: str,
    revision: str,
    hub: HubDep,
    principal: MaybeUser,
    request: Request,
) -> Any:
    # The client posts a form (paths=a&paths=b); accept JSON too.
    if request.headers.get("content-type", "").startswith("application/json"):
        wanted = PathsInfoRequest.model_validate(await request.json()).paths
    else:
        wanted = (await request.form()).getlist("paths")  # type: ignore[assignment]
    snapshot = hub.repos.snapshot(RepoRef.from_url(kind, namespace, name), revision, principal)
    found: list[dict[str, Any]] = []
    for path in {str(path).strip("/") for path in wanted}:
        entry = next((entry for entry in snapshot.files if entry.path == path), None)
        if entry is not None:
            found.append(views.tree_file(entry))
        elif any(file.path.startswith(path + "/") for file in snapshot.files):
            found.append(views.tree_folder(path, snapshot.files))
    return sorted(found, key=lambda item: item["path"])


@router.get("/api/{kind}/{namespace}/{name}/refs")
def repo_refs(kind: str, namespace: str, name: str, hub: HubDep, principal: MaybeUser) -> Any:
    refs = hub.repos.refs(RepoRef.from_url(kind, namespace, name), principal)

    def listed(kind_name: str, prefix: str) -> list[dict[str, str]]:
        return [
            {"name": ref.name, "ref": f"refs/{prefix}/{ref.name}", "targetCommit": ref.commit_oid}
            for ref in refs
            if ref.kind == kind_name
        ]

    return {
        "branches": listed("branch", "heads"),
        "tags": listed("tag", "tags"),
        "converts": [],
        "pullRequests": [],
    }


@router.post("/api/{kind}/{namespace}/{name}/branch/{branch}")
def create_branch(
    kind: str, namespace: str, name: str, branch: str, body: BranchRequest, hub: HubDep, user: User
) -> Any:
    start = body.startingPoint or DEFAULT_BRANCH
    hub.repos.create_ref(RepoRef.from_url(kind, namespace, name), "branch", branch, start, user)
    return {}


@router.delete("/api/{kind}/{namespace}/{name}/branch/{branch}")
def delete_branch(
    kind: str, namespace: str, name: str, branch: str, hub: HubDep, user: User
) -> Any:
    hub.repos.delete_ref(RepoRef.from_url(kind, namespace, name), "branch", branch, user)
    return {}


@router.post("/api/{kind}/{namespace}/{name}/tag/{revision}")
def create_tag(
    kind: str, namespace: str, name: str, revision: str, body: TagRequest, hub: HubDep, user: User
) -> Any:
    hub.repos.create_ref(RepoRef.from_url(kind, namespace, name), "tag", body.tag, revision, user)
    return {}


@router.delete("/api/{kind}/{namespace}/{name}/tag/{tag}")
def delete_tag(kind: str, namespace: str, name: str, tag: str, hub: HubDep, user: User) -> Any:
    hub.repos.delete_ref(RepoRef.from_url(kind, namespace, name), "tag", tag, user)
    return {}


@router.get("/api/{kind}/{namespace}/{name}/commits/{revision}")
def repo_commits(
    kind: str,
    namespace: str,
    name: str,
    revision: str,
    hub: HubDep,
    principal: MaybeUser,
    request: Request,
) -> Response:
    commits = hub.repos.history(RepoRef.from_url(kind, namespace, name), revision, principal)
    items = [
        {
            "id": commit.oid,
            "title": commit.title,
            "message": commit.message,
            "authors": [{"user": commit.author}],
            "date": iso(commit.created_at),
            "parents": [commit.parent_oid] if commit.parent_oid else [],
        }
        for commit in commits
    ]
    return paginated(request, items, hub.settings.page_size)


@router.get("/api/{kind}/{namespace}/{name}/scan/{revision}/{path:path}")
def scan_report(
    kind: str,
    namespace: str,
    name: str,
    revision: str,
    path: str,
    hub: HubDep,
    principal: MaybeUser,
) -> Any:
    """The stored scanner report of one file (shown even for quarantined files)."""
    commit, entry = hub.repos.file(
        RepoRef.from_url(kind, namespace, name), revision, path, principal
    )
    return {
        "path": entry.path,
        "commit": commit.oid,
        "sha256": entry.sha256,
        "size": entry.size,
        **views.scan_status(entry),
        "report": entry.scan.report if entry.scan else None,
    }


@router.post("/api/validate-yaml")
def validate_yaml(body: YamlRequest) -> Any:
    try:
        parse_front_matter(body.content)
    except CardError as error:
        raise InvalidRequestError(str(error)) from None
    return {"errors": [], "warnings": []}
