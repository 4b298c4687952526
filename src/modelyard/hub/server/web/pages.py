"""The page routes. Visibility follows the API: private repositories are 404 to others."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from modelyard.hub.errors import AuthenticationError, InvalidRequestError
from modelyard.hub.server.api.limits import BoundedRoute, parse_json
from modelyard.hub.server.hub import Hub
from modelyard.hub.server.model import REPO_TYPES, RepoRef, RepoType
from modelyard.hub.server.web.render import BADGES, card_html, human_size, metric_value
from modelyard.hub.server.web.session import COOKIE, csrf_ok, csrf_value, signed_in
from modelyard.package.manifest import MANIFEST

_HERE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=_HERE / "templates")
templates.env.filters["size"] = human_size
templates.env.filters["metric"] = metric_value
templates.env.globals["badges"] = BADGES
router = APIRouter(include_in_schema=False, route_class=BoundedRoute)
# Fixed paths such as /settings/tokens must be matched before /{namespace}/{name}.
account = APIRouter(include_in_schema=False, route_class=BoundedRoute)


def _hub(request: Request) -> Hub:
    return request.app.state.hub  # type: ignore[no-any-return]


def _render(request: Request, template: str, context: dict[str, Any]) -> HTMLResponse:
    """Render a page with the signed-in user (if any) available to the layout."""
    principal, _ = signed_in(request, _hub(request))
    return templates.TemplateResponse(request, template, {"user": principal, **context})


def _facets(repos: list[Any]) -> dict[str, list[str]]:
    """Library, task and other tags offered as filters, from the listed repos' cards."""
    libraries: set[str] = set()
    tasks: set[str] = set()
    tags: set[str] = set()
    for repo in repos:
        card = repo.card_data or {}
        if card.get("library_name"):
            libraries.add(str(card["library_name"]))
        if card.get("pipeline_tag"):
            tasks.add(str(card["pipeline_tag"]))
        tags.update(str(tag) for tag in card.get("tags") or [])
    return {
        "library": sorted(libraries),
        "task": sorted(tasks),
        "tag": sorted(tags - libraries - tasks),
    }


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    search: Annotated[str | None, Query()] = None,
    library: Annotated[str | None, Query()] = None,
    task: Annotated[str | None, Query()] = None,
    tag: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    hub = _hub(request)
    principal, _ = signed_in(request, hub)
    filters = [value for value in (library, task, tag) if value]
    listed = {
        kind: hub.repos.list_repos(
            kind, principal, search=search or None, filters=filters, sort="lastModified"
        )
        for kind in REPO_TYPES
    }
    everything = hub.repos.list_repos("model", principal) + hub.repos.list_repos(
        "dataset", principal
    )
    return _render(
        request,
        "index.html",
        {
            "models": listed["model"],
            "datasets": listed["dataset"],
            "search": search or "",
            "chosen": {"library": library, "task": task, "tag": tag},
            "facets": _facets(everything),
        },
    )


def _repo_page(request: Request, kind: RepoType, repo_id: str, revision: str) -> HTMLResponse:
    hub = _hub(request)
    principal, _ = signed_in(request, hub)
    ref = RepoRef(kind, repo_id)
    snapshot = hub.repos.snapshot(ref, revision, principal)
    files = {entry.path: entry for entry in snapshot.files}
    readme = _text(hub, files.get("README.md"))
    manifest = _json(hub, files.get(MANIFEST))
    endpoint = str(request.base_url).rstrip("/")
    return _render(
        request,
        "repo.html",
        {
            "repo": snapshot.repo,
            "kind": kind,
            "revision": revision,
            "commit": snapshot.commit,
            "files": snapshot.files,
            "card": card_html(readme) if readme else None,
            "metrics": (manifest or {}).get("metrics") or {},
            "manifest": manifest,
            "commits": hub.repos.history(ref, revision, principal)[:20],
            "refs": hub.repos.refs(ref, principal),
            "endpoint": endpoint,
        },
    )


def _text(hub: Hub, entry: Any) -> str | None:
    servable = entry is not None and entry.scan is not None and entry.scan.verdict != "unsafe"
    if not servable or entry.size > 1_000_000:
        return None
    return hub.store.read_start(entry.sha256, entry.size).decode("utf-8", errors="replace")


def _json(hub: Hub, entry: Any) -> dict[str, Any] | None:
    text = _text(hub, entry)
    try:
        data = parse_json(text.encode(), what=entry.path) if text else None
    except InvalidRequestError:
        return None
    return data if isinstance(data, dict) else None


