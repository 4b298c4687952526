"""``modelyard scan`` as a user and a CI job run it: exit codes, text, JSON, SARIF, --explain."""

from __future__ import annotations

import collections
import json
import pickle
import subprocess
import sys
from pathlib import Path

MODELYARD = str(Path(sys.executable).with_name("modelyard"))
EVIL = b"cos\nsystem\n(S'true'\ntR."


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MODELYARD, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_safe_file_exits_0(tmp_path):
    (tmp_path / "ok.pkl").write_bytes(pickle.dumps({"a": [1, 2]}))
    result = run("scan", tmp_path / "ok.pkl")
    assert result.returncode == 0
    assert "SAFE" in result.stdout


def test_unsafe_file_exits_1_and_names_the_gadget(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(EVIL)
    result = run("scan", tmp_path)
    assert result.returncode == 1
    assert "os.system" in result.stdout and "MY-PKL-001" in result.stdout


def test_unreadable_format_exits_2(tmp_path):
    (tmp_path / "weights.bin").write_bytes(bytes(range(256)))
    assert run("scan", tmp_path).returncode == 2


def test_strict_fails_on_suspicious(tmp_path):
    (tmp_path / "custom.pkl").write_bytes(b"\x80\x04\x8c\x05mylib\x8c\x01C\x93)R.")
    assert run("scan", tmp_path).returncode == 0
    assert run("scan", "--strict", tmp_path).returncode == 1


def test_json_and_sarif_go_to_stdout_or_a_file(tmp_path):
    (tmp_path / "evil.pkl").write_bytes(EVIL)
    document = json.loads(run("scan", "--format", "json", tmp_path / "evil.pkl").stdout)
    assert document["verdict"] == "unsafe"
    out = tmp_path / "report.sarif"
    result = run("scan", "-f", "sarif", "-o", out, tmp_path / "evil.pkl")
    assert result.returncode == 1 and result.stdout == ""
    assert json.loads(out.read_text())["runs"][0]["results"][0]["ruleId"] == "MY-PKL-001"


def test_explain_prints_the_rule(tmp_path):
    result = run("scan", "--explain", "my-pkl-001")
    assert result.returncode == 0
    assert "Dangerous global" in result.stdout


def test_unknown_rule_and_missing_path_are_one_line_errors(tmp_path):
    unknown = run("scan", "--explain", "MY-XXX-999")
    assert unknown.returncode == 2
    assert "no rule" in unknown.stderr and "Traceback" not in unknown.stderr
    missing = run("scan", tmp_path / "absent.pkl")
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr and "Traceback" not in missing.stderr


def test_large_reports_list_only_files_that_are_not_safe(tmp_path):
    for index in range(60):
        (tmp_path / f"ok{index:02d}.pkl").write_bytes(pickle.dumps([index]))
    (tmp_path / "evil.pkl").write_bytes(EVIL)
    result = run("scan", tmp_path)
    assert result.returncode == 1
    assert "evil.pkl" in result.stdout and "ok00.pkl" not in result.stdout
    assert "60 safe file(s) not listed" in result.stdout


def test_scanning_a_pickle_imports_its_reader_and_no_other(tmp_path):
    """``modelyard scan`` runs in CI jobs and hooks many times a day, so it starts light: only the
    command run, the reader of the format met and the policy's allow list are imported, not the
    other readers, the other commands, logging, the table of sinks (every import is allowed), or
    ``dataclasses`` and ``inspect`` (a fifth of the start-up when they were imported)."""
    model = tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps(collections.OrderedDict(weights=[0.5, 1.5])))
    code = (
        "import json, sys\n"
        "from modelyard.cli.app import main\n"
        "try:\n"
        f"    main(['scan', {str(model)!r}])\n"
        "except SystemExit as done:\n"
        "    print(json.dumps([done.code, sorted(sys.modules)]), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    code, modules = json.loads(done.stderr.splitlines()[-1])
    assert code == 0 and "SAFE" in done.stdout
    readers = {name.rsplit(".", 1)[1] for name in modules if "modelyard.scan.formats." in name}
    assert readers == {"base", "signatures", "pickle"}
    assert "modelyard.scan.policy" in modules
    unwanted = [
        "modelyard.cli.learn",
        "modelyard.cli.hub",
        "modelyard.scan.sinks",
        "logging",
        "dataclasses",
        "inspect",
    ]
    assert [name for name in unwanted if name in modules] == []
