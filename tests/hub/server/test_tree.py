"""The pure tree functions: operations applied to a tree, the folder rule, commit ids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelyard.hub.errors import EntryNotFoundError, InvalidRequestError
from modelyard.hub.server.model import AddFile, DeleteFile, DeleteFolder
from modelyard.hub.server.tree import apply_operations, check_folders, commit_oid

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _tree(*paths: str) -> dict[str, AddFile]:
    return {path: AddFile(path, "0" * 64, False) for path in paths}


def test_operations_add_replace_and_delete_in_order() -> None:
    files = _tree("README.md", "weights/a.bin", "weights/b.bin", "old.txt")
    new_readme = AddFile("README.md", "1" * 64, True)
    apply_operations(
        files,
        [
            new_readme,
            DeleteFile("old.txt"),
            DeleteFolder("weights"),
            AddFile("x/y", "2" * 64, False),
        ],
    )
    assert files == {"README.md": new_readme, "x/y": AddFile("x/y", "2" * 64, False)}


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (DeleteFile("absent.txt"), "cannot delete 'absent.txt': no such file"),
        (DeleteFolder("absent"), "cannot delete folder 'absent': no such folder"),
    ],
)
def test_deleting_what_does_not_exist_is_entry_not_found(
    operation: DeleteFile | DeleteFolder, message: str
) -> None:
    with pytest.raises(EntryNotFoundError, match=message):
        apply_operations(_tree("README.md"), [operation])


@pytest.mark.parametrize("path", ["../escape", "/absolute", "a//b", ""])
def test_every_operation_path_is_validated(path: str) -> None:
    with pytest.raises(InvalidRequestError, match="invalid file path"):
        apply_operations(_tree(), [AddFile(path, "0" * 64, False)])


@pytest.mark.parametrize(
    ("existing", "added"),
    [("model", "model/config.json"), ("model/config.json", "model")],
)
def test_a_file_cannot_stand_where_a_folder_is(existing: str, added: str) -> None:
    with pytest.raises(InvalidRequestError, match="to be a folder, but it is a file"):
        apply_operations(_tree(existing), [AddFile(added, "0" * 64, False)])


def test_the_folder_rule_names_the_file_in_the_way() -> None:
    check_folders(["a/b/c", "a/b/d", "ab"])
    with pytest.raises(InvalidRequestError, match="'a/b/c' needs 'a/b' to be a folder"):
        check_folders(["a/b/c", "a/b"])


def test_commit_ids_are_git_like_and_cover_tree_parent_author_time_and_message() -> None:
    files = _tree("a", "b")
    oid = commit_oid(files, None, "alice", WHEN, "title\n\n")
    assert len(oid) == 40 and int(oid, 16) >= 0
    assert commit_oid(dict(reversed(files.items())), None, "alice", WHEN, "title\n\n") == oid
    others = {
        commit_oid(_tree("a"), None, "alice", WHEN, "title\n\n"),
        commit_oid({**files, "a": AddFile("a", "0" * 64, True)}, None, "alice", WHEN, "title\n\n"),
        commit_oid(files, "f" * 40, "alice", WHEN, "title\n\n"),
        commit_oid(files, None, "bob", WHEN, "title\n\n"),
        commit_oid(files, None, "alice", WHEN.replace(second=6), "title\n\n"),
        commit_oid(files, None, "alice", WHEN, "other\n\n"),
    }
    assert oid not in others and len(others) == 6
