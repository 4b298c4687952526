"""``python -m bench.scan --parts hostile``: peak memory and time on input built to exhaust a
scanner, modelyard beside picklescan and modelscan, and the hub's memory under bomb uploads.

Inputs are built once into ``bench/.work/scan-hostile/`` (the bombs take a few seconds to write):
the issue's 2 MB PyTorch-style zip whose ``data.pkl`` inflates to 2 GiB of zeros, a 1 MB gzip of
1 GiB, a bzip2 bomb, a bomb nested in a zip in a gzip, a pickle of six million values, one nested
100,000 deep, a lying length field, and two legitimate large files (a 1 GiB torch checkpoint and
a gzip'd 512 MiB pickle of random numbers, which must be scanned whole). Each tool runs once per
input as a subprocess; its peak resident memory comes from the kernel (``wait4``), not sampling.
"""

from __future__ import annotations

import bz2
import gzip
import os
import pickle
import subprocess
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORK = Path(__file__).resolve().parent / ".work" / "scan-hostile"
MiB = 1 << 20
# The targets: the scanner's and the hub's peak memory.
SCAN_RSS_TARGET_MB = 300
HUB_RSS_TARGET_MB = 500
_ZEROS = bytes(16 * MiB)


@dataclass(frozen=True)
class HostileInput:
    key: str
    title: str
    build: Callable[[Path], None]

    @property
    def path(self) -> Path:
        return WORK / self.key


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mb: float
    verdict: str  # the tool's own answer, shortened: exit code and status


def _zip_bomb(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/version", "3\n")
        with archive.open("archive/data.pkl", "w", force_zip64=True) as member:
            for _ in range(2048 * MiB // len(_ZEROS)):
                member.write(_ZEROS)


def _stream_bomb(compressor: Any, size: int) -> Callable[[Path], None]:
    """Writes ``size`` zero bytes through ``compressor.open`` (``gzip``, ``bz2``)."""

    def build(path: Path) -> None:
        with compressor.open(path, "wb") as handle:
            for _ in range(size // len(_ZEROS)):
                handle.write(_ZEROS)

    return build


def _nested_bomb(path: Path) -> None:
    inner, middle = path.with_suffix(".inner"), path.with_suffix(".middle")
    _zip_bomb(inner)
    with zipfile.ZipFile(middle, "w") as archive:
        archive.write(inner, "model.pt")
    with gzip.open(path, "wb") as handle:
        handle.write(middle.read_bytes())
    inner.unlink()
    middle.unlink()


def _wide(path: Path) -> None:
    path.write_bytes(b"\x80\x04(" + b"N" * 6_000_000 + b"l.")


def _deep(path: Path) -> None:
    path.write_bytes(b"\x80\x04" + b"]" * 100_000 + b"a" * 99_999 + b".")


def _lying(path: Path) -> None:
    path.write_bytes(b"\x80\x04\x8e" + (2**62).to_bytes(8, "little") + b"x.")


def _checkpoint(path: Path) -> None:
    import torch

    torch.save({f"layer{i}": torch.zeros(4096, 4096) for i in range(16)}, path)


def _compressed_weights(path: Path) -> None:
    import numpy as np

    weights = np.random.default_rng(0).random(64 * MiB)  # 512 MiB of float64
    with gzip.open(path, "wb", compresslevel=1) as handle:
        pickle.dump({"weights": weights}, handle, protocol=4)


INPUTS = [
    HostileInput("zip-bomb.pt", "2 MB zip, data.pkl -> 2 GiB zeros", _zip_bomb),
    HostileInput(
        "gzip-bomb.pkl.gz",
        "1 MB gzip -> 1 GiB zeros",
        _stream_bomb(gzip, 1024 * MiB),
    ),
    HostileInput(
        "bzip2-bomb.pkl.bz2",
        "bzip2 -> 2 GiB zeros",
        _stream_bomb(bz2, 2048 * MiB),
    ),
    HostileInput("nested-bomb.gz", "gzip > zip > zip bomb", _nested_bomb),
    HostileInput("wide.pkl", "pickle of 6 million values", _wide),
    HostileInput("deep.pkl", "lists nested 100,000 deep", _deep),
    HostileInput("lying.pkl", "length field of 4 EiB", _lying),
    HostileInput("checkpoint.pt", "legitimate: 1 GiB torch checkpoint", _checkpoint),
    HostileInput("weights.pkl.gz", "legitimate: gzip'd 512 MiB pickle", _compressed_weights),
]


def build_inputs() -> None:
    """Write each input once; they are kept between runs."""
    WORK.mkdir(parents=True, exist_ok=True)
    for item in INPUTS:
        if not item.path.is_file():
            partial = item.path.with_name(item.path.name + ".partial")
            item.build(partial)
            partial.rename(item.path)


def measure(argv: list[str], timeout: float) -> tuple[float, float, int]:
    """Run ``argv``; (seconds, peak RSS in MiB as the kernel counted it, exit code)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
        cwd=tempfile.gettempdir(),
    )
    killer = threading.Timer(timeout, process.kill)
    killer.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    killer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, process.returncode


def _env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "HF_HUB_OFFLINE": "1"}


def hostile(
    commands: dict[str, Callable[[Path], list[str]]], timeout: float
) -> dict[str, dict[str, Measured]]:
    """Every tool on every input, one tool after another per input (so noise hits all alike)."""
    build_inputs()
    results: dict[str, dict[str, Measured]] = {tool: {} for tool in commands}
    for item in INPUTS:
        for tool, command in commands.items():
            seconds, rss, code = measure(command(item.path), timeout)
            verdict = "killed (timeout)" if code < 0 else f"exit {code}"
            results[tool][item.key] = Measured(round(seconds, 2), round(rss), verdict)
            print(f"  {item.key:<20} {tool:<12} {seconds:7.2f} s {rss:8.0f} MiB  {verdict}")
    return results


def hostile_report(results: dict[str, dict[str, Measured]]) -> str:
    """One row per input: each tool's peak memory and time, and modelyard's target."""
    tools = list(results)
    header = ["input", *(f"{tool}: peak RSS, time" for tool in tools), "modelyard <= 300 MiB"]
    lines = [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}"]
    for item in INPUTS:
        cells = [item.title]
        for tool in tools:
            got = results[tool].get(item.key)
            cells.append(f"{got.peak_rss_mb:.0f} MiB, {got.seconds:.2f} s" if got else "n/a")
        ours = results.get("modelyard", {}).get(item.key)
        met = ours is not None and ours.peak_rss_mb <= SCAN_RSS_TARGET_MB
        cells.append("met" if met else "MISSED")
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def hub_part() -> tuple[str, dict[str, Any]]:
    """The hub's peak memory while 4 clients upload the zip bomb at once."""
    from bench._hostile_hub import hub_bomb_rss, hub_row

    figures = hub_bomb_rss(4)
    met = figures["peak_rss_mb"] <= HUB_RSS_TARGET_MB and not figures["failed"]
    lines = [
        "| bomb, 4 clients at once | hub peak RSS | wall time | failed uploads | verdicts |",
        "|---|---|---|---|---|",
        hub_row(figures),
        f"\nhub target: peak RSS under {HUB_RSS_TARGET_MB} MiB: {'met' if met else 'MISSED'}",
    ]
    return "\n".join(lines), figures
