"""Python source in a model repository (``hubconf.py``, ``modeling_*.py``): code that
``torch.hub.load`` or ``trust_remote_code=True`` imports and runs. It is parsed, never imported,
and summarised by what it imports and calls."""

from __future__ import annotations

import ast
from typing import ClassVar

from modelyard.scan import rules
from modelyard.scan.formats.base import ScanContext, Stream
from modelyard.scan.report import Severity

# Calls that most deserve a reviewer's eye, named first in the summary.
_NOTABLE_CALLS = frozenset(
    """
    eval exec compile __import__ open getattr os.system os.popen subprocess.run subprocess.Popen
    subprocess.call subprocess.check_output pickle.load pickle.loads torch.load
    importlib.import_module urllib.request.urlopen requests.get requests.post socket.socket
    ctypes.CDLL shutil.rmtree
    """.split()
)

REPOSITORY_CODE = rules.register(
    "MY-SRC-001",
    Severity.SUSPICIOUS,
    "Python code in the repository",
    """The repository ships Python source. torch.hub.load imports hubconf.py, and Hugging Face
    transformers imports modeling_*.py, configuration_*.py and similar files when a model is
    loaded with trust_remote_code=True: that code runs with your permissions. modelyard does
    not import it; the finding lists the modules it imports and the notable calls it makes so you
    can review it before trusting it.""",
)


class PythonSourceReader:
    """Files named ``*.py`` whose text is Python source."""

    name: ClassVar[str] = "python"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return stream.name.endswith(".py") and b"\0" not in head

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        source = ctx.whole("Python source")
        if source is None:
            return
        try:
            tree = ast.parse(source, filename=stream.name)
        except (SyntaxError, ValueError) as error:
            ctx.report(rules.MALFORMED, f"not valid Python: {error}")
            return
        imports, calls = summarize(tree)
        notable = sorted(calls & _NOTABLE_CALLS)
        # The file's name is not repeated: the hub keeps one result for the same code under any
        # name ending in .py.
        message = f"Python code run on import; it imports {', '.join(imports) or 'nothing'}"
        if notable:
            message += f" and calls {', '.join(notable)}"
        ctx.report(
            REPOSITORY_CODE,
            message,
            detail="calls: " + ", ".join(sorted(calls)),
        )


def summarize(tree: ast.AST) -> tuple[list[str], set[str]]:
    """The modules a module imports and the dotted names it calls, with import aliases resolved."""
    aliases: dict[str, str] = {}
    imports: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imports.append(alias.name)
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            imports.append(module)
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{module}.{alias.name}".lstrip(".")
    calls = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name:
                head, _, rest = name.partition(".")
                resolved = aliases.get(head, head)
                calls.add(f"{resolved}.{rest}" if rest else resolved)
    return sorted(set(imports)), calls


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None
