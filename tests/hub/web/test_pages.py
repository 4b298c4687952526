"""The web pages against a live hub: browsing, filters, a sanitized card, scan reports, privacy;
and the same flow in headless Chromium driven by Playwright."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from tests.hub.conftest import HubServer, start_server

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
CARD = """---
library_name: modelyard
pipeline_tag: tabular-classification
tags: [penguins]
---
# Penguins

<script>window.hacked = true</script>
<img src=x onerror="window.hacked = true">
[click](javascript:window.hacked=true)
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[HubServer, str]:
    root = tmp_path_factory.mktemp("web")
    server = start_server(root / "data")
    token = server.token("ada")
    api = HfApi(endpoint=server.url, token=token)
    api.create_repo("ada/penguins")
    folder = root / "model"
    folder.mkdir()
    (folder / "README.md").write_text(CARD)
    (folder / "modelyard.json").write_text(
        json.dumps({"metrics": {"accuracy": 0.9712, "rows": 344}})
    )
    (folder / "weights.pkl").write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    api.upload_folder(folder_path=folder, repo_id="ada/penguins")
    api.create_repo("ada/secret", private=True)
    api.create_repo("ada/regression-model")
    api.create_repo("ada/measurements", repo_type="dataset")
    api.upload_file(
        path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data.csv",
        repo_id="ada/measurements", repo_type="dataset",
    )  # fmt: skip
    yield server, token
    server.stop()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_home_lists_public_repos_with_filters(site):
    server, _ = site
    status, page = get(server.url + "/")
    assert status == 200
    assert "ada/penguins" in page and "ada/regression-model" in page
    assert "ada/secret" not in page
    _, filtered = get(server.url + "/?task=tabular-classification")
    assert "ada/penguins" in filtered and "ada/regression-model" not in filtered
    _, searched = get(server.url + "/?search=regression")
    assert "ada/regression-model" in searched and "ada/penguins" not in searched


def test_model_page_sanitizes_the_card_and_shows_metrics_and_badges(site):
    server, _ = site
    status, page = get(server.url + "/ada/penguins")
    assert status == 200
    assert "<script>window.hacked" not in page and "<img src=x" not in page  # shown as text
    assert 'href="javascript:' not in page
    assert "0.9712" in page and "344" in page
    assert "unsafe · quarantined" in page and "snapshot_download" in page


def test_scan_report_page_explains_each_finding(site):
    server, _ = site
    status, page = get(server.url + "/ada/penguins/scan/main/weights.pkl")
    assert status == 200
    assert "MY-PKL-001" in page and "os.system" in page and "quarantined" in page


def test_scan_report_page_lists_the_detected_pickle_imports(site):
    server, _ = site
    _, page = get(server.url + "/ada/penguins/scan/main/weights.pkl")
    imports = page.split("Detected pickle imports (1)", 1)[1]
    assert "<code>os.system</code>" in imports and "dangerous" in imports
    _, card = get(server.url + "/ada/penguins/scan/main/README.md")
    assert "Detected pickle imports" not in card


def test_dataset_page_links_each_file_to_its_scan_report(site):
    server, _ = site
    status, page = get(server.url + "/datasets/ada/measurements")
    assert status == 200 and "data.csv" in page
    commit = page.split("/datasets/ada/measurements/scan/", 1)[1].split("/", 1)[0]
    status, report = get(f"{server.url}/datasets/ada/measurements/scan/{commit}/data.csv")
    assert status == 200 and "<h1>data.csv" in report
    assert 'href="/datasets/ada/measurements?revision=' in report


def test_private_repos_are_not_found(site):
    server, _ = site
    assert get(server.url + "/ada/secret")[0] == 404


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_browse_search_open_read_a_report_and_sign_in_in_chromium(site):
    from playwright.sync_api import sync_playwright

    server, token = site
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server.url + "/")
        page.fill("input[name=search]", "penguins")
        page.press("input[name=search]", "Enter")
        page.wait_for_load_state()
        page.screenshot(path=ARTIFACTS / "hub-search.png", full_page=True)
        assert page.locator("ul.repos a").all_inner_texts() == ["ada/penguins"]
        page.click("text=ada/penguins")
        page.wait_for_load_state()
        assert page.evaluate("window.hacked") is None  # the card's script never ran
        page.screenshot(path=ARTIFACTS / "hub-model.png", full_page=True)
        page.click("a.badge-unsafe")
        page.wait_for_load_state()
        page.screenshot(path=ARTIFACTS / "hub-scan-report.png", full_page=True)
        assert "MY-PKL-001" in page.inner_text("ol.findings")
        page.click("text=Sign in")
        page.fill("input[name=token]", token)
        page.click("button:has-text('Sign in')")
        page.wait_for_load_state()
        page.screenshot(path=ARTIFACTS / "hub-signed-in.png", full_page=True)
        assert "ada/secret" in page.locator("ul.repos").first.inner_text()
        browser.close()
    assert (ARTIFACTS / "hub-scan-report.png").stat().st_size > 10_000


def _session(server: HubServer, token: str) -> urllib.request.OpenerDirector:
    """A browser-like client signed in with ``token`` (cookies kept)."""
    import http.cookiejar
    import urllib.parse

    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    body = urllib.parse.urlencode({"token": token}).encode()
    with opener.open(server.url + "/login", data=body, timeout=30) as response:
        assert response.status == 200  # redirected to the home page
    return opener


def test_sign_in_shows_private_repos_and_manages_tokens(site):
    import re
    import urllib.parse

    server, token = site
    opener = _session(server, token)
    with opener.open(server.url + "/", timeout=30) as response:
        home = response.read().decode()
    assert "ada/secret" in home and "Sign out" in home
    with opener.open(server.url + "/ada/secret", timeout=30) as response:
        assert response.status == 200
    with opener.open(server.url + "/settings/tokens", timeout=30) as response:
        page = response.read().decode()
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    forged = urllib.parse.urlencode({"csrf": "0" * 64}).encode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(server.url + "/settings/tokens", data=forged, timeout=30)
    assert refused.value.code == 403
    created = urllib.parse.urlencode({"csrf": csrf}).encode()
    with opener.open(server.url + "/settings/tokens", data=created, timeout=30) as response:
        new_token = re.search(r'id="new-token">([^<]+)<', response.read().decode()).group(1)
    assert HfApi(endpoint=server.url, token=new_token).whoami()["name"] == "ada"
    with opener.open(server.url + "/settings/tokens", timeout=30) as response:
        newest = max(
            map(int, re.findall(r"/settings/tokens/(\d+)/revoke", response.read().decode()))
        )
    opener.open(f"{server.url}/settings/tokens/{newest}/revoke", data=created, timeout=30).close()
    with pytest.raises(HfHubHTTPError, match="Invalid user token"):
        HfApi(endpoint=server.url, token=new_token).whoami()


def test_a_bad_token_does_not_sign_in(site):
    import urllib.parse

    server, _ = site
    body = urllib.parse.urlencode({"token": "myd_not-a-token"}).encode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(server.url + "/login", data=body, timeout=30)
    assert refused.value.code == 401
