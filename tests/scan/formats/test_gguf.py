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


def test_tensor_types_match_the_gguf_package():
    from gguf.constants import GGML_QUANT_SIZES

    from modelyard.scan.formats.gguf import GGML_TYPE_SIZES

    expected = {int(kind): sizes for kind, sizes in GGML_QUANT_SIZES.items()}
    assert expected == GGML_TYPE_SIZES


def write_layered_gguf(path, alignment=None):
    """A real file with float, half and Q8_0 tensors (and a custom alignment if given)."""
    from gguf import GGMLQuantizationType
    from gguf.quants import quantize

    writer = GGUFWriter(str(path), "llama")
    if alignment:
        writer.add_custom_alignment(alignment)
    writer.add_tensor("a.weight", np.ones((3, 5), dtype=np.float32))
    writer.add_tensor("b.weight", np.ones((7,), dtype=np.float16))
    q8 = quantize(np.ones((4, 64), dtype=np.float32), GGMLQuantizationType.Q8_0)
    writer.add_tensor("c.weight", q8, raw_dtype=GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _tensor_info(data, name):
    """Offsets of the type and data-offset fields of tensor ``name`` in a GGUF header."""
    at = data.index(name.encode()) + len(name)
    dims = int.from_bytes(data[at : at + 4], "little")
    kind_at = at + 4 + 8 * dims
    return kind_at, kind_at + 4


@pytest.mark.parametrize("alignment", [None, 64])
def test_real_quantized_layouts_are_safe(tmp_path, alignment):
    write_layered_gguf(tmp_path / "model.gguf", alignment)
    result = scan(tmp_path / "model.gguf").files[0]
    assert (result.verdict, result.findings) == ("safe", [])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda data, kind, offset: data[:kind] + (99).to_bytes(4, "little") + data[kind + 4 :],
         "unknown tensor type 99"),
        (lambda data, kind, offset: data[:offset] + (0).to_bytes(8, "little") + data[offset + 8 :],
         "overlaps the previous one"),
        (lambda data, kind, offset: data[:offset] + (4096).to_bytes(8, "little")
         + data[offset + 8 :], "leaves a gap"),
        (lambda data, kind, offset: data[:offset] + (33).to_bytes(8, "little")
         + data[offset + 8 :], "not aligned"),
        (lambda data, kind, offset: data[:-100], "runs past the end"),
        (lambda data, kind, offset: data.replace(b"b.weight", b"a.weight"), "occurs twice"),
    ],
)  # fmt: skip
def test_inconsistent_tensor_layout_is_an_error(tmp_path, change, message):
    path = tmp_path / "model.gguf"
    write_layered_gguf(path)
    data = path.read_bytes()
    path.write_bytes(change(data, *_tensor_info(data, "b.weight")))
    result = scan(path).files[0]
    assert result.verdict == "error"
    assert rule_ids(result) == {"MY-GGF-002"}
    assert any(message in finding.message for finding in result.findings)


def test_layout_problems_are_real_for_the_gguf_reader(tmp_path):
    """The reference reader rejects a tensor that runs past the end of the file too."""
    path = tmp_path / "model.gguf"
    write_layered_gguf(path)
    path.write_bytes(path.read_bytes()[:-100])
    reader = "import sys, gguf; gguf.GGUFReader(sys.argv[1])"
    done = subprocess.run([sys.executable, "-c", reader, str(path)], capture_output=True)
    assert done.returncode != 0
