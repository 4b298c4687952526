"""``transformers`` loads a tiny model straight from the hub (``from_pretrained``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import HfApi

SCRIPT = """
import sys
from transformers import AutoModel, BertConfig, BertModel
source, repo = sys.argv[1], sys.argv[2]
if sys.argv[3] == "save":
    config = BertConfig(vocab_size=32, hidden_size=8, num_hidden_layers=1,
                        num_attention_heads=1, intermediate_size=8)
    BertModel(config).save_pretrained(source)
else:
    model = AutoModel.from_pretrained(repo)
    print(type(model).__name__, model.config.hidden_size)
"""


def test_from_pretrained_loads_a_tiny_model_from_the_hub(hub, tokens, tmp_path: Path) -> None:
    pytest.importorskip("transformers", reason="transformers is not installed")
    source = tmp_path / "tiny-bert"
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.url,
        "HF_TOKEN": tokens.alice,
        "HF_HOME": str(tmp_path / "hf-home"),
    }

    def run(mode: str) -> str:
        args = [sys.executable, "-c", SCRIPT, str(source), "alice/tiny-bert", mode]
        result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return result.stdout

    run("save")
    api = HfApi(endpoint=hub.url, token=tokens.alice)
    api.create_repo("alice/tiny-bert", exist_ok=True)
    api.upload_folder(folder_path=source, repo_id="alice/tiny-bert")
    assert run("load").split() == ["BertModel", "8"]
