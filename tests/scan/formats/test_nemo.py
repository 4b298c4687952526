"""NeMo ``.nemo`` archives: a tar of the Hydra configuration, a PyTorch checkpoint and tokenizer
files. Archives laid out as NeMo writes them are safe; a payload in the checkpoint, a configuration
that builds a dangerous or foreign object, or a member that escapes the folder is flagged."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
import torch
import yaml

from modelyard.scan import scan
from tests.scan.conftest import rule_ids

CONFIG = """\
target: nemo.collections.asr.models.ctc_models.EncDecCTCModel
nemo_version: 1.23.0
sample_rate: 16000
preprocessor:
  _target_: nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor
  features: 64
encoder:
  _target_: nemo.collections.asr.modules.ConvASREncoder
  feat_in: 64
decoder: {_target_: nemo.collections.asr.modules.ConvASRDecoder, num_classes: 28}
optim:
  name: adamw
  lr: 0.001
  sched: {name: CosineAnnealing, warmup_steps: 100}
"""


class _Payload:
    def __reduce__(self) -> tuple[object, ...]:
        return os.system, ("true",)


def _nemo(
    path: Path, config: str = CONFIG, weights: object = None, mode: str = "w:", extra: str = ""
) -> Path:
    """A .nemo archive as NeMo's SaveRestoreConnector writes it: the folder added as "."."""
    folder = path.parent / f"{path.stem}-contents"
    folder.mkdir()
    (folder / "model_config.yaml").write_text(config)
    state = weights if weights is not None else torch.nn.Linear(4, 2).state_dict()
    torch.save(state, folder / "model_weights.ckpt")
    (folder / "vocab.txt").write_text("a\nb\n")
    with tarfile.open(path, mode) as archive:
        archive.add(folder, arcname=".")
        if extra:
            info = tarfile.TarInfo(extra)
            info.size = 4
            archive.addfile(info, io.BytesIO(b"boom"))
    return path


@pytest.mark.parametrize("mode", ["w:", "w:gz"])
def test_nemo_archives_are_safe(tmp_path, mode):
    result = scan(_nemo(tmp_path / "model.nemo", mode=mode)).files[0]
    assert (result.verdict, result.findings) == ("safe", [])
    assert result.format == ("nemo" if mode == "w:" else "nemo (gzip)")


def test_a_payload_in_the_checkpoint_is_unsafe(tmp_path):
    result = scan(_nemo(tmp_path / "model.nemo", weights={"w": _Payload()})).files[0]
    assert result.verdict == "unsafe" and "MY-PKL-001" in rule_ids(result)
    assert any("model_weights.ckpt" in (f.member or "") for f in result.findings)


def test_a_target_that_runs_commands_is_unsafe(tmp_path):
    config = CONFIG + "callback:\n  _target_: os.system\n  command: touch /tmp/owned\n"
    result = scan(_nemo(tmp_path / "model.nemo", config=config)).files[0]
    assert result.verdict == "unsafe" and rule_ids(result) == {"MY-PKL-001"}
    assert "os.system" in result.findings[0].message


def test_a_target_outside_nemo_is_suspicious(tmp_path):
    config = CONFIG.replace(
        "nemo.collections.asr.modules.ConvASREncoder", "'acme_layers.encoders.FastEncoder'"
    )
    result = scan(_nemo(tmp_path / "model.nemo", config=config)).files[0]
    assert result.verdict == "suspicious" and rule_ids(result) == {"MY-NEM-001"}
    assert result.findings[0].subject == "acme_layers.encoders.FastEncoder"


@pytest.mark.parametrize(
    "callback",
    [
        '_target_: "os.sys\\x74em"',
        "_target_: !!str os.system",
        "_target_:\n    os.system",
        "_target_: # the callback\n\n    os.system",
        "{_target_: 'os.system'}",
    ],
)
def test_a_target_is_read_as_yaml_reads_it(tmp_path, callback):
    config = f"{CONFIG}callback:\n  {callback}\n"
    assert yaml.safe_load(config)["callback"]["_target_"] == "os.system"
    result = scan(_nemo(tmp_path / "model.nemo", config=config)).files[0]
    assert result.verdict == "unsafe" and rule_ids(result) == {"MY-PKL-001"}


@pytest.mark.parametrize(
    "target",
    ["${oc.env:CALLBACK}", "'${my_resolver:callback}'", "${callbacks.first}", "*callback"],
)
def test_a_computed_target_is_suspicious(tmp_path, target):
    config = (
        f"{CONFIG}callbacks: {{first: &callback nemo.core.Callback}}\ncb:\n  _target_: {target}\n"
    )
    yaml.safe_load(config)
    result = scan(_nemo(tmp_path / "model.nemo", config=config)).files[0]
    assert result.verdict == "suspicious" and rule_ids(result) == {"MY-NEM-002"}
    assert target.strip("'") in result.findings[0].message


@pytest.mark.parametrize(
    "config",
    [
        "callbacks: {first: os.system}\ncb: {_target_: '${callbacks.first}', command: true}\n",
        "cb:\n  _target_: ${oc.select:callbacks.missing,builtins.exec}\n",
        "callbacks: {first: &callback subprocess.run}\ncb: {_target_: *callback}\n",
    ],
)
def test_a_computed_target_that_may_resolve_to_a_gadget_is_unsafe(tmp_path, config):
    yaml.safe_load(CONFIG + config)
    result = scan(_nemo(tmp_path / "model.nemo", config=CONFIG + config)).files[0]
    assert result.verdict == "unsafe" and rule_ids(result) == {"MY-PKL-001", "MY-NEM-002"}


def test_a_member_escaping_the_folder_is_flagged(tmp_path):
    result = scan(_nemo(tmp_path / "model.nemo", extra="../../.bashrc")).files[0]
    assert result.verdict == "suspicious" and "MY-ARC-002" in rule_ids(result)


def test_a_truncated_archive_is_an_error(tmp_path):
    data = _nemo(tmp_path / "model.nemo").read_bytes()
    (tmp_path / "cut.nemo").write_bytes(data[: len(data) // 2])
    assert scan(tmp_path / "cut.nemo").files[0].verdict == "error"


def test_the_configuration_on_its_own_is_judged(tmp_path):
    (tmp_path / "model_config.yaml").write_text(CONFIG + "x: {_target_: builtins.exec}\n")
    (tmp_path / "other.yaml").write_text(CONFIG)
    verdicts = {Path(r.path).name: (r.format, str(r.verdict)) for r in scan(tmp_path).files}
    assert verdicts == {
        "model_config.yaml": ("nemo-config", "unsafe"),
        "other.yaml": ("text", "safe"),
    }
