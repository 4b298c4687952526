"""Repo routes through the real huggingface_hub client: identity, repos, listings, tree, refs."""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import (
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile, RepoFolder
from huggingface_hub.utils import get_session


def test_whoami_names_the_token_owner_and_rejects_bad_tokens(hub, tokens, api: HfApi) -> None:
    assert api.whoami()["name"] == "alice"
    assert [
        org["name"] for org in HfApi(endpoint=hub.url, token=tokens.carol).whoami()["orgs"]
    ] == ["acme"]
    with pytest.raises(HfHubHTTPError) as error:
        HfApi(endpoint=hub.url, token="myd_not-a-token").whoami()
    assert error.value.response.status_code == 401


def test_create_repo_is_idempotent_with_exist_ok_and_409_carries_the_url(
    hub, api: HfApi, repo_name: str
) -> None:
    url = api.create_repo(f"alice/{repo_name}")
    assert url.repo_id == f"alice/{repo_name}"
    assert url == f"{hub.url}/alice/{repo_name}"
    assert api.create_repo(f"alice/{repo_name}", exist_ok=True).repo_id == f"alice/{repo_name}"
    with pytest.raises(HfHubHTTPError) as error:
        api.create_repo(f"alice/{repo_name}")
    assert error.value.response.status_code == 409
    assert error.value.response.json()["url"] == f"{hub.url}/alice/{repo_name}"
    info = api.model_info(f"alice/{repo_name}")
    assert len(info.sha) == 40
    assert [s.rfilename for s in info.siblings] == [".gitattributes"]
    assert info.created_at is not None and info.last_modified is not None


def test_datasets_are_a_separate_repo_type(api: HfApi, repo_name: str, tmp_path: Path) -> None:
    api.create_repo(f"alice/{repo_name}", repo_type="dataset")
    api.upload_file(
        path_or_fileobj=b"a,b\n1,2\n",
        path_in_repo="data.csv",
        repo_id=f"alice/{repo_name}",
        repo_type="dataset",
    )
    api.upload_file(
        path_or_fileobj=b"x" * 9000,
        path_in_repo="big.parquet",
        repo_id=f"alice/{repo_name}",
        repo_type="dataset",
    )
    info = api.dataset_info(f"alice/{repo_name}")
    assert {s.rfilename for s in info.siblings} == {".gitattributes", "data.csv", "big.parquet"}
    local = hf_hub_download(
        f"alice/{repo_name}",
        "big.parquet",
        repo_type="dataset",
        endpoint=api.endpoint,
        token=api.token,
        cache_dir=tmp_path,
    )
    assert Path(local).read_bytes() == b"x" * 9000
    assert not api.repo_exists(f"alice/{repo_name}")
    assert api.repo_exists(f"alice/{repo_name}", repo_type="dataset")
    assert f"alice/{repo_name}" in {d.id for d in api.list_datasets(author="alice")}


def test_model_info_reports_sha_siblings_and_security_status(api: HfApi, repo_name: str) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    commit = api.upload_file(path_or_fileobj=b"x" * 5000, path_in_repo="w/big.bin", repo_id=repo)
    info = api.model_info(repo, files_metadata=True, securityStatus=True)
    assert info.sha == commit.oid
    big = next(s for s in info.siblings if s.rfilename == "w/big.bin")
    assert big.size == 5000
    assert big.lfs is not None and big.lfs.size == 5000 and len(big.lfs.sha256) == 64
    assert info.security_repo_status == {"scansDone": True, "filesWithIssues": []}
    assert info.securityStatus["scansDone"] is True
    raw = get_session().get(f"{api.endpoint}/api/models/{repo}").json()
    assert raw["lastModified"].endswith("Z") and raw["createdAt"].endswith("Z")


def test_tree_lists_recursively_and_by_folder_across_pages(api: HfApi, repo_name: str) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    folder = {f"a/b/f{i}.txt": f"content {i}".encode() for i in range(4)}
    folder["a/top.txt"] = b"top"
    folder["root.txt"] = b"root"
    from huggingface_hub import CommitOperationAdd

    api.create_commit(
        repo,
        [CommitOperationAdd(path, data) for path, data in folder.items()],
        commit_message="tree",
    )
    assert sorted(api.list_repo_files(repo)) == sorted([".gitattributes", *folder])
    recursive = list(api.list_repo_tree(repo, recursive=True))  # page size is 3: several pages
    assert {e.path for e in recursive if isinstance(e, RepoFolder)} == {"a", "a/b"}
    assert {e.path for e in recursive if isinstance(e, RepoFile)} == {".gitattributes", *folder}
    top = list(api.list_repo_tree(repo, path_in_repo="a"))
    assert {(type(e).__name__, e.path) for e in top} == {
        ("RepoFolder", "a/b"),
        ("RepoFile", "a/top.txt"),
    }
    with pytest.raises(RemoteEntryNotFoundError):
        list(api.list_repo_tree(repo, path_in_repo="nope"))
    paths = api.get_paths_info(repo, ["a/top.txt", "a/b", "missing"])
    assert {(type(e).__name__, e.path) for e in paths} == {
        ("RepoFile", "a/top.txt"),
        ("RepoFolder", "a/b"),
    }


def test_list_models_filters_sorts_limits_and_paginates(hub, tokens, api: HfApi) -> None:
    names = [f"listing-{i}" for i in range(5)]
    for name in names:
        api.create_repo(f"alice/{name}", exist_ok=True)
    api.upload_file(
        path_or_fileobj=b"---\ntags: [tabular, special-tag]\nlibrary_name: sklearn\n"
        b"license: mit\n---\n# card\n",
        path_in_repo="README.md",
        repo_id="alice/listing-3",
    )
    found = [m.id for m in api.list_models(search="listing-")]  # more than one page of 3
    assert sorted(found) == sorted(f"alice/{n}" for n in names)
    assert [m.id for m in api.list_models(filter="special-tag")] == ["alice/listing-3"]
    assert [m.id for m in api.list_models(filter=["sklearn", "license:mit"])] == ["alice/listing-3"]
    assert len(list(api.list_models(search="listing-", limit=2))) == 2
    newest = next(iter(api.list_models(search="listing-", sort="last_modified")))
    assert newest.id == "alice/listing-3"
    assert {m.author for m in api.list_models(author="alice")} == {"alice"}
    assert list(HfApi(endpoint=hub.url, token=tokens.bob).list_models(author="nobody-here")) == []


def test_private_repos_are_invisible_to_others(hub, tokens, api: HfApi, repo_name: str) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo, private=True)
    api.upload_file(path_or_fileobj=b"secret", path_in_repo="s.txt", repo_id=repo)
    assert api.model_info(repo).private is True
    for other in (HfApi(endpoint=hub.url, token=tokens.bob), HfApi(endpoint=hub.url, token=False)):
        with pytest.raises(RepositoryNotFoundError):
            other.model_info(repo)
        assert not other.repo_exists(repo)
        assert not other.file_exists(repo, "s.txt")
        assert repo not in {m.id for m in other.list_models(search=repo_name)}
        assert repo not in {m.id for m in other.list_models(author="alice")}
        with pytest.raises(RepositoryNotFoundError):
            other.hf_hub_download(repo, "s.txt")
        with pytest.raises(RepositoryNotFoundError):
            other.list_repo_refs(repo)
    assert repo in {m.id for m in api.list_models(search=repo_name)}


