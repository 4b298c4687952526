"""GGUF: real files written by the gguf package are safe; templates that reach Python internals
are unsafe (proven live by rendering one with plain Jinja2); broken headers are errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from gguf import GGUFWriter

from modelyard.scan import scan
from tests.scan.conftest import rule_ids

BENIGN_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def _malicious_template(marker):
    return (
        "{{ cycler.__init__.__globals__.os.popen('touch " + str(marker) + "').read() }}"
        "{% for message in messages %}{{ message['content'] }}{% endfor %}"
    )


def write_gguf(path, template):
    writer = GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_chat_template(template)
    writer.add_tensor("token_embd.weight", np.ones((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_real_gguf_is_safe(tmp_path):
    write_gguf(tmp_path / "model.gguf", BENIGN_TEMPLATE)
    result = scan(tmp_path / "model.gguf").files[0]
    assert (result.format, result.verdict, result.findings) == ("gguf", "safe", [])


def test_template_reaching_os_is_unsafe_and_live(tmp_path):
    marker = tmp_path / "pwned"
    write_gguf(tmp_path / "model.gguf", _malicious_template(marker))
    result = scan(tmp_path / "model.gguf").files[0]
    assert result.verdict == "unsafe" and "MY-GGF-001" in rule_ids(result)
    # What an unsandboxed loader does with the template: read it back and render it.
    render = (
        "import sys, gguf, jinja2\n"
        "field = gguf.GGUFReader(sys.argv[1]).fields['tokenizer.chat_template']\n"
        "template = bytes(field.parts[field.data[0]]).decode()\n"
        "jinja2.Environment().from_string(template).render(messages=[])\n"
    )
    subprocess.run([sys.executable, "-c", render, str(tmp_path / "model.gguf")], check=True)
    assert marker.exists()


@pytest.mark.parametrize("cut", [6, 30, -20])
def test_truncated_gguf_is_an_error(tmp_path, cut):
    write_gguf(tmp_path / "model.gguf", BENIGN_TEMPLATE)
    data = (tmp_path / "model.gguf").read_bytes()
    header_end = data.index(b"token_embd.weight") + 40
    (tmp_path / "model.gguf").write_bytes(data[: cut if cut > 0 else header_end + cut])
    assert scan(tmp_path / "model.gguf").files[0].verdict == "error"