@router.get("/{namespace}/{name}", response_class=HTMLResponse)
def model_page(
    request: Request, namespace: str, name: str, revision: Annotated[str, Query()] = "main"
) -> HTMLResponse:
    return _repo_page(request, "model", f"{namespace}/{name}", revision)


@router.get("/datasets/{namespace}/{name}", response_class=HTMLResponse)
def dataset_page(
    request: Request, namespace: str, name: str, revision: Annotated[str, Query()] = "main"
) -> HTMLResponse:
    return _repo_page(request, "dataset", f"{namespace}/{name}", revision)


@router.get("/{namespace}/{name}/scan/{revision}/{path:path}", response_class=HTMLResponse)
def scan_page(
    request: Request, namespace: str, name: str, revision: str, path: str
) -> HTMLResponse:
    return _scan_page(request, "model", f"{namespace}/{name}", revision, path)


@router.get("/datasets/{namespace}/{name}/scan/{revision}/{path:path}", response_class=HTMLResponse)
def dataset_scan_page(
    request: Request, namespace: str, name: str, revision: str, path: str
) -> HTMLResponse:
    return _scan_page(request, "dataset", f"{namespace}/{name}", revision, path)


def _scan_page(
    request: Request, kind: RepoType, repo_id: str, revision: str, path: str
) -> HTMLResponse:
    from modelyard.scan.rules import RULES

    hub = _hub(request)
    principal, _ = signed_in(request, hub)
    commit, entry = hub.repos.file(RepoRef(kind, repo_id), revision, path, principal)
    findings = []
    for file in entry.scan.report.get("files", []) if entry.scan else []:
        for finding in file.get("findings", []):
            rule = RULES.get(finding.get("rule_id", ""))
            title, explanation = (rule.title, rule.explanation) if rule else ("", "")
            findings.append({**finding, "title": title, "explanation": explanation})
    return _render(
        request,
        "scan.html",
        {
            "repo_id": repo_id,
            "kind": kind,
            "revision": revision,
            "commit": commit,
            "entry": entry,
            "findings": findings,
            "imports": entry.scan.imports if entry.scan else [],
        },
    )


@account.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return _render(request, "login.html", {"error": None})


@account.post("/login", response_model=None)
def login(request: Request, token: Annotated[str, Form()]) -> Response:
    hub = _hub(request)
    try:
        hub.accounts.authenticate(token.strip())
    except AuthenticationError:
        rejected = _render(request, "login.html", {"error": "That token is not valid."})
        rejected.status_code = 401
        return rejected
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        token.strip(),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=30 * 24 * 3600,
    )
    return response


@account.post("/logout")
def logout() -> RedirectResponse:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _tokens_page(request: Request, new_token: str | None = None) -> Response:
    hub = _hub(request)
    principal, token = signed_in(request, hub)
    if principal is None or token is None:
        return RedirectResponse("/login", status_code=303)
    return _render(
        request,
        "tokens.html",
        {
            "tokens": hub.accounts.tokens(principal.name),
            "new_token": new_token,
            "csrf": csrf_value(hub, token),
        },
    )


@account.get("/settings/tokens", response_model=None)
def tokens_page(request: Request) -> Response:
    return _tokens_page(request)


@account.post("/settings/tokens", response_model=None)
def create_token(request: Request, csrf: Annotated[str, Form()]) -> Response:
    hub = _hub(request)
    principal, token = signed_in(request, hub)
    if principal is None or not csrf_ok(hub, token, csrf):
        return PlainTextResponse("invalid or missing CSRF value; reload the page", status_code=403)
    return _tokens_page(request, new_token=hub.accounts.create_token(principal.name))


@account.post("/settings/tokens/{token_id}/revoke", response_model=None)
def revoke_token(request: Request, token_id: int, csrf: Annotated[str, Form()]) -> Response:
    hub = _hub(request)
    principal, token = signed_in(request, hub)
    if principal is None or not csrf_ok(hub, token, csrf):
        return PlainTextResponse("invalid or missing CSRF value; reload the page", status_code=403)
    hub.accounts.revoke_token(principal.name, token_id)
    return RedirectResponse("/settings/tokens", status_code=303)


def install_web(app: FastAPI) -> None:
    """Mount the pages and their static files on ``app`` (after the API routes)."""
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    app.include_router(account)
    app.include_router(router)
