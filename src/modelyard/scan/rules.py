"""Every finding comes from a rule registered here: a stable ID, a severity and an explanation.

``modelyard scan --explain ID`` prints a rule's explanation. IDs never change meaning; a retired
rule keeps its ID reserved.
"""

from __future__ import annotations

from typing import NamedTuple

from modelyard.scan.errors import UnknownRuleError
from modelyard.scan.report import Finding, Severity


class Rule(NamedTuple):
    """A registered check."""

    id: str
    severity: Severity
    title: str
    explanation: str

    def finding(
        self,
        message: str,
        *,
        member: str | None = None,
        offset: int | None = None,
        subject: str | None = None,
        detail: str | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        return Finding(
            rule_id=self.id,
            severity=severity or self.severity,
            message=message,
            member=member,
            offset=offset,
            subject=subject,
            detail=detail,
        )


RULES: dict[str, Rule] = {}


def register(rule_id: str, severity: Severity, title: str, explanation: str) -> Rule:
    """Add a rule to the registry; IDs are unique."""
    if rule_id in RULES:
        raise ValueError(f"rule {rule_id} is registered twice")
    rule = Rule(rule_id, severity, title, " ".join(explanation.split()))
    RULES[rule_id] = rule
    return rule


def explain(rule_id: str) -> Rule:
    """The rule with this ID (case-insensitive)."""
    try:
        return RULES[rule_id.upper()]
    except KeyError:
        raise UnknownRuleError(
            f"no rule {rule_id!r}", hint=f"known rules: {', '.join(sorted(RULES))}"
        ) from None


UNSUPPORTED_FORMAT = register(
    "MY-SCN-001",
    Severity.ERROR,
    "Unsupported format",
    """The file is not in any format modelyard can read, so nothing can be said about what loading
    it would do. It is reported as an error (never as safe). If it is a model format that should be
    supported, please report it.""",
)
MALFORMED = register(
    "MY-SCN-002",
    Severity.ERROR,
    "Malformed or truncated data",
    """The data breaks the rules of its format part-way through. Everything before the break was
    still judged (for a pickle, that code would already have run when a loader reached the break),
    but what follows could not be read, so the file cannot be called safe.""",
)
LIMIT_EXCEEDED = register(
    "MY-SCN-003",
    Severity.ERROR,
    "Scan limit exceeded",
    """The file asks for more than the configured limits allow: decompressed size, memo index,
    nesting depth, number of archive members or a length field larger than the data. Such files
    are typical of decompression bombs and denial-of-service attacks; raise the limit in
    ScanOptions only if you trust where the file came from.""",
)
UNREADABLE = register(
    "MY-SCN-004",
    Severity.ERROR,
    "File could not be read",
    """The operating system refused to read the file (permissions, a broken link, a device). It
    was not scanned.""",
)
TENSOR_DATA = register(
    "MY-SCN-005",
    Severity.INFO,
    "Raw tensor data of a model",
    """The file is in no format of its own: a model scanned with it (an ONNX model's external
    data, a TensorFlow SavedModel's variables) reads it as raw tensor bytes. Loading turns those
    bytes into numbers and runs nothing in them. Scanned on its own, the same file is reported as
    unsupported (MY-SCN-001), because nothing then says what reads it.""",
)
TIMED_OUT = register(
    "MY-SCN-006",
    Severity.ERROR,
    "Scan deadline passed",
    """Scanning the file took longer than ScanOptions.timeout (`modelyard scan --timeout`, `hub
    serve --scan-timeout`). What was found until then is reported, but the rest was not read, so
    the file cannot be called safe. Files built to take long to scan are a denial-of-service
    attack; raise the deadline only for very large files from a source you trust.""",
)
DANGEROUS_GLOBAL = register(
    "MY-PKL-001",
    Severity.UNSAFE,
    "Dangerous global in pickle",
    """The pickle imports a function or class that can run code, start processes, touch files or
    the network, or load further serialized data when the pickle is loaded (for example os.system,
    builtins.eval, subprocess.Popen, torch.load). Loading this file with pickle, joblib, torch.load
    or numpy.load(allow_pickle=True) gives its author control of your machine. Do not load it.""",
)
UNKNOWN_GLOBAL = register(
    "MY-PKL-002",
    Severity.SUSPICIOUS,
    "Global not on the allow list",
    """The pickle imports a global that is not on modelyard's allow list of what real models need.
    Importing a module runs its top-level code, and calling an unknown function can do anything.
    It may be a legitimate custom class; load the file only if you trust its author, or re-save
    the model in a safe format (safetensors, skops, ONNX, the framework's native format).""",
)
COMPUTED_CALL = register(
    "MY-PKL-003",
    Severity.UNSAFE,
    "Call on a computed object",
    """The pickle calls something that is not a plain imported global but the result of another
    call (for example the result of getattr, or an attribute fetched at load time). Real models
    never need this; it is how gadget chains reach functions that no name-based check can see.""",
)
COMPUTED_GLOBAL_NAME = register(
    "MY-PKL-004",
    Severity.UNSAFE,
    "Global name computed at load time",
    """The module or attribute name handed to STACK_GLOBAL is not a string literal but the result
    of a call, so the global it imports is chosen at load time and cannot be checked statically.
    Real models never do this.""",
)
EXTENSION_REGISTRY = register(
    "MY-PKL-005",
    Severity.UNSAFE,
    "Global from the extension registry",
    """The pickle uses an EXT1/EXT2/EXT4 opcode, which imports whatever global the loading
    process registered under that code with copyreg.add_extension. Which function runs depends on
    the loader's process, not on the file, so it cannot be checked. No common library writes
    these.""",
)
BUILD_ON_GLOBAL = register(
    "MY-PKL-006",
    Severity.UNSAFE,
    "Attributes set on an imported global",
    """BUILD applies state to a class, function or module object itself rather than to an
    instance, which rewrites attributes of code that runs later in the loading process.""",
)
SEVERAL_PICKLES = register(
    "MY-PKL-007",
    Severity.INFO,
    "Several pickles in one stream",
    """The stream holds more than one pickle. Loaders such as PyTorch's legacy format read several
    in a row, so every one of them was scanned.""",
)
THEANO_PICKLE = register(
    "MY-PKL-008",
    Severity.SUSPICIOUS,
    "Raw Theano pickle",
    """The pickle rebuilds Theano objects (shared variables, tensor types, compiled functions,
    CudaNdarray), as `pickle.dump` of a Theano model writes them. Loading it imports Theano, whose
    modules compile and load C code, and rebuilding a compiled function runs the graph's code; no
    allow list can vouch for that. Theano itself no longer runs (its C code does not build on
    Python 3.11) and its forks are unmaintained, so no supported loader exists. If you trust the
    file, load it once in an isolated Theano-era environment, save the arrays
    (`shared.get_value()`) as safetensors or .npz, and rebuild the model on PyTensor or PyMC
    (`modelyard train --model pymc.linear` for a Bayesian regression).""",
)
REACHES_SINK = register(
    "MY-PKL-009",
    Severity.UNSAFE,
    "Global that reaches a dangerous call",
    """The pickle imports a function or class that is on neither list, but from which a call path
    reaches a dangerous call: starting a process, running or compiling code, importing modules by
    name, loading native libraries, writing or deleting files, opening network connections or
    unpickling further data (the finding names the call and one path to it, for example
    platform.architecture → platform._syscmd_file → subprocess.check_output). The paths are
    derived from the source of the standard library and the ML stack by scripts/derive_sinks.py,
    which follows calls it can resolve without running anything; a path may depend on arguments,
    but the pickle chooses those. Do not load the file unless you trust its author.""",
)
MEMBER_NAME_MISMATCH = register(
    "MY-ARC-001",
    Severity.SUSPICIOUS,
    "Archive members disagree",
    """A zip member's name differs between its local header and the central directory, or a name
    occurs twice. Different readers then see different files, a known way to hide a payload from
    scanners. Every copy was scanned.""",
)
PATH_ESCAPE = register(
    "MY-ARC-002",
    Severity.SUSPICIOUS,
    "Archive member path escapes the destination",
    """An archive member has an absolute path or climbs out with '..' (zip-slip). Extracting the
    archive could overwrite files outside the target folder.""",
)
ARCHIVE_LINK = register(
    "MY-ARC-003",
    Severity.SUSPICIOUS,
    "Link inside a tar archive",
    """A tar member is a symbolic or hard link. Extracted, it can point outside the target folder
    and make later members overwrite or expose files there.""",
)
ZIP_BEHIND = register(
    "MY-ARC-005",
    Severity.INFO,
    "Zip archive behind other content",
    """The file does not start as a zip archive but ends with one. Python's zipfile finds an
    archive from its end, so Keras' loader (and every reader built on zipfile) opens the zip
    while the file's first bytes say something else: a polyglot, a stub in front of the archive,
    or a tar whose last member is a zip. Both views were scanned and their content decides the
    verdict.""",
)
DECOMPRESSION_BOMB = register(
    "MY-ARC-004",
    Severity.SUSPICIOUS,
    "Decompression bomb",
    """Compressed data in the file expands far more than model data does (the ratio and size are
    in the message; see ScanOptions.max_expansion_ratio). Such ratios come from long runs of
    identical bytes, the material of decompression bombs that exhaust the memory or disk of
    whatever unpacks them. Decompression stops as soon as the ratio is reached, so the rest of the
    data is not scanned and the file also gets MY-SCN-003 (an error): raise
    max_expansion_ratio only for files whose source you trust.""",
)
