"""``scan(paths)``: the scanner's front door for files and folders."""

from __future__ import annotations

import mmap
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath

from modelyard.scan import rules
from modelyard.scan.engine import scan_stream
from modelyard.scan.errors import ScanError
from modelyard.scan.formats.base import FileState, Stream
from modelyard.scan.options import Deadline, DeadlinePassed, ScanOptions
from modelyard.scan.report import FileResult, Finding, ScanReport

# Below this many files, starting worker processes costs more than it saves.
_PARALLEL_MIN_FILES = 8
# Less data than this is scanned faster in one process than by starting workers.
_PARALLEL_MIN_BYTES = 256 << 20
# Smaller files are read in one call; larger ones are mapped, so only what is parsed is read.
_READ_WHOLE = 1 << 20


def scan(
    *paths: str | os.PathLike[str], options: ScanOptions | None = None, jobs: int = 1
) -> ScanReport:
    """Scan files and folders (recursively) without executing anything in them.

    Every file gets a verdict; bad files never raise. ``jobs`` > 1 scans files in that many
    processes; ``jobs=0`` picks one per CPU when there is enough data to pay for starting them.
    Raises ``ScanError`` if a path does not exist or nothing was given.
    """
    if not paths:
        raise ScanError("nothing to scan", hint="give one or more files or folders")
    options = options or ScanOptions()
    started = time.perf_counter()
    files = [file for path in paths for file in _expand(Path(path))]
    if jobs == 0:
        jobs = (os.cpu_count() or 1) if _total_size(files) > _PARALLEL_MIN_BYTES else 1
    if jobs > 1 and len(files) >= _PARALLEL_MIN_FILES:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("fork")) as pool:
            results = list(pool.map(scan_file, files, [options] * len(files), chunksize=4))
    else:
        results = [scan_file(file, options) for file in files]
    adopt_data_files([(result.path, result) for result in results])
    return ScanReport(files=results, seconds=time.perf_counter() - started)


def adopt_data_files(
    results: Sequence[tuple[str, FileResult]], normalize: Callable[[str], str] = os.path.realpath
) -> list[str]:
    """A file in no known format that a model among ``results`` reads as raw tensor data (its
    ONNX external data, its TensorFlow variables) is that model's data: numbers, never run.

    ``results`` pairs each file's path with its result, changed in place; a model's
    ``data_files`` are relative to its path's folder. ``normalize`` makes two spellings of one
    file equal: ``os.path.realpath`` on disk, ``posixpath.normpath`` for paths in a repository.
    Returns the paths of the files adopted.
    """
    owners = {
        normalize(str(PurePosixPath(path).parent / location)): path
        for path, result in results
        for location in result.data_files
    }
    if not owners:
        return []
    adopted = []
    for path, result in results:
        owner = owners.get(normalize(path))
        if owner and [f.rule_id for f in result.findings] == [rules.UNSUPPORTED_FORMAT.id]:
            result.format = "tensor-data"
            result.findings[:] = [rules.TENSOR_DATA.finding(f"read as raw tensor data by {owner}")]
            adopted.append(path)
    return adopted


def _total_size(files: list[Path]) -> int:
    total = 0
    for file in files:
        try:
            total += file.stat().st_size
        except OSError:
            continue  # reported when the file is scanned
    return total


def _expand(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for root, folders, names in os.walk(path):
            folders.sort()
            for name in sorted(names):
                yield Path(root) / name
    elif path.exists() or path.is_symlink():
        yield path
    else:
        raise ScanError(f"{path} does not exist", hint="check the path")


def scan_file(
    path: Path, options: ScanOptions | None = None, *, name: str | None = None
) -> FileResult:
    """Scan one file; what cannot be read becomes an ``error`` finding.

    ``name`` is the file's real name when ``path`` does not carry it (a blob stored under its
    hash): the few formats defined by a name (``NAMED_SUFFIXES``) are recognised by it.
    """
    options = options or ScanOptions()
    findings: list[Finding] = []
    result = FileResult(path=str(path), format="unknown", findings=findings)
    state = FileState(
        options.max_decompressed_bytes, Deadline.after(options.timeout), result.data_files
    )

    def judge(stream: Stream) -> None:
        try:
            result.format = scan_stream(stream, options, findings.append, state)
        except DeadlinePassed:
            findings.append(
                rules.TIMED_OUT.finding(
                    f"the scan took longer than {options.timeout} seconds and was stopped; "
                    "the rest of the file was not read"
                )
            )
        result.imports = list(state.imports)

    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            result.size = size
            if size == 0:
                result.format = "empty"
                return result
            if size <= _READ_WHOLE:
                judge(Stream(data=handle.read(), disk_path=path, file_name=name))
                return result
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                judge(Stream(data=data, disk_path=path, file_name=name))
    except BufferError:
        # A reader kept a view of the mapping alive; the mapping is freed with it.
        pass
    except OSError as error:
        findings.append(rules.UNREADABLE.finding(f"{path} cannot be read: {error.strerror}"))
    return result
