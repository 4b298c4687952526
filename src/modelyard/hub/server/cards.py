"""Model card metadata: the YAML front matter of a repo's README.md, and the tags it gives."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import yaml

from modelyard.hub.server.model import AddFile, DeleteFile, Operation

CARD_PATH = "README.md"
MAX_CARD_BYTES = 1024 * 1024


class CardError(ValueError):
    """The front matter is not valid YAML or not a mapping."""


def parse_front_matter(text: str) -> dict[str, Any]:
    """The mapping between the leading ``---`` fences, or {} if there is none."""
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end == -1:
        return {}
    try:
        data = yaml.safe_load(text[3:end])
    except yaml.YAMLError as error:
        raise CardError(f"invalid YAML metadata: {error}") from None
    except RecursionError:  # PyYAML composes nested nodes recursively
        raise CardError("invalid YAML metadata: it nests too deeply") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CardError("YAML metadata must be a mapping of keys to values")
    return data


def card_data_from_readme(start: bytes) -> dict[str, Any]:
    """Card metadata from the ``start`` of a stored README (``MAX_CARD_BYTES`` are read); a
    broken card yields {} (it is still committed)."""
    text = start.decode("utf-8", errors="replace")
    try:
        data = parse_front_matter(text)
    except CardError:
        return {}
    return json.loads(json.dumps(data, default=str))  # dates and the like become strings


def card_after_commit(
    operations: Sequence[Operation],
    files: Mapping[str, AddFile],
    read_start: Callable[[str, int], bytes],
) -> dict[str, Any] | None:
    """The card metadata once a commit leaves ``files``; None if it did not touch README.md.

    ``read_start(sha256, limit)`` gives the first ``limit`` bytes of a stored blob.
    """
    if not any(isinstance(op, AddFile | DeleteFile) and op.path == CARD_PATH for op in operations):
        return None
    readme = files.get(CARD_PATH)
    if readme is None:
        return {}
    return card_data_from_readme(read_start(readme.sha256, MAX_CARD_BYTES))


def repo_tags(card_data: dict[str, Any]) -> list[str]:
    """The Hub-style tags of a repo, from its model card metadata."""
    tags = [str(tag) for tag in card_data.get("tags") or []]
    for key in ("library_name", "pipeline_tag"):
        if card_data.get(key):
            tags.append(str(card_data[key]))
    license_name = card_data.get("license")
    if license_name:
        tags.append(f"license:{license_name}")
    return list(dict.fromkeys(tags))
