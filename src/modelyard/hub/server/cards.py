"""Model card metadata: the YAML front matter of a repo's README.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

_MAX_CARD_BYTES = 1024 * 1024


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


def card_data_from_readme(path: Path) -> dict[str, Any]:
    """Card metadata of a stored README; a broken card yields {} (it is still committed)."""
    with path.open("rb") as file:
        text = file.read(_MAX_CARD_BYTES).decode("utf-8", errors="replace")
    try:
        data = parse_front_matter(text)
    except CardError:
        return {}
    return json.loads(json.dumps(data, default=str))  # dates and the like become strings
