"""The hub's memory while clients upload decompression bombs at once, on loopback.

    python -m bench._hostile_hub [--clients 4] [--bomb-mb 2000] [--max-concurrent-scans N]

Part of ``python -m bench.scan --parts hostile``; run alone, it prints the hub's figures only.

Each client uploads, with the real huggingface_hub client and to a repo of its own, a ~2 MB zip
that looks like a PyTorch checkpoint: ``archive/data.pkl`` deflates to ``--bomb-mb`` of zeros
(2000 MB: just under the scanner's 2 GiB decompression budget, so the scan really inflates it;
each client's zip differs by its comment, so every upload is scanned). The hub scans each one
before its commit lands; the figures are the server's peak resident memory, its child processes
included, and the wall time until every upload answered.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.hub import CHUNK, bench_token, start_hub

_SAMPLE_SECONDS = 0.05


def write_bomb(path: Path, size_mb: int) -> None:
    """A PyTorch-like zip whose ``archive/data.pkl`` deflates to ``size_mb`` MB of zeros."""
    zeros = bytes(CHUNK)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/version", "3\n")
        with archive.open("archive/data.pkl", "w", force_zip64=True) as member:
            for _ in range(size_mb):
                member.write(zeros)


def _copy_with_comment(bomb: Path, target: Path, comment: str) -> None:
    shutil.copyfile(bomb, target)
    with zipfile.ZipFile(target, "a") as archive:
        archive.comment = comment.encode()


class _PeakRss:
    """Samples the resident memory of a process and all its descendants until stopped."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._process = psutil.Process(pid)
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for process in [self._process, *self._process.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            self.peak = max(self.peak, total)
            self._stop.wait(_SAMPLE_SECONDS)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def hub_bomb_rss(
    clients: int = 4, *, bomb_mb: int = 2000, max_concurrent_scans: int | None = None
) -> dict[str, Any]:
    """Start a hub, let ``clients`` clients upload a bomb each at once; report peak RSS and time.

    Returns ``clients``, ``bomb_mb``, ``zip_mb``, ``peak_rss_mb`` (server and children),
    ``seconds`` (first upload started to last answered), ``failed`` (uploads that errored) and
    ``verdicts`` (the scanner's verdicts on the uploaded bombs).
    """
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as scratch:
        root = Path(scratch)
        # The client as users install it (uploads go through Xet), with a cache of its own.
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        os.environ["HF_XET_CACHE"] = str(root / "xet-cache")
        from huggingface_hub import HfApi
        from huggingface_hub.utils import get_session

        bomb = root / "bomb.pt"
        write_bomb(bomb, bomb_mb)
        uploads = [root / f"bomb-{number}.pt" for number in range(clients)]
        for number, copy in enumerate(uploads):
            _copy_with_comment(bomb, copy, f"client {number}")
        data = root / "hub"
        scans = [f"--max-concurrent-scans={max_concurrent_scans}"] if max_concurrent_scans else []
        hub, endpoint = start_hub(data, *scans)
        try:
            api = HfApi(endpoint=endpoint, token=bench_token(data))
            for number in range(clients):
                api.create_repo(f"bench/bomb-{number}")

            def upload_bomb(number: int) -> bool:
                try:
                    api.upload_file(
                        path_or_fileobj=uploads[number],
                        path_in_repo="pytorch_model.bin",
                        repo_id=f"bench/bomb-{number}",
                    )
                except Exception:  # a failed upload is a figure here, not a crash
                    return False
                return True

            with _PeakRss(hub.pid) as rss, ThreadPoolExecutor(max_workers=clients) as pool:
                started = time.perf_counter()
                done = list(pool.map(upload_bomb, range(clients)))
                seconds = time.perf_counter() - started
            verdicts = {
                get_session()
                .get(f"{api.endpoint}/api/models/bench/bomb-{number}/scan/main/pytorch_model.bin")
                .json()
                .get("status", "missing")
                for number, uploaded in enumerate(done)
                if uploaded
            }
        finally:
            hub.terminate()
            hub.wait(timeout=60)
        return {
            "clients": clients,
            "bomb_mb": bomb_mb,
            "zip_mb": round(bomb.stat().st_size / CHUNK, 2),
            "peak_rss_mb": round(rss.peak / CHUNK),
            "seconds": round(seconds, 1),
            "failed": done.count(False),
            "verdicts": sorted(verdicts),
        }


def hub_row(figures: dict[str, Any]) -> str:
    """The figures as one row of the table ``main`` prints."""
    bomb = f"{figures['zip_mb']} MB zip -> {figures['bomb_mb']} MB"
    cells = [
        bomb,
        f"{figures['peak_rss_mb']} MB",
        f"{figures['seconds']} s",
        str(figures["failed"]),
        ", ".join(figures["verdicts"]),
    ]
    return f"| {' | '.join(cells)} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._hostile_hub", description=__doc__)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--bomb-mb", type=int, default=2000)
    parser.add_argument("--max-concurrent-scans", type=int)
    args = parser.parse_args(argv)
    figures = hub_bomb_rss(
        args.clients, bomb_mb=args.bomb_mb, max_concurrent_scans=args.max_concurrent_scans
    )
    print(f"## {figures['clients']} concurrent decompression-bomb uploads, loopback\n")
    print("| bomb | server peak RSS (with children) | wall time | failed uploads | verdicts |")
    print("|---|---|---|---|---|")
    print(hub_row(figures))
    return 0 if figures["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
