"""``modelyard hub serve --demo`` (what ``make run`` starts): models trained on bundled data,
pushed through the normal path, one quarantined upload, and reuse on the second start."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.hub.conftest import MODELYARD, free_port

pytestmark = pytest.mark.slow


def start_demo(data_dir: Path, port: int, log: Path) -> tuple[subprocess.Popen[str], str]:
    """Start the demo hub (its messages go to ``log``) and wait for the line with its token."""
    process = subprocess.Popen(
        [MODELYARD, "hub", "serve", "--demo", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        env={**os.environ, "COLUMNS": "400"},
    )
    deadline = time.monotonic() + 900
    assert process.stdout is not None
    for line in process.stdout:
        if "demo token" in line:
            return process, line.rsplit(" ", 1)[-1].strip()
        if time.monotonic() > deadline:
            break
    process.kill()
    raise AssertionError("the demo hub never printed its token")


def test_demo_content_and_reuse(tmp_path):
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    port = free_port()
    process, token = start_demo(tmp_path / "hub", port, tmp_path / "first.log")
    try:
        api = HfApi(endpoint=f"http://127.0.0.1:{port}", token=token)
        repos = {model.id for model in api.list_models(author="demo")}
        assert len(repos) == 7 and "demo/quarantine-example" in repos
        info = api.model_info("demo/digits-keras-cnn", files_metadata=True)
        assert {sibling.rfilename for sibling in info.siblings} >= {"model.keras", "modelyard.json"}
        with pytest.raises(HfHubHTTPError, match="quarantined"):
            hf_hub_download(
                "demo/quarantine-example", "model.pkl", endpoint=api.endpoint, token=token,
                cache_dir=tmp_path / "cache",
            )  # fmt: skip
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "training keras.cnn" in (tmp_path / "first.log").read_text()
    process, second_token = start_demo(tmp_path / "hub", port, tmp_path / "second.log")
    process.terminate()
    process.wait(timeout=30)
    assert second_token == token
    assert "training" not in (tmp_path / "second.log").read_text()  # the data was reused
