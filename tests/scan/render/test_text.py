"""The text report people read: aligned table, one line per finding, the overall verdict."""

from __future__ import annotations

import pickle

from modelyard.scan import scan
from modelyard.scan.render import to_text
from modelyard.scan.render.text import LIST_ALL

EVIL = b"cos\nsystem\n(S'true'\ntR."


def test_lists_files_findings_and_verdict(tmp_path):
    (tmp_path / "ok.pkl").write_bytes(pickle.dumps([1, 2]))
    (tmp_path / "evil.bin").write_bytes(EVIL)
    lines = to_text(scan(tmp_path)).splitlines()
    assert lines[0].split() == ["file", "format", "verdict", "findings"]
    rows = {line.split()[0].rsplit("/", 1)[-1]: line.split()[1:] for line in lines[1:3]}
    assert rows == {"evil.bin": ["pickle", "unsafe", "1"], "ok.pkl": ["pickle", "safe", "0"]}
    assert any("MY-PKL-001" in line and "os.system" in line for line in lines)
    assert lines[-1].startswith("UNSAFE: 2 file(s) scanned in ")
    assert "\x1b[" not in "\n".join(lines)


def test_colour_only_when_asked(tmp_path):
    (tmp_path / "evil.pkl").write_bytes(EVIL)
    coloured = to_text(scan(tmp_path), color=True)
    assert "\x1b[1;31munsafe" in coloured and coloured.rstrip().endswith("s")


def test_large_reports_list_only_files_that_are_not_safe(tmp_path):
    for index in range(LIST_ALL + 1):
        (tmp_path / f"ok{index}.pkl").write_bytes(pickle.dumps(index))
    (tmp_path / "evil.pkl").write_bytes(EVIL)
    text = to_text(scan(tmp_path))
    assert f"{LIST_ALL + 1} safe file(s) not listed" in text
    assert "evil.pkl" in text and "ok0.pkl" not in text