def test_users_write_only_to_their_namespace_and_their_orgs(hub, tokens, repo_name: str) -> None:
    bob = HfApi(endpoint=hub.url, token=tokens.bob)
    carol = HfApi(endpoint=hub.url, token=tokens.carol)
    with pytest.raises(HfHubHTTPError) as error:
        bob.create_repo(f"alice/{repo_name}")
    assert error.value.response.status_code == 403
    carol.create_repo(f"acme/{repo_name}")
    carol.upload_file(path_or_fileobj=b"org", path_in_repo="o.txt", repo_id=f"acme/{repo_name}")
    with pytest.raises(HfHubHTTPError) as error:
        bob.upload_file(path_or_fileobj=b"no", path_in_repo="o.txt", repo_id=f"acme/{repo_name}")
    assert error.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError):
        bob.delete_repo(f"acme/{repo_name}")
    assert carol.file_exists(f"acme/{repo_name}", "o.txt")


def test_branches_and_tags_are_created_listed_and_deleted(api: HfApi, repo_name: str) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    first = api.upload_file(path_or_fileobj=b"v1", path_in_repo="v.txt", repo_id=repo).oid
    api.create_branch(repo, branch="dev")
    api.create_tag(repo, tag="v1.0", tag_message="first")
    second = api.upload_file(path_or_fileobj=b"v2", path_in_repo="v.txt", repo_id=repo).oid
    api.upload_file(path_or_fileobj=b"dev", path_in_repo="d.txt", repo_id=repo, revision="dev")
    refs = api.list_repo_refs(repo)
    assert {b.name: b.target_commit for b in refs.branches}["main"] == second
    assert {t.name: t.target_commit for t in refs.tags} == {"v1.0": first}
    with pytest.raises(HfHubHTTPError) as error:
        api.create_branch(repo, branch="dev")
    assert error.value.response.status_code == 409
    api.create_branch(repo, branch="dev", exist_ok=True)
    api.create_branch(repo, branch="from-tag", revision="v1.0")
    assert {b.name for b in api.list_repo_refs(repo).branches} == {"main", "dev", "from-tag"}
    assert api.list_repo_files(repo, revision="dev") == [".gitattributes", "d.txt", "v.txt"]
    api.delete_branch(repo, branch="from-tag")
    api.delete_tag(repo, tag="v1.0")
    refs = api.list_repo_refs(repo)
    assert {b.name for b in refs.branches} == {"main", "dev"} and refs.tags == []
    with pytest.raises(HfHubHTTPError) as error:
        api.delete_branch(repo, branch="main")
    assert error.value.response.status_code == 403
    with pytest.raises(RevisionNotFoundError):
        api.model_info(repo, revision="v1.0")


