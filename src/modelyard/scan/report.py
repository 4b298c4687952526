"""What a scan found: findings, per-file results and the report over every file."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NamedTuple


class Verdict(StrEnum):
    """Whether a file is safe to load. Ordered from best to worst by ``rank``."""

    SAFE = "safe"
    SUSPICIOUS = "suspicious"
    ERROR = "error"
    UNSAFE = "unsafe"

    @property
    def rank(self) -> int:
        return _VERDICT_RANK[self]

    @classmethod
    def worst(cls, verdicts: Any) -> Verdict:
        return max(verdicts, key=lambda verdict: verdict.rank, default=cls.SAFE)


_VERDICT_RANK = {Verdict.SAFE: 0, Verdict.SUSPICIOUS: 1, Verdict.ERROR: 2, Verdict.UNSAFE: 3}


class ImportSafety(StrEnum):
    """How safe one pickle import is, in the words huggingface.co uses for them."""

    INNOCUOUS = "innocuous"
    SUSPICIOUS = "suspicious"
    DANGEROUS = "dangerous"

    @property
    def rank(self) -> int:
        return list(ImportSafety).index(self)


class PickleImport(NamedTuple):
    """A global that a pickle in the file imports, and how safe the policy judges it."""

    module: str
    name: str
    safety: ImportSafety

    def to_dict(self) -> dict[str, str]:
        return {"module": self.module, "name": self.name, "safety": str(self.safety)}

    @classmethod
    def from_dict(cls, document: Mapping[str, str]) -> PickleImport:
        return cls(document["module"], document["name"], ImportSafety(document["safety"]))


class Severity(StrEnum):
    """How bad one finding is; ``verdict`` is the file verdict it implies."""

    INFO = "info"
    SUSPICIOUS = "suspicious"
    ERROR = "error"
    UNSAFE = "unsafe"

    @property
    def verdict(self) -> Verdict:
        return {
            Severity.INFO: Verdict.SAFE,
            Severity.SUSPICIOUS: Verdict.SUSPICIOUS,
            Severity.ERROR: Verdict.ERROR,
            Severity.UNSAFE: Verdict.UNSAFE,
        }[self]


class Finding(NamedTuple):
    """One thing a rule found in one stream of a file.

    ``member`` is the path inside the file (archive members joined by ``/``, nested archives by
    ``!``), ``offset`` the byte offset inside that member, ``subject`` what was found (a global
    such as ``os.system``, an opcode, a layer name).
    """

    rule_id: str
    severity: Severity
    message: str
    member: str | None = None
    offset: int | None = None
    subject: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self._asdict().items() if value is not None}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Finding:
        """The finding ``to_dict`` wrote."""
        return cls(**{**document, "severity": Severity(document["severity"])})


class FileResult:
    """The verdict on one file, with every finding that led to it."""

    __slots__ = ("data_files", "findings", "format", "imports", "path", "size")

    def __init__(
        self,
        path: str,
        format: str,
        findings: list[Finding] | None = None,
        size: int = 0,
        data_files: list[str] | None = None,
        imports: list[PickleImport] | None = None,
    ) -> None:
        self.path = path
        self.format = format
        self.findings: list[Finding] = [] if findings is None else findings
        self.size = size
        # Files the model's loader reads as raw tensor data, relative to its folder.
        self.data_files: list[str] = [] if data_files is None else data_files
        # Every global imported by every pickle in the file, once each, in the order first seen.
        self.imports: list[PickleImport] = [] if imports is None else imports

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileResult) and _slots(self) == _slots(other)

    def __repr__(self) -> str:
        return f"FileResult({self.path!r}, {self.format!r}, verdict={str(self.verdict)!r})"

    @property
    def verdict(self) -> Verdict:
        return Verdict.worst(finding.severity.verdict for finding in self.findings)

    def to_dict(self) -> dict[str, Any]:
        document = {
            "path": self.path,
            "format": self.format,
            "size": self.size,
            "verdict": str(self.verdict),
            "findings": [finding.to_dict() for finding in self.findings],
        }
        if self.data_files:
            document["data_files"] = self.data_files
        if self.imports:
            document["imports"] = [found.to_dict() for found in self.imports]
        return document

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> FileResult:
        """The result ``to_dict`` wrote (its verdict follows from the findings)."""
        return cls(
            path=document["path"],
            format=document["format"],
            findings=[Finding.from_dict(finding) for finding in document["findings"]],
            size=document["size"],
            data_files=list(document.get("data_files", [])),
            imports=[PickleImport.from_dict(found) for found in document.get("imports", [])],
        )


class ScanReport:
    """Results for every file scanned; ``verdict`` is the worst of them."""

    __slots__ = ("files", "seconds")

    def __init__(self, files: list[FileResult] | None = None, seconds: float = 0.0) -> None:
        self.files: list[FileResult] = [] if files is None else files
        self.seconds = seconds

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScanReport) and _slots(self) == _slots(other)

    def __repr__(self) -> str:
        return f"ScanReport({len(self.files)} files, verdict={str(self.verdict)!r})"

    @property
    def verdict(self) -> Verdict:
        return Verdict.worst(result.verdict for result in self.files)

    @property
    def findings(self) -> list[Finding]:
        return [finding for result in self.files for finding in result.findings]

    def exit_code(self, *, strict: bool = False) -> int:
        """0 safe, 1 unsafe (or suspicious when ``strict``), 2 not fully scanned."""
        verdict = self.verdict
        if verdict is Verdict.UNSAFE or (strict and verdict is Verdict.SUSPICIOUS):
            return 1
        if verdict is Verdict.ERROR:
            return 2
        return 0

    def to_dict(self) -> dict[str, Any]:
        counts = {str(verdict): 0 for verdict in Verdict}
        for result in self.files:
            counts[str(result.verdict)] += 1
        return {
            "verdict": str(self.verdict),
            "summary": {"files": len(self.files), **counts, "seconds": round(self.seconds, 4)},
            "files": [result.to_dict() for result in self.files],
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> ScanReport:
        """The report ``to_dict`` wrote (verdicts and counts follow from the findings)."""
        return cls(
            files=[FileResult.from_dict(result) for result in document["files"]],
            seconds=document["summary"]["seconds"],
        )


def _slots(record: FileResult | ScanReport) -> tuple[Any, ...]:
    return tuple(getattr(record, name) for name in record.__slots__)
