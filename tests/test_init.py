"""The public API: lazy at run time, listed by ``dir``, and fully visible to type checkers."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelyard
import modelyard.learn

MODULES = [modelyard, modelyard.learn]


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_dir_lists_exactly_the_public_names_and_each_resolves(module):
    assert dir(module) == list(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None


def test_mypy_sees_every_public_name_with_its_real_type(tmp_path, monkeypatch):
    from mypy import api

    names = [
        *(f"modelyard.{name}" for name in modelyard.__all__),
        *(f"modelyard.learn.{name}" for name in modelyard.learn.__all__),
    ]
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "import modelyard\nimport modelyard.learn\n\n"
        + "".join(f"reveal_type({name})\n" for name in names),
        encoding="utf-8",
    )
    # Only modelyard's own signatures matter here; skipping the frameworks keeps mypy quick.
    (tmp_path / "mypy.ini").write_text(
        "[mypy]\nignore_missing_imports = True\nfollow_imports = skip\n"
        "[mypy-modelyard.*]\nfollow_imports = normal\n"
    )
    # Check these sources, not whichever copy of modelyard is installed.
    monkeypatch.setenv("MYPYPATH", str(Path(modelyard.__file__).parents[1]))
    stdout, stderr, _ = api.run(
        [
            str(snippet),
            "--config-file",
            str(tmp_path / "mypy.ini"),
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )

    revealed = [line for line in stdout.splitlines() if "Revealed type is" in line]
    assert len(revealed) == len(names), stdout + stderr
    assert not [line for line in revealed if line.endswith('Revealed type is "Any"')], stdout


def test_scan_is_the_callable_package_however_it_is_reached(tmp_path):
    """``modelyard.scan(path)`` and ``modelyard.scan.ScanOptions`` both work, in either order."""
    import subprocess
    import sys

    (tmp_path / "model.pkl").write_bytes(b"\x80\x04N.")
    code = (
        "import modelyard\n"
        f"report = modelyard.scan({str(tmp_path / 'model.pkl')!r})\n"
        "import modelyard.scan\n"
        "print(report.verdict, modelyard.scan.ScanOptions.__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["safe", "ScanOptions"], done.stderr
