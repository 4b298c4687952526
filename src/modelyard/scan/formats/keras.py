"""Keras models: the architecture JSON of a ``.keras`` zip (``config.json``) and of a legacy
``.h5`` file (its ``model_config`` attribute), and HDF5 weight files.

Keras rebuilds layers from that JSON. A Lambda layer carries Python bytecode that runs when
the model is loaded with ``safe_mode=False`` (and on every call); a custom object names a
module that Keras imports. Both are judged here without importing Keras or TensorFlow.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

from modelyard.scan import rules
from modelyard.scan.formats.base import Buffer, ScanContext, Stream
from modelyard.scan.formats.signatures import has_hdf5_signature
from modelyard.scan.pickle.values import Global
from modelyard.scan.policy import Judgement, judge
from modelyard.scan.report import Severity

_CONFIG_START = b'{"class_name"'
_KERAS_MODULES = ("keras", "tf_keras", "tensorflow.keras", "tensorflow.python.keras")

LAMBDA_LAYER = rules.register(
    "MY-KER-001",
    Severity.UNSAFE,
    "Keras Lambda layer with code",
    """The model contains a Lambda layer (or another serialized Python function). Its bytecode
    runs when the model is loaded with safe_mode=False, as many loading scripts and older
    Keras/TensorFlow versions do, and every time the layer is called. Do not load it unless you
    trust its author; rebuild the model without Lambda layers.""",
)
CUSTOM_OBJECT = rules.register(
    "MY-KER-002",
    Severity.SUSPICIOUS,
    "Keras object from outside Keras",
    """The architecture names a class or function from a module other than Keras. Loading the
    model imports that module and calls the object, so its code runs. It may be a legitimate
    custom layer; load the model only if you trust the module and the model's author.""",
)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def judge_config(
    config: Any, ctx: ScanContext, where: str, seen: set[tuple[str, str]] | None = None
) -> None:
    """Report Lambda layers, serialized functions and objects from outside Keras.

    ``seen`` collects what was reported, so repeated copies of one architecture report once.
    """
    seen = set() if seen is None else seen
    lambdas = sum(1 for node in _walk(config) if node.get("class_name") == "Lambda")
    for node in _walk(config):
        class_name = node.get("class_name")
        layer_config = node["config"] if isinstance(node.get("config"), dict) else {}
        # Keras 3 writes a Lambda's function as "__lambda__" with base64 bytecode; Keras 2
        # marks it with "function_type": "lambda".
        is_lambda = class_name == "Lambda" or layer_config.get("function_type") == "lambda"
        if is_lambda or (class_name == "__lambda__" and not lambdas):
            name = str(layer_config.get("name") or class_name)
            if ("lambda", name) not in seen:
                seen.add(("lambda", name))
                ctx.report(
                    LAMBDA_LAYER, f"{where}: {class_name} {name!r} holds Python code", subject=name
                )
        module = node.get("module")
        if isinstance(module, str) and isinstance(class_name, str) and module:
            if module.split(".")[0] in _KERAS_MODULES or module.startswith(_KERAS_MODULES):
                continue
            if (module, class_name) in seen:
                continue
            seen.add((module, class_name))
            decision = judge(Global(module, class_name))
            qualname = f"{module}.{class_name}"
            if decision.judgement is Judgement.DENIED:
                ctx.report(
                    rules.DANGEROUS_GLOBAL,
                    f"{where}: Keras would import {qualname}, which {decision.reason}",
                    subject=qualname,
                )
            elif decision.judgement is Judgement.UNKNOWN:
                ctx.report(
                    CUSTOM_OBJECT, f"{where}: Keras would import {qualname}", subject=qualname
                )


def _is_keras_config(data: Any) -> bool:
    return isinstance(data, dict) and "class_name" in data and "config" in data


class KerasConfigReader:
    """The ``config.json`` of a ``.keras`` archive (or any Keras architecture JSON)."""

    name: ClassVar[str] = "keras-config"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return head.lstrip()[:1] == b"{" and b'"class_name"' in bytes(stream.data[:4096])

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        raw = ctx.whole("Keras configuration")
        if raw is None:
            return
        try:
            config = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            ctx.report(rules.MALFORMED, f"Keras configuration is not valid JSON: {error}")
            return
        if _is_keras_config(config):
            judge_config(config, ctx, "architecture")


class Hdf5Reader:
    """HDF5 files: Keras weights and legacy ``.h5`` models (their ``model_config``)."""

    name: ClassVar[str] = "hdf5"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return has_hdf5_signature(stream.data)

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        seen: set[tuple[str, str]] = set()
        for config in _embedded_configs(stream.data):
            judge_config(config, ctx, "model_config", seen)


def _embedded_configs(data: Buffer) -> Iterator[Any]:
    """JSON architectures stored as HDF5 string attributes (found by their first bytes)."""
    raw = data if isinstance(data, bytes) else bytes(data)
    decoder = json.JSONDecoder()
    start = raw.find(_CONFIG_START)
    while start >= 0:
        end = raw.find(b"\0", start)
        text = raw[start : end if end >= 0 else len(raw)].decode("utf-8", "replace")
        try:
            config, consumed = decoder.raw_decode(text)
        except ValueError:
            config, consumed = None, 1
        if _is_keras_config(config):
            yield config
        # Parts of an architecture start like one too: continue after the whole of it.
        start = raw.find(_CONFIG_START, start + max(len(text[:consumed].encode()), 1))
