"""Python source in a repository is suspicious, summarised by what it imports and calls."""

from __future__ import annotations

import ast

from modelyard.scan import scan
from modelyard.scan.formats.python_source import summarize

HUBCONF = """\
import os as operating_system
from subprocess import run
dependencies = ["torch"]

def model(pretrained=False):
    run(["echo", "hi"])
    return operating_system.getcwd()
"""


def test_hubconf_is_suspicious_with_a_summary(tmp_path):
    (tmp_path / "hubconf.py").write_text(HUBCONF)
    result = scan(tmp_path / "hubconf.py").files[0]
    assert (result.format, result.verdict) == ("python", "suspicious")
    (finding,) = result.findings
    assert finding.rule_id == "MY-SRC-001"
    assert "imports os, subprocess" in finding.message
    assert "subprocess.run" in finding.message
    assert "os.getcwd" in (finding.detail or "")


def test_summary_resolves_aliases():
    imports, calls = summarize(ast.parse("import numpy as np\nfrom . import x\nnp.load(x.y())"))
    assert imports == [".", "numpy"] and calls == {"numpy.load", "x.y"}


def test_invalid_python_is_an_error(tmp_path):
    (tmp_path / "modeling_x.py").write_text("def broken(:\n")
    assert scan(tmp_path / "modeling_x.py").files[0].verdict == "error"


def test_python_named_otherwise_is_text(tmp_path):
    (tmp_path / "notes.txt").write_text(HUBCONF)
    assert scan(tmp_path / "notes.txt").files[0].verdict == "safe"
