"""The page routes. Visibility follows the API: private repositories are 404 to others."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from modelyard.hub.server.hub import Hub
from modelyard.hub.server.web.render import BADGES, card_html, human_size

_HERE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=_HERE / "templates")
templates.env.filters["size"] = human_size
templates.env.globals["badges"] = BADGES
router = APIRouter(include_in_schema=False)


def _hub(request: Request) -> Hub:
    return request.app.state.hub  # type: ignore[no-any-return]


def _facets(repos: list[Any]) -> dict[str, list[str]]:
    """Library, task and other tags offered as filters, from the listed repos' cards."""
    libraries, tasks, tags = set(), set(), set()
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
    filters = [value for value in (library, task, tag) if value]
    listed = {
        kind: hub.repos.list_repos(kind, None, search=search or None, filters=filters,
                                   sort="lastModified")
        for kind in ("model", "dataset")
    }  # fmt: skip
    everything = hub.repos.list_repos("model", None) + hub.repos.list_repos("dataset", None)
    return templates.TemplateResponse(
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


def _repo_page(request: Request, kind: str, repo_id: str, revision: str) -> HTMLResponse:
    hub = _hub(request)
    snapshot = hub.repos.snapshot(kind, repo_id, revision, None)
    files = {entry.path: entry for entry in snapshot.files}
    readme = _text(hub, files.get("README.md"))
    manifest = _json(hub, files.get("modelyard.json"))
    endpoint = str(request.base_url).rstrip("/")
    return templates.TemplateResponse(
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
            "commits": hub.repos.history(kind, repo_id, revision, None)[:20],
            "refs": hub.repos.refs(kind, repo_id, None),
            "endpoint": endpoint,
        },
    )


def _text(hub: Hub, entry: Any) -> str | None:
    if entry is None or entry.size > 1_000_000 or (entry.scan and entry.scan.verdict == "unsafe"):
        return None
    return hub.store.path_for(entry.sha256).read_text(encoding="utf-8", errors="replace")


def _json(hub: Hub, entry: Any) -> dict[str, Any] | None:
    text = _text(hub, entry)
    try:
        data = json.loads(text) if text else None
    except ValueError:
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
    from modelyard.scan.rules import RULES

    hub = _hub(request)
    commit, entry = hub.repos.file("model", f"{namespace}/{name}", revision, path, None)
    findings = []
    for file in entry.scan.report.get("files", []) if entry.scan else []:
        for finding in file.get("findings", []):
            rule = RULES.get(finding.get("rule_id", ""))
            findings.append({**finding, "title": rule.title if rule else "",
                             "explanation": rule.explanation if rule else ""})  # fmt: skip
    return templates.TemplateResponse(
        request,
        "scan.html",
        {"repo_id": f"{namespace}/{name}", "revision": revision, "commit": commit,
         "entry": entry, "findings": findings},
    )  # fmt: skip


def install_web(app: FastAPI) -> None:
    """Mount the pages and their static files on ``app`` (after the API routes)."""
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    app.include_router(router)
