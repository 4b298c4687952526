"""NVIDIA NeMo's ``model_config.yaml``, the architecture inside every ``.nemo`` archive.

A ``.nemo`` file is a tar archive (read by the tar reader) of this configuration, the weights
(``model_weights.ckpt``, a PyTorch checkpoint that the zip and pickle readers judge) and
tokenizer files. NeMo builds the model with Hydra: every ``_target_`` (and the model's
``target``) names a class or function that is imported and called with the arguments beside it,
so a configuration can call ``os.system`` as surely as a pickle can. Targets are read as YAML
reads them (quotes, escapes, tags, a value on the next line); one that OmegaConf computes when the
model is restored (an interpolation or a YAML alias) cannot be judged, and makes every dangerous
name the configuration holds count as called.
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

# A `_target_` or `target` key, in block or flow style, quoted or not; its value follows.
_TARGET_KEY = re.compile(r"""(?:^|[\s{,])(["']?)(_target_|target)\1[ \t]*:[ \t]*""", re.MULTILINE)
_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+"
_TARGET = re.compile(_DOTTED)
# Every dotted name in the text, wherever it stands: what a computed target may resolve to.
_NAMES = re.compile(rf"(?<![\w.]){_DOTTED}")
# The next indented line (past blank and comment lines), which may continue a plain value.
_NEXT_LINE = re.compile(r"(?:[ \t]*(?:#[^\n]*)?\n)*[ \t]+([^\s#][^\n]*)")
# A line that starts a mapping entry or a list item, not a value.
_ENTRY = re.compile(r"^[-?](?:[ \t]|$)|:(?:[ \t]|$)")
# A YAML anchor (`&name`) or tag (`!!str`) before a value: YAML drops both from the value.
_PROPERTIES = re.compile(r"^(?:[&!]\S*[ \t]+)+")
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
COMPUTED_TARGET = rules.register(
    "MY-NEM-002",
    Severity.SUSPICIOUS,
    "NeMo configuration's target is computed when the model is restored",
    """A _target_ (or the model's target) is not written out: it is an OmegaConf interpolation
    (${...}, which may read another key, an environment variable or a registered resolver's
    result), a YAML alias or a block scalar. NeMo resolves it, imports what it names and calls it,
    so what runs cannot be judged from the file. A dangerous name anywhere in the configuration,
    which the target may resolve to, makes the file unsafe.""",
)


def _value(text: str, start: int) -> str:
    """The raw YAML value at ``start``: a quoted string, or a plain one up to a comment, the end
    of the line or (outside ``${...}``) the end of a flow mapping's entry. A plain value may start
    on the next line, indented."""
    if text[start : start + 1] in ("'", '"'):
        quote = text[start]
        end = start + 1
        while end < len(text) and text[end] != quote:
            end += 2 if quote == '"' and text[end] == "\\" else 1
        return text[start : end + 1]
    depth, end = 0, start
    while end < len(text) and text[end] != "\n":
        if text.startswith("${", end):
            depth += 1
            end += 2
            continue
        char = text[end]
        if char == "}" and depth:
            depth -= 1
        elif (char in ",}" and not depth) or (char == "#" and text[end - 1] in " \t"):
            break
        end += 1
    value = text[start:end].strip()
    if value:
        return value
    line_end = text.find("\n", end)
    following = _NEXT_LINE.match(text, line_end + 1) if line_end >= 0 else None
    if following is None or _ENTRY.search(following.group(1)):
        return ""
    return _value(text, following.start(1))


def _scalar(raw: str) -> str | None:
    """The string YAML reads from ``raw``, or None where the file alone does not tell (an
    interpolation, an alias, a block scalar, an escape that does not decode)."""
    value = _PROPERTIES.sub("", raw)
    if value[:1] in ("*", "|", ">"):
        return None
    if value[:1] == "'":
        value = value[1:-1].replace("''", "'")
    elif value[:1] == '"':
        value = value[1:-1]
        if "\\" in value:
            if not value.isascii():
                return None
            try:
                value = value.encode().decode("unicode_escape")
            except UnicodeDecodeError:
                return None
    return None if "${" in value else value


class NemoConfigReader:
    """``model_config.yaml``: a NeMo model's Hydra configuration (defined by its name)."""

    name: ClassVar[str] = "nemo-config"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return stream.name == NEMO_CONFIG_NAME

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        raw = ctx.whole("NeMo configuration")
        if raw is None:
            return
        text = raw.decode("utf-8", "replace")
        seen: set[str] = set()
        computed = False
        for match in _TARGET_KEY.finditer(text):
            key, written = match.group(2), _value(text, match.end())
            target = _scalar(written)
            if target is None:
                computed = True
                ctx.report(
                    COMPUTED_TARGET,
                    f"{key} {written}: NeMo computes it when it restores the model",
                    subject=written,
                )
            elif _TARGET.fullmatch(target) and target not in seen:
                seen.add(target)
                _judge(ctx, target, f"{key} {target}", foreign=True)
        if computed:
            for name in dict.fromkeys(_NAMES.findall(text)):
                if name not in seen:
                    _judge(ctx, name, f"{name}, which a computed target may resolve to")


def _judge(ctx: ScanContext, target: str, where: str, *, foreign: bool = False) -> None:
    """Report ``target`` if NeMo would call something dangerous (or, with ``foreign``, a name
    from outside the model's own packages)."""
    module, _, attribute = target.rpartition(".")
    decision = judge(Global(module, attribute))
    if decision.judgement is Judgement.DENIED:
        ctx.report(
            rules.DANGEROUS_GLOBAL,
            f"{where}: NeMo would call it, and it {decision.reason}",
            subject=target,
        )
    elif (
        foreign
        and decision.judgement is Judgement.UNKNOWN
        and target.split(".")[0] not in _MODEL_PACKAGES
    ):
        ctx.report(HYDRA_TARGET, f"{where}: NeMo would import it", subject=target)
