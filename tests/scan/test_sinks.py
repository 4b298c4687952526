"""The derived table of callables that reach a dangerous call."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelyard.scan.sinks import reaches_sink

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("qualname", "kind", "sink"),
    [
        ("_osx_support._read_output", "process", "os.system"),
        ("mailcap.findmatch", "process", "os.system"),
        ("platform.architecture", "process", "subprocess.check_output"),
        ("ctypes.util.find_library", "process", "subprocess.Popen"),
        ("torch.utils.collect_env.run", "process", "subprocess.Popen"),
        ("gzip.GzipFile", "file", "builtins.open"),
        ("numpy.lib._format_impl.open_memmap", "file", "builtins.open"),
        ("smtplib.SMTP", "network", "socket.create_connection"),
        ("subprocess.run", "process", "subprocess.run"),
    ],
)
def test_well_known_helpers_reach_their_sink(qualname, kind, sink):
    reached = reaches_sink(qualname)
    assert reached is not None
    assert (reached.kind, reached.sink) == (kind, sink)
    assert reached.path[0] == qualname
    assert all(reaches_sink(step) is not None for step in reached.path)


@pytest.mark.parametrize(
    "qualname",
    ["collections.OrderedDict", "shlex.quote", "numpy.frompyfunc", "mylib.layers.Custom"],
)
def test_what_reaches_no_sink_is_not_listed(qualname):
    assert reaches_sink(qualname) is None


@pytest.mark.slow
def test_the_table_is_current():
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/derive_sinks.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr
