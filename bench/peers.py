"""The peer scanners modelyard is measured against, each installed in its own virtualenv.

    python -m bench.peers          # install (or check) every peer and print its version

Each peer gets ``bench/.peers/<name>/`` (gitignored), created on first use with ``python3 -m venv``
and pip, pinned, without heavy extras, under the repo's ``constraints.txt`` so nothing pulls a CUDA
torch. Separate environments because the peers disagree about numpy: modelaudit 0.2.54 requires
numpy >= 2.4.3 on Python 3.11, while modelscan 0.8.8 calls ``numpy.lib.format._check_version``,
which numpy 2 removed. A peer that cannot be installed is reported, never fatal.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS_DIR = ROOT / "bench" / ".peers"
CONSTRAINTS = ROOT / "constraints.txt"
INSTALL_TIMEOUT_S = 900


@dataclass(frozen=True)
class Peer:
    """A peer to install: ``name[extras]==version`` plus pins its own dependencies need.

    ``command``: the peer runs as an executable called ``name`` (the scanners); a library
    (the AutoML peers of ``bench.automl``) is imported by a script run with its venv's python.
    """

    name: str
    version: str
    requirements: tuple[str, ...] = ()
    why: str = ""
    extras: str = ""
    command: bool = True

    @property
    def requirement(self) -> str:
        extras = f"[{self.extras}]" if self.extras else ""
        return f"{self.name}{extras}=={self.version}"


PEERS = (
    Peer(
        "modelscan",
        "0.8.8",
        ("numpy<2",),
        "numpy<2: modelscan 0.8.8 calls numpy.lib.format._check_version, removed in numpy 2",
    ),
    Peer(
        "picklescan",
        "1.0.5",
        ("numpy",),
        "numpy: picklescan 1.0.5 imports it to scan .npy files but does not declare it",
    ),
    Peer(
        "fickling",
        "0.1.12",
        ("typing-extensions",),
        "typing-extensions: fickling 0.1.12 imports it at start-up but does not declare it",
    ),
    Peer("modelaudit", "0.2.54"),
)


@dataclass(frozen=True)
class Installed:
    """A peer ready to run (``bin_dir`` set) or the reason it is not available."""

    peer: Peer
    bin_dir: Path | None
    version: str | None
    problem: str | None = None

    @property
    def label(self) -> str:
        return f"{self.peer.name} {self.version or self.peer.version}"


def ensure(peer: Peer, say: Callable[[str], None] = print) -> Installed:
    """Return the peer's virtualenv, creating it first if missing or made for other pins."""
    venv = PEERS_DIR / peer.name
    stamp = venv / ".installed"
    wanted = " ".join((peer.requirement, *peer.requirements))
    if stamp.is_file() and stamp.read_text().strip() == wanted:
        return _check(peer, venv)
    say(f"installing {wanted} into {venv} ...")
    shutil.rmtree(venv, ignore_errors=True)
    try:
        _run(["python3", "-m", "venv", str(venv)])
        try:
            _pip(venv, peer.requirement, *peer.requirements)
        except _InstallError as exact_failure:
            # Fall back only when the pinned release does not exist, not on any other failure.
            unreleased = f"no matching distribution found for {peer.name}==".lower()
            nearest = None
            if unreleased in str(exact_failure).lower():
                nearest = _nearest_version(venv, peer)
            if nearest is None:
                raise exact_failure
            say(f"{peer.name}=={peer.version} is not installable; using nearest {nearest}")
            _pip(venv, replace(peer, version=nearest).requirement, *peer.requirements)
    except _InstallError as error:
        return Installed(peer, None, None, f"not available: {error}")
    stamp.write_text(wanted + "\n")
    return _check(peer, venv)


class _InstallError(Exception):
    pass


def _run(command: list[str]) -> str:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise _InstallError(f"{command[0]} failed: {error}") from error
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise _InstallError(lines[-1] if lines else f"{command[0]} exit code {done.returncode}")
    return done.stdout


def _pip(venv: Path, *requirements: str) -> None:
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    _run([*pip, "-c", str(CONSTRAINTS), *requirements])


def _nearest_version(venv: Path, peer: Peer) -> str | None:
    """The released version closest to the pin: the newest one below it, else the oldest above."""
    try:
        listing = _run([str(venv / "bin" / "python"), "-m", "pip", "index", "versions", peer.name])
    except _InstallError:
        return None
    found = re.search(r"Available versions:\s*(.+)", listing)
    if not found:
        return None
    versions = [version.strip() for version in found.group(1).split(",")]
    pinned = _key(peer.version)
    below = [version for version in versions if _key(version) < pinned]
    above = [version for version in versions if _key(version) > pinned]
    if below:
        return max(below, key=_key)
    return min(above, key=_key) if above else None


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def _check(peer: Peer, venv: Path) -> Installed:
    """Confirm the executable exists and read the version actually installed."""
    script = f"import importlib.metadata as m; print(m.version({peer.name!r}))"
    try:
        version = _run([str(venv / "bin" / "python"), "-c", script]).strip()
    except _InstallError as error:
        return Installed(peer, None, None, f"not available: {error}")
    if peer.command and not (venv / "bin" / peer.name).is_file():
        return Installed(peer, None, version, f"not available: no {peer.name} executable")
    return Installed(peer, venv / "bin", version)


def ensure_all(say: Callable[[str], None] = print) -> list[Installed]:
    """Install or check every peer; failures come back as ``problem``, never raised."""
    return [ensure(peer, say) for peer in PEERS]


def main(argv: list[str] | None = None) -> int:
    status = 0
    for installed in ensure_all():
        if installed.problem:
            status = 1
            print(f"{installed.peer.name}: {installed.problem}")
        else:
            print(f"{installed.label}: {installed.bin_dir}")
        if installed.peer.why:
            print(f"  ({installed.peer.why})")
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
