"""A whole model repository snapshot, as `modelyard scan ./snapshot/` sees it: every format a
hub carries, each file in the table, one overall verdict, and every finding in SARIF."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from gguf import GGUFWriter
from safetensors.numpy import save_file

from modelyard.scan import scan
from tests.samples import save_onnx_with_external_data

MODELYARD = str(Path(sys.executable).with_name("modelyard"))
MODELING = "import torch\n\n\nclass TinyModel(torch.nn.Module):\n    pass\n"
PROTOTXT = 'name: "tiny"\nlayer { name: "data" type: "Input" top: "data" }\n'


def _gguf(path: Path) -> None:
    writer = GGUFWriter(str(path), "llama")
    writer.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    writer.add_tensor("token_embd.weight", np.ones((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    """A benign repository with one of everything (custom modelling code included)."""
    folder = tmp_path / "snapshot"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "tiny", "hidden_size": 8}))
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# tiny\n")
    save_file({"weight": np.ones((2, 2), dtype=np.float32)}, folder / "model.safetensors")
    torch.save(torch.nn.Linear(2, 2).state_dict(), folder / "pytorch_model.bin")
    save_onnx_with_external_data(folder / "model.onnx", "model.onnx_data")
    _gguf(folder / "tiny.gguf")
    (folder / "deploy.prototxt").write_text(PROTOTXT)
    (folder / "modeling_tiny.py").write_text(MODELING)
    np.savez_compressed(folder / "weights.npz", w=np.arange(10.0))
    return folder


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MODELYARD, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_every_file_gets_its_format_and_the_repo_one_verdict(snapshot):
    report = scan(snapshot)
    formats = {Path(r.path).name: (r.format, str(r.verdict)) for r in report.files}
    assert formats == {
        "README.md": ("text", "safe"),
        "config.json": ("text", "safe"),
        "deploy.prototxt": ("caffe-prototxt", "safe"),
        "model.onnx": ("onnx", "safe"),
        "model.onnx_data": ("tensor-data", "safe"),
        "model.safetensors": ("safetensors", "safe"),
        "modeling_tiny.py": ("python", "suspicious"),
        "pytorch_model.bin": ("pytorch", "safe"),
        "tiny.gguf": ("gguf", "safe"),
        "weights.npz": ("numpy-npz", "safe"),
    }
    assert report.verdict == "suspicious" and report.exit_code() == 0


def test_cli_table_verdict_and_sarif_for_a_repository(snapshot, tmp_path):
    text = run("scan", snapshot)
    assert text.returncode == 0
    for name in ("model.onnx_data", "modeling_tiny.py", "tiny.gguf", "pytorch_model.bin"):
        assert name in text.stdout
    assert "SUSPICIOUS: 10 file(s) scanned" in text.stdout
    assert run("scan", "--strict", snapshot).returncode == 1

    (snapshot / "optimizer.pt").write_bytes(pickle.dumps({"step": 1}))
    (snapshot / "extra" / "nested").mkdir(parents=True)
    (snapshot / "extra" / "nested" / "state").write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    sarif = tmp_path / "report.sarif"
    assert run("scan", "-f", "sarif", "-o", sarif, snapshot).returncode == 1
    document = json.loads(run("scan", "-f", "json", snapshot).stdout)
    assert document["verdict"] == "unsafe" and document["summary"]["files"] == 12
    findings = [(f["path"], x["rule_id"]) for f in document["files"] for x in f["findings"]]
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    uris = [(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["ruleId"])
            for r in results]  # fmt: skip
    assert sorted(uris) == sorted(findings)
    assert any(path.endswith("extra/nested/state") and rule == "MY-PKL-001" for path, rule in uris)
