"""JSON shapes of the Hub API, built from the service layer's dataclasses."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import Request

from modelyard.hub.server.api.deps import iso
from modelyard.hub.server.cards import repo_tags
from modelyard.hub.server.model import FileEntry, RepoType, RepoView, Snapshot, url_prefix
from modelyard.hub.server.scanning import QUARANTINED
from modelyard.hub.server.storage import git_blob_sha1, lfs_pointer


def blob_id(entry: FileEntry) -> str:
    """The git blob id the Hub reports: of the content, or of the LFS pointer for LFS files."""
    if entry.is_lfs:
        return git_blob_sha1(lfs_pointer(entry.sha256, entry.size))
    return entry.git_sha1


def lfs_info(entry: FileEntry, sha_key: str) -> dict[str, Any] | None:
    if not entry.is_lfs:
        return None
    pointer_size = len(lfs_pointer(entry.sha256, entry.size))
    return {sha_key: entry.sha256, "size": entry.size, "pointerSize": pointer_size}


def scan_status(entry: FileEntry) -> dict[str, Any]:
    """Per-file security status in the Hub's ``securityFileStatus`` shape plus our report."""
    verdict = entry.scan.verdict if entry.scan else "pending"
    status: dict[str, Any] = {
        "status": verdict,
        "avScan": {"virusFound": False},
        "pickleImportScan": pickle_import_scan(entry),
        "quarantined": verdict == QUARANTINED,
    }
    if entry.scan and verdict != "safe":
        status["summary"] = entry.scan.summary
    return status


def pickle_import_scan(entry: FileEntry) -> dict[str, Any] | None:
    """What the file's pickles import, each with its safety, as huggingface.co reports it
    (``None`` for a file that holds no pickle, or is not scanned yet)."""
    imports = entry.scan.imports if entry.scan else []
    if not imports:
        return None
    return {
        "highestSafetyLevel": str(max((found.safety for found in imports), key=lambda s: s.rank)),
        "imports": [found.to_dict() for found in imports],
    }


def security_status(files: list[FileEntry]) -> dict[str, Any]:
    """Repo-level security status: whether all files are scanned and which have issues."""
    return {
        "scansDone": all(entry.scan is not None for entry in files),
        "filesWithIssues": [
            {
                "path": entry.path,
                "level": entry.scan.verdict,
                "quarantined": entry.scan.verdict == QUARANTINED,
                "summary": entry.scan.summary,
                "pickleImportScan": pickle_import_scan(entry),
            }
            for entry in files
            if entry.scan is not None and entry.scan.verdict != "safe"
        ],
    }


def repo_url(request: Request, repo_type: RepoType, repo_id: str) -> str:
    """The web URL of a repo, which ``create_repo`` returns and ``RepoUrl`` parses."""
    return f"{str(request.base_url).rstrip('/')}/{url_prefix(repo_type)}{repo_id}"


def repo_summary(repo: RepoView) -> dict[str, Any]:
    """The fields of a repo in listings."""
    return {
        "_id": str(repo.pk),
        "id": repo.repo_id,
        "author": repo.namespace,
        "private": repo.private,
        "gated": False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "tags": repo_tags(repo.card_data),
        "library_name": repo.card_data.get("library_name"),
        "pipeline_tag": repo.card_data.get("pipeline_tag"),
        "createdAt": iso(repo.created_at),
        "lastModified": iso(repo.last_modified),
    }


def repo_info(snapshot: Snapshot) -> dict[str, Any]:
    """Full repo info at a revision: sha, siblings with scan status, security status."""
    status = security_status(snapshot.files)
    return {
        **repo_summary(snapshot.repo),
        "sha": snapshot.commit.oid,
        "lastModified": iso(snapshot.commit.created_at),
        "cardData": snapshot.repo.card_data,
        "siblings": [
            {
                "rfilename": entry.path,
                "size": entry.size,
                "blobId": blob_id(entry),
                "lfs": lfs_info(entry, "sha256"),
                "security": scan_status(entry),
            }
            for entry in snapshot.files
        ],
        "usedStorage": sum(entry.size for entry in snapshot.files),
        "securityRepoStatus": status,
        "securityStatus": status,
    }


def tree_file(entry: FileEntry) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "file",
        "oid": blob_id(entry),
        "size": entry.size,
        "path": entry.path,
        "securityFileStatus": scan_status(entry),
    }
    lfs = lfs_info(entry, "oid")
    if lfs is not None:
        item["lfs"] = lfs
    if entry.xet_hash is not None:
        item["xetHash"] = entry.xet_hash
    return item


def tree_folder(path: str, files: list[FileEntry]) -> dict[str, Any]:
    """A folder entry; its oid hashes the ids of everything below it."""
    digest = hashlib.sha1(usedforsecurity=False)
    prefix = path + "/"
    for entry in files:
        if entry.path.startswith(prefix):
            digest.update(f"{entry.path}\0{blob_id(entry)}\n".encode())
    return {"type": "directory", "oid": digest.hexdigest(), "size": 0, "path": path}


def tree(files: list[FileEntry], path: str, recursive: bool) -> list[dict[str, Any]] | None:
    """Entries under ``path`` ('' for the root); None if ``path`` is not a folder."""
    prefix = f"{path}/" if path else ""
    below = [entry for entry in files if entry.path.startswith(prefix)]
    if path and not below:
        return None
    folders: set[str] = set()
    items: list[dict[str, Any]] = []
    for entry in below:
        relative = entry.path[len(prefix) :].split("/")
        depth_limit = len(relative) - 1 if recursive else min(1, len(relative) - 1)
        for depth in range(1, depth_limit + 1):
            folders.add(prefix + "/".join(relative[:depth]))
        if recursive or len(relative) == 1:
            items.append(tree_file(entry))
    items.extend(tree_folder(folder, files) for folder in folders)
    return sorted(items, key=lambda item: item["path"])
