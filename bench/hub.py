"""The hub against the machine's limits, side by side with a static file server, on loopback.

    python -m bench.hub [--size-mb 1024] [--clients 100]

1. Upload: one ``--size-mb`` file through the classic LFS API with the real huggingface_hub
   client; the server's peak resident memory (VmHWM) must stay under 200 MB.
2. Download throughput of that file from the hub vs. a static server of the same file (nginx if
   installed, else Python's ``http.server``): target >= 0.8x.
3. ``snapshot_download`` of the repository (the big file and a small one).
4. ``--clients`` concurrent downloads of a 1 MB file: errors (target 0) and latency percentiles.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MODELYARD = Path(sys.executable).with_name("modelyard")
CHUNK = 1 << 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


def start_hub(data: Path, *options: str) -> tuple[subprocess.Popen[bytes], str]:
    """``modelyard hub serve`` on a free loopback port, once it listens: (process, endpoint)."""
    port = _free_port()
    command = [str(MODELYARD), "hub", "serve", "--port", str(port), "--data-dir", str(data)]
    hub = subprocess.Popen(
        [*command, *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for(port)
    except BaseException:
        hub.terminate()
        raise
    return hub, f"http://127.0.0.1:{port}"


def bench_token(data: Path) -> str:
    """A new access token for user ``bench`` of the hub in ``data``."""
    return subprocess.run(
        [MODELYARD, "hub", "token", "create", "bench", "--data-dir", str(data)],
        capture_output=True, text=True, check=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _download(url: str, headers: dict[str, str] | None = None) -> tuple[int, float]:
    """Stream ``url`` to nowhere; returns (bytes, seconds)."""
    request = urllib.request.Request(url, headers=headers or {})
    started = time.perf_counter()
    total = 0
    with urllib.request.urlopen(request, timeout=600) as response:
        while block := response.read(CHUNK):
            total += len(block)
    return total, time.perf_counter() - started


def _write_file(path: Path, size_mb: int) -> None:
    block = os.urandom(CHUNK)  # incompressible, repeated: generation must not dominate
    with path.open("wb") as handle:
        for _ in range(size_mb):
            handle.write(block)


def _static_server(folder: Path, port: int) -> tuple[subprocess.Popen[bytes], str]:
    nginx = shutil.which("nginx")
    if nginx:
        conf = folder / "nginx.conf"
        conf.write_text(
            f"daemon off; pid {folder}/nginx.pid; error_log stderr;\n"
            "events {}\nhttp { access_log off; sendfile on; server { "
            f"listen 127.0.0.1:{port}; root {folder}; }} }}\n"
        )
        return subprocess.Popen([nginx, "-c", str(conf)], stderr=subprocess.DEVNULL), "nginx"
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    server = subprocess.Popen(
        command, cwd=folder, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    return server, "python http.server"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hub", description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--clients", type=int, default=100)
    args = parser.parse_args(argv)
    os.environ["HF_HUB_DISABLE_XET"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    from huggingface_hub import HfApi, snapshot_download

    with tempfile.TemporaryDirectory(prefix="bench-hub-") as scratch:
        root = Path(scratch)
        files = root / "files"
        files.mkdir()
        big = files / "weights.bin"
        _write_file(big, args.size_mb)
        (files / "small.bin").write_bytes(os.urandom(CHUNK))
        data = root / "hub"
        hub, endpoint = start_hub(data)
        try:
            token = bench_token(data)
            api = HfApi(endpoint=endpoint, token=token)
            api.create_repo("bench/big")
            started = time.perf_counter()
            api.upload_folder(folder_path=files, repo_id="bench/big")
            upload = time.perf_counter() - started
            upload_rss = _peak_rss_mb(hub.pid)

            auth = {"Authorization": f"Bearer {token}"}
            hub_url = f"{endpoint}/bench/big/resolve/main/weights.bin"
            _download(hub_url, auth)  # warm the page cache for both servers
            hub_runs = [_download(hub_url, auth)[1] for _ in range(3)]
            static_port = _free_port()
            static, static_name = _static_server(files, static_port)
            try:
                _wait_for(static_port)
                static_url = f"http://127.0.0.1:{static_port}/weights.bin"
                _download(static_url)
                static_runs = [_download(static_url)[1] for _ in range(3)]
            finally:
                static.terminate()
                static.wait(timeout=30)

            started = time.perf_counter()
            snapshot_download("bench/big", endpoint=endpoint, token=token,
                              local_dir=root / "snapshot")  # fmt: skip
            snapshot = time.perf_counter() - started

            small_url = f"{endpoint}/bench/big/resolve/main/small.bin"

            def fetch(_: int) -> tuple[bool, float]:
                try:
                    size, seconds = _download(small_url, auth)
                except OSError:
                    return False, 0.0
                return size == CHUNK, seconds

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                results = list(pool.map(fetch, range(args.clients)))
            burst = time.perf_counter() - started
            peak_rss = _peak_rss_mb(hub.pid)
        finally:
            hub.terminate()
            hub.wait(timeout=30)

    size = args.size_mb * CHUNK
    hub_rate = size / min(hub_runs) / CHUNK
    static_rate = size / min(static_runs) / CHUNK
    latencies = sorted(seconds for ok, seconds in results if ok)
    errors = sum(1 for ok, _ in results if not ok)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else 0.0
    print(f"## hub vs {static_name}, {args.size_mb} MB file, loopback\n")
    print("| measurement | result | target |")
    print("|---|---|---|")
    print(f"| LFS upload of {args.size_mb} MB | {upload:.1f} s ({args.size_mb / upload:.0f} MB/s), "
          f"server peak RSS {upload_rss:.0f} MB | RSS < 200 MB |")  # fmt: skip
    print(f"| download, best of 3 | hub {hub_rate:.0f} MB/s vs {static_name} {static_rate:.0f} "
          f"MB/s = {hub_rate / static_rate:.2f}x | >= 0.8x |")  # fmt: skip
    print(f"| snapshot_download ({args.size_mb} MB + 1 MB) | {snapshot:.1f} s | |")
    print(f"| {args.clients} concurrent 1 MB downloads | {errors} errors, p50 {p50 * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.0f} ms, all done in {burst:.1f} s | 0 errors |")  # fmt: skip
    print(f"| server peak RSS over the whole run | {peak_rss:.0f} MB | |")
    return 0 if errors == 0 and upload_rss < 200 and hub_rate >= 0.8 * static_rate else 1


if __name__ == "__main__":
    sys.exit(main())