def test_commits_are_listed_newest_first_with_40_hex_ids(api: HfApi, repo_name: str) -> None:
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    oids = [
        api.upload_file(
            path_or_fileobj=str(i).encode(),
            path_in_repo="n.txt",
            repo_id=repo,
            commit_message=f"commit {i}",
        ).oid
        for i in range(3)
    ]
    commits = api.list_repo_commits(repo)  # 4 commits, pages of 3
    assert [c.commit_id for c in commits[:3]] == oids[::-1]
    assert [c.title for c in commits] == ["commit 2", "commit 1", "commit 0", "initial commit"]
    assert all(len(c.commit_id) == 40 for c in commits) and commits[0].authors == ["alice"]
    assert [c.commit_id for c in api.list_repo_commits(repo, revision=oids[1])] == [
        oids[1],
        oids[0],
        commits[-1].commit_id,
    ]


def test_repo_and_revision_errors_map_to_the_client_error_types(api: HfApi, repo_name: str) -> None:
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("alice/does-not-exist")
    api.create_repo(f"alice/{repo_name}")
    with pytest.raises(RevisionNotFoundError):
        api.model_info(f"alice/{repo_name}", revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        api.list_repo_commits(f"alice/{repo_name}", revision="no-such-branch")
    assert api.repo_exists(f"alice/{repo_name}")
    api.delete_repo(f"alice/{repo_name}")
    assert not api.repo_exists(f"alice/{repo_name}")
    with pytest.raises(RepositoryNotFoundError):
        api.delete_repo(f"alice/{repo_name}")
    api.delete_repo(f"alice/{repo_name}", missing_ok=True)


def test_validate_yaml_accepts_cards_and_rejects_broken_metadata(hub) -> None:
    session = get_session()
    ok = session.post(
        f"{hub.url}/api/validate-yaml",
        json={"content": "---\nlicense: mit\n---\nhi", "repoType": "model"},
    )
    assert ok.status_code == 200
    bad = session.post(
        f"{hub.url}/api/validate-yaml",
        json={"content": "---\n- [unclosed\n---\n", "repoType": "model"},
    )
    assert bad.status_code == 400 and "YAML" in bad.headers["X-Error-Message"]
