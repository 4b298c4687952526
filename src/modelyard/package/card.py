"""The model card: ``README.md`` with Hugging Face-style YAML front matter."""

from __future__ import annotations

import json
from typing import Any

from modelyard.package.manifest import Manifest

_PIPELINE_TAGS = {
    ("table", "classification"): "tabular-classification",
    ("table", "regression"): "tabular-regression",
    ("sparse", "classification"): "tabular-classification",
    ("sparse", "regression"): "tabular-regression",
    ("array", "classification"): "image-classification",
    ("array", "regression"): "tabular-regression",
}

_DIAGNOSTICS = {
    "r_hat_max": "r-hat (largest)",
    "ess_bulk_min": "effective sample size, bulk (smallest)",
    "ess_tail_min": "effective sample size, tail (smallest)",
}


def render_card(manifest: Manifest, title: str) -> str:
    """Front matter (library, tags, pipeline tag, metrics as model-index) and a short body."""
    pipeline_tag = _PIPELINE_TAGS[(manifest.input["kind"], manifest.task)]
    front: dict[str, Any] = {
        "library_name": "modelyard",
        "tags": list(dict.fromkeys(["modelyard", manifest.backend, manifest.model, pipeline_tag])),
        "pipeline_tag": pipeline_tag,
        "model-index": [
            {
                "name": title,
                "results": [
                    {
                        "task": {"type": pipeline_tag},
                        "dataset": {
                            "type": manifest.dataset or "custom",
                            "name": manifest.dataset or "custom",
                        },
                        "metrics": [
                            {"type": name, "value": value}
                            for name, value in manifest.metrics.items()
                        ],
                    }
                ],
            }
        ],
    }
    # JSON values are valid YAML, so the front matter needs no YAML library.
    lines = ["---", *(f"{key}: {json.dumps(value)}" for key, value in front.items()), "---", ""]
    lines += [f"# {title}", ""]
    if manifest.origin:
        lines += _origin(manifest)
    else:
        lines += [
            f"A {manifest.task} model (`{manifest.model}`, {manifest.framework['name']} "
            f"{manifest.framework['version']}) trained by modelyard"
            + (f" to predict `{manifest.target}`." if manifest.target else "."),
            "",
        ]
    if manifest.metrics:
        lines += ["## Hold-out metrics", ""]
        if manifest.evaluation.get("summary"):
            lines += [manifest.evaluation["summary"], ""]
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {name} | {value:.4g} |" for name, value in manifest.metrics.items()]
        lines.append("")
    if manifest.diagnostics:
        lines += [
            "## Convergence of the posterior draws",
            "",
            "| diagnostic | value |",
            "|---|---|",
        ]
        lines += [
            f"| {_DIAGNOSTICS.get(name, name)} | {value:.4g} |"
            for name, value in manifest.diagnostics.items()
        ]
        lines += ["", "r-hat above 1.01 means the chains disagree: do not trust the intervals.", ""]
    columns = (manifest.input.get("schema") or {}).get("columns", [])
    if columns:
        lines += ["## Inputs", "", "| column | type |", "|---|---|"]
        lines += [f"| {column['name']} | {column['type']} |" for column in columns]
        lines.append("")
    lines += [
        "## Use",
        "",
        "```bash",
        "modelyard predict . new_rows.csv --out predictions.csv",
        "```",
        "",
        "```python",
        "import modelyard",
        "",
        'model = modelyard.load(".")  # verifies hashes and scans before loading',
        "```",
        "",
        "Weights are stored in safe formats (no pickle).",
        "",
    ]
    return "\n".join(lines)


def _origin(manifest: Manifest) -> list[str]:
    """Where a model made elsewhere came from, and the check its conversion passed."""
    origin = manifest.origin or {}
    lines = [
        f"A {manifest.task} model converted by modelyard from {origin['format']} to ONNX "
        f"(run by {manifest.framework['name']} {manifest.framework['version']}).",
        "",
        "## Origin",
        "",
        "| file | sha256 |",
        "|---|---|",
    ]
    lines += [f"| {name} | `{digest}` |" for name, digest in origin["files"].items()]
    lines += ["", f"Checked: {origin['check']}", ""]
    return lines
