"""NVIDIA NeMo's ``model_config.yaml``, the architecture inside every ``.nemo`` archive.

A ``.nemo`` file is a tar archive (read by the tar reader) of this configuration, the weights
(``model_weights.ckpt``, a PyTorch checkpoint that the zip and pickle readers judge) and
tokenizer files. NeMo builds the model with Hydra: every ``_target_`` (and the model's
``target``) names a class or function that is imported and called with the arguments beside it,
so a configuration can call ``os.system`` as surely as a pickle can.
"""

from __future__ import annotations

import re
from typing import ClassVar

from modelyard.scan import rules
from modelyard.scan.formats.base import ScanContext, Stream
from modelyard.scan.formats.signatures import NEMO_CONFIG_NAME
from modelyard.scan.pickle.values import Global
from modelyard.scan.policy import Judgement, judge
from modelyard.scan.report import Severity

# `_target_: pkg.mod.Name` or `target: pkg.mod.Name`, in block or flow style, quoted or not.
_TARGET = re.compile(
    r"""(?:^|[\s{,])["']?(_target_|target)["']?\s*:\s*["']?([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+)""",
    re.MULTILINE,
)
# Packages whose classes NeMo configurations build; their objects are the model itself.
_MODEL_PACKAGES = ("nemo", "torch", "pytorch_lightning", "lightning", "omegaconf", "megatron")

HYDRA_TARGET = rules.register(
    "MY-NEM-001",
    Severity.SUSPICIOUS,
    "NeMo configuration builds an object from outside NeMo",
    """The model's configuration names a class or function (Hydra's _target_, or the model's
    target) from a package other than NeMo, PyTorch or Lightning. NeMo imports it and calls it
    with the arguments beside it when the model is restored, so its code runs. It may be a
    legitimate custom module; restore the model only if you trust it and the model's author.""",
)


class NemoConfigReader:
    """``model_config.yaml``: a NeMo model's Hydra configuration (defined by its name)."""

    name: ClassVar[str] = "nemo-config"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return stream.name == NEMO_CONFIG_NAME

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        raw = ctx.whole("NeMo configuration")
        if raw is None:
            return
        seen: set[str] = set()
        for match in _TARGET.finditer(raw.decode("utf-8", "replace")):
            key, target = match.groups()
            if target in seen:
                continue
            seen.add(target)
            module, _, attribute = target.rpartition(".")
            decision = judge(Global(module, attribute))
            if decision.judgement is Judgement.DENIED:
                ctx.report(
                    rules.DANGEROUS_GLOBAL,
                    f"{key} {target}: NeMo would call it, and it {decision.reason}",
                    subject=target,
                )
            elif (
                decision.judgement is Judgement.UNKNOWN
                and target.split(".")[0] not in _MODEL_PACKAGES
            ):
                ctx.report(HYDRA_TARGET, f"{key} {target}: NeMo would import it", subject=target)
