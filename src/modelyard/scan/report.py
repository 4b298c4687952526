"""What a scan found: findings, per-file results and the report over every file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


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


@dataclass(frozen=True)
class PickleImport:
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


@dataclass(frozen=True)
class Finding:
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
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Finding:
        """The finding ``to_dict`` wrote."""
        return cls(**{**document, "severity": Severity(document["severity"])})


@dataclass
class FileResult:
    """The verdict on one file, with every finding that led to it."""

    path: str
    format: str
    findings: list[Finding] = field(default_factory=list)
    size: int = 0
    # Files the model's loader reads as raw tensor data, relative to its folder.
    data_files: list[str] = field(default_factory=list)
    # Every global imported by every pickle in the file, once each, in the order first seen.
    imports: list[PickleImport] = field(default_factory=list)

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


@dataclass
class ScanReport:
    """Results for every file scanned; ``verdict`` is the worst of them."""

    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

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
