"""Validation of repo ids, ref names and file paths."""

from __future__ import annotations

import pytest

from modelyard.hub.errors import InvalidRequestError
from modelyard.hub.server.names import check_path, check_ref_name, split_repo_id


@pytest.mark.parametrize("path", ["a.txt", "dir/sub/file.bin", ".gitattributes", "a b/ü.txt"])
def test_ordinary_paths_are_accepted(path: str) -> None:
    assert check_path(path) == path


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "empty"),
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("/etc/passwd", "absolute"),
        ("a\\b", "backslash"),
        ("a\x00b", "NUL"),
        ("a//b", "empty"),
        ("a/", "empty"),
        ("./a", "'.'"),
        ("a\nb", "control"),
        ("x" * 1025, "longer"),
    ],
)
def test_dangerous_paths_are_rejected_with_the_reason(path: str, reason: str) -> None:
    with pytest.raises(InvalidRequestError, match=reason):
        check_path(path)


@pytest.mark.parametrize("repo_id", ["alone", "a/b/c", "../x", "a/..", "a/b.git", "-a/b", "a/ b"])
def test_bad_repo_ids_are_rejected(repo_id: str) -> None:
    with pytest.raises(InvalidRequestError):
        split_repo_id(repo_id)


def test_ref_names_are_flat_and_safe() -> None:
    assert check_ref_name("v1.0-rc_1") == "v1.0-rc_1"
    for bad in ("refs/heads/x", "a..b", "x.lock", "", "-x"):
        with pytest.raises(InvalidRequestError):
            check_ref_name(bad)
