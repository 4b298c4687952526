"""Push and pull models with the ``huggingface_hub`` client, scanning on both ends.

``push`` scans before sending and refuses unsafe files; ``pull`` downloads into a staging
folder, scans, and only then hands the files over.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelyard.hub.errors import HubError, HubRequestError, HubUnreachableError, UnsafeModelError

if TYPE_CHECKING:
    from huggingface_hub import HfApi

    from modelyard.scan import ScanReport

DEFAULT_HUB_URL = "http://127.0.0.1:8000"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    revision: str
    commit: str
    url: str
    report: ScanReport


@dataclass(frozen=True)
class PullResult:
    """What was pulled; ``verdicts`` maps each file (relative to ``path``) to its verdict."""

    repo_id: str
    commit: str
    path: Path
    verdicts: dict[str, str]
    report: ScanReport


def hub_url(env: dict[str, str] | None = None) -> str:
    """``$MODELYARD_HUB_URL``, else the local default."""
    env = dict(os.environ) if env is None else env
    return (env.get("MODELYARD_HUB_URL") or DEFAULT_HUB_URL).rstrip("/")


def _api(endpoint: str | None, token: str | None) -> HfApi:
    from huggingface_hub import HfApi

    return HfApi(
        endpoint=endpoint or hub_url(), token=token or os.environ.get("MODELYARD_TOKEN") or None
    )


@contextmanager
def _hub_errors(endpoint: str) -> Iterator[None]:
    """Turn the client's HTTP and connection errors into one-line hub errors."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    try:
        yield
    except HfHubHTTPError as error:
        response = error.response
        message = response.headers.get("X-Error-Message") if response is not None else None
        status = response.status_code if response is not None else "?"
        if response is not None and response.headers.get("X-Error-Code") == "Quarantined":
            raise UnsafeModelError(message or str(error)) from None
        raise HubRequestError(
            f"hub at {endpoint} answered {status}: {message or str(error).splitlines()[0]}"
        ) from None
    except httpx2.TransportError as error:
        raise HubUnreachableError(
            f"cannot reach the hub at {endpoint}: {error}",
            hint="start it with `modelyard hub serve` or set MODELYARD_HUB_URL",
        ) from None


def _refuse_unsafe(report: ScanReport, action: str) -> None:
    from modelyard.scan import Verdict

    unsafe = [file for file in report.files if file.verdict == Verdict.UNSAFE]
    if not unsafe:
        return
    details = "; ".join(
        f"{file.path}: "
        + ", ".join(f"{finding.rule_id} {finding.message}" for finding in file.findings[:2])
        for file in unsafe[:5]
    )
    raise UnsafeModelError(f"refusing to {action}: the scanner judged unsafe {details}")


def push(
    path: str | os.PathLike[str],
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    repo_type: str = "model",
    commit_message: str | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    progress: Progress | None = None,
) -> PushResult:
    """Scan ``path`` (file or folder), then upload it to ``repo_id`` on the hub.

    Creates the repo (and the ``revision`` branch) if needed. Raises ``UnsafeModelError``
    without sending anything if the scanner judges a file unsafe.
    """
    from modelyard.scan import scan

    source = Path(path)
    if not source.exists():
        raise HubError(f"nothing to push: {source} does not exist")
    notify = progress or (lambda _message: None)
    notify(f"scanning {source}")
    report = scan(str(source))
    _refuse_unsafe(report, f"push {source}")
    api = _api(endpoint, token)
    branch = revision or "main"
    with _hub_errors(api.endpoint):
        notify(f"creating {repo_id} if needed")
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        if branch != "main":
            api.create_branch(repo_id, branch=branch, repo_type=repo_type, exist_ok=True)
        notify(f"uploading to {repo_id}@{branch}")
        message = commit_message or f"Push {source.name} with modelyard"
        if source.is_dir():
            info = api.upload_folder(
                folder_path=source,
                repo_id=repo_id,
                repo_type=repo_type,
                revision=branch,
                commit_message=message,
            )
        else:
            info = api.upload_file(
                path_or_fileobj=source,
                path_in_repo=source.name,
                repo_id=repo_id,
                repo_type=repo_type,
                revision=branch,
                commit_message=message,
            )
    return PushResult(repo_id, branch, info.oid, info.commit_url, report)


def pull(
    repo_id: str,
    *,
    revision: str | None = None,
    out: str | os.PathLike[str] | None = None,
    repo_type: str = "model",
    endpoint: str | None = None,
    token: str | None = None,
    progress: Progress | None = None,
) -> PullResult:
    """Download ``repo_id`` at ``revision`` into ``out`` (default: ``./<name>``), scanned first.

    Files land in a staging folder next to ``out`` and are moved in only if nothing is unsafe;
    raises ``UnsafeModelError`` otherwise (the hub also refuses to serve quarantined files).
    """
    from huggingface_hub import snapshot_download

    from modelyard.scan import scan

    target = Path(out) if out is not None else Path(repo_id.split("/")[-1])
    target.parent.mkdir(parents=True, exist_ok=True)
    api = _api(endpoint, token)
    notify = progress or (lambda _message: None)
    staging = Path(tempfile.mkdtemp(prefix=".modelyard-pull-", dir=target.parent))
    try:
        with _hub_errors(api.endpoint):
            commit = api.repo_info(repo_id, repo_type=repo_type, revision=revision).sha
            assert commit is not None, "the hub always reports the commit of a revision"
            notify(f"downloading {repo_id}@{commit[:12]}")
            snapshot_download(
                repo_id,
                repo_type=repo_type,
                revision=commit,
                local_dir=staging,
                endpoint=api.endpoint,
                token=api.token,
            )
        shutil.rmtree(staging / ".cache", ignore_errors=True)
        notify(f"scanning {repo_id}")
        report = scan(str(staging))
        _refuse_unsafe(report, f"hand over {repo_id}")
        verdicts = {
            Path(file.path).relative_to(staging).as_posix(): str(file.verdict)
            for file in report.files
        }
        _move_into(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return PullResult(repo_id, commit, target, verdicts, report)


def _move_into(staging: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for source in sorted(staging.rglob("*")):
        if source.is_file():
            destination = target / source.relative_to(staging)
            destination.parent.mkdir(parents=True, exist_ok=True)
            source.replace(destination)
